"""Order statistics of repeated timings: the percentile rule every measurement quotes."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0 <= q <= 100) of `values`, interpolated linearly between the
    two closest ranks: the sorted values sit at ranks 0 .. n-1 and the percentile at rank
    q/100 * (n-1) (Hyndman and Fan's definition 7, numpy's and R's default). The 50th is the
    median; the 0th and 100th are the minimum and the maximum."""
    if not values:
        raise ValueError("the percentile of no values is undefined")
    if not 0 <= q <= 100:
        raise ValueError(f"a percentile lies in 0..100, got {q}")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    fraction = rank - low
    # a + f * (b - a) could round below a or above b; the two-sided form stays within them
    return min(max(ordered[low] + fraction * (ordered[high] - ordered[low]), ordered[low]),
               ordered[high])  # fmt: skip


def median(values: Sequence[float]) -> float:
    """The 50th percentile (the mean of the two middle values for an even count)."""
    return percentile(values, 50)
