"""Benchmark edgegap against the MAC counters people already use, and check its memory claim.

Two sections, each written into docs/benchmarks.md (the other section is kept):

- speed: for each model, MACs, error against torchvision's published `_ops`, and seconds for
  edgegap and each peer. edgegap's claim is to be exact and >= 3x faster than the fastest peer
  from the same start: a built CPU model (the peers' only input), or a model name (a peer's
  user builds the model first).
- memory: peak resident memory of `edgegap profile vit_h_14` as a whole process, next to a
  bare `import torch, torchvision` and a process that builds vit_h_14 with real weights.
  edgegap's claim is under 1 GB, where fp32 weights alone are 2.5 GB.

Run: .venv/bin/python benchmarks/profile_vs_peers.py [--only speed|memory]
(the speed section about 9 minutes, most of it the fresh processes of the first calls)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import importlib
import importlib.metadata
import io
import logging
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from docs_section import write_section
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import edgegap
from edgegap.workload import zoo

MODELS = ("resnet50", "vit_b_16", "swin_t", "efficientnet_b0", "convnext_tiny")
SHAPE = (1, 3, 224, 224)
REPEATS = 5
FRESH_PROCESSES = 3  # first calls, each in a new process
SPEED_GOAL = 3.0
PEERS = ("fvcore", "ptflops", "thop", "torchprofile")
# _ops is published to 3 decimals of GMACs: exact means within half of the last digit.
EXACT_GMACS = 0.0005
SPEED_HEADING = "## Counting MACs: edgegap vs peers"
MEMORY_HEADING = "## Peak memory: `edgegap profile vit_h_14`"
MEMORY_LIMIT_BYTES = 10**9


# ---------------------------------------------------------------------------- the counters
# Each peer takes an already-built CPU model and a real input; it runs a real forward pass.
# Each returns MACs. Imports happen inside, so a missing peer fails only its own cells.


def count_fvcore(model: nn.Module, x: torch.Tensor) -> float:
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(model, x)  # fvcore's "flops" are MACs (one per multiply-add)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return float(analysis.total())


def count_ptflops(model: nn.Module, x: torch.Tensor) -> float:
    from ptflops import FLOPS_BACKEND, get_model_complexity_info

    backend = "aten" if "ATEN" in FLOPS_BACKEND.__members__ else "pytorch"
    macs, _ = get_model_complexity_info(
        model, tuple(x.shape[1:]), as_strings=False, print_per_layer_stat=False, backend=backend
    )
    return float(macs)


def count_thop(model: nn.Module, x: torch.Tensor) -> float:
    from thop import profile

    macs, _ = profile(model, inputs=(x,), verbose=False)
    return float(macs)


def count_torchprofile(model: nn.Module, x: torch.Tensor) -> float:
    from torchprofile import profile_macs

    return float(profile_macs(model, x))


def count_flop_counter(model: nn.Module, x: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() / 2  # torch counts 2 FLOPs per multiply-add


def count_edgegap_cpu(model: nn.Module, x: torch.Tensor) -> float:
    return edgegap.profile(model, tuple(x.shape)).totals.macs


@dataclass(frozen=True)
class Tool:
    label: str
    package: str | None  # the distribution that must be installed; None: always present
    count: Callable[[nn.Module, torch.Tensor], float]
    includes: str
    # what its user imports first (the fresh processes do, untimed)
    modules: tuple[str, ...] = ()


PEER_TOOLS = (
    Tool("fvcore", "fvcore", count_fvcore, "jit trace + forward of a built CPU model",
         ("fvcore.nn",)),
    Tool("ptflops", "ptflops", count_ptflops, "forward of a built CPU model (backend noted)",
         ("ptflops",)),
    Tool("thop", "thop", count_thop, "hooked forward of a built CPU model", ("thop",)),
    Tool("torchprofile", "torchprofile", count_torchprofile, "jit trace of a built CPU model",
         ("torchprofile",)),
    Tool("FlopCounterMode", None, count_flop_counter, "forward of a built CPU model"),
)  # fmt: skip
# edgegap imports its workload modules on first use, as its command line starts faster so:
# the fresh processes import them first, as a peer's user imports the peer
EDGEGAP_MODULES = tuple(
    f"edgegap.workload.{name}"
    for name in ("profile", "tracer", "detection", "real_tensors", "zoo", "hf_models", "library")
)
EDGEGAP_CPU = Tool(
    "edgegap (CPU model)",
    None,
    count_edgegap_cpu,
    "`edgegap.profile(model, shape)` on a built CPU model: traced on meta inputs through a "
    "copy of its module tree that shares its weights, so no kernel computes; torch's common "
    "leaf modules (convolution, normalisation, activation, linear) hand their operators to "
    "the recorder from their call (`workload.module_calls`)",
    EDGEGAP_MODULES,
)


# ---------------------------------------------------------------------------- measurement


@dataclass(frozen=True)
class Cell:
    macs: float | None = None
    seconds: float | None = None
    first_seconds: float | None = None  # the median first call of fresh processes
    note: str = ""


def installed(package: str | None) -> bool:
    return package is None or version(package) != "not installed"


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Peers print tables and warnings on every call; keep the benchmark output readable."""
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def _failure(error: Exception) -> Cell:
    reason = (str(error).strip().splitlines() or [""])[0][:60]
    return Cell(note=f"failed: {type(error).__name__}: {reason}".rstrip(": "))


