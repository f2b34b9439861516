"""Decode and prefill of small language models run for real on this machine's CPU, beside
edgegap's estimate on a calibration of this same CPU (issue 16): writes a section of
docs/generative.md.

Each shipped configuration is built with seeded random weights at fp32 and run on one thread
by two runtimes, the way edgegap counts a step: a preallocated cache (transformers'
StaticCache) into which each step writes its token.

- onnxruntime, the runtime the calibration timed its microbenchmarks in: the step is exported
  to ONNX (`runtime.torch_export_call`) and run in `edgegap measure`'s session
  (`runtime.inference_session`, 1 thread, no spinning), timed by `latency.time_runs`. A
  decode step at context L (`DecodeStep`) takes the cache as inputs, L + 1 slots a layer
  for keys and as many for values, the first L filled, and writes the new token into the
  last, which is `hf_models.cache_assembled`'s cache (the one edgegap profiles). ONNX has no
  in-place write: the exported step writes the token by a ScatterND, which copies the
  layer's cache (edgegap charges the token's row), and expands the grouped-query keys and
  values to every head (edgegap counts one fused attention reading them once). A prefill of
  `--tokens` tokens is the model on its prompt with no cache, as edgegap profiles it. Each
  is run once untimed, then `--steps` times.
- torch (eager, `torch.inference_mode`): a decode step at context L: the cache is prefilled
  with L tokens (not timed), then `--steps` steps are timed one by one (contexts L to
  L + steps - 1). A prefill of `--tokens` tokens into an empty cache is timed `--steps`
  times after one untimed.

Each timing keeps wall and process CPU time; the table quotes the fastest and the median
wall time and the fastest CPU time, and the errors are against the fastest CPU time, as
`benchmarks/validate_host.py` compares the zoo: at one thread it is the time the core worked,
where wall time on a shared machine adds the waits for a core, and the fastest because this
virtual machine's cores slow down for seconds at a time while a neighbour is busy.

The estimate is `edgegap.estimate` of the profiled step (`edgegap profile hf:NAME --phase
decode --context L`, fp32) on the calibrated platform, which must have been calibrated on
this CPU (`edgegap calibrate --threads 1`); nothing of the calibration was set from these
runs. For onnxruntime, also the estimate of the exported file itself (`edgegap profile
step.onnx`, the program those runs ran, its cache copies and expanded keys included): the
first estimate is of the step as edgegap counts it, what a runtime that reads the cache once
does; the second checks the cost model on the very program that was timed. Beside them the
simplest baseline: the step's weight bytes over the calibration's DRAM streaming rate
(decode) and its MACs over the calibrated dense peak (prefill).

    .venv/bin/python benchmarks/generative_host.py --platform my_cpu.yaml
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import onnxruntime as ort  # type: ignore[import-untyped]
import torch
from docs_section import write_section

import edgegap
from edgegap.hardware import estimate, load_platform
from edgegap.host import cpu_features
from edgegap.measure.latency import time_runs
from edgegap.measure.runtime import inference_session, torch_export_call
from edgegap.precision import OPS_PER_MAC
from edgegap.workload import hf_models
from edgegap.workload.phases import Phase

DOC = Path(__file__).resolve().parent.parent / "docs" / "generative.md"
HEADING = "## Decode and prefill measured on this CPU (`benchmarks/generative_host.py`)"
MODELS = ("HuggingFaceTB/SmolLM2-135M", "HuggingFaceTB/SmolLM2-360M", "Qwen/Qwen2.5-0.5B")
CONTEXTS = (128, 512, 2048)
SEED = 0


def built(name: str) -> torch.nn.Module:
    """The configuration's causal language model, seeded random fp32 weights, eval mode."""
    spec = hf_models.resolve(name)
    torch.manual_seed(SEED)
    model = hf_models.build(spec, hf_models.prefill_inputs(spec, 1), empty=False)
    return model.float()  # built at the configuration's dtype (SmolLM2's: bfloat16)


