"""The workload record: the data model every later stage (cost, compression, report) consumes.

Counts are stored as element counts and bit-widths; bytes are derived from them, so a
compression step that changes a bit-width changes every byte figure consistently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from edgegap.precision import OPS_PER_MAC, bits_to_bytes, grouped_bytes
from edgegap.workload.shapes import ModelInput

if TYPE_CHECKING:
    import pandas as pd

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Gemm:
    """`groups` independent matrix products (m x k) @ (k x n): the form a MAC array maps.

    `weighted` is True when one operand (the k x n one, for a convolution or a linear layer)
    is a stored weight, which an accelerator can hold in place while activations stream
    through; False for a product of two activations (attention's Q K^T and scores @ V, a
    `bmm` of two computed tensors), whose operands both arrive at run time.
    """

    groups: int
    m: int
    k: int
    n: int
    weighted: bool

    @property
    def macs(self) -> int:
        return self.groups * self.m * self.k * self.n


class Counted:
    """MACs and FLOPs derived from the matrix products and the element-wise work, so no
    transform can leave them out of step."""

    gemms: tuple[Gemm, ...]
    elementwise_flops: int

    @property
    def macs(self) -> int:
        return sum(g.macs for g in self.gemms)

    @property
    def flops(self) -> int:
        return OPS_PER_MAC * self.macs + self.elementwise_flops


@dataclass(frozen=True)
class Layer(Counted):
    """One counted operator call, attributed to the `nn.Module` (or ONNX node) that issued it.

    Its MACs are those of its matrix products and its FLOPs two per MAC plus
    `elementwise_flops`, the work that is not a multiply-accumulate (bias adds, activations,
    normalisation, softmax, pooling): both derived, so a transform that changes the products
    changes every count consistently.

    `producers` links the data flow: for each activation input (in `input_shapes` order), the
    `index` of the layer whose output it is, or -1 for a model input (or a tensor no recorded
    layer produced, such as a constant the forward pass creates). Empty where the front end
    does not record links (a SCALE-Sim topology); `workload.fusion` then fuses nothing.
    `residual_elements` (part of `input_elements`) is, in a layer that fusion gave a residual
    add, the add's other operand: read once as the output is written, not streamed through
    the matrix products.

    Weights stored in groups (ggml's blocks, group-quantized int4) carry, per
    `weight_group` elements, `weight_group_bits` of scales, zero points or minima beside
    their `weight_bits` codes (`precision.grouped_bytes`). `weight_elements` are the elements
    one call reads: a lookup reads the rows it gathers of a table held whole
    (`stored_weight_elements`). `cache_elements` (part of
    `input_elements`) are the KV-cache entries a decode step reads, stored at `cache_bits`
    in groups as the weights are; the other inputs are at `activation_bits`.
    """

    index: int
    name: str
    op: str
    kind: str
    input_shapes: tuple[Shape, ...]
    output_shape: Shape
    elementwise_flops: int
    params: int
    weight_elements: int
    input_elements: int
    output_elements: int
    weight_bits: int = 32
    activation_bits: int = 32
    weight_density: float = 1.0
    activation_density: float = 1.0
    gemms: tuple[Gemm, ...] = ()
    producers: tuple[int, ...] = ()
    residual_elements: int = 0
    weight_group: int = 0
    weight_group_bits: int = 0
    cache_elements: int = 0
    cache_bits: int = 32
    cache_group: int = 0
    cache_group_bits: int = 0
    # Reads only part of the weights it holds (`weight_elements` of `params`): a lookup's
    # rows, a mixture of experts' routed experts. It holds them all.
    gathers: bool = False

    @classmethod
    def quick(cls, **values: Any) -> Layer:
        """`Layer(**values)` at two fifths of its cost, without the frozen `__init__`'s
        `object.__setattr__` per field: the tracer makes one per operator it records. A field
        not given is read from the class, where a dataclass keeps its default."""
        layer = object.__new__(cls)
        layer.__dict__.update(values)
        return layer

    @property
    def weight_bytes(self) -> int:
        """The weight bytes one call reads."""
        return self._weights(self.weight_elements)

    @property
    def stored_weight_elements(self) -> int:
        """The weight elements this layer holds: a lookup's whole table, whatever rows it
        reads, and every expert of a mixture, whichever a token was routed to (`gathers`);
        none of a weight an earlier layer read first (a tied head, a module called twice:
        held once); any other layer's weights as it reads them (folded, fused)."""
        if self.kind == "embedding" or self.gathers:
            return self.params
        return self.weight_elements if self.params else 0

    @property
    def stored_weight_bytes(self) -> int:
        return self._weights(self.stored_weight_elements)

    def _weights(self, elements: int) -> int:
        return grouped_bytes(elements, self.weight_bits, self.weight_group, self.weight_group_bits)

    def with_weight_bits(self, bits: int) -> Layer:
        """This layer with each weight one `bits`-bit code and no group scales: a quantizer
        that sets a layer's width replaces the format its weights were stored in."""
        return replace(self, weight_bits=bits, weight_group=0, weight_group_bits=0)

    @property
    def cache_bytes(self) -> int:
        return grouped_bytes(
            self.cache_elements, self.cache_bits, self.cache_group, self.cache_group_bits
        )

    @property
    def input_bytes(self) -> int:
        rest = self.input_elements - self.cache_elements
        return bits_to_bytes(rest, self.activation_bits) + self.cache_bytes

    @property
    def output_bytes(self) -> int:
        return bits_to_bytes(self.output_elements, self.activation_bits)

    @property
    def min_traffic_bytes(self) -> int:
        """Weights, inputs and outputs each moved exactly once: no re-fetch, no spill."""
        return self.weight_bytes + self.input_bytes + self.output_bytes

    @property
    def arithmetic_intensity(self) -> float:
        """FLOPs per byte of minimum traffic: the roofline's x axis."""
        traffic = self.min_traffic_bytes
        return self.flops / traffic if traffic else 0.0

    def to_dict(self) -> dict[str, Any]:
        fields = asdict(self)
        # The derived counts where the stored ones stood, so tables keep their columns.
        record: dict[str, Any] = {}
        for key, value in fields.items():
            if key == "elementwise_flops":
                record |= {"macs": self.macs, "flops": self.flops}
            record[key] = value
        record["input_shapes"] = [list(s) for s in self.input_shapes]
        record["output_shape"] = list(self.output_shape)
        record["gemms"] = [asdict(g) for g in self.gemms]
        record["producers"] = list(self.producers)
        derived_bytes = ("weight_bytes", "stored_weight_bytes", "cache_bytes", "input_bytes",
                         "output_bytes", "min_traffic_bytes")  # fmt: skip
        for derived in derived_bytes:
            record[derived] = getattr(self, derived)
        record["arithmetic_intensity"] = self.arithmetic_intensity
        return record


@dataclass(frozen=True)
class Totals:
    macs: int
    flops: int
    params: int
    weight_bytes: int
    stored_weight_bytes: int
    activation_bytes: int
    peak_activation_bytes: int
    min_traffic_bytes: int
    unused_params: int

    @property
    def arithmetic_intensity(self) -> float:
        return self.flops / self.min_traffic_bytes if self.min_traffic_bytes else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "arithmetic_intensity": self.arithmetic_intensity}


