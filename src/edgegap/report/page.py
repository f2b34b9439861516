"""What index.html says, section by section, from the report.json record alone: the page shows
no number that the record does not hold."""

from __future__ import annotations

import html as escape
from typing import Any

import plotly.graph_objects as go

from edgegap.plotting import log_range, reference
from edgegap.report.html import Column, figure, number_attributes, page, table
from edgegap.trends.fits import NO_TREND


def _num(value: float, fmt: str, key: str, scale: float = 1.0) -> str:
    """A number in running text, tagged with its report.json path like a table cell."""
    shown = value * scale if scale != 1 else value
    return f'<span class="num" {number_attributes(value, key, scale)}>{shown:{fmt}}</span>'


def _heading_row(cells: list[str]) -> str:
    return "<tr>" + "".join(f"<th>{escape.escape(c)}</th>" for c in cells) + "</tr>"


def _fmt(value: float) -> str:
    """Three significant digits, without an exponent below a million."""
    return ",.0f" if 1e3 <= abs(value) < 1e6 else ".3g"


def _verdict_cell(row: dict[str, Any], index: int) -> str:
    """One model on one target: runs or not and why not, then latency, power, energy,
    memory at its precision, and the frame rate it can reach."""
    key = f"edge[{index}]"
    runs = bool(row["runs"])
    status = "runs" if runs else "does not run: " + "; ".join(row["reasons"])

    def number(field: str) -> str:
        return _num(row[field], _fmt(row[field]), f"{key}.{field}")

    span = (
        " (not validated)"
        if row.get("latency_low_ms") is None
        else f" ({number('latency_low_ms')}-{number('latency_high_ms')})"
    )
    return (
        f'<td class="{"runs" if runs else "fails"}" title="{escape.escape(row["memory_reason"])}">'
        f'<div class="status {"yes" if runs else "no"}">{escape.escape(status)}</div>'
        f"<div>{number('latency_ms')} ms{span} · {number('power_w')} W · "
        f"{number('energy_mj')} mJ"
        f"</div><div>{number('memory_mb')} MB at {escape.escape(row['precision'])}"
        + ("" if not row["real_time"] else f" · up to {number('max_fps')} frames/s")
        + "</div></td>"
    )


def verdict(record: dict[str, Any]) -> str:
    """The first answer: which representative model runs on which edge target, and what stops
    the others (memory, frame rate, power), from the `edge` rows."""
    chosen = record["verdict"]
    fps = chosen["fps"]
    where = {(r["model"], r["platform"]): i for i, r in enumerate(record["edge"])}
    models, targets = chosen["models"], chosen["targets"]
    pairs = [(m, t) for m in models for t in targets if (m, t) in where]
    running = sum(1 for m, t in pairs if record["edge"][where[m, t]]["runs"])
    body = []
    for model in models:
        cells = "".join(
            _verdict_cell(record["edge"][where[model, target]], where[model, target])
            if (model, target) in where
            else "<td>-</td>"
            for target in targets
        )
        body.append(f'<tr><th scope="row">{escape.escape(model)}</th>{cells}</tr>')
    return (
        f'<p class="lead">{running} of {len(pairs)} model-target pairs run: the model fits '
        f"the target's memory, sustains {fps:g} frames/s and stays within its power budget. "
        "Each cell: what stops it, if anything; latency per frame with its range, power, "
        "energy per frame; memory needed at the precision it runs at; the highest frame rate "
        "(cost model).</p>"
        '<table class="verdict" id="verdict"><thead>'
        + _heading_row(["model", *targets])
        + f"</thead><tbody>{''.join(body)}</tbody></table>"
        + intervals(record, targets)
    )


def intervals(record: dict[str, Any], targets: list[str]) -> str:
    """What each target's latency range rests on: its multipliers, their level and basis."""
    parts = []
    for target in targets:
        found = record["intervals"].get(target)
        if found is None:
            parts.append(f"{escape.escape(target)} not validated")
            continue
        key = f"intervals.{target}"
        parts.append(
            f"{escape.escape(target)} x{_num(found['low_factor'], '.3g', f'{key}.low_factor')}"
            f"-x{_num(found['high_factor'], '.3g', f'{key}.high_factor')} "
            f"({escape.escape(found['level'])} of {escape.escape(found['basis'])})"
        )
    return (
        '<p class="caption">Latency range: where the measured latency falls if the estimate '
        "errs as on the validation rows of the platform's class (measured / predicted, "
        "data/residuals.csv; held-out rows where there are any, in-sample only where not): "
        + "; ".join(parts)
        + ".</p>"
    )


