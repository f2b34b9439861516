"""Trends and gaps: sourced data on DNNs, chips and memories, fitted trends, the gap."""

from edgegap.trends.analysis import Assumptions, Budget, Trends, compute_trends
from edgegap.trends.fits import Fit, fit_exponential

__all__ = ["Assumptions", "Budget", "Fit", "Trends", "compute_trends", "fit_exponential"]
