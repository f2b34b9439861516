"""The `edgegap` command: a thin shell that parses arguments, calls the API and prints.

Only what every command needs is imported here (typer, rich, the platform catalog): a
command imports the stage it calls (torch, the cost model, pandas) when it runs, so that
`--help`, `hw` and `zoo` start in a fraction of a second.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, Protocol, TypeVar

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.console import Group as Stack  # title, table, caption: one renderable
from rich.table import Table
from rich.text import Text
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from edgegap.errors import UserError
from edgegap.hardware import Platform, builtin_names, load_platform
from edgegap.workload import profile
from edgegap.workload.phases import PROMPT_TOKENS, Phase
from edgegap.workload.shapes import ModelInput, dtype_to_bits, parse_input, parse_shape

if TYPE_CHECKING:
    from edgegap.hardware import Cost, EnergyBreakdown, LayerCost
    from edgegap.plan import Plan
    from edgegap.trends import Trends
    from edgegap.workload import Workload

out = Console(soft_wrap=True)
err = Console(stderr=True)

PROG = "edgegap"
EXIT_USAGE = 2
EXIT_TASKS_FAILED = 3  # a search ran, but some of its tasks failed twice (named on stderr)
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
    both after every `finally` (atomic writes clean their staging up). The command list
    shows each command's first sentence on one line, not its docstring's line breaks."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None and command.short_help is None and command.help:
            first = _one_line(command.help).split(". ")[0]
            command.short_help = first.rstrip(".") + "."
        return command

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


def _print_version(requested: bool) -> None:
    """`--version`: the installed package's version, from its metadata."""
    if not requested:
        return
    from importlib import metadata

    try:
        number = metadata.version(PROG)
    except metadata.PackageNotFoundError:
        err.print("error: edgegap is not installed, so it has no version: `pip install -e .`",
                  markup=False, highlight=False)  # fmt: skip
        raise typer.Exit(EXIT_USAGE) from None
    out.print(f"{PROG} {number}", markup=False, highlight=False)
    raise typer.Exit


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_print_version, is_eager=True, help="print the version"
        ),
    ] = False,
) -> None:
    """Options before the command."""


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
    from rich.progress import Progress

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
InputShape = Annotated[
    str | None, typer.Option(help="input shape, e.g. 1,3,224,224 (default: the weights')")
]
PhaseKind = Annotated[
    str | None,
    typer.Option(
        "--phase",
        help="a language model's (hf:NAME) generation pass: prefill (of --tokens) or decode "
        "(one token after --context, its KV cache an input); --batch sequences at once",
    ),
]
WeightFormat = Annotated[
    str | None,
    typer.Option(
        "--weights",
        help="store a language model's weights as a file format does: f16, bf16, q8_0, q4_0, "
        "q4_k_m, q2_k (llama.cpp GGUF), mlc-q4f16_1, mlc-q3f16_1, ... (MLC), int4-g128, "
        "int8-channel (`edgegap techniques`: weight-format)",
    ),
]
KvFormat = Annotated[
    str | None,
    typer.Option(
        "--kv",
        help="store a decode step's KV cache as a llama.cpp cache type: f16, q8_0, q4_0, ... "
        "(kv-cache)",
    ),
]
Tokens = Annotated[int, typer.Option(help="prompt tokens of a prefill")]
Context = Annotated[int, typer.Option(help="tokens already in the KV cache of a decode step")]


def _phase(
    kind: str | None, tokens: int, context: int, batch: int | None, *given: object
) -> Phase | None:
    """The generation pass asked for (None: none); it sets the inputs, so none are `given`."""
    if kind is None:
        return None
    if any(given):
        raise UserError("--phase sets the inputs: give --tokens, --context and --batch instead")
    return Phase(kind, tokens, context, batch or 1)


def _stored(workloads: list[Workload], weights: str | None, kv: str | None) -> list[Workload]:
    """The workloads with their weights and KV cache in the formats asked for (None: as
    profiled), through the registry's weight-format and kv-cache techniques."""
    from edgegap.techniques import get
    from edgegap.techniques.weight_formats import cached_as, formatted

    weight_format = None if weights is None else get("weight-format").setting(format=weights)
    cache_format = None if kv is None else get("kv-cache").setting(format=kv)
    stored = []
    for workload in workloads:
        if weight_format is not None:
            workload = formatted(workload, weight_format["format"])
        if cache_format is not None:
            workload = cached_as(workload, cache_format["format"])
        stored.append(workload)
    return stored


def _generation_line(cost: Cost, phase: Phase) -> str:
    """A generation pass's cost as its users quote it: tokens per second and joules per
    token (the energy above idle, as every estimate's); a prefill's latency is the time to
    the first token."""
    latency, per_token = cost.totals.latency_s, si(cost.totals.energy_j / phase.processed, "J")
    rate = f"{phase.processed / latency:.3g}"
    if phase.kind == "decode":
        return (f"decode after {phase.context} tokens: {rate} tokens/s ({si(latency, 's')} a "
                f"step of {phase.batch}), {per_token} per token above idle")  # fmt: skip
    return (f"prefill of {phase.tokens} tokens: {si(latency, 's')} to the first token ({rate} "
            f"prompt tokens/s), {per_token} per prompt token above idle")  # fmt: skip


Inputs = Annotated[
    list[str] | None,
    typer.Option(
        "--input",
        help="an input NAME:SHAPE[:DTYPE] for a model of several or integer inputs, once per "
        "input (unnamed ones by position), e.g. --input ids:1x128:int64; instead of "
        "--input-shape",
    ),
]
ModelArgument = Annotated[str, typer.Argument(help="anything `edgegap profile` accepts")]
NoFuse = Annotated[
    bool,
    typer.Option(
        "--no-fuse",
        help="cost every traced operator as its own layer: no batch-norm folding, activation "
        "or residual-add fusion (the platform's `fusion`, docs/cost-model.md)",
    ),
]


