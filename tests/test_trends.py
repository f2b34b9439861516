"""The paper's analysis recomputed: fits, gaps, paper checks, figures, the CLI contract."""

import json

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
