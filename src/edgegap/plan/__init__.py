"""The plan: which bridges close the gap for a model on an edge target, within its budgets."""

from edgegap.plan.search import Budget, Plan, plan

__all__ = ["Budget", "Plan", "plan"]