class Format(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


_PREFIXES = (
    (1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""),
    (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"),
)  # fmt: skip


def si(value: float, unit: str = "") -> str:
    """Three significant digits and an SI prefix, the one way every table writes a quantity:
    4.09G, 25.6M, 102MB, 4.09ms, 278mW, 0; an exponent only outside 1e-15..1e21."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}{unit}"
    magnitude = abs(value)
    index = next((i for i, (scale, _) in enumerate(_PREFIXES) if magnitude >= scale), None)
    if index is None:  # below a femto-unit
        return f"{value:.3g}{unit}"
    digits = f"{value / _PREFIXES[index][0]:.3g}"
    if abs(float(digits)) >= 1000 and index > 0:  # 999.7 rounds up into the next prefix
        index -= 1
        digits = f"{value / _PREFIXES[index][0]:.3g}"
    return f"{digits}{_PREFIXES[index][1]}{unit}"


@dataclass(frozen=True)
class Column:
    """A column of an edgegap table.

    `text`: left-aligned words (a name, a shape), otherwise a right-aligned number. `wrap`:
    free text that may wrap between words, in a column at least this wide (or as wide as its
    longest word, or its text); 0 for names and numbers, which are never wrapped, folded or
    cut. `hide`: 0 for a column always shown; otherwise the table hides it when the console
    is too narrow for every column, the highest first. Headers wrap between their words.
    """

    header: str
    text: bool = False
    wrap: int = 0
    hide: int = 0
    footer: str = ""


GAP = 2  # spaces between two columns


def _widest_word(texts: Iterator[str] | list[str]) -> int:
    return max((cell_len(word) for text in texts for word in text.split()), default=0)


def _fit(
    columns: Sequence[Column], rows: list[list[str]], space: int, fold: bool = False
) -> list[int] | None:
    """Content widths for `columns` in `space` characters with nothing cut (a wrapping column
    keeps its longest word whole), widest where most text would wrap; None if too narrow.
    With `fold`, too narrow narrows the widest text columns instead (their words fold onto
    the next line), numbers kept whole; None only if even that cannot fit."""
    least, cells, full = [], [], []
    for index, column in enumerate(columns):
        body = [row[index] for row in rows] + ([column.footer] if column.footer else [])
        whole = max(map(cell_len, body), default=0)
        cells.append(whole)
        full.append(max(whole, cell_len(column.header)))
        words = _widest_word([column.header, *body])
        if column.wrap:
            least.append(max(words, min(whole, column.wrap)))
        else:
            least.append(max(whole, _widest_word([column.header])))
    spare = space - GAP * (len(columns) - 1) - sum(least)
    texts = [i for i, column in enumerate(columns) if column.text]
    while spare < 0 and fold and texts and max(least[i] for i in texts) > 4:
        least[max(texts, key=least.__getitem__)] -= 1
        spare += 1
    if spare < 0:
        return None
    widths = list(least)
    for target in (cells, full):  # first unwrap the cells, then the headers
        while spare > 0:
            short = [t - w for t, w in zip(target, widths, strict=True)]
            index = max(range(len(widths)), key=short.__getitem__)
            if short[index] <= 0:
                break
            widths[index] += 1
            spare -= 1
    return widths


def table(
    title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]], caption: str = ""
) -> Stack:
    """A titled table that fits the console: its width (COLUMNS, else the terminal's, else 80
    when stdout is not a terminal), with headers wrapped between words, free text wrapped,
    and, where even that is too wide, the least important columns hidden (the caption says
    which). A console too narrow for the essential columns folds cells: never an ellipsis.
    The title above and the caption below wrap at the console's width."""
    rows = [list(row) for row in rows]
    shown = list(range(len(columns)))

    def fit() -> list[int] | None:
        return _fit([columns[i] for i in shown], [[r[i] for i in shown] for r in rows], out.width)

    hidden: list[int] = []
    while (widths := fit()) is None and any(columns[i].hide for i in shown):
        hidden.append(max(shown, key=lambda i: (columns[i].hide, i)))
        shown.remove(hidden[-1])
    for index in reversed(hidden[:-1]):  # one hidden late may have made room for one before
        shown = sorted([*shown, index])
        if (wider := fit()) is not None:
            widths = wider
        else:
            shown.remove(index)
    if widths is None:  # too narrow for the columns that are never hidden: fold their text
        widths = _fit([columns[i] for i in shown], [[r[i] for i in shown] for r in rows],
                      out.width, fold=True)  # fmt: skip
    hidden = [i for i in range(len(columns)) if i not in shown]
    if hidden:
        names = ", ".join(columns[i].header for i in hidden)
        note = f"hidden to fit {out.width} columns: {names} (a wider console shows them)"
        caption = f"{caption}\n{note}" if caption else note
    view = Table(
        box=box.SIMPLE,
        show_edge=False,
        pad_edge=False,
        padding=(0, GAP - 1, 0, 0),
        show_footer=any(column.footer for column in columns),
    )
    for place, index in enumerate(shown):
        column = columns[index]
        view.add_column(
            column.header,
            footer=column.footer,
            justify="left" if column.text else "right",
            width=widths[place] if widths is not None else None,
            overflow="fold",
        )
    for row in rows:
        view.add_row(*(Text(row[i]) for i in shown))
    parts: list[Text | Table] = [view]
    if title:
        parts.insert(0, Text(title, "table.title", no_wrap=False, overflow="fold"))
    if caption:
        parts.append(Text(caption, "table.caption", no_wrap=False, overflow="fold"))
    return Stack(*parts)


def _shape(shape: Sequence[int]) -> str:
    return "x".join(map(str, shape))


# header, Totals key, unit, hide (the order in which a narrow console hides them); weights are
# those one pass reads, stored those the parameters are held in (a lookup reads rows of a table)
_SUMMARY_COLUMNS = (
    ("MACs", "macs", "", 0),
    ("FLOPs", "flops", "", 2),
    ("params", "params", "", 0),
    ("weights", "weight_bytes", "B", 0),
    ("stored", "stored_weight_bytes", "B", 4),
    ("activations", "activation_bytes", "B", 3),
    ("peak act.", "peak_activation_bytes", "B", 0),
    ("min traffic", "min_traffic_bytes", "B", 0),
)


def _summary_table(workloads: list[Workload]) -> Stack:
    columns = [
        Column("model", text=True),
        Column("input", text=True, hide=1),
        *(Column(header, hide=hide) for header, _, _, hide in _SUMMARY_COLUMNS),
        Column("FLOP/B"),
    ]
    rows = []
    for workload in workloads:
        totals = workload.totals.to_dict()
        rows.append([
            workload.model,
            " ".join(map(str, workload.inputs)) if len(workload.inputs) > 1
            else _shape(workload.input_shape),
            *(si(totals[key], unit) for _, key, unit, _ in _SUMMARY_COLUMNS),
            f"{totals['arithmetic_intensity']:.1f}",
        ])  # fmt: skip
    return table(
        "Workload totals (MACs as torchvision's _ops; FLOPs = 2 MACs + element-wise)", columns, rows
    )


def _layer_table(workload: Workload) -> Stack:
    totals = workload.totals
    columns = [
        Column("layer", text=True, footer="TOTAL"),
        Column("op", text=True, hide=1),
        Column("kind", text=True, hide=5),
        Column("output", text=True, hide=4),
        Column("MACs", footer=si(totals.macs)),
        Column("FLOPs", footer=si(totals.flops), hide=3),
        Column("params", footer=si(totals.params)),
        Column("min traffic", footer=si(totals.min_traffic_bytes, "B")),
        Column("FLOP/B", footer=f"{totals.arithmetic_intensity:.1f}", hide=2),
    ]
    rows = [
        [
            layer.name, layer.op, layer.kind, _shape(layer.output_shape), si(layer.macs),
            si(layer.flops), si(layer.params), si(layer.min_traffic_bytes, "B"),
            f"{layer.arithmetic_intensity:.1f}",
        ]
        for layer in workload.layers
    ]  # fmt: skip
    return table(f"{workload.model}: per layer", columns, rows)


def _model_inputs(
    name: str, shape: str | None, given: list[str] | None, batch: int | None
) -> list[ModelInput] | None:
    """What to profile `name` on: `--input`s or `--input-shape` (None: the model's default),
    with `batch` as every input's first dimension."""
    if shape is not None and given:
        raise UserError("give --input-shape or --input, not both")
    inputs = [parse_input(text) for text in given] if given else None
    if inputs is None and shape is not None:
        inputs = [ModelInput(parse_shape(shape))]
    if batch is None:
        return inputs
    if inputs is None:
        from edgegap.workload import hf_models, library

        name = hf_models.aliased(name) or name
        if library.is_library_spec(name):
            inputs = library.default_inputs(name)
        else:
            from edgegap.workload import zoo

            inputs = zoo.default_inputs(name)
            if inputs is None:
                raise UserError(f"give --input-shape for '{name}' to set a batch")
    return [replace(i, shape=(batch, *i.shape[1:])) for i in inputs]


def _profile_all(
    names: list[str],
    shape: str | None,
    dtype: str | None,
    batch: int | None = None,
    given: list[str] | None = None,
    proposals: int | None = None,
    detections: int | None = None,
    phase: Phase | None = None,
) -> list[Workload]:
    def one(name: str) -> Workload:
        inputs = None if phase is not None else _model_inputs(name, shape, given, batch)
        return profile(name, dtype=dtype, inputs=inputs, proposals=proposals,
                       detections=detections, phase=phase)  # fmt: skip

    if len(names) == 1:
        return [one(names[0])]
    workloads = []
    with progress("profiling", total=len(names)) as update:
        for name in names:
            update(f"profiling {name}")
            workloads.append(one(name))
            update(advance=1)
    return workloads


_COUNT_HELP = (
    "a two-stage detector's {unit} per image, which its {head} runs once each (default: the "
    "count torchvision's published figure is for, else the model's cap)"
)


@app.command("profile")
@user_errors
def profile_command(
    names: Annotated[
        list[str],
        typer.Argument(
            help="torchvision model names, timm:NAME[.TAG], hf:NAME (a shipped config, a "
            "config.json or a model_type), package.module:callable, or .onnx files"
        ),
    ],
    input_shape: InputShape = None,
    input: Inputs = None,
    dtype: Annotated[
        str | None,
        typer.Option(help="bit-width for bytes: float32, float16, bfloat16, int8, int4, binary"),
    ] = None,
    format: Annotated[Format, typer.Option("--format", help="output format")] = Format.table,
    per_layer: Annotated[bool, typer.Option("--per-layer", help="show every layer")] = False,
    proposals: Annotated[
        int | None,
        typer.Option(help=_COUNT_HELP.format(unit="region proposals", head="box head")),
    ] = None,
    detections: Annotated[
        int | None,
        typer.Option(help=_COUNT_HELP.format(unit="detections", head="mask or keypoint head")),
    ] = None,
    phase: PhaseKind = None,
    tokens: Tokens = PROMPT_TOKENS,
    context: Context = 0,
    batch: Annotated[int | None, typer.Option("--batch", min=1, help="batch size")] = None,
    weights: WeightFormat = None,
    kv: KvFormat = None,
) -> None:
    """Profile models into per-layer workloads: MACs, FLOPs, parameters, bytes moved."""
    chosen = _phase(phase, tokens, context, batch, input_shape, input)
    workloads = _profile_all(names, input_shape, dtype, batch, input, proposals=proposals,
                             detections=detections, phase=chosen)  # fmt: skip
    workloads = _stored(workloads, weights, kv)
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
        notes = list(workload.notes)
        if workload.uncounted_ops and format is Format.table:
            missing = ", ".join(f"{op} x{n}" for op, n in workload.uncounted_ops.items())
            notes.append(f"no formula for {missing} (bytes counted)")
        for note in notes:
            err.print(f"note: {workload.model}: {note}", markup=False, emoji=False,
                      highlight=False, soft_wrap=True)  # fmt: skip


@app.command("zoo")
@user_errors
def zoo_command(
    format: Annotated[Format, typer.Option("--format", help="table, json or csv")] = Format.table,
) -> None:
    """List the built-in models with the metadata torchvision publishes for their weights."""
    from edgegap.workload import published

    models = published.zoo_models()
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(json.dumps([m.to_dict() for m in models], indent=1) + "\n")
        return
    if format is Format.csv:
        sys.stdout.write(published.to_csv(models))
        return
    columns = [
        Column("model", text=True), Column("input"), Column("params"), Column("GMACs (_ops)"),
        Column("acc@1"), Column("acc@5"), Column("weights", text=True, hide=1),
    ]  # fmt: skip
    rows = [
        [m.model, str(m.input_size), si(m.params), f"{m.gmacs:.3f}", f"{m.acc1:.3f}",
         f"{m.acc5:.3f}", m.weights]
        for m in models
    ]  # fmt: skip
    title = "Built-in models (torchvision architectures; metadata of DEFAULT weights)"
    out.print(table(title, columns, rows))


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
    columns = [
        Column("name", text=True), Column("group", text=True),
        Column("parameters (default)", text=True, wrap=20), Column("faces", text=True),
    ]  # fmt: skip
    rows = []
    for record in records:
        faces = [face for face in ("analytic", "measured") if record[face]]
        parameters: dict[str, Any] = record["parameters"]  # type: ignore[assignment]
        rows.append([
            str(record["name"]), str(record["group"]),
            ", ".join(f"{k}={v}" for k, v in parameters.items()), "+".join(faces),
        ])  # fmt: skip
    title = "Techniques (recipe and plan steps use these names; --format json for summaries and "
    out.print(table(title + "sources)", columns, rows))


@app.command("report")
@user_errors
def report_command(
    out_dir: Annotated[Path, typer.Option("--out", help="output directory")] = Path(
        "edgegap-report"
    ),
    quick: Annotated[bool, typer.Option("--quick", help="a few models only")] = False,
    results: ResultsFile = None,
    workers: WorkerCount = 1,
    ray_address: RayAddress = None,
) -> None:
    """Build the gap report: the zoo profiled and run on every built-in platform (one task a
    model, on --workers processes or a Ray cluster), the trends and figures, the architecture
    bridges and plans; index.html and report.json, written atomically to --out. A model that
    fails twice is left out and named on stderr (exit code 3)."""
    from edgegap.report.build import (
        EDGE_TARGETS,
        QUICK_LANGUAGE_MODELS,
        QUICK_MODELS,
        QUICK_TARGETS,
        build_report,
        report_steps,
    )
    from edgegap.workload import zoo

    models = QUICK_MODELS if quick else zoo.classification_models()
    targets = QUICK_TARGETS if quick else EDGE_TARGETS
    measuring = _workers(workers, ray_address, results)
    with progress("report", total=report_steps(models), transient=False) as update:

        def step(message: str) -> None:
            update(message, advance=1)

        built = build_report(
            out_dir, models, step, targets, measuring, QUICK_LANGUAGE_MODELS if quick else None
        )
    if built.record is not None:
        out.print(
            f"{len(built.record['models'])} models -> {out_dir}/index.html (open it in a "
            "browser), report.json, models.csv, edge.csv, layers/, trends/"
        )
    _report_failures(built.failures)


hw_app = typer.Typer(help="Hardware platforms: the built-in catalog and your YAML files.")
app.add_typer(hw_app, name="hw")


def _compute_summary(platform: Platform) -> str:
    return f"{platform.compute.summary} @ {platform.compute.clock_mhz:g} MHz"


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
    columns = [
        Column("name", text=True), Column("kind", text=True, hide=3), Column("year", hide=4),
        Column("nm"), Column("compute", text=True, wrap=20), Column("peak"), Column("W"),
        Column("mm²", hide=2), Column("precisions", text=True, wrap=10, hide=1),
    ]  # fmt: skip
    rows = [
        [
            p.name, p.kind, str(p.year), f"{p.process_nm:g}", _compute_summary(p),
            si(p.peak_ops_per_s, "OP/s"), f"{p.power_budget_w:g}",
            f"{p.area_mm2:g}" if p.area_mm2 else "n/p", ", ".join(p.compute.precisions),
        ]
        for p in platforms
    ]  # fmt: skip
    out.print(table("Built-in platforms (`edgegap hw show NAME` for sources)", columns, rows))


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

    for table in record["compute"].get("kernels", []):  # a calibration's timed samples
        table["samples"] = f"{len(table['samples'])} timed (in the file; --format json lists them)"
        table.pop("parameters")
    # YAML breaks a line after the word that passes `width`: leave room for a long word
    text = yaml.safe_dump(record, sort_keys=False, width=out.width - 12, allow_unicode=True)
    out.print(text, markup=False, highlight=False)
    derived = f"peak {si(platform.peak_ops_per_s, 'OP/s')}"
    if (density := platform.performance_density_gops_mm2) is not None:
        derived += f", {density:.1f} GOPS/mm²"
    derived += f", {platform.efficiency_gops_w:.1f} GOPS/W"
    out.print(f"derived: {derived} (a MAC counts as 2 operations)", markup=False, soft_wrap=False)


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


def _platforms(targets: list[str], array: str | None, dataflow: str | None) -> list[Platform]:
    """Each --target (comma-separated or repeated; default systolic-generic), with --array
    and --dataflow applied to every one."""
    names = [name.strip() for text in targets for name in text.split(",")] or ["systolic-generic"]
    if "" in names:
        raise UserError(f"empty platform name in --target '{','.join(targets)}'")
    platforms = [load_platform(name) for name in names]
    changes: dict[str, object] = {}
    if array is not None:
        changes["rows"], changes["cols"] = _parse_array(array)
    if dataflow is not None:
        if dataflow not in ("os", "ws", "is"):
            raise UserError(f"unknown dataflow '{dataflow}': use os, ws or is")
        changes["dataflow"] = dataflow
    if not changes:
        return platforms
    for platform in platforms:
        if platform.compute.array is None:
            raise UserError(
                f"--array and --dataflow need a systolic platform; {platform.name} is not"
            )
    return [platform.with_compute(**changes) for platform in platforms]


@app.command("estimate")
@user_errors
def estimate_command(
    models: Annotated[
        list[str] | None, typer.Argument(help="models: anything `edgegap profile` accepts")
    ] = None,
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            help="platform names or YAML files, comma-separated or repeated "
            "(default: systolic-generic)",
        ),
    ] = None,
    topology: Annotated[
        Path | None, typer.Option("--topology", help="a SCALE-Sim topology CSV as the workload")
    ] = None,
    array: Annotated[str | None, typer.Option("--array", help="systolic array ROWSxCOLS")] = None,
    dataflow: Annotated[str | None, typer.Option("--dataflow", help="os, ws or is")] = None,
    batch: Annotated[int | None, typer.Option("--batch", min=1, help="batch size")] = None,
    input_shape: InputShape = None,
    input: Inputs = None,
    dtype: Annotated[str | None, typer.Option(help=DTYPE_HELP)] = None,
    fps: Annotated[float, typer.Option("--fps", help="frame rate power is quoted at")] = 30.0,
    format: Annotated[
        Format, typer.Option("--format", help="table, json, jsonl or csv")
    ] = Format.table,
    no_fuse: NoFuse = False,
    phase: PhaseKind = None,
    tokens: Tokens = PROMPT_TOKENS,
    context: Context = 0,
    weights: WeightFormat = None,
    kv: KvFormat = None,
) -> None:
    """Estimate latency, energy, power at a frame rate and memory fit of models on platforms.
    Layers are fused as each platform's compiler fuses them (--no-fuse: as traced); a SCALE-Sim
    topology (--topology) stands in for a model. One model on one platform is shown layer by
    layer, several side by side (`edgegap estimate resnet18 mobilenet_v2 --target
    eyeriss,edge-tpu`)."""
    from edgegap.hardware import deployment_precision, estimate

    if bool(models) == (topology is not None):
        raise UserError("give MODEL... or --topology FILE.csv (one of them)")
    platforms = _platforms(target or [], array, dataflow)
    _positive("--fps", fps)
    chosen = _phase(phase, tokens, context, batch, input_shape, input, topology)
    # Each platform at its deployment precision unless --dtype says otherwise: one profile
    # per model and precision.
    dtypes = [dtype or deployment_precision(platform) for platform in platforms]
    workloads: dict[str, list[Workload]] = {}
    for precision in dict.fromkeys(dtypes):
        if topology is not None:
            from edgegap.workload.scalesim import read_topology

            workloads[precision] = [read_topology(topology, dtype_to_bits(precision) or 8)]
        else:
            workloads[precision] = _stored(
                _profile_all(models or [], input_shape, precision, batch, input, phase=chosen),
                weights,
                kv,
            )
    count = len(workloads[dtypes[0]])
    pairs = [
        (estimate(workloads[precision][index], platform, fps, fuse=not no_fuse), platform)
        for index in range(count)
        for platform, precision in zip(platforms, dtypes, strict=True)
    ]
    costs = [cost for cost, _ in pairs]
    if format in (Format.json, Format.jsonl):
        records = [_cost_record(cost, platform, chosen) for cost, platform in pairs]
        if format is Format.jsonl:
            sys.stdout.writelines(json.dumps(record) + "\n" for record in records)
        else:
            sys.stdout.write(json.dumps(records[0] if len(records) == 1 else records) + "\n")
    elif format is Format.csv:
        sys.stdout.write(_costs_csv(pairs))
    elif len(costs) == 1:
        out.print(_cost_table(pairs[0][0]))
        for line in _verdict_lines(*pairs[0]):
            out.print(line, markup=False, highlight=False, soft_wrap=False)
    else:
        out.print(_costs_table(pairs))
    if chosen is not None and format is Format.table:
        for cost, platform in pairs:
            line = f"{cost.model} on {platform.name}: {_generation_line(cost, chosen)}"
            out.print(line, markup=False, highlight=False, soft_wrap=False)


