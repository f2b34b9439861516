"""Decode and prefill of small language models run for real on this machine's CPU, beside
edgegap's estimate on a calibration of this same CPU (issue 16): writes a section of
docs/generative.md.

Each shipped configuration is built with seeded random weights at fp32 and run by torch on
one thread, the way edgegap counts a step: a preallocated cache (transformers' StaticCache)
into which each step writes its token. A decode step at context L: the cache is prefilled
with L tokens (not timed), then `--steps` steps are timed one by one (contexts L to
L + steps - 1). A prefill of `--tokens` tokens into an empty cache is timed `--steps` times.
Each timing keeps wall and process CPU time; the table quotes the fastest, as
`benchmarks/validate_host.py` does for the zoo (this virtual machine's cores slow down for
seconds at a time while a neighbour is busy), and the median beside it.

The estimate is `edgegap.estimate` of the profiled step (`edgegap profile hf:NAME --phase
decode --context L`, fp32) on the calibrated platform, which must have been calibrated on
this CPU (`edgegap calibrate --threads 1`); nothing of the calibration was set from these
runs. Beside it the simplest baseline: the step's weight bytes over the calibration's DRAM
streaming rate (decode) and its MACs over the calibrated dense peak (prefill).

    .venv/bin/python benchmarks/generative_host.py --platform my_cpu.yaml
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
from docs_section import write_section

import edgegap
from edgegap.hardware import estimate, load_platform
from edgegap.host import cpu_features
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
    return hf_models.build(spec, hf_models.prefill_inputs(spec, 1), empty=False)


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


def estimated(name: str, phase: Phase, platform) -> tuple[float, edgegap.Workload]:  # type: ignore[no-untyped-def]
    workload = edgegap.profile(f"hf:{name}", dtype="float32", phase=phase)
    return estimate(workload, platform).totals.latency_s, workload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", required=True, help="a calibration of this CPU (YAML)")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per context")
    parser.add_argument("--tokens", type=int, default=128, help="prompt tokens of a prefill")
    arguments = parser.parse_args()
    platform = load_platform(arguments.platform)
    here = cpu_features().model
    if platform.calibration is None or platform.calibration.cpu != here:
        sys.exit(f"{arguments.platform} is not a calibration of this CPU ({here})")
    torch.set_num_threads(1)
    dram = platform.level("offchip")
    assert dram is not None and dram.bandwidth_gb_s is not None
    lines = [
        "| model | pass | measured ms (fastest, median; CPU ms fastest) | edgegap ms | error "
        "| baseline ms | baseline error |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    errors: list[float] = []
    baseline_errors: list[float] = []
    for name in MODELS:
        model = built(name)
        passes = [(f"decode at {c}", Phase("decode", context=c)) for c in CONTEXTS]
        passes.append((f"prefill of {arguments.tokens}", Phase("prefill", tokens=arguments.tokens)))
        for label, phase in passes:
            if phase.kind == "decode":
                runs = decode_times(model, phase.context, arguments.steps)
            else:
                runs = prefill_times(model, phase.tokens, arguments.steps)
            fastest = min(wall for wall, _ in runs)
            median = statistics.median(wall for wall, _ in runs)
            cpu = min(c for _, c in runs)
            ours, workload = estimated(name, phase, platform)
            if phase.kind == "decode":
                baseline = workload.totals.weight_bytes / (dram.bandwidth_gb_s * 1e9)
            else:
                baseline = OPS_PER_MAC * workload.totals.macs / platform.peak_ops_per_s
            errors.append(ours / fastest - 1)
            baseline_errors.append(baseline / fastest - 1)
            lines.append(
                f"| {name} | {label} | {fastest * 1e3:.1f}, {median * 1e3:.1f}; {cpu * 1e3:.1f} "
                f"| {ours * 1e3:.1f} | {errors[-1] * 100:+.0f}% | {baseline * 1e3:.1f} "
                f"| {baseline_errors[-1] * 100:+.0f}% |"
            )
            print(lines[-1], flush=True)
    within = sum(abs(e) <= 0.25 for e in errors)
    body = "\n".join([
        f"On this machine ({here}, 1 torch thread, torch {torch.__version__}), against "
        f"`{Path(arguments.platform).name}`, calibrated here on {platform.calibration.date}. "
        f"{within} of {len(errors)} passes within ±25%, median |error| "
        f"{statistics.median(abs(e) for e in errors) * 100:.0f}% (baseline: "
        f"{sum(abs(e) <= 0.25 for e in baseline_errors)} within ±25%, median "
        f"{statistics.median(abs(e) for e in baseline_errors) * 100:.0f}%).",
        "",
        *lines,
    ])  # fmt: skip
    print(body)
    write_section(HEADING, body, DOC)


if __name__ == "__main__":
    main()
