"""The paper's analysis recomputed: fits, gaps, paper checks, figures, the CLI contract."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from edgegap.cli import app
from edgegap.trends import Assumptions, Budget, compute_trends

FIGURES = (
    "fig1_params_vs_year",
    "fig2_top5_vs_year",
    "fig3a_ops_vs_top5",
    "fig3b_perf_density_vs_year",
    "fig4a_params_vs_top5",
    "fig4b_memory_energy_vs_year",
    "fig5_energy_efficiency_vs_year",
)


@pytest.fixture(scope="module")
def trends():
    return compute_trends()


def test_fit_contract(trends):
    record = trends.to_dict()
    for name in (
        "params_vs_year",
        "top5_vs_year",
        "ops_vs_top5",
        "params_vs_top5",
        "perf_density_vs_year.gpu",
        "perf_density_vs_year.asic",
        "memory_energy_vs_year",
    ):
        fit = record["fits"][name]
        assert {"slope", "annual_factor", "doubling_years", "r2", "ci95", "n"} <= set(fit)
        assert fit["ci95"][0] <= fit["slope"] <= fit["ci95"][1], name
        assert fit["n"] >= 3
    json.dumps(record, allow_nan=False)


def test_paper_checks_agree_or_say_why(trends):
    """The paper's stated numbers against ours, with the tolerances stated here (the code's
    own `ok` flag must agree with them)."""
    checks = {c["claim"].split(" (")[0]: c for c in trends.paper_checks}
    expected = {
        "AlexNet operations per image": (1.4, 0.05),  # ours 1.45 G
        "VGG-19 operations per image": (38.0, 0.05),  # ours 39.3 G
        "top-5 error falls about 30% per year": (0.70, 0.05),  # ours x0.67 per year
        "GPU performance density 2015-16 over 2011-14, medians": (2.0, 0.35),  # ours 2.5x
        "GPU performance density flat 2011-14": (1.0, 0.25),  # ours 1.2x
    }
    for claim, (paper, tolerance) in expected.items():
        assert checks[claim]["paper"] == paper
        assert checks[claim]["ours"] == pytest.approx(paper, rel=tolerance), claim
        assert checks[claim]["ok"], claim
    # Counting a synaptic event as an operation, today's best chips are within an order of
    # magnitude of the brain: the paper's "more than five orders" does not reproduce.
    brain = checks["brain over the most efficient chip, orders of magnitude"]
    assert brain["ours"] < 5 - 2 and not brain["ok"]


def test_gaps_widen_and_scaling_assumption_is_switchable(trends):
    growth = trends.gaps["growth"]
    assert growth["performance_gap_growth_per_year"] > 1
    stopped = trends.gaps["projection"]
    running = compute_trends(assumptions=Assumptions(scaling_ends=None)).gaps["projection"]
    assert stopped["assumptions"]["scaling_ends"] == 2025
    assert stopped["performance_gap"][-1] > running["performance_gap"][-1]
    low, high = stopped["performance_gap_band"]
    assert all(
        lo <= mid <= hi for lo, mid, hi in zip(low, stopped["performance_gap"], high, strict=True)
    )
    bigger = compute_trends(Budget(area_mm2=100)).gaps["projection"]
    assert bigger["performance_gap"][0] == pytest.approx(stopped["performance_gap"][0] / 10)


@pytest.mark.slow
def test_trends_cli_writes_figures_and_json(tmp_path):
    runner = CliRunner()
    out = tmp_path / "trends"
    result = runner.invoke(app, ["trends", "--out", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert {"fits", "gaps", "paper_checks"} <= set(record)
    assert json.loads((out / "trends.json").read_text()) == record
    for name in FIGURES:
        assert (out / f"{name}.png").stat().st_size > 10_000
        assert 'src="plotly.min.js"' in (out / f"{name}.html").read_text()
    assert (out / "plotly.min.js").stat().st_size > 1_000_000  # offline: no CDN
    again = runner.invoke(app, ["trends", "--out", str(tmp_path / "again"), "--format", "json"])
    assert again.stdout == result.stdout  # seeded bootstrap: reruns are identical


def test_trends_cli_bad_options(tmp_path):
    runner = CliRunner()
    for args in (["--scaling-ends", "soon"], ["--fps", "0"]):
        result = runner.invoke(app, ["trends", "--out", str(tmp_path / "x"), *args])
        assert result.exit_code == 2 and result.stderr.startswith("error: "), args


def test_figure_html_is_byte_identical_across_runs(trends, tmp_path):
    """Plotly's default div id is a random UUID; ours is the figure's name."""
    from edgegap.trends.figures import write_figures

    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        out.mkdir()
        write_figures(trends, out, until=2030)
    pages = sorted(path.name for path in first.glob("*.html"))
    assert pages == [f"{name}.html" for name in sorted(FIGURES)]
    for page in pages:
        text = (first / page).read_text(encoding="utf-8")
        assert f'id="{page.removesuffix(".html").replace("_", "-")}"' in text
        assert (first / page).read_bytes() == (second / page).read_bytes(), page


def test_growth_rates_carry_intervals_and_significance(trends):
    """Every growth rate comes with its interval and whether its fits establish it; a rate
    from a fit that is not significant is never marked established."""
    growth = trends.gaps["growth"]
    for name, fit_names in growth["fits"].items():
        low, high = growth["ci95"][name]
        assert low <= growth[name] <= high, name
        fits = [trends.fits[f] for f in fit_names]
        expected = all(f.significant for f in fits) and not low <= 1 <= high
        assert growth["significant"][name] is expected, name
    # The leading designs' operations per image: seven points, R² 0.43, an interval that
    # includes no growth. Neither it nor the performance gap it feeds is established.
    assert not trends.fits["ops_vs_year"].significant
    assert not growth["significant"]["ops_growth_per_year"]
    assert not growth["significant"]["performance_gap_growth_per_year"]
    assert growth["significant"]["params_growth_per_year"]


def test_error_projection_stops_at_the_lowest_error_reached(trends):
    from edgegap.trends.analysis import HUMAN_TOP5_ERROR_PCT, error_floor, models_table

    projection = trends.gaps["projection"]
    floor = projection["assumptions"]["top5_error_floor_pct"]
    assert floor == error_floor(models_table()) == pytest.approx(2.251)  # SENet-154, 2017
    assert floor < HUMAN_TOP5_ERROR_PCT  # machines passed the human reference in 2015
    assert min(projection["top5_error_pct"]) == floor
    assert projection["top5_error_pct"][-1] == floor  # 2030: not 0.01%
    for band in ("performance_gap_band", "energy_gap_band"):
        low, high = projection[band]
        assert min(low) > 1e-9 and max(high) < 1e6, band  # read inside the fits' data


def _traces(plot):
    """(points, bands, solid fit lines, dashed projections) of a plotly trend figure."""
    points = [t for t in plot.data if t.mode == "markers"]
    bands = [t for t in plot.data if t.fill == "toself"]
    lines = [t for t in plot.data if t.mode == "lines"]
    solid = [t for t in lines if t.line.dash == "solid"]
    dashed = [t for t in lines if t.line.dash == "dash"]
    return points, bands, solid, dashed


def test_figures_draw_fits_over_their_data_and_clip_bands(trends):
    from edgegap.trends.figures import plotly_figures

    figures = dict(plotly_figures(trends, until=2030))
    for name, plot in figures.items():
        points, bands, solid, dashed = _traces(plot)
        ys = np.concatenate([np.asarray(t.y, dtype=float) for t in points + solid + dashed])
        for band in bands:
            assert ys.min() * (1 - 1e-9) <= min(band.y) <= max(band.y) <= ys.max() * (1 + 1e-9)
        by_group = {t.legendgroup: t for t in points}
        for line in solid:  # over the range of its own series' points, not beyond
            xs = np.asarray(by_group[line.legendgroup].x, dtype=float)
            assert xs.min() - 1e-9 <= min(line.x) and max(line.x) <= xs.max() + 1e-9, name
        for line in dashed:
            assert "projection" in line.name
    fig2 = figures["fig2_top5_vs_year"]
    floor = trends.gaps["projection"]["assumptions"]["top5_error_floor_pct"]
    _, bands, solid, dashed = _traces(fig2)
    assert dashed and min(min(t.y) for t in solid + dashed + bands) >= floor
    assert max(dashed[0].x) == 2030
    assert "lowest error reached" in fig2.layout.title.subtitle.text


def test_weak_fits_are_labelled_and_not_projected(trends):
    from edgegap.trends.figures import plotly_figures

    figures = dict(plotly_figures(trends, until=2030))
    memory = figures["fig4b_memory_energy_vs_year"]
    _, _, solid, dashed = _traces(memory)
    assert [t.name for t in solid] == [
        "DRAM (DDR, LPDDR, GDDR, 3D stacks): fit: x0.76 per year, R²=0.35, n=7 — "
        "no significant trend"
    ]
    assert not dashed  # a fit that is not significant is not projected to 2030
    for plot in figures.values():
        for line in _traces(plot)[2]:
            fit = next(f for f in trends.fits.values() if f"R²={f.r2:.2f}, n={f.n}" in line.name)
            assert ("no significant trend" in line.name) is (not fit.significant), line.name


def test_too_few_years_get_no_fit_and_the_caption_says_so(trends):
    from edgegap.trends.figures import plotly_figures

    density = dict(plotly_figures(trends, until=2030))["fig3b_perf_density_vs_year"]
    names = [t.name for t in density.data]
    assert "asic" in names and not [n for n in names if n.startswith("asic:")]
    assert "asic: 7 points at 3 distinct year values, fewer than the 4" in (
        density.layout.title.subtitle.text.replace("<br>", " ")
    )
    assert [n for n in names if n.startswith("gpu: fit")]