@dataclass(frozen=True)
class Workload:
    """A model's demand: its counted layers plus what only the whole trace can tell.

    `activation_bytes` in the totals is every layer output written once; the peak is the
    largest set of activations alive at one moment of the traced forward pass.
    `unused_params` are parameters the model holds but inference never reads (an auxiliary
    classifier, for one): stored, but not part of the demand. `outputs` are the indices of
    the layers whose results the model returns (empty where the front end does not say).
    `input_shape` is the first input's (its batch is the workload's); `inputs` are all of
    them, named where the model names them, with their element types.
    `notes` say, one line each, how the counts were made where a choice was involved (the
    real-tensor path, a detector's proposal and detection counts).
    """

    model: str
    input_shape: Shape
    layers: tuple[Layer, ...]
    peak_activation_bytes: int
    unused_params: int = 0
    uncounted_ops: dict[str, int] = field(default_factory=dict)
    outputs: tuple[int, ...] = ()
    inputs: tuple[ModelInput, ...] = ()
    notes: tuple[str, ...] = ()

    @cached_property
    def totals(self) -> Totals:
        # One pass, each layer's figure derived once (FLOPs from its MACs, its traffic from
        # its bytes): the sums of the layers' own properties.
        macs = elementwise_flops = params = weights = stored = inputs = outputs = 0
        for layer in self.layers:
            macs += layer.macs
            elementwise_flops += layer.elementwise_flops
            params += layer.params
            weights += layer.weight_bytes
            stored += layer.stored_weight_bytes
            inputs += layer.input_bytes
            outputs += layer.output_bytes
        return Totals(
            macs=macs,
            flops=OPS_PER_MAC * macs + elementwise_flops,
            params=params,
            weight_bytes=weights,
            stored_weight_bytes=stored,
            activation_bytes=outputs,
            peak_activation_bytes=self.peak_activation_bytes,
            min_traffic_bytes=weights + inputs + outputs,
            unused_params=self.unused_params,
        )

    def noted(self, *notes: str) -> Workload:
        """A copy with `notes` (one line each; empty ones dropped) after its own."""
        return replace(self, notes=(*self.notes, *(note for note in notes if note)))

    def with_layers(self, layers: Sequence[Layer]) -> Workload:
        """A copy with new layers (a compression step's). The traced peak of live activations
        is rescaled as the largest layer's inputs plus outputs are, where the peak sits: a
        step that narrows or prunes activations shrinks it, one that leaves them keeps it."""

        def working(of: Sequence[Layer]) -> int:
            return max((layer.input_bytes + layer.output_bytes for layer in of), default=0)

        before = working(self.layers)
        scale = working(layers) / before if before else 1.0
        return replace(
            self,
            layers=tuple(layers),
            peak_activation_bytes=math.ceil(self.peak_activation_bytes * scale),
        )

    def to_dict(self, per_layer: bool = True) -> dict[str, Any]:
        record: dict[str, Any] = {
            "model": self.model,
            "input_shape": list(self.input_shape),
            "totals": self.totals.to_dict(),
        }
        if self.inputs:
            record["inputs"] = [
                {"name": i.name, "shape": list(i.shape), "dtype": i.dtype} for i in self.inputs
            ]
        if per_layer:
            record["layers"] = [layer.to_dict() for layer in self.layers]
        if self.uncounted_ops:
            record["uncounted_ops"] = dict(self.uncounted_ops)
        if self.outputs:
            record["outputs"] = list(self.outputs)
        if self.notes:
            record["notes"] = list(self.notes)
        return record

    def to_json(self, per_layer: bool = True, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(per_layer), indent=indent)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per layer, derived byte columns included."""
        import pandas as pd  # only here: the record itself needs no pandas

        rows = [layer.to_dict() for layer in self.layers]
        return pd.DataFrame(rows).set_index("index") if rows else pd.DataFrame()
