"""The technique registry: every way of closing the gap, algorithm or architecture, as one
object registered by name, in the spirit of `torch.utils.flop_counter`'s formula registry.

A technique states
- its name, its group and what it changes: `"model"` (the model's owner can apply it) or
  `"hardware"` (it needs another chip);
- its parameters with their ranges (`Param`), through which recipes, plans and the CLI check
  every setting;
- an analytic face, `apply(workload, platform, setting)`, that carries the technique's effect
  on the counts of any model into the cost model;
- where it can be run for real, a measured face, `run(model, setting, data, seed, previous)`,
  that returns the compressed model with its exact bytes (`Compressed`).

Importing `edgegap.techniques` imports every technique module, which registers itself.
Adding a technique is one module that subclasses `Technique` and decorates it with
`@register(name, summary=..., group=..., sources=...)`, the way `torch.utils.flop_counter`
keys a formula by its operator; bridges, recipes, plans, the report and the CLI find it here.

`Compressed` and `LayerAnnotation` are the records of a model a measured face returns; the
annotations key the profiled workload's layers by module path, and `annotate` applies them
(a layer rewrite, such as Winograd's, dispatches through the registry).
"""

from __future__ import annotations

import difflib
import math
import reprlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from edgegap.errors import UserError
from edgegap.workload.layer import Gemm, Layer, Workload

if TYPE_CHECKING:
    from torch import nn

    from edgegap.hardware.platform import Platform
    from edgegap.training.datasets import Dataset

Group = Literal["architecture", "quantization", "pruning", "factorisation", "algorithm", "coding"]
Changes = Literal["model", "hardware"]
GROUPS: tuple[Group, ...] = (
    "architecture", "quantization", "pruning", "factorisation", "algorithm", "coding",
)  # fmt: skip


_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 4
_REPR.maxstring = _REPR.maxother = 40


def shown(value: Any) -> str:
    """A user's value as an error message quotes it: bounded (a YAML alias bomb's list of a
    billion items, a huge number) and on one line."""
    try:
        return _REPR.repr(value)
    except ValueError:  # an int of more than 4300 digits
        return f"an integer of {value.bit_length()} bits"


@dataclass(frozen=True)
class Param:
    """One parameter of a technique: its default and the range a value must lie in.

    `per_layer`: a `{layer: value}` mapping is accepted too (recipes on small models).
    `choices`: the value is one of these."""

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    integer: bool = False
    choices: tuple[Any, ...] = ()
    per_layer: bool = False
    nullable: bool = False  # None is a value (e.g. "scaling never ends")
    help: str = ""

    def check(self, value: Any, technique: str) -> Any:
        """The value, checked; a one-line error naming the technique and parameter."""
        where = f"{technique}: {self.name}"
        if self.per_layer and isinstance(value, dict):
            if not value:
                raise UserError(f"{where}: an empty {{layer: value}} mapping names no layer")
            nested = next((k for k, v in value.items() if isinstance(v, dict)), None)
            if nested is not None:
                raise UserError(f"{where}: {shown(nested)} takes a value, not a mapping")
            return {str(k): self.check(v, technique) for k, v in value.items()}
        if value is None and self.nullable:
            return None
        if self.choices:
            match = next((c for c in self.choices if c == value and type(c) is type(value)), None)
            match = (
                match
                if match is not None
                else next((c for c in self.choices if isinstance(c, int) and c == value), None)
            )  # 4.0 for the tile 4
            if match is None:
                allowed = ", ".join(map(str, self.choices))
                raise UserError(f"{where} must be one of {allowed}, got {shown(value)}")
            return match
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise UserError(f"{where} must be a number in [{low:g}, {high:g}], got {shown(value)}")
        if self.integer and value != int(value):
            raise UserError(f"{where} must be a whole number, got {shown(value)}")
        if not low <= value <= high:
            raise UserError(f"{where} must be in [{low:g}, {high:g}], got {shown(value)}")
        return int(value) if self.integer else float(value)


