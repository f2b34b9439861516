"""The paper's Figures 1-4, reproduced from the data and extended to today, and Fig. 4c, its
form for generative models (open language models against edge memory): a PNG for papers
(matplotlib) and an interactive HTML (plotly, self-contained) for each.

Every figure draws its fits the same way, and says so in its caption: a fit is a solid line
over the range of its own data; only a significant year fit (`Fit.significant`) is projected,
dashed, from its last point to the stated end of CMOS scaling and no further; a fit that is
not significant says "no significant trend" in the legend; a projection stops at the figure's
floor (Fig. 2: the lowest error reached); the 95% bands are clipped to the range of the points
and lines drawn. Every category of the data a figure leaves out is named in its caption, and
each hardware trend's convention (precision, clock) in its axis label. PNG labels are 7 pt,
placed where they overlap no other label or marker, with a leader line back to their point;
a name that finds no free place is listed in the caption instead.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.axes
import matplotlib.figure
import matplotlib.pyplot as plt
import matplotlib.transforms
import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
from matplotlib.ticker import MaxNLocator, ScalarFormatter
from plotly.offline import get_plotlyjs as plotly_js

from edgegap.plotting import reference
from edgegap.trends.analysis import (
    CONVENTIONS,
    GENERATIVE_FITS,
    GENERATIVE_WEIGHTS,
    HUMAN_TOP5_ERROR_PCT,
    LEADING_PROTOCOL,
    PROTOCOLS,
    SECOND_PROTOCOL,
    Trends,
    error_floor,
    frontier,
    memory_products,
    record_setters,
)
from edgegap.trends.fits import NO_TREND, Fit, Floats

PALETTE = plotly.colors.qualitative.Plotly
GENERATIVE_FIGURE = "fig4c_open_llms_vs_edge_memory"  # the report shows it with its table
LABEL_POINTS = 7.0  # font size of point labels and captions, in points
# Where a label may go, in points from its point: nearest first, so a label sits by its
# point when it can and moves out (with a leader line) only as far as it must.
RADII = (4.0, 12.0, 22.0, 34.0, 48.0)
ANGLES = np.deg2rad([0, 45, -45, 90, -90, 135, -135, 180, 20, -20, 160, -160])


@dataclass(frozen=True)
class Series:
    label: str
    frame: pd.DataFrame
    x: str
    y: str
    fit: Fit | None
    marker: str = "o"
    labelled: bool = True
    project: bool = True  # a significant year fit may be projected to the scaling end
    hollow: bool = False  # drawn for reference, never fitted
    colour_of: str | None = None  # the label of the series whose colour it shares


@dataclass(frozen=True)
class Figure:
    name: str
    title: str
    x_label: str
    y_label: str
    series: list[Series]
    project_until: int | None = None  # the stated end of scaling: projections stop there
    log_x: bool = False
    bands: list[tuple[str, float, float]] = field(default_factory=list)  # label, low, high
    floor: tuple[str, float] | None = None  # no fit line or band drawn below this y
    notes: list[str] = field(default_factory=list)  # exclusions and conventions, for the caption
    projection_note: str = "the assumed end of CMOS scaling"


@dataclass(frozen=True)
class Segment:
    """A stretch of a fit as drawn: over the data (solid) or projected beyond it (dashed)."""

    xs: Floats
    line: Floats
    low: Floats
    high: Floats
    projected: bool


def _names(frame: pd.DataFrame) -> str:
    return ", ".join(frame["name"].astype(str))


def _excluded_chips(chips: pd.DataFrame) -> list[str]:
    """Every kind of chip, and every chip, Fig. 3b cannot draw, and why."""
    missing = chips[chips["perf_density_gops_mm2"].isna()]
    notes = []
    for kind, rows in missing.groupby("kind", sort=True):
        total = int((chips["kind"] == kind).sum())
        share = "none" if len(rows) == total else f"{len(rows)} of {total}"
        notes.append(
            f"{str(kind).upper()}s not drawn ({share}: no published die area or no peak at the "
            f"{CONVENTIONS[str(kind)].describe()} convention): {_names(rows)}."
        )
    return notes


def _sensitivity_note(trends: Trends) -> str:
    """The GPU trend beside the same trend at the other precision and the other clock."""
    fits = trends.fits

    def rate(name: str) -> str:
        fit = fits[name]
        return f"x{fit.rate.factor:.2f}/year" + ("" if fit.significant else f" ({NO_TREND})")

    gpu = "perf_density_vs_year.gpu"
    subset = fits.get(f"{gpu}.base_clock_subset")
    said = [f"GPU fp32 at boost clock {rate(gpu)}"]
    if f"{gpu}.best_precision" in fits:
        said.append(
            "at each GPU's best dense precision (tensor fp16 from V100), 16-bit equivalent, "
            + rate(f"{gpu}.best_precision")
        )
    if subset is not None and f"{gpu}.boost_clock_subset" in fits:
        said.append(
            f"on the {subset.n} GPUs with a sourced base clock, "
            f"{rate(f'{gpu}.boost_clock_subset')} at boost and {rate(f'{gpu}.base_clock_subset')} "
            "at base clock"
        )
    return "Convention sensitivity: " + "; ".join(said) + "."


def _generative_series(trends: Trends) -> list[Series]:
    """Fig. 4c's series: each quantity's record setters, fitted, and the other rows, hollow."""
    llms, edge = trends.tables["open_llms"], trends.tables["edge_memory"]
    series = []
    quantities = [
        (f"open models' {GENERATIVE_WEIGHTS} weights (bytes)", llms, "weight_bytes", "o"),
        ("edge DRAM capacity (bytes)", edge, "dram_bytes", "s"),
        ("edge DRAM bandwidth (bytes/s)", edge, "bandwidth_bytes_s", "D"),
    ]
    for (label, table, column, marker), fit in zip(quantities, GENERATIVE_FITS, strict=True):
        leaders = record_setters(table, column)
        series.append(
            Series(f"{label}: leading", leaders, "year", column, trends.fits.get(fit), marker)
        )
        series.append(
            Series(f"{label}: others", table.drop(index=leaders.index), "year", column, None,
                   marker, False, hollow=True, colour_of=f"{label}: leading")
        )  # fmt: skip
    return series


def _figures(trends: Trends) -> list[Figure]:
    """Every figure, each projection stopping where the analysis assumes scaling ends."""
    assumed = trends.gaps["projection"]["assumptions"]
    note = (
        "the assumed end of CMOS scaling"
        if assumed["scaling_ends"] is not None
        else "no end of scaling assumed: the projection year"
    )
    return [replace(figure, projection_note=note) for figure in _all_figures(trends)]


def _all_figures(trends: Trends) -> list[Figure]:
    models = trends.tables["models"]
    chips = trends.tables["platforms"]
    memories = trends.tables["memories"]
    imagenet = models[models["imagenet"]]
    leaders = frontier(models)
    singles = frontier(models, SECOND_PROTOCOL)
    others = imagenet.drop(index=leaders.index.union(singles.index))
    fits = trends.fits
    assumed = trends.gaps["projection"]["assumptions"]
    until = assumed["scaling_ends"] or assumed["until"]
    kinds = sorted(chips["kind"].dropna().unique())
    efficiency = chips.assign(ops_per_joule=chips["efficiency_gops_w"] * 1e9)
    markers = dict(zip(kinds, "osD^vP*", strict=False))
    products = memory_products(memories)
    drawn_only = memories[(memories["type"] != "sram") & (memories["status"] != "product")]
    lead = "leading designs (ILSVRC test set as submitted)"
    second = "leading single models (validation set)"
    unsized = leaders[leaders["macs"].isna()]
    protocol_note = (
        f"Leading designs beat every earlier year's best top-5 error under one protocol: "
        f"{PROTOCOLS[LEADING_PROTOCOL]} (the paper's series), and {PROTOCOLS[SECOND_PROTOCOL]} "
        "as a second series."
    )
    density_label = "GOPS/mm²\n(" + "; ".join(
        f"{kind.upper()}: {CONVENTIONS[kind].describe()}" for kind in ("gpu", "asic")
    ) + ")"  # fmt: skip
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
                Series(lead, leaders, "year", "top5_error_pct", fits.get("top5_vs_year")),
                Series(
                    second,
                    singles,
                    "year",
                    "top5_error_pct",
                    fits.get("top5_vs_year.single_model"),
                    "D",
                    False,
                ),
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
            notes=[protocol_note],
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
                Series(lead, leaders, "top5_error_pct", "ops", fits.get("ops_vs_top5")),
                Series(
                    second,
                    singles,
                    "top5_error_pct",
                    "ops",
                    fits.get("ops_vs_top5.single_model"),
                    "D",
                    False,
                ),
            ],
            log_x=True,
            notes=[protocol_note]
            + (
                [f"Leading designs without a published size, not drawn: {_names(unsized)}."]
                if len(unsized)
                else []
            ),
        ),
        Figure(
            "fig3b_perf_density_vs_year",
            "Fig. 3b: performance density of DNN hardware",
            "year",
            density_label,
            [
                Series(
                    kind,
                    chips[chips["kind"] == kind],
                    "year",
                    "perf_density_gops_mm2",
                    fits.get(f"perf_density_vs_year.{kind}"),
                    markers[kind],
                    project=kind == trends.gaps["projection"]["assumptions"]["density_kind"],
                )
                for kind in kinds
            ],
            until,
            notes=[*_excluded_chips(chips), _sensitivity_note(trends)],
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
                Series(lead, leaders, "top5_error_pct", "params", fits.get("params_vs_top5")),
                Series(
                    second,
                    singles,
                    "top5_error_pct",
                    "params",
                    fits.get("params_vs_top5.single_model"),
                    "D",
                    False,
                ),
            ],
            log_x=True,
            notes=[protocol_note]
            + (
                [f"Leading designs without a published size, not drawn: {_names(unsized)}."]
                if len(unsized)
                else []
            ),
        ),
        Figure(
            "fig4b_memory_energy_vs_year",
            "Fig. 4b: memory energy per bit",
            "year (product introduction)",
            "energy per bit (pJ)",
            [
                Series(
                    "DRAM products (DDR, LPDDR, GDDR, 3D stacks)",
                    products,
                    "year",
                    "energy_pj_per_bit",
                    fits.get("memory_energy_vs_year"),
                ),
                Series(
                    "proposals and generic estimates (not fitted)",
                    drawn_only,
                    "year",
                    "energy_pj_per_bit",
                    None,
                    "s",
                    hollow=True,
                ),
                Series(
                    "on-chip SRAM, 45 nm (generic, not fitted)",
                    memories[memories["type"] == "sram"],
                    "year",
                    "energy_pj_per_bit",
                    None,
                    "^",
                    False,
                    hollow=True,
                ),
            ],
            until,
            notes=[
                "Products are dated by introduction year, the proposal (FGDRAM) by its paper "
                "and the generic estimates (Horowitz's 45 nm table) by their publication; "
                "those two are drawn hollow and kept out of the fit. The paper's plateau after "
                f"{trends.gaps['memory_plateau']['break_year']}, tested piecewise: "
                f"{trends.gaps['memory_plateau']['from_2015']}."
            ],
        ),
        Figure(
            GENERATIVE_FIGURE,
            "Fig. 4c: open language models against edge memory",
            "year (release)",
            "bytes (weights, DRAM) or bytes/s (bandwidth)",
            _generative_series(trends),
            until,
            notes=[
                f"Leading: rows that beat every earlier year's best; weights at "
                f"{GENERATIVE_WEIGHTS} (4 bits a parameter, a floor under llama.cpp's Q4 files), "
                "every parameter of a mixture of experts held. On this one log axis, weights over "
                "DRAM is the memory gap and weights over bandwidth the seconds a decode step "
                "takes at the least. " + trends.gaps["generative"]["statement"]
            ],
        ),
        Figure(
            "fig5_energy_efficiency_vs_year",
            "Outlook: energy efficiency of DNN hardware and the brain",
            "year",
            "ops per joule (16-bit equivalent; brain: synaptic events)",
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
            notes=[
                "Chips without a published power or peak are not drawn: "
                + _names(efficiency[efficiency["ops_per_joule"].isna()])
                + "."
            ],
        ),
    ]


def _points(series: Series) -> pd.DataFrame:
    """The rows the series can draw, with their name and year (for the labels)."""
    columns = list(dict.fromkeys(c for c in ("name", "year", series.x, series.y)
                                 if c in series.frame))  # fmt: skip
    return series.frame[columns].dropna(subset=[series.x, series.y])


def _segments(series: Series, figure: Figure) -> list[Segment]:
    """The fit over its own data and, for a significant year fit that may project, dashed on
    to the end of scaling; every part held at or above the figure's floor."""
    fit = series.fit
    assert fit is not None
    points = _points(series)[series.x].astype(float)
    first, last = float(points.min()), float(points.max())
    spans = [(first, last, False)]
    until = figure.project_until
    if fit.per_year and series.project and fit.significant and until is not None and until > last:
        spans.append((last, float(until), True))
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
            line, low, high = (np.maximum(v, floor) for v in (line, low, high))
        segments.append(Segment(xs, line, low, high, projected))
    return segments


