"""The Pareto front of points whose every column is minimised."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def pareto_mask(points: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """True for points that no other point matches or beats in every column while beating it
    in one (all columns minimised). In lexicographic order a point can only be dominated by
    an earlier one, and then by one already on the front (domination is transitive), so each
    point is checked against the front alone."""
    order = np.lexsort(points.T[::-1])
    keep = np.zeros(len(points), dtype=bool)
    front = np.empty((0, points.shape[1]))
    for index in order:
        point = points[index]
        dominated = np.any(np.all(front <= point, axis=1) & np.any(front < point, axis=1))
        if not dominated:
            keep[index] = True
            front = np.vstack([front, point])
    return keep