@dataclass(frozen=True)
class Setting:
    """A technique at chosen parameter values; `label` is how published results and tables
    name it ("W8A8", "0.5", "F(2x2,3x3)")."""

    technique: str
    values: tuple[tuple[str, Any], ...]
    label: str

    def __getitem__(self, name: str) -> Any:
        return dict(self.values)[name]

    def get(self, name: str, default: Any = None) -> Any:
        return dict(self.values).get(name, default)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.values)


class NotAvailable(UserError):
    """A face the technique does not have, or a setting it cannot take on this model or
    platform; the message says why (bridges list it as skipped, plans leave it out, the CLI
    prints it as any user error)."""


@dataclass(frozen=True)
class LayerAnnotation:
    """What a technique changes about one layer; None leaves the profiled value."""

    weight_bits: int | None = None
    activation_bits: int | None = None
    weight_density: float | None = None
    activation_density: float | None = None
    mac_factor: float | None = None  # executed multiplies over the dense layer's MACs
    rewrite: Setting | None = None  # the layer computed another way (`Technique.rewrite`)


@dataclass(frozen=True)
class Compressed:
    """A measured face's result. `storage_bytes` counts every byte needed to rebuild the
    weights (codes, scales, codebooks, indices, biases), measured on the packed
    representation; `state` carries what a later step builds on (codebooks for Huffman)."""

    technique: str
    model: nn.Module
    storage_bytes: int
    annotations: dict[str, LayerAnnotation] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


class Technique:
    """The interface every technique implements; subclasses set the class attributes and
    override the faces they have."""

    name: ClassVar[str]
    group: ClassVar[Group]
    changes: ClassVar[Changes] = "model"
    summary: ClassVar[str]
    sources: ClassVar[tuple[str, ...]]
    params: ClassVar[tuple[Param, ...]] = ()
    bare: ClassVar[str | None] = None  # the parameter a bare recipe value sets
    keeps_weights: ClassVar[bool] = False  # the measured face leaves the stored weights as-is
    # How published labels order settings ("higher": a higher value changes the model less;
    # None: unordered). A transfer of published losses takes gentler settings only.
    gentler_when: ClassVar[Literal["higher", "lower"] | None] = None

    # --- settings -----------------------------------------------------------------------

    def setting(self, label: str | None = None, **values: Any) -> Setting:
        """The setting at `values` (defaults for the rest), every value checked."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(values) - set(known))
        if unknown:
            takes = ", ".join(known) or "no parameters"
            raise UserError(f"{self.name} has no parameter {', '.join(unknown)}: it takes {takes}")
        checked = tuple(
            (name, spec.check(values[name], self.name) if name in values else spec.default)
            for name, spec in known.items()
            if name in values or spec.default is not None
        )
        if label is None:  # the values given, as a recipe's stage names them
            label = ", ".join(f"{k}={'per layer' if isinstance(v, dict) else v}"
                              for k, v in checked if k in values)  # fmt: skip
        return Setting(self.name, checked, label)

    def from_label(self, label: str) -> Setting:
        """The setting a published result's label names (`bare` parameter = label)."""
        if self.bare is None:
            raise NotAvailable(f"{self.name} has no numeric setting to read from '{label}'")
        try:
            value = float(label)
        except ValueError:
            raise NotAvailable(f"{self.name}: '{label}' is not a value of {self.bare}") from None
        return self.setting(label, **{self.bare: value})

    def candidates(self, workload: Workload, platform: Platform) -> list[Setting]:
        """Settings to try that need no accuracy source (architecture techniques)."""
        return []

    def gentler(self, published: float, asked: float) -> bool:
        """Whether the `published` setting changes the model no more than the `asked` one."""
        if self.gentler_when is None:
            return published == asked
        return published >= asked if self.gentler_when == "higher" else published <= asked

    # --- faces --------------------------------------------------------------------------

    def apply(
        self, workload: Workload, platform: Platform, setting: Setting
    ) -> tuple[Workload, Platform]:
        """The technique's effect on counts: a new workload and platform."""
        raise NotAvailable(f"{self.name} has no analytic face: it needs the trained weights")

    def rewrite(self, layer: Layer, setting: Setting) -> Layer:
        """One layer computed another way (for `LayerAnnotation.rewrite`)."""
        raise NotAvailable(f"{self.name} does not rewrite layers")

    def run(
        self,
        model: nn.Module,
        setting: Setting,
        data: Dataset | None,
        seed: int,
        previous: Compressed,
    ) -> Compressed:
        """The technique run for real on a trained `model` (left as it is)."""
        raise NotAvailable(f"{self.name} cannot be run for real here: it is analytic only")

    @property
    def analytic(self) -> bool:
        return type(self).apply is not Technique.apply

    @property
    def measured(self) -> bool:
        return type(self).run is not Technique.run


