"""The paper's analysis recomputed: fits, gaps, paper checks, figures, the CLI contract."""

import json
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.text import Text
from typer.testing import CliRunner

from edgegap.cli import app
from edgegap.trends import Assumptions, Budget, compute_trends
from edgegap.trends.analysis import LEADING_PROTOCOL, frontier, memory_products

FIGURES = (
    "fig1_params_vs_year",
    "fig2_top5_vs_year",
    "fig3a_ops_vs_top5",
    "fig3b_perf_density_vs_year",
    "fig4a_params_vs_top5",
    "fig4b_memory_energy_vs_year",
    "fig4c_open_llms_vs_edge_memory",
    "fig5_energy_efficiency_vs_year",
)
FIT_FIELDS = {"n", "r2", "slope", "slope_t_ci95", "slope_bootstrap_ci95", "p_value", "significant"}
YEAR_FIELDS = {"factor_per_year", "factor_per_year_t_ci95", "factor_per_year_bootstrap_ci95",
               "doubling_or_halving_years"}  # fmt: skip


@pytest.fixture(scope="module")
def trends():
    return compute_trends()


@pytest.fixture(scope="module")
def plotted(trends):
    from edgegap.trends.figures import plotly_figures

    return dict(plotly_figures(trends))


def test_every_fit_carries_its_significance(trends):
    record = trends.to_dict()
    json.dumps(record, allow_nan=False)
    assert record["significance"]["min_n"] >= 5
    for name, fit in record["fits"].items():
        assert set(fit) >= FIT_FIELDS, name
        for interval in ("slope_t_ci95", "slope_bootstrap_ci95"):
            assert fit[interval][0] <= fit["slope"] <= fit[interval][1], (name, interval)
        if fit["x"] == "year":
            assert set(fit) >= YEAR_FIELDS, name
        else:  # a slope against error has no "per year" reading
            assert not YEAR_FIELDS & set(fit), name
            assert fit["slope_unit"].startswith("decades of"), name
        excludes = all(
            not lo <= 0 <= hi for lo, hi in (fit["slope_t_ci95"], fit["slope_bootstrap_ci95"])
        )
        assert fit["significant"] is (excludes and fit["n"] >= record["significance"]["min_n"])


def test_the_key_fits(trends):
    """The verdicts the README states: error falls and GPU density grows, significantly; the
    leading designs' operations and parameters, and DRAM energy, do not establish a trend."""
    fits = trends.fits
    assert fits["top5_vs_year"].significant
    assert fits["top5_vs_year"].rate.factor == pytest.approx(0.66, abs=0.03)
    assert fits["perf_density_vs_year.gpu"].significant
    assert fits["params_vs_year"].significant
    for name in ("ops_vs_year", "params_vs_year.leaders", "params_vs_top5",
                 "memory_energy_vs_year", "perf_density_vs_year.asic"):  # fmt: skip
        assert not fits[name].significant, name


def test_paper_checks_with_their_tolerances(trends):
    """The paper's stated numbers against ours; the tolerances are stated here, and the
    claims about a node are split by year and node."""
    checks = trends.paper_checks
    by_start = {c["claim"].split(" (")[0]: c for c in checks}
    agree = {
        "AlexNet operations per image": (1.4, 0.05),  # ours 1.45 G
        "VGG-19 operations per image": (38.0, 0.05),  # ours 39.3 G
        "top-5 error of the leading designs falls about 30% per year": (0.70, 0.10),
    }
    for claim, (paper, tolerance) in agree.items():
        assert by_start[claim]["paper"] == paper
        assert by_start[claim]["ours"] == pytest.approx(paper, rel=tolerance), claim
    flat = by_start["GPU performance density flat 2011-14"]
    assert flat["n"] == 2  # K20 and K40 only: a flat "trend" on two points
    assert flat["ours"] == pytest.approx(1.43, abs=0.05)  # 43% apart, not flat
    in_2015 = next(c for c in checks if "2015 GPUs" in c["claim"])
    in_2016 = next(c for c in checks if "2016 GPUs" in c["claim"])
    assert "28 nm" in in_2015["claim"] and "no 20 nm GPU" in in_2015["claim"]
    assert in_2015["ours"] == pytest.approx(1.5, abs=0.1)  # 28 nm M40: not 2x
    assert "16 nm" in in_2016["claim"]
    assert in_2016["ours"] == pytest.approx(2.0, rel=0.2)  # 16 nm Pascal: about 2x
    brain = by_start["brain over the most efficient chip, orders of magnitude"]
    assert brain["ours"] < 5 - 2  # within an order of magnitude, not five


