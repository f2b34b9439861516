"""The paper's Figures 1-4, reproduced from the data and extended to today: a PNG for papers
(matplotlib) and an interactive HTML (plotly, self-contained) for each.

Every figure draws its fits the same way, and says so in its caption: a fit is a solid line
over the range of its data; only a significant fit (`Fit.significant`) is projected beyond it,
dashed; a fit that is not significant says "no significant trend" in the legend; a series
with fewer than `MIN_DISTINCT_X` distinct x values gets no fit at all; a projection stops at
the figure's floor (Fig. 2: the lowest error reached); and the 95% bands are clipped to the
range of the points and lines drawn, so no band runs off to values the figure does not show.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.axes
import matplotlib.pyplot as plt
import matplotlib.transforms
import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
from matplotlib.ticker import MaxNLocator, ScalarFormatter
from plotly.offline import get_plotlyjs as plotly_js

from edgegap.plotting import reference
from edgegap.trends.analysis import HUMAN_TOP5_ERROR_PCT, Trends, error_floor, frontier
from edgegap.trends.fits import MIN_DISTINCT_X, NO_TREND, Fit, Floats

PALETTE = plotly.colors.qualitative.Plotly


@dataclass(frozen=True)
class Series:
    label: str
    frame: pd.DataFrame
    x: str
    y: str
    fit: Fit | None
    marker: str = "o"
    labelled: bool = True
    extend: bool = True  # draw the fit out to the figure's `until` (year fits only)


@dataclass(frozen=True)
class Figure:
    name: str
    title: str
    x_label: str
    y_label: str
    series: list[Series]
    until: int | None = None  # extend year fits to this year
    log_x: bool = False
    bands: list[tuple[str, float, float]] = field(default_factory=list)  # label, low, high
    floor: tuple[str, float] | None = None  # no fit line or band drawn below this y


@dataclass(frozen=True)
class Segment:
    """A stretch of a fit as drawn: over the data (solid) or projected beyond it (dashed)."""

    xs: Floats
    line: Floats
    low: Floats
    high: Floats
    projected: bool


def _figures(trends: Trends, until: int) -> list[Figure]:
    models = trends.tables["models"]
    chips = trends.tables["platforms"]
    memories = trends.tables["memories"]
    imagenet = models[models["imagenet"]]
    leaders = frontier(models)
    others = imagenet.drop(index=leaders.index)
    fits = trends.fits
    kinds = sorted(chips["kind"].dropna().unique())
    efficiency = chips.assign(ops_per_joule=chips["efficiency_gops_w"] * 1e9)
    markers = dict(zip(kinds, "osD^vP*", strict=False))
    return [
        Figure(
            "fig1_params_vs_year",
            "Fig. 1: parameters of DNNs",
            "year",
            "parameters",
            [
                Series(
                    "ImageNet classifiers",
                    imagenet,
                    "year",
                    "params",
                    fits.get("params_vs_year.imagenet"),
                    "o",
                    False,
                ),
                Series(
                    "largest networks (not ImageNet)",
                    models[~models["imagenet"]],
                    "year",
                    "params",
                    fits.get("params_vs_year"),
                    "s",
                ),
            ],
            until,
        ),
        Figure(
            "fig2_top5_vs_year",
            "Fig. 2: ImageNet top-5 error of the leading designs",
            "year",
            "top-5 error (%)",
            [
                Series(
                    "leading designs",
                    frontier(models),
                    "year",
                    "top5_error_pct",
                    fits.get("top5_vs_year"),
                )
            ],
            until,
            bands=[
                (
                    f"human: {HUMAN_TOP5_ERROR_PCT:g}% (Russakovsky et al., IJCV 2015)",
                    HUMAN_TOP5_ERROR_PCT,
                    HUMAN_TOP5_ERROR_PCT,
                )
            ],
            floor=(f"lowest error reached, {error_floor(models):.3g}%", error_floor(models)),
        ),
        Figure(
            "fig3a_ops_vs_top5",
            "Fig. 3a: operations per image vs top-5 error",
            "top-5 error (%)",
            "operations per image (2 x MACs)",
            [
                Series(
                    "other ImageNet classifiers", others, "top5_error_pct", "ops", None, "x", False
                ),
                Series(
                    "leading designs", leaders, "top5_error_pct", "ops", fits.get("ops_vs_top5")
                ),
            ],
            log_x=True,
        ),
        Figure(
            "fig3b_perf_density_vs_year",
            "Fig. 3b: performance density of DNN hardware",
            "year",
            "GOPS/mm² (16-bit equivalent)",
            [
                Series(
                    kind,
                    chips[chips["kind"] == kind],
                    "year",
                    "perf_density_gops_mm2",
                    fits.get(f"perf_density_vs_year.{kind}"),
                    markers[kind],
                    extend=kind == trends.gaps["projection"]["assumptions"]["density_kind"],
                )
                for kind in kinds
            ],
            until,
        ),
        Figure(
            "fig4a_params_vs_top5",
            "Fig. 4a: parameters vs top-5 error",
            "top-5 error (%)",
            "parameters",
            [
                Series(
                    "other ImageNet classifiers",
                    others,
                    "top5_error_pct",
                    "params",
                    None,
                    "x",
                    False,
                ),
                Series(
                    "leading designs",
                    leaders,
                    "top5_error_pct",
                    "params",
                    fits.get("params_vs_top5"),
                ),
            ],
            log_x=True,
        ),
        Figure(
            "fig4b_memory_energy_vs_year",
            "Fig. 4b: memory energy per bit",
            "year",
            "energy per bit (pJ)",
            [
                Series(
                    "DRAM (DDR, LPDDR, GDDR, 3D stacks)",
                    memories[memories["type"] != "sram"],
                    "year",
                    "energy_pj_per_bit",
                    fits.get("memory_energy_vs_year"),
                ),
                Series(
                    "on-chip SRAM",
                    memories[memories["type"] == "sram"],
                    "year",
                    "energy_pj_per_bit",
                    None,
                    "^",
                ),
            ],
            until,
        ),
        Figure(
            "fig5_energy_efficiency_vs_year",
            "Outlook: energy efficiency of DNN hardware and the brain",
            "year",
            "ops per joule (16-bit; brain: synaptic events)",
            [
                Series(
                    kind,
                    efficiency[efficiency["kind"] == kind],
                    "year",
                    "ops_per_joule",
                    None,
                    markers[kind],
                )
                for kind in kinds
            ],
            bands=[
                (
                    "human brain (synaptic events per joule)",
                    *trends.gaps["brain"]["brain_events_per_joule"],
                ),
                (
                    "TrueNorth (synaptic events per joule)",
                    trends.gaps["brain"]["truenorth_events_per_joule"],
                    trends.gaps["brain"]["truenorth_events_per_joule"],
                ),
            ],
        ),
    ]


def _points(series: Series) -> pd.DataFrame:
    key = "name" if "name" in series.frame else series.frame.columns[0]
    return series.frame[[key, series.x, series.y]].dropna().rename(columns={key: "name"})


def _drawn_fit(series: Series) -> Fit | None:
    """The series' fit, if it has enough distinct x values to be drawn."""
    fit = series.fit
    return fit if fit is not None and fit.enough_points else None