def _cost_record(cost: Cost, platform: Platform, phase: Phase | None = None) -> dict[str, Any]:
    """`Cost.to_dict()` with the latency's interval (`hardware.intervals`; null: not
    validated) and, for a generation pass, its tokens per second and joules per token."""
    from edgegap.hardware.intervals import interval_record, latency_interval

    interval = latency_interval(cost, platform)
    record = cost.to_dict() | {"interval": interval_record(interval, cost.totals.latency_s)}
    if phase is not None:
        record["generation"] = asdict(phase) | {
            "tokens_per_s": phase.processed / cost.totals.latency_s,
            "energy_per_token_j": cost.totals.energy_j / phase.processed,
        }
    return record


def _si_span(low: float, high: float, unit: str) -> str:
    """ "111ms-208ms", or one value where both ends read the same."""
    ends = si(low, unit), si(high, unit)
    return ends[0] if ends[0] == ends[1] else "-".join(ends)


def si_range(value: float, low: float, high: float, unit: str = "") -> str:
    """ "12.3ms (9.8-15.1)": a value in `si`'s form, its range in the same prefix (one
    number where both ends read the same)."""
    shown = si(value, unit)
    prefix = shown.removesuffix(unit).lstrip("+-0123456789.")
    scale = next((scale for scale, name in _PREFIXES if name == prefix), 1.0)
    if max(abs(low), abs(high)) / scale >= 1000:  # an end in another prefix: both with theirs
        return f"{shown} ({_si_span(low, high, unit)})"
    ends = f"{low / scale:.3g}", f"{high / scale:.3g}"
    return f"{shown} ({ends[0] if ends[0] == ends[1] else '-'.join(ends)})"