def timed(call: Callable[[], object]) -> tuple[float, float]:
    """Wall and process CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def decode_times(model: torch.nn.Module, context: int, steps: int) -> list[tuple[float, float]]:
    from transformers import StaticCache

    cache = StaticCache(config=model.config, max_cache_len=context + steps)
    prompt = torch.randint(
        0, model.config.vocab_size, (1, context), generator=torch.Generator().manual_seed(SEED)
    )
    with torch.inference_mode():
        model(input_ids=prompt, cache=cache, cache_position=torch.arange(context),
              use_cache=True)  # fmt: skip
        times = []
        for step in range(steps):
            token = prompt[:, step : step + 1]
            position = torch.tensor([context + step])
            step_call = partial(model, input_ids=token, cache=cache, cache_position=position,
                                use_cache=True)  # fmt: skip
            times.append(timed(step_call))
    return times


def prefill_times(model: torch.nn.Module, tokens: int, steps: int) -> list[tuple[float, float]]:
    from transformers import StaticCache

    prompt = torch.randint(
        0, model.config.vocab_size, (1, tokens), generator=torch.Generator().manual_seed(SEED)
    )
    times = []
    with torch.inference_mode():
        for _ in range(steps + 1):  # the first warms the kernels up and is dropped
            cache = StaticCache(config=model.config, max_cache_len=tokens)
            positions = torch.arange(tokens)
            pass_call = partial(model, input_ids=prompt, cache=cache, cache_position=positions,
                                use_cache=True)  # fmt: skip
            times.append(timed(pass_call))
    return times[1:]


class DecodeStep(torch.nn.Module):
    """One decode step after `context` tokens on a cache given as inputs (key then value,
    layer by layer: batch x key-value heads x context + 1 x head size), the new token's keys
    and values written into the last slot: `hf_models.cache_assembled`'s StaticCache of
    context + 1 tokens, holding `context`."""

    def __init__(self, model: torch.nn.Module, context: int) -> None:
        super().__init__()
        self.model, self.context = model, context

    def forward(self, input_ids: torch.Tensor, *cache: torch.Tensor) -> torch.Tensor:
        from transformers import StaticCache

        static = StaticCache(config=self.model.config, max_cache_len=self.context + 1)
        for layer, keys, values in zip(static.layers, cache[0::2], cache[1::2], strict=True):
            layer.lazy_initialization(keys, values)
            layer.keys, layer.values = keys, values  # written in place, no copy
            layer.cumulative_length = torch.tensor(self.context)
        position = torch.tensor([self.context])
        out = self.model(input_ids=input_ids, cache=static, cache_position=position,
                         use_cache=True)  # fmt: skip
        logits: torch.Tensor = out.logits
        return logits


class Prefill(torch.nn.Module):
    """A prefill as edgegap profiles it: the model on the prompt's token ids, no cache."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.model(input_ids=input_ids, use_cache=False).logits
        return logits


def cache_inputs(model: torch.nn.Module, context: int) -> list[torch.Tensor]:
    """A decode step's cache of `context` + 1 slots a layer, seeded random."""
    config: Any = model.config
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_size = getattr(config, "head_dim", None) or config.hidden_size // heads
    generator = torch.Generator().manual_seed(SEED)
    shape = (1, kv_heads, context + 1, head_size)
    return [torch.randn(shape, generator=generator) for _ in range(2 * config.num_hidden_layers)]


Timings = list[tuple[float, float]]  # wall and CPU seconds of each timed run


