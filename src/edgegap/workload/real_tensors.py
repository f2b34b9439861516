"""The real-tensor fallback, for models the meta device cannot run.

Tracing on the meta device allocates nothing, but an operator whose output depends on the
data (`nonzero`, `.item()`, non-maximum suppression: a detector's post-processing) has no
answer there. A model edgegap builds itself (a torchvision name, `module:callable`) is then
built again on the CPU with weights drawn from seed 0 and run once on zeros, within bounds
on memory (weights plus live activations) and time: a run past either stops with one line
saying which bound and how to proceed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from edgegap.errors import UserError, first_line
from edgegap.workload.layer import Workload
from edgegap.workload.tracer import _LiveActivations, _tensors

SEED = 0


def half_the_memory() -> int:
    """Half this machine's physical memory, in bytes: the default bound of a real run."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


@dataclass(frozen=True)
class RealRunLimits:
    """Bounds on a real-tensor run: bytes of weights and live activations, wall seconds."""

    max_bytes: int = field(default_factory=half_the_memory)
    max_seconds: float = 600.0


class NeedsRealTensors(UserError):
    """The meta device, not the model, refused: an operator needs the data. Raised as one line
    for a model edgegap cannot rebuild (a module the user built on the meta device)."""

    def __init__(self, label: str, error: Exception, operator: str) -> None:
        self.operator = operator
        super().__init__(
            f"{label} cannot be traced on the meta device ({first_line(error)[:120]}): "
            "build it on the CPU and profile that module"
        )


def refused_by_meta(error: Exception) -> bool:
    """Whether `error` is the meta device's refusal (no data to read, no data-independent
    kernel) rather than the model's own: torch's message then names the meta device."""
    return "meta" in str(error).lower()


def _raise_it(bound: str) -> str:
    return f"edgegap.profile(..., limits=edgegap.workload.real_tensors.RealRunLimits({bound}=...))"


def _gb(size: float) -> str:
    return f"{size / 1e9:.3g} GB"


class _Stopped(RuntimeError):
    """A bound of a real run was passed (raised inside the model's forward, or before it)."""


class _Watch(TorchDispatchMode):  # type: ignore[no-untyped-call]
    """Sees every operator of a real run and stops it once weights plus live activations or
    the elapsed time pass their bound."""

    def __init__(self, label: str, limits: RealRunLimits, held_bytes: int = 0) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.label = label
        self.limits = limits
        self.held_bytes = held_bytes
        self.live = _LiveActivations(None)
        self.last_operator = ""
        self.stopped = ""  # why the run was stopped, one line
        self.started = time.monotonic()

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        self.last_operator = str(func.overloadpacket)
        out = func(*args, **(kwargs or {}))
        self._check(self.limits, out)
        return out

    def _check(self, limits: RealRunLimits, out: Any) -> None:
        for tensor in _tensors(out):
            self.live.add(tensor)
        held = self.held_bytes + self.live.current
        elapsed = time.monotonic() - self.started
        if held > limits.max_bytes:
            self.stopped = (
                f"{self.label}'s real-tensor run passed its memory bound, "
                f"{_gb(limits.max_bytes)} of weights and live activations, at "
                f"{self.last_operator}: give a smaller --input-shape, or raise the bound with "
                f"{_raise_it('max_bytes')}"
            )
        elif elapsed > limits.max_seconds:
            self.stopped = (
                f"{self.label}'s real-tensor run passed its time bound, "
                f"{limits.max_seconds:g} s, at {self.last_operator}: give a smaller "
                "--input-shape (or fewer --proposals/--detections), or raise the bound with "
                f"{_raise_it('max_seconds')}"
            )
        if self.stopped:
            raise _Stopped(self.stopped)


def _state_bytes(model: nn.Module) -> int:
    state = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in state)


def profile_built(
    build: Callable[[bool], nn.Module],
    profile_model: Callable[[nn.Module], Workload],
    label: str,
    limits: RealRunLimits | None = None,
) -> Workload:
    """Profile the model `build(empty=True)` makes on the meta device; where the meta device
    refuses an operator, `build(empty=False)` on the CPU on real tensors, within `limits`.
    A builder that cannot build with empty weights (timm's hybrid vision transformers run a
    tensor through their backbone while they build, to learn its output size) builds with
    real ones, drawn from seed 0, within the bound on bytes; it is then traced like any
    built model, on meta inputs."""
    try:
        model = build(True)
    except UserError as empty_error:
        return _built_on_the_cpu(build, profile_model, label, limits or RealRunLimits(),
                                 empty_error)  # fmt: skip
    try:
        return profile_model(model)
    except NeedsRealTensors as refusal:
        operator = refusal.operator
    # Out of the except block: a failure below is not "during handling" the refusal.
    return _on_real_tensors(
        build, profile_model, label, limits or RealRunLimits(), _state_bytes(model), operator
    )


def _built_on_the_cpu(
    build: Callable[[bool], nn.Module],
    profile_model: Callable[[nn.Module], Workload],
    label: str,
    limits: RealRunLimits,
    empty_error: UserError,
) -> Workload:
    """`build(empty=False)` where `build(empty=True)` raised `empty_error`: a builder that
    fails with real weights too is reported by its empty build's error."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        try:
            model = build(False)
        except UserError:
            raise empty_error from None
    _within_bound(label, f"builds only with its weights allocated ({empty_error})",
                  _state_bytes(model), limits)  # fmt: skip
    return profile_model(model).noted(
        f"built with real weights (drawn from seed {SEED}) on the CPU, then traced on meta "
        f"inputs: its builder cannot build on the meta device ({empty_error})"
    )


def _within_bound(label: str, why: str, weight_bytes: int, limits: RealRunLimits) -> None:
    """A one-line error where the weights alone pass the real run's bound on bytes."""
    if weight_bytes > limits.max_bytes:
        raise UserError(
            f"{label} {why}, but its weights alone take {_gb(weight_bytes)}, above the "
            f"{_gb(limits.max_bytes)} bound of a real run: on a machine with the memory, raise "
            f"it with {_raise_it('max_bytes')}"
        )


def _on_real_tensors(
    build: Callable[[bool], nn.Module],
    profile_model: Callable[[nn.Module], Workload],
    label: str,
    limits: RealRunLimits,
    weight_bytes: int,
    operator: str,
) -> Workload:
    _within_bound(label, f"needs real tensors (the meta device could not run {operator})",
                  weight_bytes, limits)  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = build(False)
    guard = _Watch(label, limits, weight_bytes)
    try:
        with guard:
            workload = profile_model(model)
    except Exception:  # the bound's own stop, as the model's error or as it was raised
        if guard.stopped:
            raise UserError(guard.stopped) from None
        raise
    return workload.noted(
        f"ran on real tensors on the CPU (zeros in, weights drawn from seed {SEED}): the meta "
        f"device could not run {operator}"
    )