def test_each_gap_has_one_definition_across_growth_and_projection(trends):
    """The projection's year-over-year ratio is the growth section's factor until scaling
    ends and demand's alone after it: the two sections cannot disagree."""
    growth, projection = trends.gaps["growth"], trends.gaps["projection"]
    years = projection["years"]
    ends = projection["assumptions"]["scaling_ends"]
    demand = {"performance_gap": "ops_growth_per_year", "energy_gap": "params_growth_per_year"}
    for gap, demand_rate in demand.items():
        ratio = np.array(projection[gap]["ratio"])
        steps = ratio[1:] / ratio[:-1]
        before = [s for s, y in zip(steps, years[1:], strict=True) if y <= ends]
        after = [s for s, y in zip(steps, years[1:], strict=True) if y > ends]
        factor = growth[f"{gap}_growth_per_year"]["factor_per_year"]
        assert before == pytest.approx([factor] * len(before), rel=1e-9), gap
        assert after == pytest.approx([growth[demand_rate]["factor_per_year"]] * len(after))
        assert projection[gap]["growth_per_year_until_scaling_ends"] == pytest.approx(factor)


def test_gaps_on_weak_fits_say_so(trends):
    growth, projection = trends.gaps["growth"], trends.gaps["projection"]
    for name, rate in growth.items():
        low, high = rate["factor_per_year_t_ci95"]
        assert low <= rate["factor_per_year"] <= high, name
        assert rate["significant"] is (not rate["weak_fits"] and "significant" in rate[
            "statement"] and "no significant trend" not in rate["statement"])  # fmt: skip
        for weak in rate["weak_fits"]:
            assert weak in rate["statement"], name
    assert growth["performance_gap_growth_per_year"]["weak_fits"] == ["ops_vs_year"]
    for gap in ("performance_gap", "energy_gap"):
        assert not projection[gap]["significant"]
        assert "not established" in projection[gap]["statement"]
        for weak in projection[gap]["weak_fits"]:
            assert weak in projection[gap]["statement"]


def test_projections_are_bounded_and_the_scaling_assumption_switchable(trends):
    projection = trends.gaps["projection"]
    floor = projection["assumptions"]["top5_error_floor_pct"]
    assert floor == pytest.approx(2.251)  # SENet-154, 2017: above zero, the floor stated
    assert min(projection["top5_error_pct"]) == floor > 0
    running = compute_trends(assumptions=Assumptions(scaling_ends=None)).gaps["projection"]
    assert projection["performance_gap"]["ratio"][-1] > running["performance_gap"]["ratio"][-1]
    for gap in ("performance_gap", "energy_gap"):
        low, high = projection[gap]["band95"]
        assert all(lo <= mid <= hi for lo, mid, hi in zip(
            low, projection[gap]["ratio"], high, strict=True))  # fmt: skip
    bigger = compute_trends(Budget(area_mm2=100)).gaps["projection"]["performance_gap"]
    assert bigger["ratio"][0] == pytest.approx(projection["performance_gap"]["ratio"][0] / 10)


def test_one_convention_per_hardware_trend(trends):
    """GPU density is fp32 at boost clock for every GPU, named in the JSON, with the other
    precision and the other clock reported beside it."""
    chips = trends.tables["platforms"]
    gpus = chips[(chips["kind"] == "gpu") & chips["perf_density_gops_mm2"].notna()]
    expected = gpus["fp32_boost_ops"] / 1e9 / gpus["die_area_mm2"]
    assert np.allclose(gpus["perf_density_gops_mm2"].astype(float), expected.astype(float))
    record = trends.to_dict()
    assert record["conventions"]["gpu"] == {
        "precision": "fp32", "clock": "boost", "column": "fp32_boost_ops"
    }  # fmt: skip
    sensitivity = trends.gaps["sensitivity"]
    assert "best_precision" in sensitivity["gpu_precision"]
    assert "base_clock_subset" in sensitivity["gpu_clock"]
    assert trends.fits["perf_density_vs_year.gpu.paper_window"].rate.factor == pytest.approx(
        1.32, abs=0.03
    )


