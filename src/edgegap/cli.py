"""The `edgegap` command: a thin shell that parses arguments, calls the API and prints."""

from __future__ import annotations

import functools
import json
import math
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, Protocol, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from edgegap.errors import UserError
from edgegap.hardware import (
    REAL_TIME_FPS,
    Cost,
    EnergyBreakdown,
    LayerCost,
    Platform,
    builtin_names,
    deployment_precision,
    estimate,
    load_platform,
    verdict,
)
from edgegap.workload import Workload, profile, zoo
from edgegap.workload.scalesim import read_topology
from edgegap.workload.shapes import dtype_to_bits, parse_shape

if TYPE_CHECKING:
    from edgegap.plan import Plan
    from edgegap.trends import Trends

out = Console(soft_wrap=True)
err = Console(stderr=True)

PROG = "edgegap"
EXIT_USAGE = 2
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class Terminated(BaseException):
    """SIGTERM, raised where the program is so that `finally` blocks (an atomic write's
    staging directory) run before it exits with 143."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the cleanup short
    raise Terminated


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _usage_error(error: ClickException) -> None:
    message = _one_line(error.format_message())
    ctx = getattr(error, "ctx", None)
    command = ctx.command_path if ctx is not None else PROG
    err.print(
        f"error: {message} (see '{command} --help')", markup=False, highlight=False, soft_wrap=True
    )


class Group(TyperGroup):
    """The top-level command: usage errors as one line (`error: ... (see 'edgegap X
    --help')`) and exit code 2, never click's boxed panel; SIGINT exits 130, SIGTERM 143,
    both after every `finally` (atomic writes clean their staging up)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            with _sigterm_raises():
                result = super().main(args, PROG, complete_var, False, windows_expand_args, **extra)
            code = result if isinstance(result, int) else 0
        except NoArgsIsHelpError:
            code = EXIT_USAGE  # the help is already printed
        except UsageError as error:
            _usage_error(error)
            code = EXIT_USAGE
        except ClickException as error:
            err.print(f"error: {_one_line(error.format_message())}", markup=False, highlight=False)
            code = error.exit_code
        except (typer.Abort, KeyboardInterrupt):
            code = EXIT_SIGINT
        except Terminated:
            code = EXIT_SIGTERM
        if not standalone_mode:
            return code
        sys.exit(code)