def onnxruntime_times(
    model: torch.nn.Module, phase: Phase, steps: int
) -> tuple[Timings, edgegap.Workload | None]:
    """Wall and CPU seconds of `steps` runs of the pass in ONNX Runtime, after one untimed,
    and the exported file's workload as edgegap reads it (the program these runs ran; None
    where the reader refuses the file)."""
    vocab = model.config.vocab_size  # type: ignore[union-attr]
    if phase.kind == "decode":
        ids = torch.randint(0, vocab, (1, 1), generator=torch.Generator().manual_seed(SEED))
        args = [ids, *cache_inputs(model, phase.context)]
        names = ["input_ids", *(f"{part}_{layer}" for layer in range(len(args) // 2)
                                for part in hf_models.CACHE_INPUTS)]  # fmt: skip
        module: torch.nn.Module = DecodeStep(model, phase.context)
    else:
        args = [torch.randint(0, vocab, (1, phase.tokens),
                              generator=torch.Generator().manual_seed(SEED))]  # fmt: skip
        names, module = ["input_ids"], Prefill(model)
    with tempfile.TemporaryDirectory(prefix="edgegap-generative-") as folder:
        path = Path(folder) / "step.onnx"
        torch_export_call(module, [a.clone() for a in args], path, names)
        session = inference_session(path, threads=1, spinning=False)
        feeds = {name: a.numpy() for name, a in zip(names, args, strict=True)}
        wall, cpu = time_runs(session, feeds, steps, warmup=1)
        try:
            program: edgegap.Workload | None = edgegap.profile(str(path))
        except Exception as error:  # a file the reader refuses: said, not fatal
            print(f"edgegap could not read the exported {path.name}: {error}", file=sys.stderr)
            program = None
    return [(w / 1e9, c / 1e9) for w, c in zip(wall, cpu, strict=True)], program


def torch_times(model: torch.nn.Module, phase: Phase, steps: int) -> tuple[Timings, None]:
    """Wall and CPU seconds of `steps` eager steps; no program file to read."""
    if phase.kind == "decode":
        return decode_times(model, phase.context, steps), None
    return prefill_times(model, phase.tokens, steps), None


RUNTIMES: dict[str, Callable[[torch.nn.Module, Phase, int], tuple[Timings, Any]]] = {
    "onnxruntime": onnxruntime_times,
    "torch": torch_times,
}


def estimated(name: str, phase: Phase, platform) -> tuple[float, edgegap.Workload]:  # type: ignore[no-untyped-def]
    workload = edgegap.profile(f"hf:{name}", dtype="float32", phase=phase)
    return estimate(workload, platform).totals.latency_s, workload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", required=True, help="a calibration of this CPU (YAML)")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per context")
    parser.add_argument("--tokens", type=int, default=128, help="prompt tokens of a prefill")
    parser.add_argument("--models", nargs="+", default=MODELS, choices=MODELS,
                        help="the configurations to run (all by default)")  # fmt: skip
    arguments = parser.parse_args()
    platform = load_platform(arguments.platform)
    here = cpu_features()
    if platform.calibration is None or not platform.calibration.made_on(here):
        sys.exit(
            f"{arguments.platform} is not a calibration of this CPU ({here.model}, {here.cpu_id})"
        )
    torch.set_num_threads(1)
    dram = platform.level("offchip")
    assert dram is not None and dram.bandwidth_gb_s is not None
    lines = [
        "| model | pass | runtime | wall ms (fastest, median); CPU ms (fastest) | edgegap ms "
        "| error | edgegap ms, the exported file | error | baseline ms | baseline error |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    errors: dict[str, list[float]] = {runtime: [] for runtime in RUNTIMES}
    program_errors: list[float] = []
    baseline_errors: dict[str, list[float]] = {runtime: [] for runtime in RUNTIMES}
    for name in arguments.models:
        model = built(name)
        passes = [(f"decode at {c}", Phase("decode", context=c)) for c in CONTEXTS]
        passes.append((f"prefill of {arguments.tokens}", Phase("prefill", tokens=arguments.tokens)))
        for label, phase in passes:
            ours, workload = estimated(name, phase, platform)
            if phase.kind == "decode":
                baseline = workload.totals.weight_bytes / (dram.bandwidth_gb_s * 1e9)
            else:
                baseline = OPS_PER_MAC * workload.totals.macs / platform.peak_ops_per_s
            for runtime, times in RUNTIMES.items():
                runs, program = times(model, phase, arguments.steps)
                fastest = min(wall for wall, _ in runs)
                median = statistics.median(wall for wall, _ in runs)
                cpu = min(c for _, c in runs)
                errors[runtime].append(ours / cpu - 1)
                baseline_errors[runtime].append(baseline / cpu - 1)
                of_file = "| - | - "
                if program is not None:
                    file_s = estimate(program, platform).totals.latency_s
                    program_errors.append(file_s / cpu - 1)
                    of_file = f"| {file_s * 1e3:.1f} | {program_errors[-1] * 100:+.0f}% "
                lines.append(
                    f"| {name} | {label} | {runtime} | {fastest * 1e3:.1f}, {median * 1e3:.1f}; "
                    f"{cpu * 1e3:.1f} | {ours * 1e3:.1f} | {errors[runtime][-1] * 100:+.0f}% "
                    f"{of_file}| {baseline * 1e3:.1f} "
                    f"| {baseline_errors[runtime][-1] * 100:+.0f}% |"
                )
                print(lines[-1], flush=True)
    summary = []
    for runtime in RUNTIMES:
        ours, naive = errors[runtime], baseline_errors[runtime]
        summary.append(
            f"{runtime}: {sum(abs(e) <= 0.25 for e in ours)} of {len(ours)} passes within "
            f"±25%, median |error| {statistics.median(abs(e) for e in ours) * 100:.0f}% "
            f"(baseline: {sum(abs(e) <= 0.25 for e in naive)} within ±25%, median "
            f"{statistics.median(abs(e) for e in naive) * 100:.0f}%)."
        )
    within = sum(abs(e) <= 0.25 for e in program_errors)
    summary.append(
        f"edgegap on the exported files onnxruntime ran: {within} of {len(program_errors)} "
        "passes within ±25%, median |error| "
        f"{statistics.median(abs(e) for e in program_errors) * 100:.0f}%."
    )
    body = "\n".join([
        f"On this machine ({here.model}, {here.cpu_id}, 1 thread; onnxruntime "
        f"{ort.__version__}, torch {torch.__version__}), against "
        f"`{Path(arguments.platform).name}`, calibrated here on "
        f"{platform.calibration.date} in onnxruntime. " + " ".join(summary),
        "",
        *lines,
    ])  # fmt: skip
    print(body)
    write_section(HEADING, body, DOC)


if __name__ == "__main__":
    main()