GROWTH = (
    ("ops_growth_per_year", "demand"),
    ("params_growth_per_year", "demand"),
    ("largest_params_growth_per_year", "demand"),
    ("perf_density_growth_per_year", "supply"),
    ("memory_energy_per_bit_per_year", "supply"),
    ("performance_gap_growth_per_year", "gap"),
    ("energy_gap_growth_per_year", "gap"),
)


def _growth_numbers(record: dict[str, Any], name: str) -> tuple[str, str, str]:
    """A factor per year and its t and bootstrap 95% intervals, each number tagged with its
    report.json path."""
    key = f"trends.gaps.growth.{name}"
    rate = record["trends"]["gaps"]["growth"][name]

    def interval(field: str) -> str:
        low, high = rate[field]
        return (
            _num(low, ".3g", f"{key}.{field}[0]")
            + "&ndash;"
            + _num(high, ".3g", f"{key}.{field}[1]")
        )

    factor = _num(rate["factor_per_year"], ".3g", f"{key}.factor_per_year")
    return factor, interval("factor_per_year_t_ci95"), interval("factor_per_year_bootstrap_ci95")


def _growth_words(record: dict[str, Any], name: str) -> str:
    factor, t, boot = _growth_numbers(record, name)
    what = record["trends"]["gaps"]["growth"][name]["what"]
    return f"{escape.escape(what)} &times;{factor} per year (95% intervals {t}, bootstrap {boot})"


def _rests_on(record: dict[str, Any], name: str) -> str:
    """The weak fits a rate rests on, in words: said in the same sentence as the rate."""
    fits = record["trends"]["fits"]
    weak = record["trends"]["gaps"]["growth"][name]["weak_fits"]
    said = [
        f"{escape.escape(f)} (n=" + _num(fits[f]["n"], "d", f"trends.fits[{f}].n") + ", p="
        + _num(fits[f]["p_value"], ".3g", f"trends.fits[{f}].p_value") + ")"
        for f in weak
    ]  # fmt: skip
    return f", resting on {' and '.join(said)}, not significant" if said else ""


def gap(record: dict[str, Any]) -> str:
    """The growth of demand, supply and the gap, with their intervals; a rate from a fit that
    is not significant is said to be one, in the same sentence, not headlined."""
    trends = record["trends"]
    growth = trends["gaps"]["growth"]
    rule = trends["significance"]
    trend_names = [n for n, side in GROWTH if side != "gap"]
    established = [n for n in trend_names if growth[n]["significant"]]
    weak = [n for n in trend_names if not growth[n]["significant"]]
    sentences = []
    if established:
        sentences.append(
            "Established: " + "; ".join(_growth_words(record, n) for n in established) + "."
        )
    if weak:
        sentences.append(
            f"<strong>{NO_TREND.capitalize()}</strong> in the "
            + " or the ".join(escape.escape(growth[n]["what"]) for n in weak)
            + " (the table gives their rates and why they are weak)."
        )
    for name, side in GROWTH:
        if side != "gap":
            continue
        if growth[name]["significant"]:
            sentences.append(f"The {_growth_words(record, name)} widens.")
        else:
            sentences.append(
                f"So whether the {_growth_words(record, name)} widens is "
                f"<strong>not established</strong> by these data{_rests_on(record, name)}."
            )
    rows = []
    for name, side in GROWTH:
        factor, t, boot = _growth_numbers(record, name)
        fits = []
        for fit_name in growth[name]["fits"]:
            fit = trends["fits"][fit_name]
            fkey = f"trends.fits[{fit_name}]"
            fits.append(
                f"{escape.escape(fit_name)}: n="
                + _num(fit["n"], "d", f"{fkey}.n")
                + ", R²="
                + _num(fit["r2"], ".3g", f"{fkey}.r2")
                + ", p="
                + _num(fit["p_value"], ".3g", f"{fkey}.p_value")
                + ("" if fit["significant"] else f" ({NO_TREND})")
            )
        significant = growth[name]["significant"]
        rows.append(
            f"<tr><td>{side}</td><td>{escape.escape(growth[name]['what'])}</td>"
            f'<td class="num">{factor}</td><td class="num">{t}</td><td class="num">{boot}</td>'
            f"<td>{'<br>'.join(fits)}</td>"
            + f'<td class="{"yes" if significant else "no"}">'
            + ("significant" if significant else NO_TREND)
            + "</td></tr>"
        )
    return (
        f'<p class="lead">{" ".join(sentences)}</p>'
        '<table id="growth"><thead>'
        + _heading_row(
            [
                "",
                "factor per year of",
                "factor",
                "t 95% interval",
                "bootstrap 95% interval",
                "fitted on",
                "trend",
            ]
        )
        + f"</thead><tbody>{''.join(rows)}</tbody></table>"
        + '<p class="caption">Factors per year from least-squares fits of log10(quantity) '
        "against the year, with a t-based and a seeded-bootstrap 95% interval; for a gap, the "
        "fits' slopes combined (Welch-Satterthwaite t, paired bootstraps). A trend is "
        "significant when it rests on at least "
        + _num(rule["min_n"], "d", "trends.significance.min_n")
        + " points and both intervals exclude 1 (no change); a gap when, besides, every fit "
        "it rests on is. Figures and fits in detail: "
        '<a href="#gaps">demand against supply</a>.</p>'
    )


