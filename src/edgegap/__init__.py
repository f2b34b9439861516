"""edgegap: the gap between what DNNs demand and what edge hardware supplies."""

from edgegap.errors import UserError
from edgegap.workload import Layer, Totals, Workload, profile

__all__ = ["Layer", "Totals", "UserError", "Workload", "profile"]