app = typer.Typer(
    cls=Group,
    help="Measure the gap between what DNNs demand and what edge hardware supplies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class Ticker(Protocol):
    """Update a progress bar: a new description, and `advance`, `completed` or `total`."""

    def __call__(self, description: str | None = None, **counts: float | None) -> None: ...


def _ignore(description: str | None = None, **counts: float | None) -> None:
    """The ticker when there is no terminal to draw on."""


@contextmanager
def progress(
    description: str, total: float | None = None, transient: bool = True
) -> Iterator[Ticker]:
    """A progress bar on stderr when it is a terminal; otherwise nothing at all (a transient
    bar would leave a blank line before an error in a log)."""
    if not err.is_terminal:
        yield _ignore
        return
    with Progress(console=err, transient=transient) as bar:
        task = bar.add_task(description, total=total)

        def update(description: str | None = None, **counts: float | None) -> None:
            bar.update(task, description=description, **counts)  # type: ignore[arg-type]

        yield update


P = ParamSpec("P")
R = TypeVar("R")


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a UserError into one line on stderr and exit code 2: no traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except UserError as error:
            err.print(
                f"error: {_one_line(str(error))}", markup=False, highlight=False, soft_wrap=True
            )
            raise typer.Exit(2) from None

    return wrapper


DTYPE_HELP = (
    "bit-width of weights and activations, e.g. int8, float16 (default: the platform's best "
    "supported integer precision)"
)
ModelArgument = Annotated[str, typer.Argument(help="anything `edgegap profile` accepts")]


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
    with progress("profiling", total=len(names)) as update:
        for name in names:
            update(f"profiling {name}")
            workloads.append(profile(name, shape, dtype))
            update(advance=1)
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


@app.command("techniques")
@user_errors
def techniques_command(
    format: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table,
) -> None:
    """List every technique in the registry: its group, what it changes, its parameters, its
    faces (analytic: on any model's counts; measured: run for real on a small model) and
    sources. Recipe steps and plan steps are these names."""
    from edgegap.techniques import techniques

    records = [
        {
            "name": t.name,
            "group": t.group,
            "changes": t.changes,
            "summary": t.summary,
            "parameters": t.setting().params,
            "ranges": {p.name: list(p.choices) if p.choices else [p.low, p.high] for p in t.params},
            "analytic": t.analytic,
            "measured": t.measured,
            "sources": list(t.sources),
        }
        for t in techniques()
    ]
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(json.dumps(records, indent=1) + "\n")
        return
    table = Table(title="Techniques (recipe and plan steps use these names; --format json for "
                  "summaries and sources)")  # fmt: skip
    table.add_column("name", no_wrap=True)
    for column in ("group", "parameters (default)", "faces"):
        table.add_column(column)
    for record in records:
        faces = [face for face in ("analytic", "measured") if record[face]]
        parameters: dict[str, Any] = record["parameters"]  # type: ignore[assignment]
        table.add_row(
            str(record["name"]), str(record["group"]),
            ", ".join(f"{k}={v}" for k, v in parameters.items()), "+".join(faces),
        )  # fmt: skip
    out.print(table)


@app.command("report")
@user_errors
def report_command(
    out_dir: Annotated[Path, typer.Option("--out", help="output directory")] = Path(
        "edgegap-report"
    ),
    quick: Annotated[bool, typer.Option("--quick", help="a few models only")] = False,
) -> None:
    """Build the gap report: the zoo profiled and run on every built-in platform, the trends
    and figures, the architecture bridges and plans; index.html and report.json, written
    atomically to --out."""
    from edgegap.report.build import (
        EDGE_TARGETS,
        QUICK_MODELS,
        QUICK_TARGETS,
        build_report,
        report_steps,
    )

    models = QUICK_MODELS if quick else zoo.classification_models()
    targets = QUICK_TARGETS if quick else EDGE_TARGETS
    with progress("report", total=report_steps(models), transient=False) as update:

        def step(message: str) -> None:
            update(message, advance=1)

        record = build_report(out_dir, models, progress=step, targets=targets)
    out.print(
        f"{len(record['models'])} models -> {out_dir}/index.html (open it in a browser), "
        "report.json, models.csv, edge.csv, layers/, trends/"
    )


hw_app = typer.Typer(help="Hardware platforms: the built-in catalog and your YAML files.")
app.add_typer(hw_app, name="hw")


def _compute_summary(platform: Platform) -> str:
    compute = platform.compute
    if compute.type == "systolic":
        shape = f"systolic {compute.rows}x{compute.cols} {compute.dataflow}"
    elif compute.crossbar is not None:
        xbar = compute.crossbar
        shape = f"{xbar.arrays} {xbar.technology} crossbars of {xbar.rows}x{xbar.cols}"
    else:
        shape = f"vector {compute.macs_per_cycle} MAC/cycle"
    return f"{shape} @ {compute.clock_mhz:g} MHz"


@hw_app.command("list")
@user_errors
def hw_list(
    format: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table,
) -> None:
    """List the built-in platforms."""
    platforms = [load_platform(name) for name in builtin_names()]
    if format in (Format.json, Format.jsonl):
        records = [p.model_dump(mode="json") for p in platforms]
        sys.stdout.write(json.dumps(records, indent=1) + "\n")
        return
    table = Table(title="Built-in platforms (`edgegap hw show NAME` for sources)")
    for column in ("name", "kind", "year", "nm", "compute", "peak", "W", "mm²", "precisions"):
        table.add_column(
            column, justify="right" if column in ("year", "nm", "W", "mm²") else "left"
        )
    for p in platforms:
        table.add_row(
            p.name,
            p.kind,
            str(p.year),
            f"{p.process_nm:g}",
            _compute_summary(p),
            _human(p.peak_ops_per_s, "OP/s"),
            f"{p.power_budget_w:g}",
            f"{p.area_mm2:g}" if p.area_mm2 else "n/p",
            ",".join(p.compute.precisions),
        )
    out.print(table)


@hw_app.command("show")
@user_errors
def hw_show(
    name: Annotated[str, typer.Argument(help="catalog name or YAML file")],
    format: Annotated[Format, typer.Option("--format", help="table (YAML) or json")] = Format.table,
) -> None:
    """Show a platform with every number and its source."""
    platform = load_platform(name)
    record = platform.model_dump(mode="json", exclude_none=True)
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(json.dumps(record, indent=1) + "\n")
        return
    import yaml

    out.print(yaml.safe_dump(record, sort_keys=False, width=100), markup=False, highlight=False)
    derived = f"peak {_human(platform.peak_ops_per_s, 'OP/s')}"
    if (density := platform.performance_density_gops_mm2) is not None:
        derived += f", {density:.1f} GOPS/mm²"
    derived += f", {platform.efficiency_gops_w:.1f} GOPS/W"
    out.print(f"derived: {derived} (a MAC counts as 2 operations)", markup=False)


@hw_app.command("schema")
def hw_schema() -> None:
    """Print the JSON Schema of a platform YAML file (for editors and validators)."""
    sys.stdout.write(json.dumps(Platform.model_json_schema(), indent=1) + "\n")


def _parse_array(text: str) -> tuple[int, int]:
    try:
        rows, cols = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise UserError(f"malformed --array '{text}': give ROWSxCOLS, e.g. 32x32") from None
    if rows <= 0 or cols <= 0:
        raise UserError(f"impossible --array '{text}': rows and columns must be positive")
    return rows, cols


@app.command("estimate")
@user_errors
def estimate_command(
    model: Annotated[str | None, typer.Argument(help="anything `edgegap profile` accepts")] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="platform name or YAML file")
    ] = None,
    topology: Annotated[
        Path | None, typer.Option("--topology", help="a SCALE-Sim topology CSV as the workload")
    ] = None,
    array: Annotated[str | None, typer.Option("--array", help="systolic array ROWSxCOLS")] = None,
    dataflow: Annotated[str | None, typer.Option("--dataflow", help="os, ws or is")] = None,
    batch: Annotated[int | None, typer.Option("--batch", min=1, help="batch size")] = None,
    input_shape: Annotated[str | None, typer.Option(help="input shape, e.g. 1,3,224,224")] = None,
    dtype: Annotated[str | None, typer.Option(help=DTYPE_HELP)] = None,
    fps: Annotated[float, typer.Option("--fps", help="frame rate power is quoted at")] = (
        REAL_TIME_FPS
    ),
    format: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table,
) -> None:
    """Estimate latency, energy, power at a frame rate and memory fit of a model (or a
    SCALE-Sim topology) on a platform."""
    if (model is None) == (topology is None):
        raise UserError("give a MODEL or --topology FILE.csv (one of them)")
    platform = load_platform(target or "systolic-generic")
    changes: dict[str, object] = {}
    if array is not None:
        changes["rows"], changes["cols"] = _parse_array(array)
    if dataflow is not None:
        if dataflow not in ("os", "ws", "is"):
            raise UserError(f"unknown dataflow '{dataflow}': use os, ws or is")
        changes["dataflow"] = dataflow
    if changes:
        if platform.compute.type != "systolic":
            raise UserError(
                f"--array and --dataflow need a systolic platform; {platform.name} is not"
            )
        platform = platform.with_compute(**changes)
    dtype = dtype or deployment_precision(platform)
    if topology is not None:
        workload = read_topology(topology, dtype_to_bits(dtype) or 8)
    else:
        assert model is not None
        shape = parse_shape(input_shape) if input_shape is not None else None
        if batch is not None:
            base = shape or zoo.default_input_shape(model)
            if base is None:
                raise UserError(f"give --input-shape for '{model}' to set a batch")
            shape = (batch, *base[1:])
        workload = profile(model, shape, dtype)
    cost = estimate(workload, platform, _positive_fps(fps))
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(cost.to_json() + "\n")
        return
    out.print(_cost_table(cost))
    for line in _verdict_lines(cost):
        out.print(line, markup=False, highlight=False)