def demand(record: dict[str, Any]) -> str:
    models = record["models"]
    scatter = go.Figure(
        go.Scatter(
            x=[m["macs"] / 1e9 for m in models],
            y=[m["params"] / 1e6 for m in models],
            mode="markers",
            text=[m["model"] for m in models],
            hovertemplate="%{text}<br>%{x:.3g} GMACs<br>%{y:.3g} M params<extra></extra>",
        )
    )
    scatter.update_layout(
        title="Built-in models: MACs and parameters per image", xaxis_title="GMACs",
        yaxis_title="parameters (M)", xaxis_type="log", yaxis_type="log",
        template="simple_white",
    )  # fmt: skip
    layers = record["layers"]
    rows = [r for r in layers["rows"] if r["macs"]]
    bars = go.Figure(go.Bar(x=[r["name"] for r in rows], y=[r["macs"] / 1e6 for r in rows]))
    bars.update_layout(
        title=f"{layers['model']}: MACs per layer", yaxis_title="MMACs", template="simple_white"
    )
    columns = [
        ("model", "model", ""), ("input", "input_shape", ""), ("MACs", "macs", ",d"),
        ("params", "params", ",d"), ("weight bytes (fp32)", "weight_bytes", ",d"),
        ("peak activations (B)", "peak_activation_bytes", ",d"),
        ("FLOPs/byte", "arithmetic_intensity", ".3g"),
        ("published GMACs", "published_gmacs", ".4g"),
        ("top-1 (%)", "acc1", ".3g"), ("source", "source", ""),
    ]  # fmt: skip
    layer_columns = [
        ("layer", "name", ""), ("op", "op", ""), ("MACs", "macs", ",d"),
        ("params", "params", ",d"), ("FLOPs/byte", "arithmetic_intensity", ".3g"),
    ]  # fmt: skip
    return (
        figure("demand-scatter", scatter)
        + table(models, columns, "models")
        + figure("demand-layers", bars)
        + f"<details><summary>every layer of {escape.escape(layers['model'])}</summary>"
        + table(layers["rows"], layer_columns, "layers.rows")
        + "</details>"
    )


