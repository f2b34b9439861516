"""The `edgegap` command: a thin shell that parses arguments, calls the API and prints."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from edgegap.errors import UserError
from edgegap.workload import Workload, profile, zoo
from edgegap.workload.profile import parse_shape

app = typer.Typer(
    help="Measure the gap between what DNNs demand and what edge hardware supplies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a UserError into one line on stderr and exit code 2: no traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except UserError as error:
            err.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


class Format(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


def _human(value: float, unit: str = "") -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{prefix}{unit}"
    return f"{value:.0f}{unit}"


_SUMMARY_COLUMNS = (
    ("MACs", "macs", ""),
    ("FLOPs", "flops", ""),
    ("params", "params", ""),
    ("weights", "weight_bytes", "B"),
    ("activations", "activation_bytes", "B"),
    ("peak act.", "peak_activation_bytes", "B"),
    ("min traffic", "min_traffic_bytes", "B"),
)


def _summary_table(workloads: list[Workload]) -> Table:
    table = Table(
        title="Workload totals (MACs as torchvision's _ops; FLOPs = 2 MACs + element-wise)"
    )
    table.add_column("model", no_wrap=True)
    table.add_column("input", no_wrap=True)
    for header, _, _ in _SUMMARY_COLUMNS:
        table.add_column(header, justify="right")
    table.add_column("FLOP/B", justify="right")
    for workload in workloads:
        totals = workload.totals.to_dict()
        table.add_row(
            workload.model,
            "x".join(map(str, workload.input_shape)),
            *(_human(totals[key], unit) for _, key, unit in _SUMMARY_COLUMNS),
            f"{totals['arithmetic_intensity']:.1f}",
        )
    return table


def _layer_table(workload: Workload) -> Table:
    table = Table(title=f"{workload.model}: per layer", show_footer=True)
    totals = workload.totals
    columns: list[tuple[str, str, Callable[[Any], str]]] = [
        ("layer", "TOTAL", str),
        ("op", "", str),
        ("kind", "", str),
        ("output", "", lambda shape: "x".join(map(str, shape))),
        ("MACs", _human(totals.macs), _human),
        ("FLOPs", _human(totals.flops), _human),
        ("params", _human(totals.params), _human),
        ("min traffic", _human(totals.min_traffic_bytes, "B"), lambda v: _human(v, "B")),
        ("FLOP/B", f"{totals.arithmetic_intensity:.1f}", lambda v: f"{v:.1f}"),
    ]
    for header, footer, _ in columns:
        numeric = header not in ("layer", "op", "kind", "output")
        table.add_column(
            header, footer=footer, justify="right" if numeric else "left", no_wrap=header == "layer"
        )
    for layer in workload.layers:
        values = (
            layer.name,
            layer.op,
            layer.kind,
            layer.output_shape,
            layer.macs,
            layer.flops,
            layer.params,
            layer.min_traffic_bytes,
            layer.arithmetic_intensity,
        )
        table.add_row(*(fmt(v) for (_, _, fmt), v in zip(columns, values, strict=True)))
    return table


def _profile_all(
    names: list[str], shape: tuple[int, ...] | None, dtype: str | None
) -> list[Workload]:
    if len(names) == 1:
        return [profile(names[0], shape, dtype)]
    workloads = []
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("profiling", total=len(names))
        for name in names:
            progress.update(task, description=f"profiling {name}")
            workloads.append(profile(name, shape, dtype))
            progress.advance(task)
    return workloads


@app.command("profile")
@user_errors
def profile_command(
    names: Annotated[
        list[str],
        typer.Argument(help="torchvision model names, package.module:callable, or .onnx files"),
    ],
    input_shape: Annotated[
        str | None, typer.Option(help="input shape, e.g. 1,3,224,224 (default: the weights')")
    ] = None,
    dtype: Annotated[
        str | None,
        typer.Option(help="bit-width for bytes: float32, float16, bfloat16, int8, int4, binary"),
    ] = None,
    format: Annotated[Format, typer.Option("--format", help="output format")] = Format.table,
    per_layer: Annotated[bool, typer.Option("--per-layer", help="show every layer")] = False,
) -> None:
    """Profile models into per-layer workloads: MACs, FLOPs, parameters, bytes moved."""
    shape = parse_shape(input_shape) if input_shape is not None else None
    workloads = _profile_all(names, shape, dtype)
    if format is Format.jsonl:
        for workload in workloads:
            sys.stdout.write(workload.to_json() + "\n")
    elif format is Format.json:
        records = [w.to_dict() for w in workloads]
        sys.stdout.write(json.dumps(records[0] if len(records) == 1 else records, indent=1) + "\n")
    elif format is Format.csv:
        import pandas as pd

        if per_layer:
            frames = [w.to_dataframe().assign(model=w.model) for w in workloads]
            sys.stdout.write(pd.concat(frames).to_csv())
        else:
            rows = [{"model": w.model, **w.totals.to_dict()} for w in workloads]
            sys.stdout.write(pd.DataFrame(rows).to_csv(index=False))
    else:
        if per_layer:
            for workload in workloads:
                out.print(_layer_table(workload))
        out.print(_summary_table(workloads))
        for workload in workloads:
            if workload.uncounted_ops:
                missing = ", ".join(f"{op} x{n}" for op, n in workload.uncounted_ops.items())
                err.print(f"note: {workload.model}: no formula for {missing} (bytes counted)")


@app.command("zoo")
@user_errors
def zoo_command(
    format: Annotated[Format, typer.Option("--format", help="table, json or csv")] = Format.table,
) -> None:
    """List the built-in models with the metadata torchvision publishes for their weights."""
    table = zoo.zoo_table()
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(table.to_json(orient="records", indent=1) + "\n")
    elif format is Format.csv:
        sys.stdout.write(table.to_csv(index=False))
    else:
        view = Table(
            title="Built-in models (torchvision architectures; metadata of DEFAULT weights)"
        )
        for column in ("model", "input", "params", "GMACs (_ops)", "acc@1", "acc@5", "weights"):
            view.add_column(column, justify="left" if column in ("model", "weights") else "right")
        for row in table.itertuples():
            view.add_row(
                str(row.model),
                str(row.input_size),
                _human(float(row.params)),  # type: ignore[arg-type]
                f"{row.gmacs:.3f}",
                f"{row.acc1:.3f}",
                f"{row.acc5:.3f}",
                str(row.weights),
            )
        out.print(view)


@app.command("report")
@user_errors
def report_command(
    out_dir: Annotated[Path, typer.Option("--out", help="output directory")] = Path(
        "edgegap-report"
    ),
    quick: Annotated[bool, typer.Option("--quick", help="a few models only")] = False,
) -> None:
    """Build the report: the built-in zoo profiled, written atomically to --out."""
    from edgegap.report import build_zoo_report

    models = QUICK_MODELS if quick else zoo.classification_models()
    with Progress(console=err) as progress:
        task = progress.add_task("profiling", total=len(models))

        def step(name: str) -> None:
            progress.update(task, description=f"profiling {name}", advance=1)

        table = build_zoo_report(out_dir, models, progress=step)
    out.print(f"profiled {len(table)} models -> {out_dir}/models.csv, models.json, layers/")


QUICK_MODELS = ("alexnet", "vgg16", "resnet50", "mobilenet_v2", "efficientnet_b0", "vit_b_16")


def main() -> None:
    app()