def _bound(layer: LayerCost) -> str:
    """What limits a layer: "compute", or the memory level's name (marked as memory where
    the platform names a level "compute")."""
    level = layer.limiting_level
    if level is None:
        return "compute"
    return f"memory {level}" if level == "compute" else level


def _largest(breakdown: EnergyBreakdown) -> str:
    namespace, name, value = breakdown.largest()
    return f"{breakdown.label(namespace, name)} {value / breakdown.total:.0%}"


def _cost_table(cost: Cost) -> Table:
    table = Table(title=f"{cost.model} on {cost.platform}", show_footer=True)
    totals = cost.totals
    columns = [
        ("layer", "TOTAL"),
        ("precision", ""),
        ("MACs", _human(sum(layer.macs for layer in cost.layers))),
        ("cycles", _human(totals.cycles)),
        ("util.", ""),
        ("latency", f"{totals.latency_s * 1e3:.3g} ms"),
        ("bound", ""),
        ("energy", f"{totals.energy_j * 1e3:.3g} mJ"),
    ]
    for header, footer in columns:
        table.add_column(header, footer=footer, justify="left" if header == "layer" else "right")
    for layer in cost.layers:
        if not layer.macs and layer.energy_j < 1e-3 * totals.energy_j:
            continue
        table.add_row(
            layer.name,
            layer.precision,
            _human(layer.macs),
            _human(layer.cycles),
            f"{layer.utilization:.0%}" if layer.macs else "",
            f"{layer.latency_s * 1e6:.3g} µs",
            _bound(layer),
            f"{layer.energy_j * 1e6:.3g} µJ",
        )
    table.caption = "layers under 0.1% of the energy and without MACs are hidden"
    return table