def _drawn(figure: Figure) -> list[tuple[Series, list[Segment]]]:
    """The series with points, each with the segments of its fit (none if it has no fit)."""
    return [
        (series, _segments(series, figure) if series.fit is not None else [])
        for series in figure.series
        if len(_points(series))
    ]


def _colours(drawn: list[tuple[Series, list[Segment]]], palette: Sequence[str]) -> list[str]:
    """Each drawn series' colour: the palette in turn, a series with `colour_of` in the
    colour of the series it names (a quantity's other rows in its record setters')."""
    colours: dict[str, str] = {}
    for series, _ in drawn:
        if series.colour_of is None:
            colours[series.label] = palette[len(colours) % len(palette)]
    return [
        colours[series.label if series.colour_of is None else series.colour_of]
        for series, _ in drawn
    ]


# matplotlib's markers as plotly names them
SYMBOLS = {"o": "circle", "s": "square", "D": "diamond", "^": "triangle-up", "x": "x"}


def _symbol(series: Series) -> str:
    return SYMBOLS.get(series.marker, "circle") + ("-open" if series.hollow else "")


def _y_span(drawn: list[tuple[Series, list[Segment]]]) -> tuple[float, float]:
    """The range of the points and fit lines drawn: bands are clipped to it."""
    values = [_points(series)[series.y].astype(float).to_numpy() for series, _ in drawn]
    values += [segment.line for _, segments in drawn for segment in segments]
    joined = np.concatenate(values)
    return float(joined.min()), float(joined.max())