def _latency_text(cost: Cost, platform: Platform) -> str:
    """The latency with its interval, or "(not validated)"."""
    from edgegap.hardware.intervals import latency_interval

    interval = latency_interval(cost, platform)
    latency = cost.totals.latency_s
    if interval is None:
        return f"{si(latency, 's')} (not validated)"
    return si_range(latency, *interval.apply(latency), "s")


def _interval_notes(platforms: Sequence[Platform]) -> list[str]:
    """What each platform's latency range rests on, one line per platform."""
    from edgegap.hardware.intervals import interval_for, not_validated

    notes = []
    for platform in {platform.name: platform for platform in platforms}.values():
        interval = interval_for(platform)
        basis = not_validated(platform) if interval is None else interval.text
        notes.append(f"{platform.name}: {basis}")
    return notes


def _costs_table(pairs: list[tuple[Cost, Platform]]) -> Stack:
    from edgegap.hardware import verdict

    columns = [
        Column("model", text=True), Column("target", text=True), Column("precision", hide=1),
        Column("latency (range)"), Column("energy"), Column("power"),
        Column("memory", hide=2), Column("runs", text=True),
    ]  # fmt: skip
    rows: list[list[str]] = []
    notes: list[str] = []  # what stops a model: one per row marked `no [n]`
    for cost, platform in pairs:
        found = verdict(cost)
        if not found.runs:
            notes.append(f"[{len(notes) + 1}] {cost.model} on {cost.platform}: {found.text}")
        precision = _precisions(cost)
        rows.append([
            cost.model, cost.platform, precision, _latency_text(cost, platform),
            si(cost.totals.energy_j, "J"), si(cost.power.average_w, "W"),
            si(cost.fit.needed_bytes, "B"), "yes" if found.runs else f"no [{len(notes)}]",
        ])  # fmt: skip
    models = ", ".join(dict.fromkeys(cost.model for cost, _ in pairs))
    targets = ", ".join(dict.fromkeys(cost.platform for cost, _ in pairs))
    fps = pairs[0][0].power.fps
    caption = (
        f"latency and energy per inference; power at {fps:g} frames/s with idle power; "
        "memory: weights and peak activations; runs: fits the memory, sustains the "
        "rate, within the power budget; range: where the measured latency falls if the "
        "estimate errs as on the platform's validation rows (measured / predicted):"
    )
    caption += "".join(f"\n  {note}" for note in _interval_notes([p for _, p in pairs]))
    caption += "".join(f"\n{note}" for note in notes)
    return table(f"{models} on {targets}", columns, rows, caption)


def _costs_csv(pairs: list[tuple[Cost, Platform]]) -> str:
    """One row per (model, platform): totals, power at the frame rate, the fit, the verdict,
    the latency's interval (empty: not validated)."""
    from edgegap.hardware import verdict
    from edgegap.hardware.intervals import interval_record, latency_interval

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([
        "model", "platform", "latency_s", "throughput_per_s", "energy_j", "cycles", "fps",
        "average_power_w", "peak_power_w", "fits_power_budget", "fits_memory", "needed_bytes",
        "memory_reason", "runs", "reasons", "latency_low_s", "latency_high_s",
        "interval_level", "interval_basis", "interval_n",
    ])  # fmt: skip
    for cost, platform in pairs:
        totals, power, fit = cost.totals, cost.power, cost.fit
        found = verdict(cost)
        interval = interval_record(latency_interval(cost, platform), totals.latency_s) or {}
        writer.writerow([
            cost.model, cost.platform, totals.latency_s, totals.throughput_per_s, totals.energy_j,
            totals.cycles, power.fps, power.average_w, power.peak_w, power.fits_budget, fit.fits,
            fit.needed_bytes, fit.reason, found.runs, "; ".join(found.reasons),
            *(interval.get(key, "") for key in ("low_s", "high_s", "level", "basis", "n")),
        ])  # fmt: skip
    return buffer.getvalue()


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


def _cost_table(cost: Cost) -> Stack:
    totals = cost.totals
    columns = [
        Column("layer", text=True, footer="TOTAL"),
        Column("precision", hide=3),
        Column("MACs", footer=si(sum(layer.macs for layer in cost.layers))),
        Column("cycles", footer=si(totals.cycles), hide=2),
        Column("util.", hide=1),
        Column("latency", footer=si(totals.latency_s, "s")),  # its range: under the table
        Column("bound"),
        Column("energy", footer=si(totals.energy_j, "J")),
    ]
    rows = [
        [
            layer.name, layer.precision, si(layer.macs), si(layer.cycles),
            f"{layer.utilization:.0%}" if layer.macs else "", si(layer.latency_s, "s"),
            _bound(layer), si(layer.energy_j, "J"),
        ]
        for layer in cost.layers
        if layer.macs or layer.energy_j >= 1e-3 * totals.energy_j
    ]  # fmt: skip
    caption = "layers under 0.1% of the energy and without MACs are hidden"
    return table(f"{cost.model} on {cost.platform} at {_precisions(cost)}", columns, rows, caption)