def _positive_fps(fps: float) -> float:
    if not (fps > 0 and math.isfinite(fps)):
        raise UserError(f"--fps takes a positive frame rate, not {fps:g}")
    return fps


def _verdict_lines(cost: Cost) -> list[str]:
    """The answer under the table: does it run, and the power and memory behind it."""
    power, fit = cost.power, cost.fit
    found = verdict(cost)
    idle = f"{power.idle_w:.3g} W idle" if power.idle_stated else "idle power not published"
    return [
        f"verdict: {found.text}",
        f"power: {power.average_w:.3g} W average at {power.fps:g} frames/s ({idle}; budget "
        f"{power.budget_w:g} W); {power.peak_w:.3g} W back to back at {power.max_fps:.3g} "
        "frames/s",
        f"memory: {'fits' if fit.fits else 'does NOT fit'}: {fit.reason}",
    ]


# --- edgegap measure: latency on this machine (onnxruntime), beside an estimate -------------


@app.command("measure")
@user_errors
def measure_command(
    names: Annotated[
        list[str],
        typer.Argument(help="torchvision model names, package.module:callable, or .onnx files"),
    ],
    threads: Annotated[int, typer.Option(min=1, help="onnxruntime intra-op threads")] = 1,
    runs: Annotated[int, typer.Option(min=1, help="timed runs")] = 20,
    warmup: Annotated[int, typer.Option(min=0, help="untimed runs before them")] = 3,
    input_shape: Annotated[
        str | None, typer.Option(help="input shape, e.g. 1,3,224,224 (default: the weights')")
    ] = None,
    dtype: Annotated[
        str | None,
        typer.Option(help="fp32 (default) or int8 (static QDQ quantisation, seeded calibration)"),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", help="platform name or YAML file: its estimate beside"),
    ] = None,
    spin: Annotated[
        bool, typer.Option("--spin", help="idle onnxruntime workers busy-wait (its default)")
    ] = False,
    format: Annotated[Format, typer.Option("--format", help="table, json, jsonl or csv")] = (
        Format.table
    ),
) -> None:
    """Measure real latency on this machine in onnxruntime (CPU provider, seeded random weights
    and input): median, p90 and minimum wall time, process CPU time per run (all threads), with
    --target the cost model's estimate beside it."""
    from edgegap.hardware import load_platform
    from edgegap.measure import beside_estimate, measure
    from edgegap.measure.latency import check_settings
    from edgegap.workload.shapes import parse_shape

    check_settings(threads, runs, warmup)
    shape = parse_shape(input_shape) if input_shape is not None else None
    platform = load_platform(target) if target is not None else None
    records: list[dict[str, Any]] = []
    with progress("measuring", total=len(names)) as update:
        for name in names:
            update(f"measuring {name}")
            measured = measure(name, shape, threads, runs, warmup, dtype, spinning=spin)
            record = measured.to_dict()
            if platform is not None:
                record["estimate"] = beside_estimate(measured, platform).to_dict()
            records.append(record)
            update(advance=1)
    if format is Format.jsonl:
        for record in records:
            sys.stdout.write(json.dumps(record) + "\n")
    elif format is Format.json:
        sys.stdout.write(json.dumps(records[0] if len(records) == 1 else records, indent=1) + "\n")
    elif format is Format.csv:
        import pandas as pd

        sys.stdout.write(pd.DataFrame([_measure_row(r) for r in records]).to_csv(index=False))
    else:
        out.print(_measure_table(records, platform.name if platform is not None else None))


_MEASURE_FIELDS = (
    "model", "precision", "input_shape", "threads", "runs", "warmup", "wall_median_s",
    "wall_p90_s", "wall_min_s", "wall_mean_s", "cpu_median_s", "cpu_per_wall", "spinning",
    "onnxruntime_version", "provider", "graph_optimization", "cpu", "logical_cpus",
    "load_before", "load_after",
)  # fmt: skip


def _measure_row(record: dict[str, Any]) -> dict[str, Any]:
    """One flat CSV row: the summary of a measurement (not its per-run times)."""
    row = {key: record[key] for key in _MEASURE_FIELDS}
    row["input_shape"] = "x".join(map(str, record["input_shape"]))
    for key, value in record.get("estimate", {}).items():
        row[f"estimate_{key}"] = ",".join(value) if isinstance(value, list) else value
    return row


def _ms(seconds: float) -> str:
    """Milliseconds to three significant digits, without an exponent."""
    ms = seconds * 1e3
    decimals = max(0, 2 - math.floor(math.log10(ms))) if ms > 0 else 0
    return f"{ms:.{decimals}f}"