def _segments(series: Series, figure: Figure) -> list[Segment]:
    """The fit over its data and, for a significant year fit that extends, projected on to
    the figure's `until`; every part held at or above the figure's floor."""
    fit = _drawn_fit(series)
    assert fit is not None
    points = _points(series)[series.x].astype(float)
    first, last = float(points.min()), float(points.max())
    spans = [(first, last, False)]
    projects = series.x == "year" and series.extend and figure.until is not None
    if projects and fit.significant and figure.until is not None and figure.until > last:
        spans.append((last, float(figure.until), True))
    segments = []
    for start, stop, projected in spans:
        if figure.log_x:
            xs = np.geomspace(start, stop, 60)
            at = np.log10(xs)  # the fit's predictor is log10 of the axis value
        else:
            xs = at = np.linspace(start, stop, 60)
        line = fit.predict(at)
        low, high = fit.band(at)
        if figure.floor is not None:
            floor = figure.floor[1]
            line, low, high = (
                np.maximum(line, floor),
                np.maximum(low, floor),
                np.maximum(high, floor),
            )
        segments.append(Segment(xs, line, low, high, projected))
    return segments


def _drawn(figure: Figure) -> list[tuple[Series, list[Segment]]]:
    """The series with points, each with the segments of its fit (none if it draws none)."""
    return [
        (series, _segments(series, figure) if _drawn_fit(series) is not None else [])
        for series in figure.series
        if len(_points(series))
    ]