def _precisions(cost: Cost) -> str:
    """The precisions the platform runs the model's MAC layers at: "int8", "int8/int16"."""
    found = dict.fromkeys(layer.precision for layer in cost.layers if layer.macs)
    return "/".join(found) or "-"


def _positive(option: str, value: float | None) -> None:
    """A number option must be positive and finite; said in the user's units and name."""
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise UserError(f"{option} takes a positive number, not {value:g}")


def _verdict_lines(cost: Cost, platform: Platform) -> list[str]:
    """The answer under the table: does it run, the latency's range, and the power and
    memory behind it."""
    from edgegap.hardware import verdict
    from edgegap.hardware.intervals import latency_interval, not_validated

    power, fit = cost.power, cost.fit
    found = verdict(cost)
    idle = f"{si(power.idle_w, 'W')} idle" if power.idle_stated else "idle power not published"
    at = (
        f"{si(power.average_w, 'W')} average at {power.fps:g} frames/s"
        if power.sustains_rate
        else f"{si(power.average_w, 'W')} needed for {power.fps:g} frames/s, which it cannot reach"
    )
    interval = latency_interval(cost, platform)
    latency = si(cost.totals.latency_s, "s")
    if interval is None:
        span = f"latency: {latency}, {not_validated(platform)}"
    else:
        low, high = interval.apply(cost.totals.latency_s)
        span = (f"latency: {latency}; {_si_span(low, high, 's')} if it errs as on its "
                f"validation rows ({interval.text})")  # fmt: skip
    return [
        f"verdict: {found.text}",
        span,
        f"power: {at} ({idle}; budget {si(power.budget_w, 'W')}); {si(power.peak_w, 'W')} back "
        f"to back at {power.max_fps:.3g} frames/s",
        f"memory: {'fits' if fit.fits else 'does NOT fit'}: {fit.reason}",
    ]


# --- edgegap measure: latency on this machine (onnxruntime), beside an estimate -------------


@app.command("measure")
@user_errors
def measure_command(
    names: Annotated[
        list[str],
        typer.Argument(
            help="torchvision model names, timm:NAME[.TAG], package.module:callable, or .onnx files"
        ),
    ],
    threads: Annotated[int, typer.Option(min=1, help="onnxruntime intra-op threads")] = 1,
    runs: Annotated[int, typer.Option(min=1, help="timed runs")] = 20,
    warmup: Annotated[int, typer.Option(min=0, help="untimed runs before them")] = 3,
    input_shape: InputShape = None,
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
        if key == "interval":
            for part in ("low_s", "high_s", "basis"):
                row[f"estimate_interval_{part}"] = value[part] if value else None
        else:
            row[f"estimate_{key}"] = ",".join(value) if isinstance(value, list) else value
    return row


def _measure_table(records: list[dict[str, Any]], platform: str | None) -> Stack:
    """One row per model; what every row shares (input shape, precision, threads, the
    precision of the estimate) goes in the caption, what differs beside the model's name."""
    first = records[0]
    shared = {}
    for key, show in (("input_shape", lambda v: "input " + "x".join(map(str, v))),
                      ("precision", str), ("threads", lambda v: f"{v} thread(s)")):  # fmt: skip
        if len({str(r[key]) for r in records}) == 1:
            shared[key] = show(first[key])
    ran_at = {",".join(r["estimate"]["precisions"]) for r in records if "estimate" in r}
    columns = [Column("model", text=True), Column("median"), Column("p90", hide=2),
               Column("min", hide=1), Column("CPU"), Column("CPU/wall", hide=3)]  # fmt: skip
    if platform is not None:
        columns += [Column("estimate"), Column("est./meas.")]
    rows = []
    for r in records:
        differs = [
            ("x".join(map(str, r[key])) if key == "input_shape" else f"{r[key]}" + suffix)
            for key, suffix in (("input_shape", ""), ("precision", ""), ("threads", " thr."))
            if key not in shared
        ]
        cells = [
            " ".join([r["model"], *differs]),
            *(si(r[key], "s") for key in ("wall_median_s", "wall_p90_s", "wall_min_s",
                                          "cpu_median_s")),
            f"{r['cpu_per_wall']:.2f}",
        ]  # fmt: skip
        if "estimate" in r:
            estimate_ = r["estimate"]
            at = f" ({','.join(estimate_['precisions'])})" if len(ran_at) > 1 else ""
            bounds = estimate_["interval"]
            shown = (
                si(estimate_["estimate_s"], "s")
                if bounds is None
                else si_range(estimate_["estimate_s"], bounds["low_s"], bounds["high_s"], "s")
            )
            cells += [shown + at, f"{estimate_['ratio']:.2f}x"]
        rows.append(cells)
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
    title = f"Measured on {first['cpu']} ({first['logical_cpus']} logical CPUs), onnxruntime"
    return table(title, columns, rows, caption.removeprefix("; "))


# --- edgegap calibrate: this machine as a platform YAML, from microbenchmarks --------------


@app.command("calibrate")
@user_errors
def calibrate_command(
    out_path: Annotated[Path, typer.Option("--out", help="the platform YAML to write")],
    power_w: Annotated[
        float,
        typer.Option("--power-w", help="power the cores used draw, W (the datasheet TDP share)"),
    ],
    process_nm: Annotated[
        float, typer.Option("--process-nm", help="the CPU's process node, nm (its datasheet)")
    ],
    threads: Annotated[str, typer.Option(help="thread counts to calibrate, e.g. 1,2")] = "1",
    name: Annotated[str, typer.Option(help="the platform's name")] = "host",
    year: Annotated[int | None, typer.Option(help="the CPU's year (default: this year)")] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="a tenth of the samples: a minute, less accurate")
    ] = False,
    seed: Annotated[int, typer.Option(help="seed of the sampled shapes")] = 0,
    clock_mhz: Annotated[
        float | None, typer.Option("--clock-mhz", help="the clock, where /proc/cpuinfo lacks it")
    ] = None,
) -> None:
    """Calibrate this machine: time each operator kind on sampled shapes, the bandwidth of each
    cache level and DRAM, and onnxruntime's dispatch cost, then write a platform YAML whose
    every number says what measured it (never runs a zoo model)."""
    import yaml

    from edgegap.atomic import write_text
    from edgegap.calibrate.run import calibrate
    from edgegap.hardware.catalog import parse_platform

    _positive("--power-w", power_w)
    _positive("--process-nm", process_nm)
    _positive("--clock-mhz", clock_mhz)
    counts = [int(t) for t in threads.split(",") if t.strip().isdigit()]
    if not counts or len(counts) != len(threads.split(",")):
        raise UserError(f"--threads takes comma-separated thread counts, e.g. 1,2, got '{threads}'")
    with progress("calibrating", total=None) as update:
        data = calibrate(power_w, process_nm, year, counts, quick, seed, name,
                         lambda message: update(message), clock_mhz)  # fmt: skip
    text = yaml.safe_dump(data, sort_keys=False, width=100)
    parse_platform(text, str(out_path))  # what is written loads as a platform
    write_text(out_path, text)
    out.print(f"wrote {out_path}: {name}, {data['description']}")


WorkerCount = Annotated[
    int,
    typer.Option(
        "--workers", min=1,
        help="measure on this many processes, a local Ray started and stopped here (needs "
        "edgegap[ray]; 1: this process, no Ray)",
    ),
]  # fmt: skip
RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="measure on the Ray cluster at this address (e.g. 10.0.0.5:6379, from `ray "
        "start --head`); --workers then caps the workers, default one per CPU there",
    ),
]
ResultsFile = Annotated[
    Path | None,
    typer.Option(
        "--results",
        help="JSON-lines file of finished measurements, written as each finishes; a rerun "
        "with it skips them (resumes an interrupted search)",
    ),
]


def _workers(count: int, address: str | None, results: Path | None) -> Any:
    from edgegap.runner import Workers

    return Workers(count, address, results)


def _report_failures(outcomes: Sequence[Any]) -> None:
    """Each failed task on its own line, with its input; then exit code 3."""
    failed = [outcome for outcome in outcomes if outcome.result is None]
    for outcome in failed:
        err.print(f"error: {_one_line(outcome.describe())}", markup=False, highlight=False,
                  soft_wrap=True)  # fmt: skip
    if failed:
        raise typer.Exit(EXIT_TASKS_FAILED)