def _measure_table(records: list[dict[str, Any]], platform: str | None) -> Table:
    """One row per model; what every row shares (input shape, precision, threads, the
    precision of the estimate) goes in the caption, what differs beside the model's name."""
    first = records[0]
    shared = {}
    for key, show in (("input_shape", lambda v: "input " + "x".join(map(str, v))),
                      ("precision", str), ("threads", lambda v: f"{v} thread(s)")):  # fmt: skip
        if len({str(r[key]) for r in records}) == 1:
            shared[key] = show(first[key])
    ran_at = {",".join(r["estimate"]["precisions"]) for r in records if "estimate" in r}
    table = Table(title=f"Measured on {first['cpu']} ({first['logical_cpus']} logical CPUs), "
                  "onnxruntime; times in ms")  # fmt: skip
    table.add_column("model", overflow="fold")
    columns = ["median", "p90", "min", "CPU", "CPU/wall"]
    if platform is not None:
        columns += ["estimate", "est./meas."]
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    for r in records:
        differs = [
            ("x".join(map(str, r[key])) if key == "input_shape" else f"{r[key]}" + suffix)
            for key, suffix in (("input_shape", ""), ("precision", ""), ("threads", " thr."))
            if key not in shared
        ]
        cells = [
            " ".join([r["model"], *differs]),
            *(_ms(r[key]) for key in ("wall_median_s", "wall_p90_s", "wall_min_s",
                                      "cpu_median_s")),
            f"{r['cpu_per_wall']:.2f}",
        ]  # fmt: skip
        if "estimate" in r:
            estimate_ = r["estimate"]
            at = f" ({','.join(estimate_['precisions'])})" if len(ran_at) > 1 else ""
            cells += [_ms(estimate_["estimate_s"]) + at, f"{estimate_['ratio']:.2f}x"]
        table.add_row(*cells)
    caption = (
        ", ".join(shared.values())
        + f"; onnxruntime {first['onnxruntime_version']} {first['provider']}, "
        f"{first['graph_optimization']}, {first['execution_mode']}, idle workers "
        f"{'spinning' if first['spinning'] else 'sleeping'}; {first['runs']} timed runs "
        f"after {first['warmup']} warm-ups; wall time per run (median, 90th percentile, "
        "minimum) and process CPU time per run (median, all threads); seeded random weights "
        "and input"
    )
    if platform is not None:
        at = f" at {ran_at.pop()}" if len(ran_at) == 1 else " (at the precision in brackets)"
        caption += (
            f"; estimate: the cost model's on {platform}{at}, est./meas. its ratio to the "
            "measured median"
        )
    table.caption = caption.removeprefix("; ")
    return table