def gaps(record: dict[str, Any], figures: list[tuple[str, go.Figure]]) -> str:
    trends = record["trends"]
    checks = trends["paper_checks"]
    columns = [("claim", "claim", ""), ("paper", "paper", ".3g"), ("ours", "ours", ".3g"),
               ("points", "n", "d")]  # fmt: skip
    shown_apart = record["generative"]["figure"]
    parts = [figure(f"trend-{name}", plot) for name, plot in figures if name != shown_apart]
    names = sorted(trends["fits"])
    fits = [
        trends["fits"][n] | {"name": n, "trend": "significant" if trends["fits"][n]["significant"]
                             else NO_TREND}
        for n in names
    ]  # fmt: skip
    fit_columns = [
        ("fit", "name", ""), ("against", "x", ""), ("n", "n", "d"), ("R²", "r2", ".3g"),
        ("factor per year", "factor_per_year", ".3g"),
        ("t 95% low", "factor_per_year_t_ci95.0", ".3g"),
        ("t 95% high", "factor_per_year_t_ci95.1", ".3g"),
        ("bootstrap 95% low", "factor_per_year_bootstrap_ci95.0", ".3g"),
        ("bootstrap 95% high", "factor_per_year_bootstrap_ci95.1", ".3g"),
        ("slope", "slope", ".3g"), ("slope unit", "slope_unit", ""),
        ("slope t 95% low", "slope_t_ci95.0", ".3g"),
        ("slope t 95% high", "slope_t_ci95.1", ".3g"), ("p", "p_value", ".3g"),
        ("trend", "trend", ""),
    ]  # fmt: skip
    return (
        "<p>The paper's Figures 1-4, reproduced and extended from the sourced tables. Each "
        "figure's caption says how its fits are drawn (solid over each series' own data, "
        "dashed only where a significant year fit is projected, to the assumed end of scaling; "
        "95% bootstrap bands clipped to the plotted range) and names every category it leaves "
        "out; the PNGs for papers are in <code>trends/</code>.</p>"
        + "".join(parts)
        + "<h3>The gap projected</h3><p>"
        + " ".join(
            escape.escape(trends["gaps"]["projection"][g]["statement"])
            for g in ("performance_gap", "energy_gap")
        )
        + "</p>"
        + "<h3>Every fit</h3>"
        + table(fits, fit_columns, "trends.fits", [f"trends.fits[{n}]" for n in names])
        + "<h3>Checks against the paper's numbers</h3>"
        + table(checks, columns, "trends.paper_checks")
    )


def _decode_cell(row: dict[str, Any], index: int) -> str:
    """Tokens/s where the model fits the target, else the memory it needs."""
    key = f"generative.rows[{index}]"
    if row["fits"]:
        value = row["tokens_per_s"]
        return f'<td class="runs">{_num(value, _fmt(value), f"{key}.tokens_per_s")}</td>'
    needed = _num(row["needed_bytes"], ".3g", f"{key}.needed_bytes", 1e-9)
    return f'<td class="fails">needs {needed} GB</td>'


def generative(record: dict[str, Any], figures: list[tuple[str, go.Figure]]) -> str:
    """Fig. 4c with its memory gap, then the tokens/s every shipped edge language model decodes
    at on each edge target (`generative` rows)."""
    decode = record["generative"]
    gap = record["trends"]["gaps"]["generative"]
    now, key = gap["now"], "trends.gaps.generative.now"
    plot = dict(figures)[decode["figure"]]
    where = {(r["model"], r["platform"]): i for i, r in enumerate(decode["rows"])}
    models = list(dict.fromkeys(r["model"] for r in decode["rows"]))
    body = []
    for model in models:
        cells = "".join(
            _decode_cell(decode["rows"][where[model, target]], where[model, target])
            for target in decode["targets"]
        )
        body.append(f'<tr><th scope="row">{escape.escape(model)}</th>{cells}</tr>')
    return (
        f'<p class="lead">The largest open model, {escape.escape(now["model"])}, holds '
        f"{_num(now['weights_over_dram'], '.3g', f'{key}.weights_over_dram')}x the largest "
        f"edge DRAM in {escape.escape(gap['weights'])} weights; on the fastest edge memory a "
        f"decode step runs at most "
        f"{_num(now['decode_tokens_per_s_bound'], '.3g', f'{key}.decode_tokens_per_s_bound')} "
        "tokens/s.</p>"
        + f"<p>{escape.escape(gap['statement'])}</p>"
        + figure(f"trend-{decode['figure']}", plot)
        + "<h3>Will it run? Edge language models on edge targets</h3>"
        + f'<p class="caption">Decode tokens/s at batch 1 after {decode["context"]} tokens, '
        f"weights as llama.cpp's {escape.escape(decode['weights'].upper())} files hold them, "
        f"KV cache {escape.escape(decode['kv_cache'])}, on each target's sustained memory "
        "bandwidth (cost model; docs/generative.md compares it with published measurements); "
        '"needs" where weights, cache and activations exceed the target\'s memory.</p>'
        + '<table class="verdict" id="decode-verdict"><thead>'
        + _heading_row(["model", *decode["targets"]])
        + f"</thead><tbody>{''.join(body)}</tbody></table>"
    )


def _precisions(rows: list[dict[str, Any]], platform: str) -> str:
    return "/".join(dict.fromkeys(r["precision"] for r in rows if r["platform"] == platform))


