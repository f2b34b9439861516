"""What index.html says, section by section, from the report.json record alone: the page shows
no number that the record does not hold."""

from __future__ import annotations

import html as escape
from typing import Any

import plotly.graph_objects as go

from edgegap.report.html import figure, page, table


def _num(value: float, fmt: str, key: str) -> str:
    """A number in running text, tagged with its report.json path like a table cell."""
    return f'<span class="num" data-key="{key}" data-value="{value!r}">{value:{fmt}}</span>'


def _percent_per_year(factor: float, key: str) -> str:
    return _num(factor, ".3g", key) + f"x per year ({(factor - 1) * 100:+.0f}%/year)"


def summary(record: dict[str, Any]) -> str:
    growth = record["trends"]["gaps"]["growth"]
    key = "trends.gaps.growth"
    return (
        '<p class="lead">Demand: the operations per image of the leading ImageNet designs grew '
        f"{_percent_per_year(growth['ops_growth_per_year'], f'{key}.ops_growth_per_year')}, the "
        "parameters of the largest networks "
        f"{_percent_per_year(growth['params_growth_per_year'], f'{key}.params_growth_per_year')}."
        " Supply: GPU performance density grew "
        + _percent_per_year(
            growth["perf_density_growth_per_year"], f"{key}.perf_density_growth_per_year"
        )
        + ", off-chip memory energy per bit improved "
        + _percent_per_year(
            growth["memory_efficiency_growth_per_year"],
            f"{key}.memory_efficiency_growth_per_year",
        )
        + ". So the performance gap grows "
        + _percent_per_year(
            growth["performance_gap_growth_per_year"], f"{key}.performance_gap_growth_per_year"
        )
        + " and the energy gap "
        + _percent_per_year(
            growth["energy_gap_growth_per_year"], f"{key}.energy_gap_growth_per_year"
        )
        + ".</p>"
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
    checks = record["trends"]["paper_checks"]
    columns = [("claim", "claim", ""), ("paper", "paper", ".3g"), ("ours", "ours", ".3g"),
               ("agrees", "ok", "")]  # fmt: skip
    parts = [figure(f"trend-{name}", plot) for name, plot in figures]
    return (
        "<p>The paper's Figures 1-4, reproduced and extended from the sourced tables, fits with "
        "95% bootstrap bands; the PNGs for papers are in <code>trends/</code>.</p>"
        + "".join(parts)
        + "<h3>Checks against the paper's numbers</h3>"
        + table(checks, columns, "trends.paper_checks")
    )


def edge(record: dict[str, Any]) -> str:
    fps = record["real_time_fps"]
    rows = record["edge"]
    models = list(dict.fromkeys(r["model"] for r in rows))
    platforms = list(dict.fromkeys(r["platform"] for r in rows))
    cell = {(r["model"], r["platform"]): r for r in rows}
    fits = [
        [
            1.0 if (c := cell[(m, p)])["real_time"] and c["fits_power_budget"] and c["fits_memory"]
            else 0.0
            for p in platforms
        ]
        for m in models
    ]  # fmt: skip
    text = [[f"{cell[(m, p)]['latency_ms']:.3g} ms" for p in platforms] for m in models]
    heat = go.Figure(
        go.Heatmap(
            z=fits, x=platforms, y=models, text=text, texttemplate="%{text}",
            colorscale=[[0, "#f4c7c3"], [1, "#b7e1cd"]], showscale=False,
            hovertemplate="%{y} on %{x}: %{text}<extra></extra>",
        )
    )  # fmt: skip
    heat.update_layout(
        title=f"Fits (green): {fps:g} frames/s, within the power budget, the model fits memory; "
        "text: latency",
        height=max(400, 22 * len(models)), template="simple_white",
    )  # fmt: skip
    columns = [
        ("model", "model", ""), ("platform", "platform", ""), ("latency (ms)", "latency_ms", ".4g"),
        ("energy (mJ)", "energy_mj", ".4g"), ("power (W)", "power_w", ".3g"),
        ("weights (MB)", "weights_mb", ".4g"), ("power fits", "fits_power_budget", ""),
        ("memory (MB)", "memory_mb", ".4g"), (f"{fps:g} fps", "real_time", ""),
        ("fits memory", "fits_memory", ""),
    ]  # fmt: skip
    return (
        "<p>Every model at int8 (or the platform's nearest precision) on every built-in "
        "platform, by the cost model.</p>"
        + figure("edge-heatmap", heat, max(400, 22 * len(models)))
        + "<details><summary>the table</summary>"
        + table(rows, columns, "edge")
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
            title=f"{case['model']} on {case['platform']}", yaxis_type="log",
            barmode="group", template="simple_white",
        )  # fmt: skip
        rows = [b | {"source": "; ".join(b["sources"])} for b in case["bridges"]]
        columns = [
            ("bridge", "name", ""), ("kind", "kind", ""), ("latency (s)", "latency_s", ".3g"),
            ("energy (J)", "energy_j", ".3g"), ("speed-up", "latency_factor", ".3g"),
            ("energy saved", "energy_factor", ".3g"), ("area (mm²)", "area_mm2", ".3g"),
            ("notes", "notes", ""), ("sources", "source", ""),
        ]  # fmt: skip
        parts.append(
            f"<h3>{escape.escape(case['model'])} on {escape.escape(case['platform'])}</h3>"
        )
        parts.append(
            "<p>Baseline: "
            + _num(case["baseline"]["latency_s"], ".3g", f"bridges[{index}].baseline.latency_s")
            + " s, "
            + _num(case["baseline"]["energy_j"], ".3g", f"bridges[{index}].baseline.energy_j")
            + " J per inference.</p>"
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


def plans(record: dict[str, Any]) -> str:
    parts = []
    for index, result in enumerate(record["plans"]):
        key = f"plans[{index}]"
        verdict = "meets the budget" if result["meets_budget"] else "does not meet the budget"
        parts.append(
            f"<h3>{escape.escape(result['model'])} on {escape.escape(result['platform'])}: "
            f"{verdict}</h3><p>Baseline against the budget: "
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
        front = result["pareto"]
        plot = go.Figure(
            go.Scatter(
                x=[p["latency_s"] * 1e3 for p in front],
                y=[p["accuracy_drop_pp"] for p in front],
                mode="markers",
                marker={"size": 8, "color": [p["energy_j"] for p in front], "showscale": True,
                        "colorbar": {"title": "energy (J)"}},
                text=[p["recipe"] for p in front],
                hovertemplate="%{text}<br>%{x:.3g} ms<br>%{y:.3g} pp<extra></extra>",
            )
        )  # fmt: skip
        budget = result["budget"]["latency_s"]
        if budget is not None:
            plot.add_vline(x=budget * 1e3, line_dash="dash", annotation_text="budget")
        plot.update_layout(
            title="Pareto front: accuracy loss vs latency (colour: energy)",
            xaxis_title="latency (ms)", xaxis_type="log", yaxis_title="accuracy loss (pp)",
            template="simple_white",
        )  # fmt: skip
        parts.append(figure(f"plan-{index}", plot))
    return "".join(parts) or "<p>No plans in this report.</p>"


def closing(record: dict[str, Any]) -> str:
    rows = record["closing"]["rows"]
    fps = record["closing"]["fps"]
    models = list(dict.fromkeys(r["model"] for r in rows))
    platforms = list(dict.fromkeys(r["platform"] for r in rows))
    cell = {(r["model"], r["platform"]): r for r in rows}
    heat = go.Figure(
        go.Heatmap(
            z=[[2.0 if cell[(m, p)]["baseline_latency_s"] <= 1 / fps
                else 1.0 if cell[(m, p)]["meets_budget"] else 0.0 for p in platforms]
               for m in models],
            x=platforms, y=models, zmin=0, zmax=2, showscale=False,
            text=[[cell[(m, p)]["recipe"] for p in platforms] for m in models],
            texttemplate="%{text}", colorscale=[[0, "#f4c7c3"], [0.5, "#fde9a9"], [1, "#b7e1cd"]],
            hovertemplate="%{y} on %{x}: %{text}<extra></extra>",
        )
    )  # fmt: skip
    heat.update_layout(
        title=f"{fps:g} frames/s: green as is, yellow with the recipe shown, red out of reach",
        template="simple_white",
    )
    columns = [
        ("model", "model", ""), ("platform", "platform", ""),
        ("dense latency (s)", "baseline_latency_s", ".3g"), ("meets", "meets_budget", ""),
        ("latency (s)", "latency_s", ".3g"), ("energy (J)", "energy_j", ".3g"),
        ("accuracy loss (pp, published)", "accuracy_drop_pp", ".3g"), ("recipe", "recipe", ""),
    ]  # fmt: skip
    return (
        f"<p>For each representative model on each edge target, the plan that reaches "
        f"{fps:g} frames/s with the least published accuracy loss (or comes closest).</p>"
        + figure("closing-heatmap", heat)
        + table(rows, columns, "closing.rows")
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
        ("summary", "The gap in one paragraph", summary(record)),
        ("demand", "Demand: the model zoo", demand(record)),
        ("gaps", "Demand against supply, 2012 to today and projected", gaps(record, figures)),
        ("edge", "Where models stand on edge targets", edge(record)),
        ("bridges", "Architecture bridges", bridges(record)),
        ("compression", "Compression techniques: published losses", compression(record)),
        ("closing", "What closes the gap for the zoo", closing(record)),
        ("plans", "Plans in detail", plans(record)),
        ("provenance", "Provenance", provenance(record)),
    ]
    title = f"edgegap report: {len(record['models'])} models, the edge gap and its bridges"
    return page(title, sections, record["machine"])