@app.command("compress")
@user_errors
def compress_command(
    model: Annotated[str, typer.Argument(help="lenet-300-100, lenet-5 or mnist1d-cnn")],
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            "--data-dir",
            help="mnist10k, digits, mnist1d (default: the model's) or a directory: image "
            "class folders, MNIST idx files or CIFAR-10 binary batches",
        ),
    ] = None,
    recipe: Annotated[str, typer.Option(help="compression recipe")] = "deep-compression",
    target: Annotated[
        str | None, typer.Option("--target", help="platform for energy estimates")
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="a short schedule for demos")] = False,
    format: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table,
) -> None:
    """Compress a small model for real and measure every stage: accuracy, bytes, MACs, energy.
    --recipe is deep-compression or a YAML file of steps (`- prune: 0.9`, `- weight-sharing:
    5`, `- huffman`; `edgegap techniques` lists them); --dataset a built-in name or a
    directory (ImageFolder, MNIST idx, CIFAR-10 binary)."""
    from edgegap.compress.recipes import compress

    platform = load_platform(target) if target is not None else None
    with progress("training") as update:

        def step(name: str) -> None:
            update(f"measured {name}")

        result = compress(model, recipe, dataset, platform, quick, progress=step)
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(json.dumps(result.to_dict(), indent=1) + "\n")
        return
    table = Table(title=f"{recipe} of {model} on {result.dataset}")
    for column in ("stage", "test accuracy", "bytes", "ratio", "weights kept", "MACs", "energy"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in result.stages:
        table.add_row(
            stage.name,
            f"{stage.accuracy:.2%}",
            f"{stage.bytes:,}",
            f"{result.stages[0].bytes / stage.bytes:.1f}x",
            f"{stage.weights_kept:.1%}",
            _human(stage.macs),
            f"{stage.energy_j * 1e6:.3g} µJ" if stage.energy_j is not None else "",
        )
    table.caption = (
        f"{result.compression_ratio:.1f}x smaller at {result.accuracy_drop_pp:+.2f} pp "
        "accuracy drop (bytes exact, accuracy on the held-out test split)"
    )
    out.print(table)


@app.command("sweep")
@user_errors
def sweep_command(
    model: ModelArgument,
    target: Annotated[str, typer.Option("--target", help="systolic platform to vary")] = (
        "systolic-generic"
    ),
    array: Annotated[str, typer.Option(help="rows and cols: A..B (powers of 2) or A..B:STEP")] = (
        "8..256"
    ),
    sram_kb: Annotated[str, typer.Option("--sram-kb", help="buffer sizes in KB")] = "64..4096",
    dataflow: Annotated[str, typer.Option(help="comma-separated: os,ws,is")] = "os,ws,is",
    dtype: Annotated[str | None, typer.Option(help="bit-width, e.g. int8")] = "int8",
    format: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table,
) -> None:
    """Sweep array shape, dataflow and buffer size; print the Pareto front (latency, energy,
    area)."""
    from edgegap.bridges.sweep import parse_range, sweep

    sizes = parse_range(array, "array")
    buffers = parse_range(sram_kb, "sram-kb")
    workload = profile(model, None, dtype)
    platform = load_platform(target)
    with progress("evaluating designs") as update:
        result = sweep(
            workload, platform, sizes, sizes, buffers, dataflow.split(","),
            progress=lambda done, total: update(completed=done, total=total),
        )  # fmt: skip
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(json.dumps(result.to_dict(), indent=1) + "\n")
        return
    table = Table(title=f"{model} on {platform.name} variants: Pareto front")
    for column in ("array", "SRAM KB", "dataflow", "latency", "energy", "area mm²"):
        table.add_column(column, justify="right")
    for record in result.pareto.to_dict(orient="records"):
        table.add_row(
            str(record["array"]), str(record["sram_kb"]), str(record["dataflow"]),
            f"{record['latency_s'] * 1e3:.3g} ms", f"{record['energy_j'] * 1e3:.3g} mJ",
            f"{record['area_mm2']:.3g}",
        )  # fmt: skip
    table.caption = (
        f"{len(result.designs):,} designs in {result.elapsed_s:.2f} s; area = MAC array + buffer "
        "at TPU v1 floor-plan densities scaled to the node"
    )
    out.print(table)


@app.command("bridges")
@user_errors
def bridges_command(
    model: ModelArgument,
    target: Annotated[str, typer.Option("--target", help="baseline platform")] = "eyeriss",
    dtype: Annotated[str | None, typer.Option(help="bit-width, e.g. int8")] = None,
    node: Annotated[float, typer.Option("--node", help="process node for the scaling bridge")] = 5,
    scaling_ends: Annotated[
        str, typer.Option(help="node (nm) below which scaling stops helping, or 'none'")
    ] = "5",
    spikes_per_neuron: Annotated[
        float, typer.Option(help="spikes per neuron per inference for the spiking bridge")
    ] = 1.0,
    format: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table,
) -> None:
    """Every architecture bridge on one workload against a baseline platform."""
    from edgegap.bridges import evaluate_bridges

    options: dict[str, dict[str, Any]] = {
        "scaling": {"node_nm": node, "scaling_ends_nm": _scaling_ends(scaling_ends)},
        "spiking": {"spikes_per_neuron": spikes_per_neuron},
    }
    report = evaluate_bridges(profile(model, None, dtype), load_platform(target), options)
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(json.dumps(report.to_dict(), indent=1) + "\n")
        return
    base = report.baseline.totals
    table = Table(title=f"{report.model} on {report.platform.name}: architecture bridges")
    for column in ("bridge", "latency", "energy", "area", "speed-up", "energy saved", "largest"):
        table.add_column(column, justify="left" if column in ("bridge", "largest") else "right")

    area = report.platform.area_mm2
    table.add_row(
        "baseline",
        f"{base.latency_s * 1e3:.3g} ms",
        f"{base.energy_j * 1e3:.3g} mJ",
        f"{area:.3g} mm²" if area else "-",
        "x1",
        "x1",
        _largest(base.energy_breakdown),
    )
    sources: dict[str, int] = {}
    for result in report.results:
        totals, bridge = result.cost.totals, result.bridge
        marks = [sources.setdefault(s, len(sources) + 1) for s in bridge.sources]
        table.add_row(
            f"{bridge.name} [{','.join(map(str, marks))}]",
            f"{totals.latency_s * 1e3:.3g} ms",
            f"{totals.energy_j * 1e3:.3g} mJ",
            f"{bridge.area_mm2:.3g} mm²" if bridge.area_mm2 else "-",
            f"x{result.latency_factor:.3g}",
            f"x{result.energy_factor:.3g}",
            _largest(totals.energy_breakdown),
        )
    table.caption = "; ".join(f"{s.name}: skipped, {s.reason}" for s in report.skipped)
    out.print(table)
    for source, number in sources.items():
        out.print(f"[{number}] {source}")


def _scaling_ends(text: str) -> float | None:
    if text == "none":
        return None
    try:
        node = float(text)
    except ValueError:
        node = math.nan
    if not (math.isfinite(node) and node > 0):
        raise UserError(f"--scaling-ends takes a positive node in nm or 'none', not '{text}'")
    return node


@app.command("plan")
@user_errors
def plan_command(
    model: ModelArgument,
    target: Annotated[str, typer.Option("--target", help="edge platform")] = "eyeriss",
    latency_ms: Annotated[float | None, typer.Option(help="latency budget per inference")] = None,
    energy_mj: Annotated[float | None, typer.Option(help="energy budget per inference")] = None,
    memory_mb: Annotated[float | None, typer.Option(help="on-chip + weight memory budget")] = None,
    max_accuracy_drop: Annotated[
        float | None, typer.Option(help="largest accuracy loss allowed, percentage points")
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            "--data-dir",
            help="measure accuracy losses on this dataset or directory (built-in small models)",
        ),
    ] = None,
    format: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table,
) -> None:
    """Close the gap for MODEL on TARGET: the gap per budget, then the combination of bridges
    that meets the budgets with the least accuracy loss (published for torchvision models,
    measured with --dataset for lenet-300-100, lenet-5 and mnist1d-cnn)."""
    from edgegap.plan import Budget, plan_for

    budget = Budget(
        latency_ms / 1e3 if latency_ms is not None else None,
        energy_mj / 1e3 if energy_mj is not None else None,
        memory_mb * 1e6 if memory_mb is not None else None,
    )
    with progress("searching combinations of techniques") as update:

        def step(message: str) -> None:
            update(message)

        result = plan_for(model, load_platform(target), budget, max_accuracy_drop, dataset, step)
    record = result.to_dict()
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(json.dumps(record, indent=1) + "\n")
    else:
        _print_plan(model, result, record)
    if not result.meets_budget:
        raise typer.Exit(1)  # CI can gate on it: 1 is a plan whose budgets are not met