_REGISTRY: dict[str, Technique] = {}
T = TypeVar("T", bound=type[Technique])


def register(
    name: str,
    *,
    summary: str,
    group: Group | None = None,
    sources: tuple[str, ...] | None = None,
    changes: Changes | None = None,
) -> Callable[[T], T]:
    """Class decorator: the technique's name and what describes it (a group, kind or sources
    not given are inherited from the base class), and one instance findable by the name."""

    def decorate(cls: T) -> T:
        if name in _REGISTRY:
            raise ValueError(f"technique {name} registered twice")
        cls.name, cls.summary = name, summary
        for attribute, value in (("group", group), ("sources", sources), ("changes", changes)):
            if value is not None:
                setattr(cls, attribute, value)
        _REGISTRY[name] = cls()
        return cls

    return decorate


def get(name: str) -> Technique:
    """The technique called `name`, or a one-line error with the closest names."""
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"use one of {', '.join(names())}"
        raise UserError(f"unknown technique '{name}': {hint}")
    return _REGISTRY[name]


def techniques(group: Group | None = None, changes: Changes | None = None) -> Iterator[Technique]:
    """Registered techniques by group (in `GROUPS` order), optionally of one group or kind."""
    for technique in sorted(_REGISTRY.values(), key=lambda t: GROUPS.index(t.group)):
        if (group is None or technique.group == group) and (
            changes is None or technique.changes == changes
        ):
            yield technique


def names() -> list[str]:
    return list(_REGISTRY)


# --- applying measured annotations to a workload -------------------------------------------


def annotate(workload: Workload, annotations: Mapping[str, LayerAnnotation]) -> Workload:
    """The workload with each annotated layer's bit-widths, densities and MACs replaced."""
    layers = []
    for layer in workload.layers:
        note = annotations.get(layer.name)
        if note is None:
            layers.append(layer)
            continue
        changes: dict[str, Any] = {
            key: value
            for key in ("activation_bits", "weight_density", "activation_density")
            if (value := getattr(note, key)) is not None
        }
        if note.weight_bits is not None:
            layer = layer.with_weight_bits(note.weight_bits)
        if note.rewrite is not None:
            layer = get(note.rewrite.technique).rewrite(layer, note.rewrite)
        if note.mac_factor is not None:  # a smaller product: the array runs less too
            changes["gemms"] = tuple(shrunk(g, note.mac_factor) for g in layer.gemms)
        layers.append(replace(layer, **changes))
    return workload.with_layers(layers)


def shrunk(gemm: Gemm, factor: float) -> Gemm:
    """The product with its largest dimension scaled by `factor` (rounded up): the MACs an
    algorithm executes, in a shape the cost model can fold onto an array."""
    side = max(("m", "k", "n"), key=lambda name: int(getattr(gemm, name)))
    return replace(gemm, **{side: math.ceil(getattr(gemm, side) * factor)})