def caption(figure: Figure, unlabelled: list[str] | None = None) -> str:
    """What the figure's lines mean, what it leaves out, and which names found no room."""
    notes = []
    if any(series.fit is not None for series in figure.series):
        notes.append(
            "Fits: least squares on log10(y), solid over each series' own data; only a "
            "significant year fit is projected, dashed"
            + (
                f", to {figure.project_until} ({figure.projection_note})"
                if figure.project_until is not None
                else ""
            )
            + "; 95% bootstrap bands, clipped to the range plotted."
        )
    if figure.floor is not None:
        notes.append(f"Lines stop at the {figure.floor[0]}.")
    notes += figure.notes
    if unlabelled:
        notes.append(f"Not labelled for want of room: {', '.join(unlabelled)}.")
    return " ".join(notes)


def _fit_label(fit: Fit) -> str:
    verdict = "" if fit.significant else f" — {NO_TREND}"
    if fit.per_year:
        return f"fit: x{fit.rate.factor:.2f} per year, R²={fit.r2:.2f}, n={fit.n}{verdict}"
    return f"fit: slope {fit.slope:.2f} decades per decade, R²={fit.r2:.2f}, n={fit.n}{verdict}"


def _point_label(series: Series, row: pd.Series) -> str:
    """Leading designs are labelled with their year, as in the paper."""
    return f"{row['name']} ({row['year']})" if series.x != "year" else str(row["name"])