def _print_plan(model: str, result: Plan, record: dict[str, Any]) -> None:
    out.print(f"[bold]{model} on {result.platform.name}[/bold]: " + "; ".join(result.gap()))
    verdict = "meets every budget" if result.meets_budget else "does NOT meet every budget"
    table = Table(title=f"recipe ({verdict})")
    for column in ("step", "setting", "latency", "energy", "memory", "accuracy loss", "source"):
        table.add_column(column, justify="left" if column in ("step", "setting", "source")
                         else "right")  # fmt: skip
    for row in record["recipe"]:
        c = row["contribution"]
        table.add_row(row["technique"], row["setting"],
                      f"x{c['latency_factor']:.3g}", f"x{c['energy_factor']:.3g}",
                      f"x{c['memory_factor']:.3g}", f"{c['accuracy_drop_pp']:.2g} pp",
                      row["source"])  # fmt: skip
    estimate_ = record["estimate"]
    table.caption = (
        f"{estimate_['latency_s'] * 1e3:.3g} ms, {estimate_['energy_j'] * 1e3:.3g} mJ, "
        f"{estimate_['memory_bytes'] / 1e6:.3g} MB, accuracy loss "
        f"{estimate_['accuracy_drop_pp']:.2g} pp ({estimate_['accuracy_source']}); "
        f"{record['candidates_evaluated']} combinations"
    )
    out.print(table)
    front = Table(title="Pareto front: accuracy loss vs latency vs energy")
    for column in ("recipe", "latency", "energy", "accuracy loss"):
        front.add_column(column, justify="left" if column == "recipe" else "right")
    for point in record["pareto"]:
        front.add_row(
            point["recipe"],
            f"{point['latency_s'] * 1e3:.3g} ms",
            f"{point['energy_j'] * 1e3:.3g} mJ",
            f"{point['accuracy_drop_pp']:.2g} pp",
        )
    out.print(front)