def _y_span(drawn: list[tuple[Series, list[Segment]]]) -> tuple[float, float]:
    """The range of the points and fit lines drawn: bands are clipped to it."""
    values = [_points(series)[series.y].astype(float).to_numpy() for series, _ in drawn]
    values += [segment.line for _, segments in drawn for segment in segments]
    joined = np.concatenate(values)
    return float(joined.min()), float(joined.max())


def caption(figure: Figure) -> str:
    """What the figure's lines mean, and which series get no fit and why."""
    if all(series.fit is None for series in figure.series):
        return ""
    notes = [
        "Fits: least squares on log10(y), solid over the data, dashed where a significant fit "
        "is projected; 95% bootstrap bands, clipped to the range plotted."
    ]
    if figure.floor is not None:
        notes.append(f"The projection stops at the {figure.floor[0]}.")
    for series in figure.series:
        fit = series.fit
        if fit is not None and not fit.enough_points and len(_points(series)):
            notes.append(
                f"{series.label}: {fit.n} points at {fit.distinct_x} distinct {fit.x} values, "
                f"fewer than the {MIN_DISTINCT_X} a trend needs: no fit drawn."
            )
    return " ".join(notes)


def _png(figure: Figure, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=150)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    drawn = _drawn(figure)
    span = _y_span(drawn)
    for index, (series, segments) in enumerate(drawn):
        color = colors[index % len(colors)]
        points = _points(series)
        ax.scatter(
            points[series.x].astype(float),
            points[series.y].astype(float),
            s=18,
            marker=series.marker,
            color=color,
            label=series.label,
            zorder=3,
        )
        for segment in segments:
            assert series.fit is not None
            ax.plot(
                segment.xs, segment.line, color=color, lw=1.2,
                ls="--" if segment.projected else "-",
                label=None if segment.projected else _fit_label(series.fit),
            )  # fmt: skip
            low, high = np.clip(segment.low, *span), np.clip(segment.high, *span)
            ax.fill_between(segment.xs, low, high, color=color, alpha=0.15, lw=0)
    for index, (band, bottom, top) in enumerate(figure.bands):
        color = colors[(len(drawn) + index) % len(colors)]
        if bottom == top:
            ax.axhline(bottom, color=color, lw=1, ls="--", label=band)
        else:
            ax.axhspan(bottom, top, color=color, alpha=0.2, lw=0, label=band)
    ax.set_yscale("log")
    if figure.log_x:
        ax.set_xscale("log")
        ax.invert_xaxis()  # accuracy improves to the right, as in the paper
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(ScalarFormatter())
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.autoscale_view()
    for series, _ in drawn:
        if series.labelled:
            _label(ax, _points(series), series)
    ax.set_xlabel(figure.x_label)
    ax.set_ylabel(figure.y_label)
    ax.set_title(figure.title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=6.5, loc="best", frameon=False)
    lines = textwrap.wrap(caption(figure), 120)
    if lines:
        fig.text(0.01, 0.01, "\n".join(lines), fontsize=5.5, va="bottom", color="#444")
    fig.tight_layout(rect=(0, 0.022 * len(lines) + 0.01 * bool(lines), 1, 1))
    fig.savefig(path)
    plt.close(fig)


def _fit_label(fit: Fit) -> str:
    verdict = "" if fit.significant else f" — {NO_TREND}"
    if fit.x.startswith("log10_"):
        return f"fit: ∝ x^{fit.slope:.2f}, R²={fit.r2:.2f}, n={fit.n}{verdict}"
    per = "per year" if fit.x == "year" else "per unit x"
    return f"fit: x{fit.annual_factor:.2f} {per}, R²={fit.r2:.2f}, n={fit.n}{verdict}"


