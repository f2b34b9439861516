"""Plotly on log axes, the one way every figure does it.

Plotly places shapes (lines, bands) in data coordinates on every axis, but annotations and
`layout.xaxis.range` in axis coordinates: log10 of the value on a log axis. A budget line at
100 ms labelled at x=100 puts the label at 10^100 and autoranges the axis out to it.
`reference` draws a line or band with its label placed right; `log_range` gives a log axis a
range from the values it must show.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import plotly.graph_objects as go

Axis = Literal["x", "y"]


def _is_log(plot: go.Figure, axis: Axis) -> bool:
    return bool(plot.layout[f"{axis}axis"].type == "log")


def axis_coordinate(plot: go.Figure, axis: Axis, value: float) -> float:
    """Where `value` lies in the axis's own coordinates (log10 on a log axis)."""
    return math.log10(value) if _is_log(plot, axis) else value


def log_range(values: Iterable[float], pad_decades: float = 0.1) -> list[float]:
    """A log axis range (log10 units) from the smallest to the largest positive value, padded
    by `pad_decades` either side (half a decade either side of a single value)."""
    logs = [math.log10(v) for v in values if v > 0 and math.isfinite(v)]
    if not logs:
        raise ValueError("a log axis needs at least one positive finite value")
    low, high = min(logs), max(logs)
    pad = pad_decades if high > low else 0.5
    return [low - pad, high + pad]


def reference(
    plot: go.Figure,
    axis: Axis,
    low: float,
    label: str,
    high: float | None = None,
    dash: str = "dash",
) -> None:
    """A line across the plot at `low` on `axis` (a band from `low` to `high` if given), with
    `label` beside it. Set the axis type before calling: the label's place depends on it."""
    if high is None or high == low:
        line = {"dash": dash, "width": 1.5, "color": "#555"}
        if axis == "x":
            plot.add_vline(x=low, line=line)
        else:
            plot.add_hline(y=low, line=line)
    elif axis == "x":
        plot.add_vrect(x0=low, x1=high, opacity=0.2, line_width=0)
    else:
        plot.add_hrect(y0=low, y1=high, opacity=0.2, line_width=0)
    at = axis_coordinate(plot, axis, high if high is not None else low)
    if axis == "x":
        plot.add_annotation(
            x=at, xref="x", y=1, yref="y domain", text=label, showarrow=False,
            xanchor="left", yanchor="top",
        )  # fmt: skip
    else:
        plot.add_annotation(
            x=0, xref="x domain", y=at, yref="y", text=label, showarrow=False,
            xanchor="left", yanchor="bottom",
        )  # fmt: skip