@app.command("scale")
@user_errors
def scale_command(
    platform_name: Annotated[str, typer.Argument(help="platform name or YAML file")],
    node: Annotated[float, typer.Option("--node", help="target process node, nm")],
    scaling_ends: Annotated[
        str, typer.Option(help="node (nm) below which scaling stops helping, or 'none'")
    ] = "5",
    format: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table,
) -> None:
    """Project a platform to another process node (area, energy, clock)."""
    from edgegap.hardware.technology import scale_platform

    before = load_platform(platform_name)
    after = scale_platform(before, node, _scaling_ends(scaling_ends))
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(
            json.dumps(after.model_dump(mode="json", exclude_none=True), indent=1) + "\n"
        )
        return
    table = Table(title=f"{before.name}: {before.process_nm:g} nm -> {node:g} nm")
    for column in ("quantity", "before", "after", "factor"):
        table.add_column(column, justify="left" if column == "quantity" else "right")
    rows = [
        ("clock (MHz)", before.compute.clock_mhz, after.compute.clock_mhz),
        ("peak (op/s)", before.peak_ops_per_s, after.peak_ops_per_s),
        *((f"MAC energy {p} (pJ)", e, after.compute.mac_energy_pj[p])
          for p, e in before.compute.mac_energy_pj.items()),
        *((f"{level.name} energy (pJ/bit)", level.energy_pj_per_bit, new.energy_pj_per_bit)
          for level, new in zip(before.memory, after.memory, strict=True)),
    ]  # fmt: skip
    if before.area_mm2 and after.area_mm2:
        rows.append(("area (mm²)", before.area_mm2, after.area_mm2))
    for name, old, new in rows:
        table.add_row(name, f"{old:.4g}", f"{new:.4g}", f"x{new / old:.3g}")
    table.caption = after.notes.split(". ")[0] + "."
    out.print(table)


@app.command("trends")
@user_errors
def trends_command(
    out_dir: Annotated[Path, typer.Option("--out", help="output directory")] = Path(
        "edgegap-trends"
    ),
    format: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table,
    until: Annotated[int, typer.Option("--until", help="project to this year")] = 2030,
    scaling_ends: Annotated[
        str, typer.Option(help="last year CMOS scaling improves supply, or 'none'")
    ] = "2025",
    area_mm2: Annotated[float, typer.Option(help="edge chip area budget, mm²")] = 10.0,
    power_w: Annotated[float, typer.Option(help="edge power budget, W")] = 1.0,
    fps: Annotated[float, typer.Option(help="frames per second to sustain")] = 30.0,
) -> None:
    """Fit the paper's trends, quantify the gap, draw Figures 1-4 (PNG and HTML)."""
    from edgegap import atomic
    from edgegap.trends import Assumptions, Budget, compute_trends
    from edgegap.trends.figures import write_figures

    years = range(2020, 2101)  # projections start from today's data and stop at 2100
    if scaling_ends != "none" and not (scaling_ends.isdigit() and int(scaling_ends) in years):
        raise UserError(f"--scaling-ends takes a year in 2020..2100 or 'none', not "
                        f"'{scaling_ends}'")  # fmt: skip
    if until not in years:
        raise UserError(f"--until takes a year in 2020..2100, not {until}")
    if not all(0 < value < math.inf for value in (area_mm2, power_w, fps)):
        raise UserError("--area-mm2, --power-w and --fps must be positive finite numbers")
    assumptions = Assumptions(None if scaling_ends == "none" else int(scaling_ends), until)
    trends = compute_trends(Budget(area_mm2, power_w, fps), assumptions)
    record = json.dumps(trends.to_dict(), indent=1, allow_nan=False)
    with atomic.directory(out_dir) as staging:
        write_figures(trends, staging, until)
        (staging / "trends.json").write_text(record + "\n", encoding="utf-8")
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(record + "\n")
        return
    out.print(_trends_table(trends))
    err.print(f"wrote figures and trends.json to {out_dir}/")


def _trends_table(trends: Trends) -> Table:
    table = Table(title="Fitted trends (log10 y = a + b x; 95% bootstrap interval of b)")
    for column in ("trend", "n", "factor per unit x", "doubling/halving (years)", "R²", "b 95% CI"):
        table.add_column(column, justify="left" if column == "trend" else "right")
    for name, fit in trends.fits.items():
        table.add_row(
            name,
            str(fit.n),
            f"{fit.annual_factor:.3g}",
            f"{fit.doubling_years:.2g}" if fit.x == "year" else "",
            f"{fit.r2:.2f}",
            f"[{fit.ci95[0]:.3g}, {fit.ci95[1]:.3g}]",
        )
    growth = trends.gaps["growth"]
    table.caption = (
        f"demand grew {growth['ops_growth_per_year']:.2f}x/year (operations per image of the "
        f"leading designs), performance density {growth['perf_density_growth_per_year']:.2f}x/year;"
        f" parameters {growth['params_growth_per_year']:.2f}x/year, memory bits per joule "
        f"{growth['memory_efficiency_growth_per_year']:.2f}x/year"
    )
    return table


def main() -> None:
    app()
