"""The paper's Figures 1-4, reproduced from the data and extended to today: a PNG for papers
(matplotlib) and an interactive HTML (plotly, self-contained) for each."""

from __future__ import annotations

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
import plotly.graph_objects as go
from matplotlib.ticker import MaxNLocator, ScalarFormatter
from plotly.offline import get_plotlyjs as plotly_js

from edgegap.trends.analysis import Trends, frontier
from edgegap.trends.fits import Fit


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


def _fit_line(
    series: Series, figure: Figure
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    assert series.fit is not None
    points = _points(series)[series.x].astype(float)
    high = float(points.max())
    if series.x == "year" and series.extend and figure.until is not None:
        high = max(high, figure.until)
    if figure.log_x:
        xs = np.geomspace(points.min(), high, 60)
        at = np.log10(xs)  # the fit's predictor is log10 of the axis value
    else:
        xs = at = np.linspace(points.min(), high, 60)
    low_band, high_band = series.fit.band(at)
    return xs, series.fit.predict(at), low_band, high_band


def _png(figure: Figure, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=150)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    drawn = [series for series in figure.series if len(_points(series))]
    for index, series in enumerate(drawn):
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
        if series.fit is not None:
            xs, line, low, high = _fit_line(series, figure)
            ax.plot(xs, line, color=color, lw=1.2, label=_fit_label(series.fit))
            ax.fill_between(xs, low, high, color=color, alpha=0.15, lw=0)
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
    for series in drawn:
        if series.labelled:
            _label(ax, _points(series), series)
    ax.set_xlabel(figure.x_label)
    ax.set_ylabel(figure.y_label)
    ax.set_title(figure.title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=6.5, loc="best", frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _fit_label(fit: Fit) -> str:
    if fit.x.startswith("log10_"):
        return f"fit: ∝ x^{fit.slope:.2f}, R²={fit.r2:.2f}"
    per = "per year" if fit.x == "year" else "per unit x"
    return f"fit: x{fit.annual_factor:.2f} {per}, R²={fit.r2:.2f}"


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
    for series in figure.series:
        points = _points(series)
        if not len(points):
            continue
        plot.add_trace(
            go.Scatter(
                x=points[series.x].astype(float),
                y=points[series.y].astype(float),
                mode="markers",
                name=series.label,
                text=points["name"],
                hovertemplate="%{text}<br>%{x}<br>%{y:.3g}<extra></extra>",
            )
        )
        if series.fit is not None:
            xs, line, low, high = _fit_line(series, figure)
            plot.add_trace(
                go.Scatter(
                    x=np.concatenate([xs, xs[::-1]]),
                    y=np.concatenate([high, low[::-1]]),
                    fill="toself",
                    opacity=0.2,
                    line={"width": 0},
                    hoverinfo="skip",
                    name=f"{series.label}: 95% band",
                )
            )
            plot.add_trace(
                go.Scatter(
                    x=xs, y=line, mode="lines", name=f"{series.label}: {_fit_label(series.fit)}"
                )
            )
    plot.update_layout(
        title=figure.title,
        xaxis_title=figure.x_label,
        yaxis_title=figure.y_label,
        yaxis_type="log",
        template="simple_white",
    )
    if figure.log_x:
        plot.update_xaxes(type="log", autorange="reversed")
    for band, bottom, top in figure.bands:
        plot.add_hrect(y0=bottom, y1=top * 1.02, opacity=0.2, line_width=0, annotation_text=band)
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