def _label(ax: matplotlib.axes.Axes, points: pd.DataFrame, series: Series) -> None:
    """Name each point, trying offsets until the label's box clears every label placed so
    far (in display pixels); labels that would leave the axes are dropped."""
    fig = ax.figure
    pixels_per_point = fig.dpi / 72
    size = 5.0
    height = 1.3 * size * pixels_per_point
    placed = [text.get_window_extent() for text in ax.texts]
    for name, x, y in zip(
        points["name"], points[series.x].astype(float), points[series.y].astype(float), strict=True
    ):
        px, py = ax.transData.transform((x, y))
        width = 0.62 * size * pixels_per_point * len(str(name))
        for step in (0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5, -6, 6):
            left, bottom = px + 3 * pixels_per_point, py + step * height + 2
            box = matplotlib.transforms.Bbox.from_extents(
                left, bottom, left + width, bottom + height
            )
            if not any(box.overlaps(other) for other in placed):
                break
        placed.append(box)
        ax.annotate(
            str(name),
            (x, y),
            xytext=(3, (step * height + 2) / pixels_per_point),
            textcoords="offset points",
            fontsize=size,
            alpha=0.85,
            annotation_clip=True,
        )


def _html(figure: Figure, path: Path) -> None:
    """The figure as a page of its own; the div id is the figure's name (plotly's default is a
    random UUID), so a rerun writes the same bytes."""
    html = _plotly(figure).to_html(
        include_plotlyjs="directory", full_html=True, div_id=figure.name.replace("_", "-")
    )
    path.write_text(html, encoding="utf-8")


def plotly_figures(trends: Trends, until: int) -> list[tuple[str, go.Figure]]:
    """The figures as interactive plotly figures, by name, for pages that embed them."""
    return [(figure.name, _plotly(figure)) for figure in _figures(trends, until)]


def _plotly(figure: Figure) -> go.Figure:
    plot = go.Figure()
    drawn = _drawn(figure)
    span = _y_span(drawn)
    for index, (series, segments) in enumerate(drawn):
        color = PALETTE[index % len(PALETTE)]  # a series' points, line and band alike
        points = _points(series)
        plot.add_trace(
            go.Scatter(
                x=points[series.x].astype(float),
                y=points[series.y].astype(float),
                mode="markers",
                marker={"color": color},
                legendgroup=series.label,
                name=series.label,
                text=points["name"],
                hovertemplate="%{text}<br>%{x}<br>%{y:.3g}<extra></extra>",
            )
        )
        for segment in segments:
            assert series.fit is not None
            xs = segment.xs
            low, high = np.clip(segment.low, *span), np.clip(segment.high, *span)
            kind = "projection" if segment.projected else _fit_label(series.fit)
            plot.add_trace(
                go.Scatter(
                    x=np.concatenate([xs, xs[::-1]]),
                    y=np.concatenate([high, low[::-1]]),
                    fill="toself",
                    fillcolor=color,
                    opacity=0.2,
                    line={"width": 0},
                    hoverinfo="skip",
                    name=f"{series.label}: 95% band"
                    + (" (projected)" if segment.projected else ""),
                    legendgroup=series.label,
                )
            )
            plot.add_trace(
                go.Scatter(
                    x=xs, y=segment.line, mode="lines", name=f"{series.label}: {kind}",
                    line={"dash": "dash" if segment.projected else "solid", "color": color},
                    legendgroup=series.label,
                )
            )  # fmt: skip
    lines = textwrap.wrap(caption(figure), 110)
    plot.update_layout(
        title={"text": figure.title, "subtitle": {"text": "<br>".join(lines)}},
        xaxis_title=figure.x_label,
        yaxis_title=figure.y_label,
        yaxis_type="log",
        template="simple_white",
        margin={"t": 80 + 15 * len(lines)},
    )
    if figure.log_x:
        plot.update_xaxes(type="log", autorange="reversed")
    for band, bottom, top in figure.bands:
        reference(plot, "y", bottom, band, high=None if bottom == top else top)
    return plot


def write_figures(trends: Trends, out: Path, until: int) -> list[Path]:
    """Write every figure as PNG and HTML into `out`; returns the paths written. The HTML
    pages share one plotly.min.js beside them: viewable offline, 4.8 MB once, not per page."""
    written = [out / "plotly.min.js"]
    written[0].write_text(plotly_js(), encoding="utf-8")
    writers: list[tuple[str, Callable[[Figure, Path], None]]] = [("png", _png), ("html", _html)]
    for figure in _figures(trends, until):
        for suffix, writer in writers:
            path = out / f"{figure.name}.{suffix}"
            writer(figure, path)
            written.append(path)
    return written