def _heat_map(
    rows: list[dict[str, Any]],
    z: list[list[float]],
    text: list[list[str]],
    hover: list[list[str]],
    colors: list[list[Any]],
    title: str,
) -> go.Figure:
    """Models down, platforms (with their precisions) across with labels at the top, each
    cell coloured by `z` in 0..1 and labelled with `text`."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    platforms = list(dict.fromkeys(r["platform"] for r in rows))
    labels = [f"{p}<br>{_precisions(rows, p)}" for p in platforms]
    heat = go.Figure(
        go.Heatmap(
            z=z, x=labels, y=models, text=text, texttemplate="%{text}", customdata=hover,
            colorscale=colors, showscale=False, zmin=0, zmax=1,
            hovertemplate="%{y} on %{x}: %{text}<br>%{customdata}<extra></extra>",
        )
    )  # fmt: skip
    heat.update_layout(
        title={"text": title, "y": 0.995, "yanchor": "top"},
        height=max(400, 22 * len(models) + 160), template="simple_white", margin={"t": 130},
    )  # fmt: skip
    heat.update_xaxes(side="top")
    heat.update_yaxes(autorange="reversed")
    return heat


def edge(record: dict[str, Any]) -> str:
    fps = record["real_time_fps"]
    rows = record["edge"]
    models = list(dict.fromkeys(r["model"] for r in rows))
    platforms = list(dict.fromkeys(r["platform"] for r in rows))
    cell = {(r["model"], r["platform"]): r for r in rows}
    runs = [[1.0 if cell[(m, p)]["runs"] else 0.0 for p in platforms] for m in models]
    text = [
        [f"{(v := cell[(m, p)]['latency_ms']):{_fmt(v)}} ms" for p in platforms] for m in models
    ]
    why = [["; ".join(cell[(m, p)]["reasons"]) or "runs" for p in platforms] for m in models]
    heat = _heat_map(
        rows, runs, text, why, [[0, "#f4c7c3"], [1, "#b7e1cd"]],
        f"Runs (green): fits memory, {fps:g} frames/s, within the power budget; text: latency "
        "(ms); column: platform and the precision it runs at",
    )  # fmt: skip
    columns = [
        ("model", "model", ""), ("platform", "platform", ""), ("precision", "precision", ""),
        ("latency (ms)", "latency_ms", ".4g"), ("latency low (ms)", "latency_low_ms", ".4g"),
        ("latency high (ms)", "latency_high_ms", ".4g"), ("range basis", "interval_basis", ""),
        ("max frames/s", "max_fps", ".3g"),
        ("energy (mJ)", "energy_mj", ".4g"), ("power (W)", "power_w", ".3g"),
        ("power fits", "fits_power_budget", ""), (f"{fps:g} fps", "real_time", ""),
        ("weights (MB)", "weights_mb", ".4g"), ("memory (MB)", "memory_mb", ".4g"),
        ("fits memory", "fits_memory", ""), ("runs", "runs", ""), ("why not", "why", ""),
    ]  # fmt: skip
    shown = [r | {"why": "; ".join(r["reasons"])} for r in rows]
    precisions = ", ".join(f"{p} {_precisions(rows, p)}" for p in platforms)
    return (
        "<p>Every model on every built-in platform by the cost model, at one precision policy: "
        "int8 weights and activations, or the platform's nearest supported precision "
        f"({escape.escape(precisions)}). The verdict at the top is this table for the "
        "representative models and the edge targets.</p>"
        + figure("edge-heatmap", heat, heat.layout.height)
        + "<details><summary>the table</summary>"
        + table(shown, columns, "edge")
        + "</details>"
    )


def bridges(record: dict[str, Any]) -> str:
    parts = [
        "<p>Each architecture bridge is a transform of the baseline platform evaluated by the "
        "same cost model; factors above 1 are gains.</p>"
    ]
    for index, case in enumerate(record["bridges"]):
        names = [b["name"] for b in case["bridges"]]
        plot = go.Figure(
            [
                go.Bar(
                    name=f"{what} factor", x=names, y=[b[f"{what}_factor"] for b in case["bridges"]]
                )
                for what in ("latency", "energy")
            ]
        )
        plot.update_layout(
            title=f"{case['model']} on {case['platform']} at {case['precision']}",
            yaxis_type="log", barmode="group", template="simple_white",
        )  # fmt: skip
        rows = [b | {"source": "; ".join(b["sources"])} for b in case["bridges"]]
        columns: list[Column] = [
            ("bridge", "name", ""), ("kind", "kind", ""),
            ("latency (ms)", "latency_s", ".4g", 1e3), ("energy (mJ)", "energy_j", ".3g", 1e3),
            ("speed-up", "latency_factor", ".3g"), ("energy saved", "energy_factor", ".3g"),
            ("area (mm²)", "area_mm2", ".3g"), ("notes", "notes", ""), ("sources", "source", ""),
        ]  # fmt: skip
        parts.append(
            f"<h3>{escape.escape(case['model'])} on {escape.escape(case['platform'])}</h3>"
        )
        parts.append(
            f"<p>At {escape.escape(case['precision'])} (the int8 model at the platform's "
            "nearest precision). Baseline: "
            + _num(
                case["baseline"]["latency_s"], ".3g", f"bridges[{index}].baseline.latency_s", 1e3
            )
            + " ms, "
            + _num(case["baseline"]["energy_j"], ".3g", f"bridges[{index}].baseline.energy_j", 1e3)
            + " mJ per inference.</p>"
        )
        parts.append(figure(f"bridges-{index}", plot))
        parts.append(table(rows, columns, f"bridges[{index}].bridges"))
    return "".join(parts)


def compression(record: dict[str, Any]) -> str:
    rows = record["published_accuracy"]
    columns = [
        ("technique", "technique", ""), ("setting", "setting", ""), ("model", "model", ""),
        ("top-1 before (%)", "baseline_top1", ".4g"), ("after (%)", "compressed_top1", ".4g"),
        ("loss (pp)", "drop_pp", ".3g"), ("MACs kept", "macs_fraction", ".3g"),
        ("source", "source", ""),
    ]  # fmt: skip
    return (
        "<p>The ImageNet results the plans take accuracy losses from, each with its source. "
        "Compression run for real on real data, with measured accuracy, exact bytes and "
        "energy on two chips: <code>docs/compression.md</code> and "
        "<code>docs/techniques.md</code> (training takes minutes, so not in this report).</p>"
        + table(rows, columns, "published_accuracy")
    )


def pareto_plot(result: dict[str, Any]) -> go.Figure:
    """A plan's Pareto front: accuracy loss against latency (ms, log axis) with the latency
    budget as a line, the axis ranging over the points and the budget."""
    front = result["pareto"]
    latencies = [p["latency_s"] * 1e3 for p in front]
    plot = go.Figure(
        go.Scatter(
            x=latencies,
            y=[p["accuracy_drop_pp"] for p in front],
            mode="markers",
            marker={"size": 8, "color": [p["energy_j"] * 1e3 for p in front], "showscale": True,
                    "colorbar": {"title": "energy (mJ)"}},
            text=[p["recipe"] for p in front],
            hovertemplate="%{text}<br>%{x:.3g} ms<br>%{y:.3g} pp<extra></extra>",
        )
    )  # fmt: skip
    plot.update_layout(
        title=f"Pareto front at {result['precision']}: accuracy loss vs latency (colour: energy)",
        xaxis_title="latency (ms)", xaxis_type="log", yaxis_title="accuracy loss (pp)",
        template="simple_white",
    )  # fmt: skip
    budget = result["budget"]["latency_s"]
    shown = list(latencies)
    if budget is not None:
        reference(plot, "x", budget * 1e3, f"budget {budget * 1e3:g} ms")
        shown.append(budget * 1e3)
    if shown:
        plot.update_xaxes(range=log_range(shown))
    return plot


def plans(record: dict[str, Any]) -> str:
    parts = []
    for index, result in enumerate(record["plans"]):
        key = f"plans[{index}]"
        verdict = "meets the budget" if result["meets_budget"] else "does not meet the budget"
        budget = result["budget"]["latency_s"]
        precision = result["precision"]
        within = (
            " in " + _num(budget, "g", f"{key}.budget.latency_s", 1e3) + " ms"
            if budget is not None
            else ""
        )
        parts.append(
            f"<h3>{escape.escape(result['model'])} on {escape.escape(result['platform'])}"
            f"{within}: {verdict}</h3><p>From the model at "
            f"{escape.escape(precision['name'])} ({escape.escape(precision['origin'])}, "
            + _num(precision["accuracy_drop_pp"], ".2g", f"{key}.precision.accuracy_drop_pp")
            + f" pp of accuracy: {escape.escape(precision['source'])}); changing "
            f"{escape.escape(result['change'])} only "
            f"({escape.escape(', '.join(result['searched']))}). Baseline against each budget: "
            f"{escape.escape('; '.join(result['gap']))}.</p>"
        )
        parts.append(
            table(
                result["recipe"],
                [
                    ("step", "technique", ""),
                    ("setting", "setting", ""),
                    ("latency factor", "contribution.latency_factor", ".3g"),
                    ("energy factor", "contribution.energy_factor", ".3g"),
                    ("memory factor", "contribution.memory_factor", ".3g"),
                    ("accuracy loss (pp, published)", "contribution.accuracy_drop_pp", ".3g"),
                    ("source", "source", ""),
                ],
                f"{key}.recipe",
            )
        )
        parts.append(figure(f"plan-{index}", pareto_plot(result)))
    return "".join(parts) or "<p>No plans in this report.</p>"


def closing(record: dict[str, Any]) -> str:
    rows = record["closing"]["rows"]
    fps = record["closing"]["fps"]
    models = list(dict.fromkeys(r["model"] for r in rows))
    platforms = list(dict.fromkeys(r["platform"] for r in rows))
    cell = {(r["model"], r["platform"]): r for r in rows}
    status = [[(1.0 if cell[(m, p)]["recipe"] == "baseline" else 0.5)
               if cell[(m, p)]["meets_budget"] else 0.0 for p in platforms]
              for m in models]  # fmt: skip
    recipes = [[cell[(m, p)]["recipe"] for p in platforms] for m in models]
    heat = _heat_map(
        rows, status, recipes, recipes, [[0, "#f4c7c3"], [0.5, "#fde9a9"], [1, "#b7e1cd"]],
        f"{fps:g} frames/s: green as is, yellow with the recipe shown, red out of reach "
        "(latency, power or memory); column: platform and its deployment precision",
    )  # fmt: skip
    columns: list[Column] = [
        ("model", "model", ""), ("platform", "platform", ""), ("precision", "precision", ""),
        ("baseline latency (ms)", "baseline_latency_s", ".4g", 1e3), ("meets", "meets_budget", ""),
        ("latency (ms)", "latency_s", ".4g", 1e3), ("energy (mJ)", "energy_j", ".3g", 1e3),
        ("accuracy loss (pp, published)", "accuracy_drop_pp", ".3g"), ("recipe", "recipe", ""),
    ]  # fmt: skip
    return (
        f"<p>For each representative model on each edge target, the plan that reaches "
        f"{fps:g} frames/s within the platform's power and memory with the least published "
        "accuracy loss (or comes closest), changing the model only. A plan starts from the "
        "model at the platform's deployment precision (the <code>precision</code> column, as in "
        "the verdict), that quantisation's published loss included; its recipe may quantise "
        "further.</p>" + figure("closing-heatmap", heat) + table(rows, columns, "closing.rows")
    )


def provenance(record: dict[str, Any]) -> str:
    machine = [{"item": k, "value": v} for k, v in sorted(record["machine"].items())]
    return (
        table(machine, [("item", "item", ""), ("value", "value", "")], "machine")
        + "<h3>Every data row and its source</h3>"
        + table(
            record["sources"],
            [("table", "table", ""), ("row", "name", ""), ("source", "source", "")],
            "sources",
        )
    )


def render(record: dict[str, Any], figures: list[tuple[str, go.Figure]]) -> str:
    sections = [
        ("verdict", "Which models run on which targets, and what stops the others",
         verdict(record)),
        ("gap", "The gap, with its intervals", gap(record)),
        ("demand", "Demand: the model zoo", demand(record)),
        ("gaps", "Demand against supply, 2012 to today and projected", gaps(record, figures)),
        ("generative", "Generative models: open language models against edge memory",
         generative(record, figures)),
        ("edge", "Every model on every platform", edge(record)),
        ("bridges", "Architecture bridges", bridges(record)),
        ("compression", "Compression techniques: published losses", compression(record)),
        ("closing", "What closes the gap for the zoo", closing(record)),
        ("plans", "Plans in detail", plans(record)),
        ("provenance", "Provenance", provenance(record)),
    ]  # fmt: skip
    title = f"edgegap report: {len(record['models'])} models, the edge gap and its bridges"
    return page(title, sections, record["machine"])
