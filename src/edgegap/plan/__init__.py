"""The plan: which techniques close the gap for a model on an edge target, within its budgets."""

from edgegap.plan.search import Budget, Plan, choose, plan, plan_for

__all__ = ["Budget", "Plan", "choose", "plan", "plan_for"]