def test_leading_designs_follow_one_protocol(trends):
    models = trends.tables["models"]
    leaders = frontier(models)
    assert set(leaders["protocol"]) == {LEADING_PROTOCOL}
    assert "Inception-v4" in set(leaders["name"])
    inception = leaders.set_index("name").loc["Inception-v4"]
    assert inception["params"] > 0 and inception["macs"] > 0  # in Figs 3a and 4a now
    assert set(frontier(models, "single-val")["protocol"]) == {"single-val"}
    assert models["protocol"].notna().all()


def test_memory_products_only_and_the_plateau_tested(trends):
    memories = trends.tables["memories"]
    products = memory_products(memories)
    assert "proposal" not in set(products["status"]) and "generic" not in set(products["status"])
    assert trends.fits["memory_energy_vs_year"].n == len(products.dropna(
        subset=["energy_pj_per_bit"]))  # fmt: skip
    plateau = trends.gaps["memory_plateau"]
    assert plateau["break_year"] == 2015
    if not plateau["testable"]:
        assert "too few" in plateau["from_2015"]


def _traces(plot):
    """(points, bands, solid fit lines, dashed projections) of a plotly trend figure."""
    points = [t for t in plot.data if t.mode == "markers"]
    bands = [t for t in plot.data if t.fill == "toself"]
    lines = [t for t in plot.data if t.mode == "lines"]
    solid = [t for t in lines if t.line.dash == "solid"]
    dashed = [t for t in lines if t.line.dash == "dash"]
    return points, bands, solid, dashed


def test_fits_are_drawn_over_their_data_and_projections_stop_at_the_scaling_end(trends, plotted):
    ends = trends.gaps["projection"]["assumptions"]["scaling_ends"]
    for name, plot in plotted.items():
        points, bands, solid, dashed = _traces(plot)
        ys = np.concatenate([np.asarray(t.y, dtype=float) for t in points + solid + dashed])
        for band in bands:
            assert ys.min() * (1 - 1e-9) <= min(band.y) <= max(band.y) <= ys.max() * (1 + 1e-9)
        by_group = {t.legendgroup: t for t in points}
        for line in solid:  # over the range of its own series' points, not beyond
            xs = np.asarray(by_group[line.legendgroup].x, dtype=float)
            assert xs.min() - 1e-9 <= min(line.x) and max(line.x) <= xs.max() + 1e-9, name
        for line in dashed:
            assert "projection" in line.name and max(line.x) == ends, name
    fig2 = plotted["fig2_top5_vs_year"]
    floor = trends.gaps["projection"]["assumptions"]["top5_error_floor_pct"]
    _, bands, solid, dashed = _traces(fig2)
    assert dashed and min(min(t.y) for t in solid + dashed + bands) >= floor
    assert "lowest error reached" in fig2.layout.title.subtitle.text


def test_weak_fits_are_labelled_and_not_projected(trends, plotted):
    memory = plotted["fig4b_memory_energy_vs_year"]
    _, _, solid, dashed = _traces(memory)
    assert len(solid) == 1 and solid[0].name.endswith("no significant trend")
    assert not dashed
    for plot in plotted.values():
        for line in _traces(plot)[2]:
            fit = next(f for f in trends.fits.values() if f"R²={f.r2:.2f}, n={f.n}" in line.name)
            assert ("no significant trend" in line.name) is (not fit.significant), line.name


def test_captions_name_every_excluded_category(plotted):
    density = plotted["fig3b_perf_density_vs_year"].layout.title.subtitle.text.replace("<br>", " ")
    assert "FPGAs not drawn (none" in density and "NPUs not drawn (none" in density
    assert (
        "fp32 peak at boost clock" in plotted["fig3b_perf_density_vs_year"].layout.yaxis.title.text
    )
    memory = plotted["fig4b_memory_energy_vs_year"].layout.title.subtitle.text.replace("<br>", " ")
    assert "FGDRAM" in memory and "kept out of the fit" in memory


def test_png_labels_are_legible_and_do_not_overlap(trends):
    """Every point label is at least 7 pt, inside the axes and clear of every other label;
    a label moved away from its point has a leader line."""
    from edgegap.trends.figures import LABEL_POINTS, _figures, draw

    assert LABEL_POINTS >= 7
    for figure in _figures(trends):
        fig, _ = draw(figure)
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        labels = list(ax.texts)
        for label in labels:
            label.update_positions(renderer)  # an annotation places its text when drawn
        boxes = [Text.get_window_extent(t, renderer) for t in labels]  # the text, no leader
        frame = ax.get_window_extent(renderer)
        for label, box in zip(labels, boxes, strict=True):
            assert label.get_fontsize() >= 7, (figure.name, label.get_text())
            assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1, label.get_text()
            px, py = ax.transData.transform(label.xy)
            gap_px = np.hypot(max(box.x0 - px, 0, px - box.x1), max(box.y0 - py, 0, py - box.y1))
            moved = gap_px > 10 * fig.dpi / 72  # farther than 10 pt from its point
            assert not moved or label.arrow_patch is not None, label.get_text()
        for i, box in enumerate(boxes):
            for other in boxes[i + 1 :]:
                assert not box.overlaps(other), (figure.name, labels[i].get_text())
        assert all(t.get_fontsize() >= 7 for t in fig.texts), figure.name  # the caption
        plt.close(fig)