@app.command("compress")
@user_errors
def compress_command(
    model: Annotated[
        str | None, typer.Argument(help="lenet-300-100, lenet-5 or mnist1d-cnn (not with --grid)")
    ] = None,
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
    grid: Annotated[
        Path | None,
        typer.Option(
            "--grid",
            help="a YAML grid: model, dataset and a list of recipes (or 'vary' ranges), each "
            "measured; a table of them in the file's order",
        ),
    ] = None,
    results: ResultsFile = None,
    workers: WorkerCount = 1,
    ray_address: RayAddress = None,
    format: Annotated[
        Format, typer.Option("--format", help="table or json (--grid: csv too)")
    ] = Format.table,
) -> None:
    """Compress a small model for real and measure every stage: accuracy, bytes, MACs, energy.
    --recipe is deep-compression or a YAML file of steps (`- prune: 0.9`, `- weight-sharing:
    5`, `- huffman`; `edgegap techniques` lists them); --dataset a built-in name or a
    directory (ImageFolder, MNIST idx, CIFAR-10 binary). --grid measures many recipes, on
    --workers processes or a Ray cluster; exit code 3 when some failed."""
    if grid is not None:
        given = {"MODEL": model is not None, "--dataset": dataset is not None,
                 "--recipe": recipe != "deep-compression", "--target": target is not None,
                 "--quick": quick}  # fmt: skip
        clash = [name for name, used in given.items() if used]
        if clash:
            raise UserError(f"--grid takes its {', '.join(clash)} from the grid file: remove "
                            f"{'it' if len(clash) == 1 else 'them'} from the command")  # fmt: skip
        _compress_grid(grid, _workers(workers, ray_address, results), format)
        return
    if model is None:
        from typer._click.globals import get_current_context

        raise UsageError("Missing argument 'MODEL' (or --grid FILE.yaml)", get_current_context())
    if (workers, ray_address, results) != (1, None, None):
        raise UserError("--workers, --ray-address and --results measure a --grid; a single "
                        "recipe runs here")  # fmt: skip
    if format is Format.csv:
        raise UserError("--format csv is for --grid; use table or json")
    from edgegap.compress.recipes import compress

    platform = load_platform(target) if target is not None else None
    with progress("training") as update:

        def step(name: str) -> None:
            update(f"measured {name}")

        result = compress(model, recipe, dataset, platform, quick, progress=step)
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(json.dumps(result.to_dict(), indent=1) + "\n")
        return
    columns = [
        Column("stage", text=True, wrap=16), Column("test accuracy"), Column("bytes"),
        Column("ratio"),
        Column("weights kept"), Column("MACs"), Column("energy"),
    ]  # fmt: skip
    rows = [
        [
            stage.name, f"{stage.accuracy:.2%}", f"{stage.bytes:,}",
            f"{result.stages[0].bytes / stage.bytes:.1f}x", f"{stage.weights_kept:.1%}",
            si(stage.macs), si(stage.energy_j, "J") if stage.energy_j is not None else "",
        ]
        for stage in result.stages
    ]  # fmt: skip
    caption = (
        f"{result.compression_ratio:.1f}x smaller at {result.accuracy_drop_pp:+.2f} pp "
        "accuracy drop (bytes exact, accuracy on the held-out test split)"
    )
    out.print(table(f"{recipe} of {model} on {result.dataset}", columns, rows, caption))


def _compress_grid(path: Path, workers: Any, format: Format) -> None:
    """`compress --grid`: every recipe of the grid measured, in the file's order."""
    from edgegap.compress.grid import recipe_label, run_grid

    with progress("measuring recipes") as update:
        result = run_grid(path, workers, lambda done, total: update(completed=done, total=total))
    rows: list[dict[str, Any]] = []
    for outcome in result.outcomes:
        label = recipe_label(outcome.task.input["recipe"])
        if outcome.result is None:
            rows.append({"recipe": label, "error": outcome.error})
            continue
        found, last = outcome.result, outcome.result["stages"][-1]
        rows.append({"recipe": label, "accuracy": last["accuracy"],
                     "accuracy_drop_pp": found["accuracy_drop_pp"], "bytes": last["bytes"],
                     "compression_ratio": found["compression_ratio"],
                     "weights_kept": last["weights_kept"], "macs": last["macs"],
                     "energy_j": last["energy_j"], "error": None})  # fmt: skip
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(json.dumps(result.to_dict(), indent=1) + "\n")
    elif format is Format.csv:
        buffer = io.StringIO()
        fields = ["recipe", "accuracy", "accuracy_drop_pp", "bytes", "compression_ratio",
                  "weights_kept", "macs", "energy_j", "error"]  # fmt: skip
        writer = csv.DictWriter(buffer, fields, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
        sys.stdout.write(buffer.getvalue())
    else:
        columns = [
            Column("recipe", text=True, wrap=24), Column("test accuracy"), Column("drop"),
            Column("bytes"), Column("ratio"), Column("weights kept"), Column("MACs"),
            Column("energy"),
        ]  # fmt: skip
        cells = [
            [row["recipe"], "failed", "", "", "", "", "", ""] if row["error"] is not None else [
                row["recipe"], f"{row['accuracy']:.2%}", f"{row['accuracy_drop_pp']:+.2f} pp",
                f"{row['bytes']:,}", f"{row['compression_ratio']:.1f}x",
                f"{row['weights_kept']:.1%}", si(row["macs"]),
                si(row["energy_j"], "J") if row["energy_j"] is not None else "",
            ]
            for row in rows
        ]  # fmt: skip
        grid = result.grid
        dense = next((o.result["baseline"] for o in result.outcomes if o.result), None)
        caption = (
            f"dense: {dense['accuracy']:.2%}, {dense['bytes']:,} bytes; " if dense else ""
        ) + (f"{grid.dense_epochs} dense epochs, seed {grid.seed}; bytes exact, accuracy on "
             "the held-out test split")  # fmt: skip
        title = f"{len(rows)} recipes of {grid.model} on {grid.dataset}"
        out.print(table(title, columns, cells, caption))
    _report_failures(result.outcomes)


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
    dtype: Annotated[str | None, typer.Option(help=DTYPE_HELP)] = None,
    format: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table,
    no_fuse: NoFuse = False,
) -> None:
    """Sweep array shape, dataflow and buffer size; print the Pareto front (latency, energy,
    area)."""
    from edgegap.bridges.sweep import parse_range, sweep
    from edgegap.hardware import deployment_precision

    sizes = parse_range(array, "array")
    buffers = parse_range(sram_kb, "sram-kb")
    platform = load_platform(target)
    platform = platform.without_fusion() if no_fuse else platform
    dtype = dtype or deployment_precision(platform)
    workload = profile(model, None, dtype)
    with progress("evaluating designs") as update:
        result = sweep(
            workload, platform, sizes, sizes, buffers, dataflow.split(","),
            progress=lambda done, total: update(completed=done, total=total),
        )  # fmt: skip
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(json.dumps(result.to_dict(), indent=1) + "\n")
        return
    columns = [
        Column("array"), Column("SRAM KB"), Column("dataflow"), Column("latency"),
        Column("energy"), Column("area mm²"),
    ]  # fmt: skip
    rows = [
        [
            str(record["array"]), str(record["sram_kb"]), str(record["dataflow"]),
            si(record["latency_s"], "s"), si(record["energy_j"], "J"), f"{record['area_mm2']:.3g}",
        ]
        for record in result.pareto.to_dict(orient="records")
    ]  # fmt: skip
    caption = (
        f"{len(result.designs):,} designs in {result.elapsed_s:.2f} s; area = MAC array + buffer "
        "at TPU v1 floor-plan densities scaled to the node"
    )
    title = f"{model} at {dtype} on {platform.name} variants: Pareto front"
    out.print(table(title, columns, rows, caption))


