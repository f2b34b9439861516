"""Reports: everything edgegap computes, written for people (tables, figures) and scripts
(JSON, CSV)."""

from edgegap.report.build import build_report

__all__ = ["build_report"]
