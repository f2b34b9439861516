"""The plan: which techniques close the gap for a model on an edge target, within its budgets."""

from edgegap.plan.search import Budget, Change, Check, Plan, Precision, choose, plan, plan_for

__all__ = ["Budget", "Change", "Check", "Plan", "Precision", "choose", "plan", "plan_for"]