@pytest.mark.slow
def test_trends_cli_writes_figures_and_json(tmp_path):
    runner = CliRunner()
    out = tmp_path / "trends"
    result = runner.invoke(app, ["trends", "--out", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert {"fits", "gaps", "paper_checks", "significance", "conventions"} <= set(record)
    assert all("significant" in fit and "p_value" in fit for fit in record["fits"].values())
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
        write_figures(trends, out)
    pages = sorted(path.name for path in first.glob("*.html"))
    assert pages == [f"{name}.html" for name in sorted(FIGURES)]
    for page in pages:
        text = (first / page).read_text(encoding="utf-8")
        assert f'id="{page.removesuffix(".html").replace("_", "-")}"' in text
        assert (first / page).read_bytes() == (second / page).read_bytes(), page


README_ROWS = {  # the README's trend table, row label -> the fit or gap rate it shows
    "top-5 error, leading designs (Fig. 2)": "top5_vs_year",
    "top-5 error, single models on validation": "top5_vs_year.single_model",
    "parameters of the largest networks (Fig. 1)": "params_vs_year",
    "GPU density, fp32 at boost clock (Fig. 3b)": "perf_density_vs_year.gpu",
    "the same, the paper's window (to 2017)": "perf_density_vs_year.gpu.paper_window",
    "the same, at each GPU's best dense precision": "perf_density_vs_year.gpu.best_precision",
    "operations per image, leading designs": "ops_vs_year",
    "parameters, leading designs": "params_vs_year.leaders",
    "ASIC density, native precision": "perf_density_vs_year.asic",
    "DRAM energy per bit, products (Fig. 4b)": "memory_energy_vs_year",
    "performance gap (operations / GPU density)": "performance_gap_growth_per_year",
    "energy gap (parameters x DRAM energy per bit)": "energy_gap_growth_per_year",
    "open models' int4 weights, leading (Fig. 4c)": "open_llm_weight_bytes_vs_year.leaders",
    "edge DRAM capacity, leading devices (Fig. 4c)": "edge_dram_vs_year.leaders",
    "edge DRAM bandwidth, leading devices (Fig. 4c)": "edge_bandwidth_vs_year.leaders",
    "memory gap (int4 weights / largest edge DRAM)": "memory_gap_growth_per_year",
}


def test_the_readme_trend_table_is_the_computed_one(trends):
    """Every row of the README's table shows the n, factor, intervals and verdict the fits
    compute (to the digits it prints)."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    rows = {
        cells[0]: cells[1:]
        for line in readme.splitlines()
        if line.startswith("| ") and (cells := [c.strip() for c in line.strip("|").split("|")])
    }
    record = trends.to_dict()
    for label, name in README_ROWS.items():
        n, shown, _, _, verdict = rows[label]
        rate = (
            record["fits"].get(name)
            or trends.gaps["growth"].get(name)
            or trends.gaps["generative"][name]
        )
        numbers = [float(v) for v in re.findall(r"\d+(?:\.\d+)?", shown)]
        expected = [rate["factor_per_year"], *rate["factor_per_year_t_ci95"],
                    *rate["factor_per_year_bootstrap_ci95"]]  # fmt: skip
        assert numbers == pytest.approx(expected, rel=0.01, abs=0.006), label
        assert (verdict == "significant") is rate["significant"], label
        if name in record["fits"]:
            assert int(n) == rate["n"], label


def test_generative_gap_is_computed_from_its_tables(trends):
    """Fig. 4 in its 2026 form: each fit is the record setters' fit, the gap today is the data's
    ratio, the decode bound bandwidth over weight bytes, the growth the fits' combination."""
    from edgegap.trends.analysis import GENERATIVE_FITS, record_setters
    from edgegap.trends.fits import combined_rate, fit_exponential

    llms, edge = trends.tables["open_llms"], trends.tables["edge_memory"]
    columns = {"open_llm_weight_bytes_vs_year.leaders": (llms, "weight_bytes"),
               "edge_dram_vs_year.leaders": (edge, "dram_bytes"),
               "edge_bandwidth_vs_year.leaders": (edge, "bandwidth_bytes_s")}  # fmt: skip
    assert set(columns) == set(GENERATIVE_FITS)
    for name, (table, column) in columns.items():
        rows = record_setters(table, column)
        # each row beats every earlier year's best
        for _, row in rows.iterrows():
            earlier = table[table["year"] < row["year"]][column].astype(float)
            assert earlier.empty or row[column] > earlier.max()
        again = fit_exponential(name, rows["year"].astype(float), rows[column].astype(float))
        assert trends.fits[name].slope == pytest.approx(again.slope, rel=1e-12)
        assert trends.fits[name].n == len(rows)
    leaders = record_setters(llms, "weight_bytes")
    assert {"Kimi K2", "DeepSeek-V3", "GPT-2 (1.5B)"} <= set(leaders["name"])
    assert "LLaMA-65B" not in set(leaders["name"])  # smaller than 2022's BLOOM
    record = trends.gaps["generative"]
    now = record["now"]
    biggest = llms.loc[llms["params"].astype(float).idxmax()]
    assert now["model"] == biggest["name"]
    assert now["model_weight_bytes"] == pytest.approx(float(biggest["params"]) / 2)  # int4
    assert now["dram_gb"] == edge["dram_gb"].max()
    assert now["bandwidth_gb_s"] == edge["bandwidth_gb_s"].max()
    assert now["weights_over_dram"] == pytest.approx(
        now["model_weight_bytes"] / (now["dram_gb"] * 1e9)
    )
    assert now["decode_tokens_per_s_bound"] == pytest.approx(
        now["bandwidth_gb_s"] * 1e9 / now["model_weight_bytes"]
    )
    weights, dram, bandwidth = (trends.fits[n] for n in GENERATIVE_FITS)
    growth = record["memory_gap_growth_per_year"]
    assert growth["factor_per_year"] == pytest.approx(10 ** (weights.slope - dram.slope))
    assert growth["significant"] is combined_rate(((weights, 1), (dram, -1))).significant
    decode = record["decode_bound_per_year"]
    assert decode["significant"] is combined_rate(((bandwidth, 1), (weights, -1))).significant
    assert decode["factor_per_year"] == pytest.approx(10 ** (bandwidth.slope - weights.slope))
    assert f"{now['weights_over_dram']:.3g}x the largest edge DRAM" in record["statement"]
    if decode["weak_fits"]:
        assert "no significant trend" in record["statement"]
    projection = record["projection"]
    assert len(projection["years"]) == len(projection["ratio"]) == len(projection["band95"][0])
    assert "generative" in trends.to_dict()["gaps"]


def test_fig4c_draws_the_generative_fits_and_states_the_gap(trends, plotted):
    from edgegap.trends.analysis import GENERATIVE_FITS

    plot = plotted["fig4c_open_llms_vs_edge_memory"]
    points, _, solid, _ = _traces(plot)
    assert len(points) == 6  # leading (fitted) and other rows of each of three quantities
    fits = [trends.fits[name] for name in GENERATIVE_FITS]
    for fit in fits:  # each fit's line is labelled with its own rate and size
        assert any(f"x{fit.rate.factor:.2f} per year, R²={fit.r2:.2f}, n={fit.n}" in line.name
                   for line in solid)  # fmt: skip
    assert len(solid) == len(fits)
    drawn = sum(len(t.x) for t in points)
    assert drawn == len(trends.tables["open_llms"]) + 2 * len(trends.tables["edge_memory"])
    subtitle = plot.layout.title.subtitle.text.replace("<br>", " ")
    assert "x the largest edge DRAM" in subtitle and "tokens/s" in subtitle
    # each quantity's other rows, hollow, in its record setters' colour; the three apart
    colour = {t.name: t.marker.color for t in points}
    symbols = {t.name: t.marker.symbol for t in points}
    quantities = {name.removesuffix(": leading") for name in colour if name.endswith("leading")}
    assert len(quantities) == 3
    assert len({colour[f"{q}: leading"] for q in quantities}) == 3
    for quantity in quantities:
        assert colour[f"{quantity}: others"] == colour[f"{quantity}: leading"]
        assert symbols[f"{quantity}: others"] == symbols[f"{quantity}: leading"] + "-open"