@app.command("bridges")
@user_errors
def bridges_command(
    model: ModelArgument,
    target: Annotated[str, typer.Option("--target", help="baseline platform")] = "eyeriss",
    dtype: Annotated[str | None, typer.Option(help=DTYPE_HELP)] = None,
    node: Annotated[float, typer.Option("--node", help="process node for the scaling bridge")] = 5,
    scaling_ends: Annotated[
        str, typer.Option(help="node (nm) below which scaling stops helping, or 'none'")
    ] = "5",
    spikes_per_neuron: Annotated[
        float, typer.Option(help="spikes per neuron per inference for the spiking bridge")
    ] = 1.0,
    format: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table,
    no_fuse: NoFuse = False,
) -> None:
    """Every architecture bridge on one workload against a baseline platform."""
    from edgegap.bridges import evaluate_bridges

    options: dict[str, dict[str, Any]] = {
        "scaling": {"node_nm": node, "scaling_ends_nm": _scaling_ends(scaling_ends)},
        "spiking": {"spikes_per_neuron": spikes_per_neuron},
    }
    from edgegap.hardware import deployment_precision

    platform = load_platform(target)
    platform = platform.without_fusion() if no_fuse else platform
    dtype = dtype or deployment_precision(platform)
    report = evaluate_bridges(profile(model, None, dtype), platform, options)
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(json.dumps(report.to_dict(), indent=1) + "\n")
        return
    base = report.baseline.totals
    columns = [
        Column("bridge", text=True, wrap=18), Column("latency"), Column("energy"),
        Column("area"), Column("speed-up"), Column("energy saved"),
        Column("largest", text=True, wrap=10, hide=1),
    ]  # fmt: skip
    area = report.platform.area_mm2
    rows = [[
        "baseline", si(base.latency_s, "s"), si(base.energy_j, "J"),
        f"{area:.3g} mm²" if area else "-", "x1", "x1", _largest(base.energy_breakdown),
    ]]  # fmt: skip
    sources: dict[str, int] = {}
    for result in report.results:
        totals, bridge = result.cost.totals, result.bridge
        marks = [sources.setdefault(s, len(sources) + 1) for s in bridge.sources]
        rows.append([
            f"{bridge.name} [{','.join(map(str, marks))}]", si(totals.latency_s, "s"),
            si(totals.energy_j, "J"), f"{bridge.area_mm2:.3g} mm²" if bridge.area_mm2 else "-",
            f"x{result.latency_factor:.3g}", f"x{result.energy_factor:.3g}",
            _largest(totals.energy_breakdown),
        ])  # fmt: skip
    notes = [f"{s.name}: skipped, {s.reason}" for s in report.skipped]
    notes += [f"[{number}] {source}" for source, number in sources.items()]
    title = f"{report.model} at {dtype} on {report.platform.name}: architecture bridges"
    out.print(table(title, columns, rows, "\n".join(notes)))


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
    memory_mb: Annotated[
        float | None,
        typer.Option(
            help="memory budget for weights plus peak activations (default: the platform's "
            "capacities, where the model's weights and activations live)"
        ),
    ] = None,
    power_w: Annotated[
        float | None,
        typer.Option(help="average power budget at --fps (default: the platform's budget)"),
    ] = None,
    fps: Annotated[
        float | None,
        typer.Option(
            "--fps",
            help="frame rate to sustain, power checked at it (default: 30, or the slower rate "
            "the latency budget allows)",
        ),
    ] = None,
    change: Annotated[
        str,
        typer.Option(
            "--change",
            help="what the plan may change: model (quantization, pruning, factorisation, "
            "algorithm), hardware (the architecture group) or both",
        ),
    ] = "model",
    dtype: Annotated[
        str | None,
        typer.Option(
            help="precision of the baseline, e.g. int8, float32 (default: the platform's "
            "deployment precision)"
        ),
    ] = None,
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
    results: ResultsFile = None,
    workers: WorkerCount = 1,
    ray_address: RayAddress = None,
    format: Annotated[Format, typer.Option("--format", help="table or json")] = Format.table,
    no_fuse: NoFuse = False,
    tokens_per_s: Annotated[
        float | None,
        typer.Option(
            "--tokens-per-s",
            help="a language model's decode budget, tokens per second (a decode step after "
            "--context tokens): plans its weight format and KV-cache type",
        ),
    ] = None,
    context: Annotated[
        int | None, typer.Option(help="tokens in the KV cache of the planned decode step")
    ] = None,
    tokens: Annotated[
        int | None,
        typer.Option(
            help=f"prompt tokens of the prefill --ttft-ms is for (default {PROMPT_TOKENS})"
        ),
    ] = None,
    batch: Annotated[
        int | None, typer.Option("--batch", min=1, help="sequences decoded at once (default 1)")
    ] = None,
    ttft_ms: Annotated[
        float | None,
        typer.Option(help="time-to-first-token budget: the prefill of --tokens prompt tokens"),
    ] = None,
    max_ppl_increase: Annotated[
        float | None,
        typer.Option(help="largest perplexity increase over F16 allowed (a language model's)"),
    ] = None,
) -> None:
    """Close the gap for MODEL on TARGET: the gap against every budget (the ones given, and
    the platform's memory and power), then the combination of techniques that meets them with
    the least accuracy loss (published for torchvision models, measured with --dataset for
    lenet-300-100, lenet-5 and mnist1d-cnn, on --workers processes or a Ray cluster). With
    --tokens-per-s, a language model's decode step after --context tokens: the weight format
    and KV-cache type that meet its budgets with the least published perplexity increase.
    Exit code 1 when no combination meets them, 3 when a measurement failed."""
    from edgegap.plan import Budget, plan_for
    from edgegap.plan.search import as_change

    given = {"--latency-ms": latency_ms, "--energy-mj": energy_mj, "--memory-mb": memory_mb,
             "--power-w": power_w, "--fps": fps, "--tokens-per-s": tokens_per_s,
             "--ttft-ms": ttft_ms}  # fmt: skip
    for option, value in given.items():
        _positive(option, value)
    if max_ppl_increase is not None and not 0 <= max_ppl_increase < math.inf:
        raise UserError(f"--max-ppl-increase takes a number >= 0, not {max_ppl_increase:g}")
    generative = {"--context": context, "--tokens": tokens, "--batch": batch,
                  "--ttft-ms": ttft_ms, "--max-ppl-increase": max_ppl_increase}  # fmt: skip
    if tokens_per_s is None:
        stray = [option for option, value in generative.items() if value is not None]
        if stray:
            raise UserError(f"{stray[0]} plans a language model's decode: give --tokens-per-s")
    else:
        image = {"--latency-ms": latency_ms, "--energy-mj": energy_mj, "--fps": fps,
                 "--max-accuracy-drop": max_accuracy_drop}  # fmt: skip
        stray = [option for option, value in image.items() if value is not None]
        if stray:
            raise UserError(f"{stray[0]} is an image model's budget: a language model's plan "
                            "takes --tokens-per-s, --ttft-ms, --memory-mb, --power-w")  # fmt: skip
        if context is None:
            raise UserError("--tokens-per-s is a decode step's rate: give --context, the tokens "
                            "in its KV cache (>= 1)")  # fmt: skip
        if tokens is not None and ttft_ms is None:
            raise UserError("--tokens is the prompt --ttft-ms is for: give --ttft-ms")
    per_pass = None if tokens_per_s is None else batch or 1
    budget = Budget(
        latency_ms / 1e3 if latency_ms is not None else None,
        energy_mj / 1e3 if energy_mj is not None else None,
        memory_mb * 1e6 if memory_mb is not None else None,
        power_w,
        fps if tokens_per_s is None else tokens_per_s / (per_pass or 1),
        per_pass=per_pass,
        ttft_s=ttft_ms / 1e3 if ttft_ms is not None else None,
    )
    kind = as_change(change)
    measuring = _workers(workers, ray_address, results)
    if dataset is None and (workers, ray_address, results) != (1, None, None):
        raise UserError("--workers, --ray-address and --results measure losses: give --dataset")
    platform = load_platform(target)
    platform = platform.without_fusion() if no_fuse else platform
    with progress("searching combinations of techniques") as update:

        def step(message: str) -> None:
            update(message)

        result = plan_for(model, platform, budget,
                          max_accuracy_drop if per_pass is None else max_ppl_increase, dataset,
                          step, kind, dtype, measuring, context or 0,
                          tokens or PROMPT_TOKENS)  # fmt: skip
    record = result.to_dict()
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(json.dumps(record, indent=1) + "\n")
    else:
        _print_plan(model, result, record)
    for failure in result.failures:
        err.print(f"error: {_one_line(failure)}", markup=False, highlight=False, soft_wrap=True)
    if result.failures:
        raise typer.Exit(EXIT_TASKS_FAILED)  # the search left out what it could not measure
    if not result.meets_budget:
        raise typer.Exit(1)  # CI can gate on it: 1 is a plan whose budgets are not met


def _latency_span(latency_s: float, interval: dict[str, Any] | None) -> str:
    """ "173ms (166-312)" from a JSON interval record, or "173ms (not validated)"."""
    if interval is None:
        return f"{si(latency_s, 's')} (not validated)"
    return si_range(latency_s, interval["low_s"], interval["high_s"], "s")


def _baseline_range(result: Plan, record: dict[str, Any]) -> str:
    """The baseline's latency range in words, or why there is none."""
    from edgegap.hardware.intervals import not_validated

    found, baseline = result.interval(), record["baseline"]
    if found is None:
        return f"latency range: {not_validated(result.platform)}"
    low, high = baseline["interval"]["low_s"], baseline["interval"]["high_s"]
    return (f"latency range: {_si_span(low, high, 's')} for the baseline's estimated "
            f"{si(baseline['latency_s'], 's')} ({found.text})")  # fmt: skip


