"""Reports: everything edgegap computes, written for people (tables) and scripts (JSON)."""

from edgegap.report.zoo_report import build_zoo_report

__all__ = ["build_zoo_report"]
