"""Layer fusion as deployment compilers do it: the Workload a compiler actually runs.

A traced model keeps every operator apart: a convolution, its batch norm, its ReLU and a
residual add are four layers, each writing its output to memory for the next to read back.
No deployment compiler runs them that way (docs/cost-model.md, "Fusion", cites each). `fuse`
merges them by four rules, each a name a platform may declare (`Platform.fuses`):

- ``batchnorm``: a batch norm whose input is a convolution's or linear layer's output is
  folded into that layer's weights and bias, and so is a per-channel bias add or scale by
  stored weights (one per output channel: the bias an exporter or a linear layer on a
  non-contiguous input leaves as an operator of its own, ConvNeXt's layer scale). The folded
  operator disappears (its FLOPs, its weights, its traffic); the layer gains a bias (one add
  per output element, one weight per channel) if it had none.
- ``relu``: a ReLU or one of its clipped forms (ReLU6, hardtanh, clamp) is applied to its
  producer's output before that output is written: what an integer kernel's output clamp,
  TensorFlow Lite's fused activation or NVDLA's SDP does.
- ``monotone``: the same for a monotone activation (the ReLU family, leaky ReLU, sigmoid,
  tanh, hardsigmoid): the activations a CPU kernel library's output stage applies (ONNX
  Runtime's MLAS: `MLAS_ACTIVATION_KIND` in onnxruntime/core/mlas/inc/mlas.h lists Relu,
  LeakyRelu, Tanh, Logistic, Clip and HardSigmoid), not the products x f(x) (SiLU, GELU,
  hardswish, mish), which it runs as operators of their own; implies ``relu``.
- ``activation``: the same for any element-wise activation (sigmoid, hardswish, SiLU, GELU,
  ...), as a GPU compiler's kernel epilogue does; implies ``relu``.
- ``add``: a residual add of two activations of one shape is done by the producer of one of
  them: the other becomes an extra input of the fused layer (its bytes are read once, as the
  output is written: `Layer.residual_elements`), the add's FLOPs are added.
- ``hardswish``: a hardswish is applied to a convolution's output before it is written, as
  ONNX Runtime's Conv activation fusion does (checked on onnxruntime 1.32: its optimised graph
  of Conv, HardSwish, Conv has a Conv with activation HardSwish; after a Gemm, HardSwish is
  split into HardSigmoid and Mul instead, so only convolutions take it).
- ``channel_affine``: a batch norm that cannot fold into a product (it follows a concat, an
  add, the input) runs as a per-channel convolution (ONNX Runtime's NCHWc transformer writes
  BatchNormalization as a Conv with one group per channel), so it takes activations and a
  residual add the way a convolution does (a pre-activation network's BN + ReLU is one
  operator; so is a re-parameterisable block's identity branch with the branches' sum).

- ``conv_only_sums``: restricts ``add`` and ``batchnorm`` to what ONNX Runtime's CPU graph
  does: a residual add fuses into a convolution only (its fused sum is an input of the NCHWc
  Conv; a Gemm's C input is its bias), and a linear layer takes a bias add or a batch norm
  but not a per-channel scale (MatMul + Add becomes Gemm; MatMul + Mul stays apart). Checked
  on onnxruntime 1.32's optimised graph of convnext_tiny: of its 18 blocks' layer-scale Mul
  and residual Add, 18 Mul and 18 Add are left.

With ``batchnorm``, an add of a scalar (a literal, such as the 0 a multi-branch block starts
its sum from) folds into the bias of the product before it, whatever the sum it already
carries: a constant added to a sum is added to one of its terms; exporters and ONNX Runtime
drop it or fold it into a bias (ConvAddFusion).

What may be fused, exactly. A layer C is absorbed into the fused layer whose last member P
produced C's input when P's output is read by C alone and is not a model output (otherwise
the intermediate tensor must still be written), C's input and output have as many elements as
P's output (an alias such as a reshape may stand between them; a broadcast or a slice may
not; a batch norm needs P's very shape, its channels on axis 1), and:
- C is a batch norm (or a per-channel bias add or scale), the fused layer so far is a
  convolution or linear layer (every matrix product multiplies by a stored weight) with
  nothing but such folds in it;
- C is an activation with one activation input, the fused layer's first member has matrix
  products or is an add;
- C is an add whose two inputs are both activations, the fused layer's first member has
  matrix products and no add was fused into it yet. Of the add's two producers the one that
  ran last is tried first.
Producers and consumers come from `Layer.producers` and `Workload.outputs`, which both front
ends record; a workload without them (a SCALE-Sim topology, a workload whose layers were
filtered, so that `index` no longer equals position) is returned as it is.

Counts: MACs are unchanged (the matrix products are the first member's); FLOPs are unchanged
except that a folded operator's are removed (a gained bias adds one per output element);
`params` is the sum over the members, what the model holds (folding is a deployment
transform: `totals.params` still equals torchvision's `num_params`), while `weight_elements`
is what the deployed layer stores and reads (a folded batch norm's scale, shift and running
statistics are gone; a gained bias is there). A fused layer keeps its first member's
bit-widths and densities (the kernel runs at that precision and writes at it), takes its
last member's output, and is named by its members, `layer1.0.conv2+bn2+add+relu`; its `op`
joins theirs with "+". `peak_activation_bytes` loses what fusion stops keeping alive: the
traced peak times the ratio of the live-tensor peaks of the fused and the traced layers
(`live_peak_bytes`, from the data flow).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

from edgegap.errors import UserError
from edgegap.workload.layer import Layer, Shape, Workload

Rule = Literal[
    "batchnorm", "relu", "monotone", "activation", "add", "hardswish", "channel_affine",
    "conv_only_sums",
]  # fmt: skip
RULES: tuple[Rule, ...] = get_args(Rule)
# What a platform that declares nothing gets: the fusions every compiler surveyed in
# docs/cost-model.md performs (TensorFlow Lite and CMSIS-NN fuse ReLU-type clamps only, and
# neither fuses a residual add into a convolution).
DEFAULT_RULES: tuple[Rule, ...] = ("batchnorm", "relu")

BATCH_NORM_OPS = frozenset(
    {
        "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
        "onnx::BatchNormalization",
    }
)  # fmt: skip
# ReLU and its clipped forms: max(x, lo), optionally min(., hi).
CLAMP_OPS = frozenset(
    {
        "relu", "relu_", "threshold", "threshold_", "hardtanh", "hardtanh_", "clamp", "clamp_",
        "clamp_min", "clamp_min_", "clamp_max", "clamp_max_", "onnx::Relu", "onnx::Clip",
    }
)  # fmt: skip
MONOTONE_OPS = CLAMP_OPS | frozenset(
    {
        "leaky_relu", "leaky_relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "hardsigmoid",
        "hardsigmoid_", "onnx::LeakyRelu", "onnx::Sigmoid", "onnx::Tanh", "onnx::HardSigmoid",
    }
)  # fmt: skip
HARDSWISH_OPS = frozenset({"hardswish", "hardswish_", "onnx::HardSwish"})
ADD_OPS = frozenset({"add", "add_", "onnx::Add"})
MUL_OPS = frozenset({"mul", "mul_", "onnx::Mul"})
# A per-channel affine map with stored operands: what folds into a product's weights and bias.
AFFINE_OPS = BATCH_NORM_OPS | ADD_OPS | MUL_OPS
JOIN = "+"


def check_rules(rules: Iterable[str]) -> frozenset[Rule]:
    """The rules as a set; an unknown name is a one-line `UserError`."""
    chosen: set[Rule] = set()
    for rule in rules:
        if rule not in RULES:
            raise UserError(f"unknown fusion rule '{rule}': use {', '.join(RULES)}")
        chosen.add(rule)
    return frozenset(chosen)


def _ops(layer: Layer) -> list[str]:
    return layer.op.split(JOIN)


def _weighted(layer: Layer) -> bool:
    """A convolution or linear layer: every product multiplies by a stored weight."""
    return bool(layer.gemms) and all(g.weighted for g in layer.gemms) and layer.weight_elements > 0


def _has_bias(layer: Layer) -> bool:
    """Stored elements beyond the products' (k x n) weight operands are the bias (the
    convention of techniques.lowrank and techniques.circulant)."""
    operands = sum(g.groups * g.k * g.n for g in layer.gemms if g.weighted)
    return layer.weight_elements > operands


def _is_add(layer: Layer) -> bool:
    """An add of two activations (not a bias add of a weight), fused or not."""
    return _ops(layer)[0] in ADD_OPS and len(layer.input_shapes) >= 2 and not layer.gemms


def _is_constant_affine(layer: Layer, anchor: Layer) -> bool:
    """A bias add or a scale by stored weights, one per output channel of `anchor` (an
    exporter's separate bias, a linear layer on a non-contiguous input, a layer scale)."""
    channels = sum(g.groups * g.n for g in anchor.gemms)
    return (
        layer.op in ADD_OPS | MUL_OPS
        and layer.kind == "elementwise"
        and len(anchor.gemms) == 1
        and layer.weight_elements == channels
    )


def _is_scalar_shift(layer: Layer) -> bool:
    """An add of a scalar to one activation: x + 0, x + c (at most one stored element)."""
    return (
        layer.op in ADD_OPS
        and layer.kind == "elementwise"
        and len(layer.input_shapes) == 1
        and layer.weight_elements <= 1
        and not layer.gemms
    )


def _is_batch_norm(layer: Layer) -> bool:
    """A layer whose first operator is a batch norm (one left unfolded, fused or not)."""
    return _ops(layer)[0] in BATCH_NORM_OPS and not layer.gemms


@dataclass
class _Group:
    """Positions (in the input workload) of the layers fused into one, first the anchor."""

    members: list[int]
    # An add's other operand: its shape, producer (None: a model input) and elements.
    extra: list[tuple[Shape, int | None, int]] = field(default_factory=list)

    @property
    def tail(self) -> int:
        return self.members[-1]


class _Fuser:
    def __init__(self, workload: Workload, rules: frozenset[Rule]) -> None:
        self.layers = workload.layers
        self.rules = rules
        # Producers as positions; None for a model input or a tensor no layer made.
        self.producers: list[tuple[int | None, ...]] = [
            tuple(p if 0 <= p < i else None for p in layer.producers)
            for i, layer in enumerate(self.layers)
        ]
        self.consumers: Counter[int] = Counter(
            p for sources in self.producers for p in sources if p is not None
        )
        self.outputs = frozenset(workload.outputs)
        self.groups: list[_Group] = []
        self.group_of: list[int] = []

    def _sole_tail(self, source: int | None, shape: Shape, exact: bool) -> _Group | None:
        """The group whose last member produced `source`, if this is its only reader and the
        data is the same: the same shape (`exact`), or the same element count, which an
        alias between them (a reshape, a flatten) keeps and a broadcast or a slice does not."""
        if source is None or self.consumers[source] != 1 or source in self.outputs:
            return None
        group = self.groups[self.group_of[source]]
        produced = self.layers[source].output_shape
        same = produced == shape if exact else math.prod(produced) == math.prod(shape)
        return group if group.tail == source and same else None

    def _anchor(self, group: _Group) -> Layer:
        return self.layers[group.members[0]]

    def _fused_ops(self, group: _Group) -> list[str]:
        """The operators fused into the group's anchor so far (a fused anchor's included)."""
        anchor, *absorbed = (self.layers[m] for m in group.members)
        return _ops(anchor)[1:] + [op for member in absorbed for op in _ops(member)]

    def _has_add(self, group: _Group) -> bool:
        return bool(group.extra) or self._anchor(group).residual_elements > 0

    def _runs_as_convolution(self, anchor: Layer) -> bool:
        """Whether `anchor` is a product or, under ``channel_affine``, a batch norm of a
        feature map, which the runtime runs as a per-channel convolution."""
        if anchor.gemms:
            return True
        return (
            "channel_affine" in self.rules
            and _is_batch_norm(anchor)
            and len(anchor.output_shape) == 4
        )

    def _folds(self, layer: Layer, source: int | None) -> _Group | None:
        """The group a batch norm, bias add or per-channel scale folds into: a convolution or
        linear layer with nothing but such folds in it yet. A scalar shift folds into one
        that carries a sum too (nothing but folds and adds in it)."""
        group = self._sole_tail(source, layer.output_shape, exact=layer.op in BATCH_NORM_OPS)
        if group is not None and _is_scalar_shift(layer):
            anchor = self._anchor(group)
            shifts = all(op in AFFINE_OPS for op in self._fused_ops(group))
            return group if shifts and self._runs_as_convolution(anchor) else None
        if group is None or self._has_add(group):
            return None
        anchor = self._anchor(group)
        if not _weighted(anchor) or not all(op in AFFINE_OPS for op in self._fused_ops(group)):
            return None
        if "conv_only_sums" in self.rules and anchor.kind != "conv" and layer.op in MUL_OPS:
            return None  # a linear layer takes no per-channel scale
        return group if layer.op in BATCH_NORM_OPS or _is_constant_affine(layer, anchor) else None

    def _target(self, position: int) -> _Group | None:
        """The group that layer `position` joins, or None; records an add's extra operand."""
        layer, sources = self.layers[position], self.producers[position]
        shape = layer.output_shape
        if len(layer.input_shapes) == 1 and math.prod(layer.input_shapes[0]) == math.prod(shape):
            if "batchnorm" in self.rules and layer.op in AFFINE_OPS:
                return self._folds(layer, sources[0])
            anywhere = layer.kind == "activation" and (
                "activation" in self.rules
                or ("monotone" in self.rules and layer.op in MONOTONE_OPS)
                or ("relu" in self.rules and layer.op in CLAMP_OPS)
            )
            on_convolution = (
                layer.kind == "activation" and "hardswish" in self.rules
                and layer.op in HARDSWISH_OPS
            )  # fmt: skip
            activation = anywhere or on_convolution
            group = self._sole_tail(sources[0], shape, exact=False) if activation else None
            if group is None:
                return None
            anchor = self._anchor(group)
            if not anywhere:  # a hardswish: into a convolution only
                return group if anchor.kind == "conv" and anchor.gemms else None
            return group if self._runs_as_convolution(anchor) or _is_add(anchor) else None
        if "add" in self.rules and layer.op in ADD_OPS and layer.input_shapes == (shape, shape):
            first, second = sources
            if first == second:  # x + x, or two model inputs
                return None
            candidates = sorted(
                ((s, o) for s, o in ((first, 1), (second, 0)) if s is not None),
                key=lambda pair: -pair[0],
            )
            for source, other in candidates:
                group = self._sole_tail(source, shape, exact=False)
                if (group is None or not self._runs_as_convolution(self._anchor(group))
                        or self._has_add(group)):  # fmt: skip
                    continue
                if "conv_only_sums" in self.rules and self._anchor(group).kind not in (
                        "conv", "norm"):  # fmt: skip
                    continue  # a sum into a convolution (or a per-channel one) only
                # The other operand's share of the add's input elements (equal shapes: half).
                elements = layer.input_elements - layer.input_elements // 2
                group.extra.append((shape, sources[other], elements))
                return group
        return None

    def run(self) -> list[_Group]:
        for position in range(len(self.layers)):
            group = self._target(position)
            if group is None:
                self.group_of.append(len(self.groups))
                self.groups.append(_Group([position]))
            else:
                self.group_of.append(self.group_of[group.members[0]])
                group.members.append(position)
        # A fused layer runs where its last member ran: every input it reads exists by then.
        return sorted(self.groups, key=lambda g: g.tail)


def _short(anchor: Layer, member: Layer) -> str:
    """A member's name without the module path it shares with the anchor's; its operator
    where nothing (or only a sequence index) is left: conv2+bn2, features.0.0+bn+hardtanh."""
    a, b = anchor.name.split("."), member.name.split(".")
    common = 0
    while common < min(len(a), len(b)) and a[common] == b[common]:
        common += 1
    rest = b[common:]
    # A sequence index names nothing; nor does the tracer's "(root)" (the model's own forward).
    if rest and not all(part.isdigit() for part in rest) and not member.name.startswith("("):
        return ".".join(rest)
    if member.op in BATCH_NORM_OPS:
        return "bn"
    return member.op.removeprefix("onnx::").rstrip("_").lower()


def _merged(layers: Sequence[Layer], group: _Group, new_index: list[int]) -> Layer:
    anchor, absorbed = layers[group.members[0]], [layers[m] for m in group.members[1:]]
    last = layers[group.tail]

    def index_of(source: int | None) -> int:
        return -1 if source is None else new_index[source]

    producers = [index_of(p if 0 <= p < group.members[0] else None) for p in anchor.producers]
    if not absorbed:
        return replace(anchor, index=new_index[group.tail], producers=tuple(producers))
    elementwise, weights, params = anchor.elementwise_flops, anchor.weight_elements, anchor.params
    biased = _has_bias(anchor)
    for member in absorbed:
        params += member.params
        folded = len(member.input_shapes) == 1 and member.op in AFFINE_OPS
        if folded and member.op in MUL_OPS:
            continue  # a per-channel scale goes into the weights
        if folded:  # a shift (and a batch norm's scale): into the bias, gained once
            if not biased:
                shape = member.output_shape
                channels = shape[1] if len(shape) > 1 else 1
                share = member.output_elements / max(math.prod(shape), 1)
                bias = channels * share if member.op in BATCH_NORM_OPS else member.weight_elements
                weights += round(bias)
                elementwise += member.output_elements
                biased = True
            continue
        elementwise += member.elementwise_flops
        weights += member.weight_elements
    return replace(
        anchor,
        index=new_index[group.tail],
        name=JOIN.join([anchor.name, *(_short(anchor, m) for m in absorbed)]),
        op=JOIN.join(m.op for m in (anchor, *absorbed)),
        input_shapes=(*anchor.input_shapes, *(shape for shape, _, _ in group.extra)),
        output_shape=last.output_shape,
        elementwise_flops=elementwise,
        params=params,
        weight_elements=weights,
        input_elements=anchor.input_elements + sum(n for _, _, n in group.extra),
        output_elements=last.output_elements,
        residual_elements=anchor.residual_elements + sum(n for _, _, n in group.extra),
        producers=(*producers, *(index_of(p) for _, p, _ in group.extra)),
    )


def fuse(workload: Workload, rules: Iterable[str]) -> Workload:
    """`workload` as a compiler that performs `rules` (see the module) runs it.

    Idempotent: fusing a fused workload again changes nothing.
    """
    chosen = check_rules(rules)
    layers = workload.layers
    linked = all(
        layer.index == i and len(layer.producers) == len(layer.input_shapes)
        for i, layer in enumerate(layers)
    )
    if not chosen or not linked:
        return workload
    groups = _Fuser(workload, chosen).run()
    if len(groups) == len(layers):
        return workload
    new_index = [0] * len(layers)
    for position, group in enumerate(groups):
        for member in group.members:
            new_index[member] = position
    fused = tuple(_merged(layers, group, new_index) for group in groups)
    outputs = tuple(sorted({new_index[i] for i in workload.outputs if 0 <= i < len(layers)}))
    traced = live_peak_bytes(layers, workload.outputs)
    scale = live_peak_bytes(fused, outputs) / traced if traced else 1.0
    return replace(
        workload,
        layers=fused,
        outputs=outputs,
        peak_activation_bytes=math.ceil(workload.peak_activation_bytes * scale),
    )


def live_peak_bytes(layers: Sequence[Layer], outputs: Iterable[int]) -> int:
    """The most layer-output bytes alive at once when the layers run in order: an output
    lives from its layer to its last reader (to the end when the model returns it), and a
    layer's own output is alive while it runs. Model inputs are not counted."""
    last = {i: i for i in range(len(layers))}
    for index, layer in enumerate(layers):
        for producer in layer.producers:
            if producer >= 0:
                last[producer] = max(last[producer], index)
    for index in outputs:
        last[index] = len(layers)
    ends: dict[int, int] = {}
    for index, end in last.items():
        ends[end] = ends.get(end, 0) + layers[index].output_bytes
    live = peak = 0
    for index, layer in enumerate(layers):
        live += layer.output_bytes
        peak = max(peak, live)
        live -= ends.get(index, 0)
    return peak