@contextlib.contextmanager
def collector_off() -> Iterator[None]:
    """The garbage collector run, then kept off while timed, as `timeit` does: a full
    collection of this process's objects (0.16 s with the peers imported) would otherwise land
    on whichever call crosses its threshold."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


BUILD = "building the CPU model"


def counter(name: str, label: str) -> Callable[[], float]:
    """What the cell `label` times for model `name`: the by-name call, the build, or a tool
    on its own copy of a CPU model (some attach state to it), built before."""
    if label == "edgegap":
        for module in EDGEGAP_MODULES:
            importlib.import_module(module)
        return lambda: edgegap.profile(name, SHAPE).totals.macs
    if label == BUILD:
        return lambda: float(bool(torchvision.models.get_model(name)))
    tool = next(t for t in (EDGEGAP_CPU, *PEER_TOOLS) if t.label == label)
    for module in tool.modules:
        importlib.import_module(module)
    model, x = torchvision.models.get_model(name).eval(), torch.randn(SHAPE)
    return lambda: tool.count(model, x)


def fresh_first_call(name: str, label: str) -> float | None:
    """One first call in a new process: what a command-line run counting one model pays
    (importing torch, torchvision and the tool, and building the model, excluded; the tool's
    one-time set-up included). None if the process failed."""
    done = subprocess.run(
        [sys.executable, __file__, "--first-call", name, label],
        capture_output=True, text=True, check=False, cwd=Path(__file__).parent,
    )  # fmt: skip
    return float(done.stdout.split()[-1]) if done.returncode == 0 else None


def time_first_call(name: str, label: str) -> None:
    """In a fresh process (`fresh_first_call`): one call of the cell, timed, its seconds
    printed last."""
    with quiet():
        call = counter(name, label)
        with collector_off():
            start = time.perf_counter()
            call()
            elapsed = time.perf_counter() - start
    print(elapsed)


def measure_model(name: str) -> dict[str, Cell]:
    """Every tool on one model, from the same start, side by side: one warm-up call each,
    then REPEATS rounds of one timed call per tool (the best kept), then FRESH_PROCESSES
    rounds of one fresh process per tool (the median kept), so that the machine's drift
    reaches every tool alike. `BUILD` times what a peer's user pays before counting a model
    they know by name. A tool that fails gets a note."""
    packages = {tool.label: tool.package for tool in (EDGEGAP_CPU, *PEER_TOOLS)}
    labels = ["edgegap", BUILD, EDGEGAP_CPU.label, *(tool.label for tool in PEER_TOOLS)]
    cells: dict[str, Cell] = {}
    calls: dict[str, Callable[[], float]] = {}
    macs: dict[str, float] = {}
    with quiet(), collector_off():
        for label in labels:
            if not installed(packages.get(label)):
                cells[label] = Cell(note="not installed")
                continue
            try:
                calls[label] = counter(name, label)
                macs[label] = calls[label]()
            except Exception as error:
                cells[label] = _failure(error)
                calls.pop(label, None)
        times: dict[str, list[float]] = {label: [] for label in calls}
        for _ in range(REPEATS):
            for label, call in calls.items():
                start = time.perf_counter()
                call()
                times[label].append(time.perf_counter() - start)
    firsts: dict[str, list[float | None]] = {label: [] for label in calls}
    for _ in range(FRESH_PROCESSES):
        for label in calls:
            firsts[label].append(fresh_first_call(name, label))
    for label in calls:
        done = [seconds for seconds in firsts[label] if seconds is not None]
        first = statistics.median(done) if len(done) == FRESH_PROCESSES else None
        cells[label] = Cell(macs[label], min(times[label]), first)
    return {label: cells[label] for label in labels}


# ---------------------------------------------------------------------------- the doc


def cpu_model() -> str:
    text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def provenance(threads: bool) -> str:
    command = shlex.join([".venv/bin/python", "benchmarks/profile_vs_peers.py", *sys.argv[1:]])
    threads_text = (
        f", torch.set_num_threads({torch.get_num_threads()}), the machine's default"
        if threads
        else ""
    )
    return (
        f"Produced by `{command}` on {datetime.date.today().isoformat()}; "
        f"CPU: {cpu_model()} ({os.cpu_count()} logical cores{threads_text}); "
        f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
        f"Python {platform.python_version()}."
    )


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    aligns = ["---"] + ["---:"] * (len(header) - 1)
    lines = [header, aligns, *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


# ---------------------------------------------------------------------------- speed


def is_exact(macs: float | None, published: float) -> bool:
    return macs is not None and abs(macs / 1e9 - published) <= EXACT_GMACS


def detail_rows(name: str, published: float, cells: dict[str, Cell]) -> list[list[str]]:
    rows = []
    for label, cell in cells.items():
        if label == BUILD:
            continue
        if cell.macs is None or cell.seconds is None:
            rows.append([name, label, cell.note, "", "", "", ""])
            continue
        gmacs = cell.macs / 1e9
        # Against the published precision: a count that rounds to `_ops` has no error.
        error = 100 * (round(gmacs, 3) - published) / published
        exact = "yes" if is_exact(cell.macs, published) else "no"
        rows.append(
            [
                name,
                label,
                f"{gmacs:.3f}",
                f"{error:+.2f}",
                exact,
                f"{cell.seconds:.3f}",
                f"{cell.first_seconds:.3f}",
            ]
        )
    return rows


def _ratio(peer: float | None, mine: float | None) -> str:
    if peer is None or mine is None:
        return "n/a"
    verdict = "" if peer / mine >= SPEED_GOAL else " (below goal)"
    return f"{peer / mine:.2f}x{verdict}"


def summary_row(name: str, meta: dict[str, float], cells: dict[str, Cell]) -> list[str]:
    """The fastest peer against edgegap from the same start, best and first calls."""
    by_name, built, building = cells["edgegap"], cells[EDGEGAP_CPU.label], cells[BUILD]

    def fastest(attribute: str) -> tuple[str, float | None]:
        peers = {tool.label: getattr(cells[tool.label], attribute) for tool in PEER_TOOLS}
        timed = {label: seconds for label, seconds in peers.items() if seconds is not None}
        if not timed:
            return "n/a", None
        best = min(timed, key=lambda label: timed[label])
        return f"{best} ({timed[best]:.3f} s)", timed[best]

    def seconds(cell: Cell, attribute: str) -> str:
        value = getattr(cell, attribute)
        return cell.note if value is None else f"{value:.3f}"

    row = [name, f"{meta['_ops']:.3f}"]
    row.append("yes" if is_exact(by_name.macs, meta["_ops"]) else "no")
    row.append("yes" if edgegap.profile(name, SHAPE).totals.params == meta["num_params"] else "no")
    for attribute in ("seconds", "first_seconds"):
        peer_text, peer = fastest(attribute)
        build = getattr(building, attribute)
        row += [peer_text, seconds(built, attribute), _ratio(peer, getattr(built, attribute))]
        row += [
            seconds(building, attribute),
            seconds(by_name, attribute),
            _ratio(None if peer is None or build is None else peer + build,
                   getattr(by_name, attribute)),
        ]  # fmt: skip
    return row


def speed_section() -> str:
    torch.set_num_threads(len(os.sched_getaffinity(0)))  # what torch picks by itself
    load_before = os.getloadavg()[0]
    details: list[list[str]] = []
    summary: list[list[str]] = []
    for name in MODELS:
        meta = torchvision.models.get_model_weights(name).DEFAULT.meta
        cells = measure_model(name)
        print(f"measured {name}", file=sys.stderr)
        details += detail_rows(name, meta["_ops"], cells)
        summary.append(summary_row(name, meta, cells))
    load_after = os.getloadavg()[0]

    ptflops_backend = "n/a"
    if installed("ptflops"):
        from ptflops import FLOPS_BACKEND

        ptflops_backend = "aten" if "ATEN" in FLOPS_BACKEND.__members__ else "pytorch"
    versions = ", ".join(f"{p} {version(p)}" for p in PEERS)
    summary_header = ["model", "_ops GMACs", "edgegap MACs exact", "edgegap params = num_params"]
    for call in ("", ", first call"):
        summary_header += [
            f"fastest peer{call}",
            f"edgegap on the CPU model s{call}",
            f"speed-up on a built model{call}",
            f"{BUILD} s{call}",
            f"edgegap by name s{call}",
            f"speed-up from a name{call}",
        ]
    detail_header = [
        "model",
        "tool",
        "GMACs",
        "error vs _ops %",
        "exact",
        "seconds (best)",
        "seconds (first call)",
    ]
    includes = "\n".join(
        f"- **{tool.label}**: {tool.includes}." for tool in (EDGEGAP_CPU, *PEER_TOOLS)
    )
    return f"""
{provenance(threads=True)} 1-minute load average {load_before:.2f} before, {load_after:.2f} after.