def _print_plan(model: str, result: Plan, record: dict[str, Any]) -> None:
    from edgegap.plan.search import PERPLEXITY

    def line(text: str) -> None:
        out.print(text, markup=False, highlight=False)

    precision, loss, generation = record["precision"], result.loss_key, result.generation

    def cost(value: float) -> str:
        """A quality cost in its units: "2.6 pp" of accuracy, "+0.175" of perplexity."""
        return f"+{value:.3g}" if generation else f"{value:.2g} pp"

    out.print(f"[bold]{model} on {result.platform.name}[/bold]", highlight=False)
    if generation:
        decode = result.phases[0]
        line(
            f"baseline: one decode step after {decode.context} tokens (batch {decode.batch}) "
            f"at {precision['name']}: {precision['origin']}"
        )
        line(
            f"searched: {', '.join(record['searched'])}, at most one of each, at the types "
            f"with a published {PERPLEXITY}; each increase was measured on a reference model "
            f"and is transferred to {model}, not measured for it"
        )
    else:
        line(
            f"baseline: {precision['name']} ({precision['origin']}), accuracy loss "
            f"{cost(precision[loss])} from float32: {precision['source']}"
        )
        others = {"model": "--change hardware or both to change the chip",
                  "hardware": "--change model or both to change the model",
                  "both": "every group"}  # fmt: skip
        narrower = (
            f"; number formats narrower than {precision['name']} only"
            if result.change != "hardware"
            else ""
        )
        line(
            f"searched (--change {result.change}): {', '.join(record['searched'])}{narrower}; "
            f"{others[result.change]}"
        )
    line("budgets, against the baseline:")
    for text in record["gap"]:
        line(f"  {text}")
    if result.budget.latency_s is not None:  # where the plan states the baseline's latency
        line(f"  {_baseline_range(result, record)}")
    unmet = record["estimate"]["unmet"]
    verdict = "meets every budget" if result.meets_budget else (
        f"does NOT meet every budget: {', '.join(unmet) or 'the model does not fit'}"
    )  # fmt: skip
    quality = "perplexity increase" if generation else "accuracy loss"
    columns = [
        Column("step", text=True), Column("setting", text=True, wrap=12),
        Column("tokens/s" if generation else "latency"), Column("energy"), Column("memory"),
        Column(quality),
    ]  # fmt: skip
    rows: list[list[str]] = []
    sources: dict[str, int] = {}
    for row in record["recipe"]:
        c = row["contribution"]
        mark = sources.setdefault(row["source"], len(sources) + 1)
        rows.append([
            f"{row['technique']} [{mark}]", row["setting"], f"x{c['latency_factor']:.3g}",
            f"x{c['energy_factor']:.3g}", f"x{c['memory_factor']:.3g}", cost(c[loss]),
        ])  # fmt: skip
    estimate_ = record["estimate"]
    interval = estimate_["interval"]
    latency = estimate_["latency_s"]
    budget = result.budget
    if generation:
        ttft = estimate_["ttft_s"]
        speed = (
            f"{estimate_['tokens_per_s']:.3g} tokens/s ({si(latency, 's')} a step)"
            + (f", {si(ttft, 's')} to the first token" if ttft is not None else "")
            + f", {si(estimate_['energy_j'] / (budget.per_pass or 1), 'J')} a token"
        )
    else:
        speed = f"{_latency_span(latency, interval)}, {si(estimate_['energy_j'], 'J')}"
    included = "" if generation else f", the baseline's {cost(precision[loss])} included"
    caption = (
        f"{speed}, {si(estimate_['memory_bytes'], 'B')}, {si(estimate_['power_w'], 'W')} at "
        f"{budget.shown(budget.rate):.3g} {budget.unit}, {quality} "
        f"{cost(estimate_[loss])} ({estimate_['accuracy_source']}{included}); "
        f"{record['candidates_evaluated']} combinations"
    )
    if (found := result.interval(result.recipe)) is not None:
        caption += f"\nlatency (range): {found.text}"
    elif result.interval() is not None:
        caption += (
            "\nthe recipe changes the chip, which the validation rows do not describe: "
            "its latency is not validated"
        )
    caption += "".join(f"\n[{number}] {source}" for source, number in sources.items())
    out.print(table(f"recipe ({verdict})", columns, rows, caption))
    if generation:
        front = [
            [point["recipe"], f"{point['tokens_per_s']:.3g}", si(point["memory_bytes"], "B"),
             cost(point[loss])]
            for point in record["pareto"]
        ]  # fmt: skip
        columns = [Column("recipe", text=True, wrap=30), Column("tokens/s"), Column("memory"),
                   Column(quality)]  # fmt: skip
        title = "Pareto front: perplexity increase vs tokens/s vs memory"
    else:
        front = [
            [point["recipe"], si(point["latency_s"], "s"), si(point["energy_j"], "J"),
             cost(point[loss])]
            for point in record["pareto"]
        ]  # fmt: skip
        columns = [Column("recipe", text=True, wrap=30), Column("latency"), Column("energy"),
                   Column(quality)]  # fmt: skip
        title = "Pareto front: accuracy loss vs latency vs energy"
    out.print(table(title, columns, front))
    for check in estimate_["budgets"]:
        if not check["met"]:
            line(f"recipe: {check['text']}")


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
    pico = 1e-12
    quantities = [  # name, before, after, unit (SI prefixes on it)
        ("clock", before.compute.clock_mhz * 1e6, after.compute.clock_mhz * 1e6, "Hz"),
        ("peak", before.peak_ops_per_s, after.peak_ops_per_s, "OP/s"),
        *((f"MAC energy {p}", e * pico, after.compute.mac_energy_pj[p] * pico, "J")
          for p, e in before.compute.mac_energy_pj.items()),
        *((f"{level.name} energy", level.energy_pj_per_bit * pico,
           new.energy_pj_per_bit * pico, "J/bit")
          for level, new in zip(before.memory, after.memory, strict=True)),
    ]  # fmt: skip
    rows = [[name, si(old, unit), si(new, unit), f"x{new / old:.3g}"]
            for name, old, new, unit in quantities]  # fmt: skip
    if before.area_mm2 and after.area_mm2:
        factor = after.area_mm2 / before.area_mm2
        rows.append(["area", f"{before.area_mm2:.3g} mm²", f"{after.area_mm2:.3g} mm²",
                     f"x{factor:.3g}"])  # fmt: skip
    columns = [Column("quantity", text=True), Column("before"), Column("after"), Column("factor")]
    title = f"{before.name}: {before.process_nm:g} nm -> {node:g} nm"
    out.print(table(title, columns, rows, after.notes.split(". ")[0] + "."))


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
        write_figures(trends, staging)
        (staging / "trends.json").write_text(record + "\n", encoding="utf-8")
    if format in (Format.json, Format.jsonl):
        sys.stdout.write(record + "\n")
        return
    out.print(_trends_table(trends))
    err.print(f"wrote figures and trends.json to {out_dir}/")


def _trends_table(trends: Trends) -> Stack:
    from edgegap.trends.fits import NO_TREND, Fit

    def interval(fit: Fit, bounds: tuple[float, float]) -> str:
        low, high = fit.rate.factor_interval(bounds) if fit.per_year else bounds
        return f"[{low:.3g}, {high:.3g}]"

    columns = [
        Column("trend", text=True), Column("n"), Column("R²"),
        Column("x per year | slope", text=True), Column("t 95%", hide=2),
        Column("bootstrap 95%", hide=1), Column("p"), Column("significant", text=True),
    ]  # fmt: skip
    rows = [
        [
            name, str(fit.n), f"{fit.r2:.2f}",
            f"x{fit.rate.factor:.3g}" if fit.per_year else f"{fit.slope:.3g} (decades/decade)",
            interval(fit, fit.t_ci95), interval(fit, fit.boot_ci95), f"{fit.p_value:.2g}",
            "yes" if fit.significant else NO_TREND,
        ]
        for name, fit in trends.fits.items()
    ]  # fmt: skip
    growth = trends.gaps["growth"]
    said = [growth[key]["statement"] for key in (
        "performance_gap_growth_per_year", "energy_gap_growth_per_year"
    )]  # fmt: skip
    title = "Fitted trends (log10 y = a + b x; 95% t and seeded-bootstrap intervals)"
    return table(title, columns, rows, " ".join(f"{line}." for line in said))


def main() -> None:
    app()