def _place_labels(
    ax: matplotlib.axes.Axes, drawn: list[tuple[Series, list[Segment]]], lines_at: list[float]
) -> list[str]:
    """Label every labelled point where the label's box overlaps no other label, marker, fit
    line or reference line (at y = `lines_at`) and stays inside the axes, nearest place
    first, with a leader line when it moved; returns the names that found no place."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    pixels = fig.dpi / 72
    inside = ax.get_window_extent(renderer)
    marker = 3.5 * pixels  # half the side of a marker's keep-out box
    centres = [
        ax.transData.transform((float(r[s.x]), float(r[s.y])))
        for s, _ in drawn
        for _, r in _points(s).iterrows()
    ]
    traced = [
        ax.transData.transform((x, y))
        for _, segments in drawn
        for segment in segments
        for x, y in zip(segment.xs, segment.line, strict=True)
    ]
    line = 1.0 * pixels  # half the width of a fit line's keep-out boxes
    taken = [
        matplotlib.transforms.Bbox.from_extents(x - marker, y - marker, x + marker, y + marker)
        for x, y in centres
    ] + [
        matplotlib.transforms.Bbox.from_extents(x - line, y - line, x + line, y + line)
        for x, y in traced
    ]
    for y in lines_at:
        level = ax.transData.transform((1.0, y))[1]
        taken.append(
            matplotlib.transforms.Bbox.from_extents(
                inside.x0, level - line, inside.x1, level + line
            )
        )
    unplaced = []
    for series, _ in drawn:
        if not series.labelled:
            continue
        for _, row in _points(series).iterrows():
            text = _point_label(series, row)
            px, py = ax.transData.transform((float(row[series.x]), float(row[series.y])))
            probe = ax.text(0, 0, text, fontsize=LABEL_POINTS)
            extent = probe.get_window_extent(renderer)
            probe.remove()
            width, height = extent.width, extent.height
            own = matplotlib.transforms.Bbox.from_extents(
                px - marker, py - marker, px + marker, py + marker
            )
            spot = None
            for radius in RADII:
                for angle in ANGLES:
                    dx = radius * pixels * np.cos(angle) + marker * np.sign(np.cos(angle))
                    dy = radius * pixels * np.sin(angle)
                    left = px + dx - (width if np.cos(angle) < -1e-9 else 0)
                    if abs(np.cos(angle)) < 1e-9:
                        left = px - width / 2
                    bottom = py + dy - height / 2 + np.sign(dy) * height / 2
                    box = matplotlib.transforms.Bbox.from_extents(
                        left, bottom, left + width, bottom + height
                    )
                    clear = all(not box.overlaps(other) for other in taken if other is not own)
                    if (
                        clear
                        and inside.contains(box.x0, box.y0)
                        and inside.contains(box.x1, box.y1)
                    ):
                        spot = (radius, box)
                        break
                if spot:
                    break
            if spot is None:
                unplaced.append(str(row["name"]))
                continue
            radius, box = spot
            taken.append(box)
            anchor = ax.transData.inverted().transform((box.x0, box.y0))
            ax.annotate(
                text,
                (float(row[series.x]), float(row[series.y])),
                xytext=(float(anchor[0]), float(anchor[1])),
                textcoords="data",
                fontsize=LABEL_POINTS,
                ha="left",
                va="bottom",
                arrowprops={
                    "arrowstyle": "-",
                    "lw": 0.5,
                    "color": "#777",
                    "shrinkA": 0,
                    "shrinkB": 2,
                }
                if radius > RADII[0]
                else None,
            )
    return unplaced


def draw(figure: Figure) -> tuple[matplotlib.figure.Figure, list[str]]:
    """The figure in matplotlib, and the names left unlabelled for want of room."""
    fig, ax = plt.subplots(figsize=(8.0, 6.6), dpi=150)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    drawn = _drawn(figure)
    span = _y_span(drawn)
    for (series, segments), color in zip(drawn, _colours(drawn, colors), strict=True):
        points = _points(series)
        paint: dict[str, Any] = (
            {"facecolors": "none", "edgecolors": color} if series.hollow else {"color": color}
        )
        ax.scatter(
            points[series.x].astype(float),
            points[series.y].astype(float),
            s=18,
            marker=series.marker,
            **paint,
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
    ax.margins(x=0.08, y=0.12)
    ax.autoscale_view()
    ax.set_xlabel(figure.x_label)
    ax.set_ylabel(figure.y_label, fontsize=8)
    ax.set_title(figure.title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    # Below the axes, where it hides no point.
    ax.legend(fontsize=LABEL_POINTS, loc="upper left", bbox_to_anchor=(0.0, -0.1), frameon=False)
    lines = textwrap.wrap(caption(figure, []), 140)
    fig.tight_layout(rect=(0, 0.0195 * (len(lines) + 1.5), 1, 1))  # room for the caption
    unplaced = _place_labels(ax, drawn, [low for _, low, high in figure.bands if low == high])
    lines = textwrap.wrap(caption(figure, unplaced), 140)
    fig.text(0.01, 0.01, "\n".join(lines), fontsize=LABEL_POINTS, va="bottom", color="#444")
    return fig, unplaced


def _png(figure: Figure, path: Path) -> None:
    fig, _ = draw(figure)
    fig.savefig(path)
    plt.close(fig)


def _html(figure: Figure, path: Path) -> None:
    """The figure as a page of its own; the div id is the figure's name (plotly's default is a
    random UUID), so a rerun writes the same bytes."""
    html = _plotly(figure).to_html(
        include_plotlyjs="directory", full_html=True, div_id=figure.name.replace("_", "-")
    )
    path.write_text(html, encoding="utf-8")


def plotly_figures(trends: Trends) -> list[tuple[str, go.Figure]]:
    """The figures as interactive plotly figures, by name, for pages that embed them."""
    return [(figure.name, _plotly(figure)) for figure in _figures(trends)]


def _plotly(figure: Figure) -> go.Figure:
    plot = go.Figure()
    drawn = _drawn(figure)
    span = _y_span(drawn)
    # a series' points, line and band alike
    for (series, segments), color in zip(drawn, _colours(drawn, PALETTE), strict=True):
        points = _points(series)
        plot.add_trace(
            go.Scatter(
                x=points[series.x].astype(float),
                y=points[series.y].astype(float),
                mode="markers",
                marker={"color": color, "symbol": _symbol(series)},
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
        yaxis_title=figure.y_label.replace("\n", "<br>"),
        yaxis_type="log",
        template="simple_white",
        margin={"t": 80 + 15 * len(lines)},
    )
    if figure.log_x:
        plot.update_xaxes(type="log", autorange="reversed")
    for band, bottom, top in figure.bands:
        reference(plot, "y", bottom, band, high=None if bottom == top else top)
    return plot


def write_figures(trends: Trends, out: Path) -> list[Path]:
    """Write every figure as PNG and HTML into `out`; returns the paths written. The HTML
    pages share one plotly.min.js beside them: viewable offline, 4.8 MB once, not per page."""
    written = [out / "plotly.min.js"]
    written[0].write_text(plotly_js(), encoding="utf-8")
    writers: list[tuple[str, Callable[[Figure, Path], None]]] = [("png", _png), ("html", _html)]
    for figure in _figures(trends):
        for suffix, writer in writers:
            path = out / f"{figure.name}.{suffix}"
            writer(figure, path)
            written.append(path)
    return written