Peers: {versions}; ptflops backend: `{ptflops_backend}`.

Each tool counts MACs of one image at {SHAPE} (batch 1, random weights, `eval()`), compared
with torchvision's published `_ops` (GMACs of conv, linear and matmul, 3 decimals). "exact"
means within ±{EXACT_GMACS} GMACs of `_ops`, half its last digit; the error is that of the count
rounded to 3 decimals. Seconds are wall-clock (`time.perf_counter`), best of {REPEATS} after one
warm-up, all in one process, the tools side by side (each round times one call of each), the
garbage collector run before and off while timed (as `timeit` does); "first call" is the
median of {FRESH_PROCESSES} first calls, each in a process of its own (side by side too: a round
starts one process a tool), what a command-line run counting one model pays (importing
torch, torchvision and the tool, edgegap's workload modules included, and building the model
excluded; the tool's one-time set-up, such as jit tracing, included). FlopCounterMode counts
as a peer.

Two speed-ups, each from the same start (higher is better; the goal is >= {SPEED_GOAL:g}x):

- **on a built model**: the fastest peer's seconds over `edgegap.profile(model, shape)`'s, on the
  same CPU model;
- **from a name**: the fastest peer's seconds plus {BUILD} with real weights
  (`torchvision.models.get_model(name)`, what its user pays first) over
  `edgegap.profile(name)`'s, which builds the model on the meta device.

What each timing includes:

- **edgegap**: `edgegap.profile(name)`: building the model on the meta device (no weights
  allocated) and tracing it; nothing else to pay.
{includes}

The peers' timings exclude building the model, timed apart ({BUILD}).
Every peer and FlopCounterMode is called as its documentation shows, with no outer
`torch.no_grad()` (thop enters `no_grad` itself).

{markdown_table(summary_header, summary)}

{markdown_table(detail_header, details)}
"""


# ---------------------------------------------------------------------------- memory


def peak_rss(command: list[str]) -> tuple[int, float]:
    """Peak resident bytes and wall seconds of `command`, as `/usr/bin/time -v` reports them."""
    result = subprocess.run(
        ["/usr/bin/time", "-v", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    kbytes = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", result.stderr)
    if kbytes is None or wall is None:
        raise RuntimeError(f"unexpected /usr/bin/time output:\n{result.stderr}")
    hours, minutes, seconds = wall.groups()
    return int(kbytes.group(1)) * 1024, int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)


def memory_section() -> str:
    python = sys.executable
    edgegap_cli = str(Path(python).parent / "edgegap")
    runs = [
        ("baseline: `import torch, torchvision`", [python, "-c", "import torch, torchvision"]),
        (
            "`edgegap profile vit_h_14 --format json > /dev/null`",
            [edgegap_cli, "profile", "vit_h_14", "--format", "json"],
        ),
        (
            "`torchvision.models.vit_h_14()` (real random fp32 weights, CPU)",
            [python, "-c", "import torchvision; torchvision.models.vit_h_14()"],
        ),
    ]
    rows = []
    verdict = ""
    for label, command in runs:
        peak, wall = peak_rss(command)
        print(f"measured {label}: {peak / 1e6:.0f} MB", file=sys.stderr)
        rows.append([label, f"{peak / 1e6:.0f}", f"{peak / 2**20:.0f}", f"{wall:.1f}"])
        if command[0] == edgegap_cli:
            under = "under" if peak < MEMORY_LIMIT_BYTES else "NOT under"
            verdict = f"`edgegap profile vit_h_14` peaks at {peak / 1e6:.0f} MB: {under} 1 GB."
    with torch.device("meta"):
        weights = sum(p.numel() for p in torchvision.models.vit_h_14().parameters())
    table = markdown_table(["process", "peak RSS MB", "peak RSS MiB", "wall s"], rows)
    shape = ",".join(map(str, zoo.default_input_shape("vit_h_14") or ()))
    return f"""
{provenance(threads=False)}

Peak resident set size of a whole process ("Maximum resident set size" of `/usr/bin/time -v`),
one run each. vit_h_14 has {weights / 1e6:.0f} M parameters: {weights * 4 / 1e9:.2f} GB as
fp32. edgegap builds it on the meta device, so no weight is ever allocated, and profiles it at
its default input {shape}. The limit is 1 GB = 10^9 bytes.

{table}

{verdict}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["speed", "memory"], help="run one section only")
    parser.add_argument(
        "--first-call", nargs=2, metavar=("MODEL", "CELL"), help=argparse.SUPPRESS
    )  # a fresh process of `first_call`
    arguments = parser.parse_args()
    if arguments.first_call:
        time_first_call(*arguments.first_call)
        return
    only = arguments.only
    chosen = [only] if only else ["speed", "memory"]
    if "speed" in chosen:
        body = speed_section()
        print(f"{SPEED_HEADING}\n{body}")
        write_section(SPEED_HEADING, body)
    if "memory" in chosen:
        body = memory_section()
        print(f"{MEMORY_HEADING}\n{body}")
        write_section(MEMORY_HEADING, body)
    print("wrote docs/benchmarks.md", file=sys.stderr)


if __name__ == "__main__":
    main()
