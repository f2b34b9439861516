"""Operator-level tracing of a PyTorch model into a Workload.

A `TorchDispatchMode` sees every aten operator the forward pass runs, after composite
operators (linear, matmul, einsum, conv2d) have decomposed, so nothing is counted twice.
Module hooks name the `nn.Module` that issued each operator. On the meta device the pass
allocates nothing: formulas need only shapes.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn.modules import module as module_internals
from torch.utils._python_dispatch import TorchDispatchMode

from edgegap.precision import bits_to_bytes
from edgegap.workload.aten_ops import ATEN_FORMULAS, IGNORED, Args, Formula, Packed
from edgegap.workload.formulas import OpCount
from edgegap.workload.layer import Layer, Shape, Workload
from edgegap.workload.meta_outputs import META_OUTPUTS, ModelShapeError
from edgegap.workload.module_calls import MODULE_CALLS, ModuleCall
from edgegap.workload.shapes import ModelInput

ROOT = "(root)"
_EMPTY = torch.ops.aten.empty.memory_format
# the types of an operator's plain arguments: what the formula sees as given
_SCALARS = frozenset(
    {bool, int, float, torch.dtype, torch.device, torch.layout, torch.memory_format}
)
_CONTAINERS = (list, tuple, dict)  # a tuple of types: `isinstance` checks a union slower
_NONE: frozenset[int] = frozenset()  # the positions of weights, in an unweighted operator
_UNRECORDED: ContextVar[bool] = ContextVar("unrecorded", default=False)


@contextmanager
def _unrecorded() -> Iterator[None]:
    """Operations inside are not the model's work: a trace records none of them, and each
    output hands on its input's producer."""
    token = _UNRECORDED.set(True)
    try:
        yield
    finally:
        _UNRECORDED.reset(token)


def simulated() -> AbstractContextManager[None]:
    """Operations inside emulate a number format in float (fake quantization): a deployed
    integer kernel folds them into its requantization, so a trace does not count them."""
    return _unrecorded()


def assembling() -> AbstractContextManager[None]:
    """Operations inside assemble the model's inputs from the tensors a trace gives it (a
    KV cache from its keys and values): the data was there before the step, so a trace does
    not count them."""
    return _unrecorded()


def dtype_bits(dtype: torch.dtype) -> int:
    return dtype.itemsize * 8


def _is_packed(value: Any) -> bool:
    """A quantized module's packed parameters (`quantized::conv2d`'s and `linear`'s)."""
    return isinstance(value, torch.ScriptObject) and hasattr(value, "unpack")


def _on_meta(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """An operator's arguments with their real tensors on the meta device, where a meta tensor
    is among them (a real model's weight meeting a traced activation); as they are otherwise
    (real data, such as an index the model computes from its buffers, is computed for real)."""
    meta = real = False
    for tensor in _operands(args, kwargs):
        if tensor.is_meta:
            meta = True
        else:
            real = True
        if meta and real:
            return _mapped(args), _mapped(kwargs)
    return args, kwargs


def _holds_tensors(listed: list[Any] | tuple[Any, ...]) -> bool:
    """Whether an operator's list argument may hold tensors (cat's, index's): a schema's list
    is of one type, so one that starts with a number (a shape, a stride) holds none."""
    return bool(listed) and type(listed[0]) not in _SCALARS


def _operands(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterator[torch.Tensor]:
    """The tensors among an operator's arguments, given alone or in a list."""
    for arg in (*args, *kwargs.values()) if kwargs else args:
        if isinstance(arg, torch.Tensor):
            yield arg
        elif isinstance(arg, (list, tuple)) and _holds_tensors(arg):
            yield from _tensors(arg)


def _mapped(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value if value.device.type == "meta" else value.to("meta")
    if isinstance(value, list | tuple):
        return type(value)(_mapped(item) for item in value)
    if isinstance(value, dict):
        return {key: _mapped(item) for key, item in value.items()}
    return value


def _tensors(value: Any) -> Iterator[torch.Tensor]:
    """Tensors in an operator's arguments or results (nested lists, tuples, dicts).

    Hand-written: torch's pytree costs more than the rest of the tracer together. Only a
    nested container is walked by a generator of its own (one per argument was a tenth of a
    transformer's trace).
    """
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, _CONTAINERS):
        for item in value.values() if isinstance(value, dict) else value:
            if isinstance(item, torch.Tensor):
                yield item
            elif isinstance(item, _CONTAINERS):
                yield from _tensors(item)


class _ModelState:
    """The model's parameters and buffers, and which parameters the pass has read so far."""

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        # read off each module's own tables: `parameters()` walks the tree once more per call
        self.params: dict[int, torch.Tensor] = {
            id(p): p for m in modules for p in m._parameters.values() if p is not None
        }
        self.tensors: dict[int, torch.Tensor] = {
            id(b): b for m in modules for b in m._buffers.values() if b is not None
        }
        self.tensors.update(self.params)
        self.read: set[int] = set()
        # A quantized module keeps its int8 weight and float bias packed in a ScriptObject:
        # unpacked once, on first sight, they are parameters like any other.
        self.unpacked: dict[int, tuple[Any, list[torch.Tensor]]] = {}

    def unpack(self, packed: Any) -> list[torch.Tensor]:
        """The weight and bias (where there is one) inside a quantized module's packed
        parameters, registered as model state."""
        if id(packed) not in self.unpacked:
            tensors = [t for t in packed.unpack() if isinstance(t, torch.Tensor)]
            self.unpacked[id(packed)] = (packed, tensors)  # holding `packed` keeps its id
            for tensor in tensors:
                self.params[id(tensor)] = self.tensors[id(tensor)] = tensor
        return self.unpacked[id(packed)][1]

    def owner(self, tensor: torch.Tensor) -> int | None:
        """The id of the state tensor that `tensor` is, or views; None for activations."""
        if (key := id(tensor)) in self.tensors:
            return key
        base = tensor._base
        return id(base) if base is not None and id(base) in self.tensors else None

    def first_read_params(self, owners: Iterable[int]) -> int:
        """Parameter count of `owners` not read before: each parameter is counted once."""
        count = 0
        for o in owners:
            if o not in self.read and (parameter := self.params.get(o)) is not None:
                self.read.add(o)
                count += parameter.numel()
        return count

    def unread_params(self) -> int:
        return sum(p.numel() for key, p in self.params.items() if key not in self.read)


class _Producers:
    """The layer whose output each activation tensor is (or views). Weak, as a freed tensor's
    id is reused: an entry counts only while its tensor is alive."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[weakref.ref[torch.Tensor], int]] = {}

    def set(self, tensor: torch.Tensor, index: int) -> None:
        self._by_id[id(tensor)] = (weakref.ref(tensor), index)

    def of(self, tensor: torch.Tensor) -> int:
        """The producing layer's index; -1 for the model input or a tensor no layer made."""
        entry = self._by_id.get(id(tensor))
        if entry is not None and entry[0]() is tensor:
            return entry[1]
        base = tensor._base
        entry = None if base is None else self._by_id.get(id(base))
        return entry[1] if entry is not None and entry[0]() is base else -1


class _LiveActivations:
    """Bytes of activations alive at once; the peak bounds the working set from below."""

    def __init__(self, bits: int | None) -> None:
        self.bits = bits
        self.live: dict[int, tuple[int, weakref.ref[torch.Tensor]]] = {}
        self.current = 0
        self.peak = 0

    def add(self, tensor: torch.Tensor) -> None:
        key = id(tensor)
        if key in self.live or tensor._base is not None:
            return
        size = bits_to_bytes(tensor.numel(), self.bits or dtype_bits(tensor.dtype))
        # the reference's callback runs as the tensor is freed (a tenth of weakref.finalize)
        self.live[key] = (size, weakref.ref(tensor, partial(self._release, key)))
        self.current += size
        if self.current > self.peak:
            self.peak = self.current

    def _release(self, key: int, reference: object) -> None:
        self.current -= self.live.pop(key, (0, None))[0]


class ModelError(Exception):
    """The model's own code (its forward, or an operator it calls) raised `error`;
    `operator` is the last operator the model called ("" if none)."""

    def __init__(self, error: Exception, operator: str = "") -> None:
        super().__init__(str(error))
        self.error = error
        self.operator = operator


class _Operator(NamedTuple):
    """What the recorder needs of an aten overload, looked up once per trace."""

    packet: str  # "aten.convolution"
    name: str  # "convolution"
    formula: Formula | None
    passes: bool  # a view or an operator that computes nothing: not recorded
    in_place: bool  # writes into a tensor it is given: no new activation comes alive

    @staticmethod
    def of(func: Any) -> _Operator:
        packet = func.overloadpacket
        named = str(packet)
        passes = func.is_view or packet in IGNORED
        formula = ATEN_FORMULAS.get(packet)
        return _Operator(named, named.removeprefix("aten."), formula, passes,
                         func._schema.is_mutable)  # fmt: skip


class _Recorder(TorchDispatchMode):  # type: ignore[no-untyped-call]
    def __init__(
        self, state: _ModelState, live: _LiveActivations, bits: int | None, mixed: bool
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.state = state
        # meta activations through a real model's weights: torch's kernels take them on meta
        self.mixed = mixed
        self.live = live
        self.bits = bits
        self.scope: list[str] = [ROOT]
        self.layers: list[Layer] = []
        self.producers = _Producers()
        self.uncounted: Counter[str] = Counter()
        self.failure: Exception | None = None  # an error of the recorder's own code
        self.operator: Any = None  # the last operator called, for the message of a failure
        self.operators: dict[Any, _Operator] = {}

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        """No wrapper that keeps torch.compile out of the dispatch (a trace never compiles):
        it costs a fifth of a traced operator."""
        return False

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        self.operator = func
        rule = META_OUTPUTS.get(func)
        try:
            out = None if rule is None else rule(args, kwargs)
        except ModelShapeError as error:  # the model's error: it reaches the model's caller
            raise RuntimeError(str(error)) from None
        except Exception as error:
            self.failure = error
            raise
        if out is None:  # torch's kernel; its error is the model's
            given, named = _on_meta(args, kwargs) if self.mixed else (args, kwargs)
            out = func(*given, **named)
        if func is _EMPTY:  # a batch norm's empty by-product: from no tensor, recorded never
            return out
        return self._recorded(func, out, args, kwargs)

    def dispatched(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """`func` called as torch's dispatcher would hand it to this mode (a module's call
        issuing its operators itself, `module_calls`)."""
        return self.__torch_dispatch__(func, (), args, kwargs)

    def _recorded(self, func: Any, out: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            operator = self.operators.get(func)
            if operator is None:
                operator = self.operators[func] = _Operator.of(func)
            # Only the primary output is an activation; the rest (pooling indices, saved
            # statistics) are by-products inference drops at once.
            primary = out if isinstance(out, torch.Tensor) else next(_tensors(out), None)
            if operator.passes or _UNRECORDED.get():
                self._pass_through(args, primary)
                return out
            if primary is not None:
                if not operator.in_place:  # (a cache assembled before the step stays unseen)
                    self.live.add(primary)
                self._record(operator, args, kwargs, primary)
        except Exception as error:  # marked as edgegap's, so that trace lets it through
            self.failure = error
            raise
        return out

    def _pass_through(self, args: tuple[Any, ...], primary: torch.Tensor | None) -> None:
        """An operator that is not recorded (an alias, a copy-free reshape, a simulated
        quantizer) hands on its first activation's producer: its output is that data. A view
        too: its base is the first tensor of a chain of views, and an in-place operator may
        have written one in between (a view a dispatch mode makes has no base yet)."""
        if primary is None:
            return
        owner = self.state.owner
        source = next((t for t in _operands(args, {}) if owner(t) is None), None)
        if source is not None and (producer := self.producers.of(source)) >= 0:
            self.producers.set(primary, producer)

    def _record(
        self, operator: _Operator, args: tuple[Any, ...], kwargs: dict[str, Any], primary: Any
    ) -> None:
        state = self.state
        owner = state.owner
        activations: list[torch.Tensor] = []  # in the order the operator takes them
        activation_shapes: list[Shape] = []
        weights: list[int] = []
        shapes: list[Any] = []  # the arguments as the formula sees them
        weighted: list[int] = []  # positions of the arguments that are model state
        for i, arg in enumerate(args):
            if arg is None or type(arg) in _SCALARS:  # most arguments: a third of the checks
                shapes.append(arg)
            elif isinstance(arg, torch.Tensor):
                shape = tuple(arg.shape)  # a tuple slices at a third of a Size's cost
                if (o := owner(arg)) is None:
                    activations.append(arg)
                    activation_shapes.append(shape)
                else:
                    weights.append(o)
                    weighted.append(i)
                shapes.append(shape)
            elif isinstance(arg, (list, tuple)):
                if _holds_tensors(arg):
                    for tensor in _tensors(arg):
                        if (o := owner(tensor)) is None:
                            activations.append(tensor)
                            activation_shapes.append(tuple(tensor.shape))
                        else:
                            weights.append(o)
                shapes.append(arg)
            elif _is_packed(arg):
                unpacked = state.unpack(arg)
                weights.extend(id(t) for t in unpacked)
                weighted.append(i)
                shapes.append(Packed(unpacked[0].shape, len(unpacked) > 1))
            else:
                shapes.append(arg)
        for tensor in _tensors(kwargs) if kwargs else ():
            if (o := owner(tensor)) is None:
                activations.append(tensor)
                activation_shapes.append(tuple(tensor.shape))
            else:
                weights.append(o)
        out_shape = tuple(primary.shape)
        if operator.formula is None:
            self.uncounted[operator.packet] += 1
            count = OpCount("uncounted")
        else:
            # `weighted` are the positions of `weights`: a product is weighted exactly when a
            # weight it reads is counted in `weight_elements`.
            weights_at = frozenset(weighted) if weighted else _NONE
            count = operator.formula(Args(shapes, weights_at), kwargs, out_shape)
        activation_bits = self.bits or dtype_bits(primary.dtype)
        if weights:
            owners = dict.fromkeys(weights)  # each once, in order
            read = [state.tensors[o] for o in owners]
            sizes = [t.numel() for t in read]
            # The bit-width of the largest weight read: a quantized layer's int8 weight, not
            # its float bias.
            largest = read[sizes.index(max(sizes))] if len(read) > 1 else read[0]
            weight_bits = self.bits or dtype_bits(largest.dtype)
            params = state.first_read_params(owners)
            weight_elements = sum(sizes)
        else:
            weight_bits, params, weight_elements = activation_bits, 0, 0
        producers = self.producers
        written = count.written
        self.layers.append(
            Layer.quick(
                index=len(self.layers),
                name=self.scope[-1],
                op=operator.name,
                kind=count.kind,
                input_shapes=tuple(activation_shapes),
                output_shape=out_shape,
                elementwise_flops=count.elementwise_flops,
                params=params,
                weight_elements=weight_elements if count.gathered is None else count.gathered,
                input_elements=sum([t.numel() for t in activations])
                if written is None
                else written,
                output_elements=primary.numel() if written is None else written,
                weight_bits=weight_bits,
                activation_bits=activation_bits,
                gemms=count.gemms,
                producers=tuple([producers.of(t) for t in activations]),
                gathers=count.gathered is not None,
            )
        )
        # After the inputs were resolved: an in-place operator's output is its input tensor.
        producers.set(primary, len(self.layers) - 1)


@contextmanager
def _module_scopes(
    paths: Mapping[nn.Module, str],
    recorder: _Recorder,
    module_calls: Mapping[type[nn.Module], ModuleCall],
) -> Iterator[None]:
    """Keep the recorder's `scope[-1]` equal to the path (`paths`) of the innermost module of
    the model whose forward is running. `__call__` is wrapped while tracing, as every call of a
    module goes through it: a hook, even a global one, sends each module call through torch's
    slow path (a tenth of a small model's trace), and registering one per module costs more
    than tracing the module's operators; restored on exit. It is set on the model's own
    classes, not on `nn.Module`, whose every subclass's method cache it would reset (twice a
    trace, a twentieth of a small model's); on `nn.Module` where a class has a `__call__` of
    its own, which reaches ours through `super()`.

    A module in `module_calls` called on one meta tensor hands its operators to the recorder
    itself, with torch's dispatch into Python modes off, as it is inside the recorder."""
    scope, dispatch = recorder.scope, recorder.dispatched
    original = nn.Module.__call__
    hooked = torch._C._get_tracing_state() is not None or any(
        (
            module_internals._global_forward_hooks,
            module_internals._global_forward_pre_hooks,
            module_internals._global_backward_hooks,
            module_internals._global_backward_pre_hooks,
        )
    )

    def call(module: nn.Module, *args: Any, **kwargs: Any) -> Any:
        name = paths.get(module)
        if name is None:
            return original(module, *args, **kwargs)
        scope.append(name)
        try:
            # torch's own path of a module without hooks, uncompiled, outside a jit trace,
            # without its two calls (a fifth of a small module's cost)
            if (
                hooked
                or module._compiled_call_impl is not None
                or module._forward_hooks
                or (
                    module._forward_pre_hooks
                    or module._backward_hooks
                    or module._backward_pre_hooks
                )
            ):
                return original(module, *args, **kwargs)
            issue = module_calls.get(type(module))
            if issue is not None and len(args) == 1 and not kwargs:
                x = args[0]
                if type(x) is torch.Tensor and x.is_meta:
                    with torch._C._DisableTorchDispatch():
                        out = issue(module, x, dispatch)
                    if out is not None:
                        return out
            return module.forward(*args, **kwargs)
        finally:
            scope.pop()

    classes = {type(module) for module in paths}
    if any(cls.__call__ is not original for cls in classes):
        classes = {nn.Module}
    before = [(cls, cls.__dict__.get("__call__")) for cls in classes]
    for cls in classes:
        cls.__call__ = call  # type: ignore[method-assign]
    try:
        yield
    finally:
        for cls, own in before:
            if own is None:
                del cls.__call__
            else:
                cls.__call__ = own  # type: ignore[method-assign]


@contextmanager
def _attention_fused_on_meta() -> Iterator[None]:
    """Scaled dot-product attention of meta tensors as a CPU runs it: one fused kernel that
    reads queries, keys and values once (`_scaled_dot_product_flash_attention_for_cpu`, as
    edge runtimes fuse it; grouped-query keys as they are, a boolean mask made additive
    first), where PyTorch gives meta tensors its math fallback, whose copies and scalings
    each read a decode step's whole KV cache again. `F.scaled_dot_product_attention` is
    replaced while tracing, which every caller (transformers, `nn.MultiheadAttention`)
    looks up when it calls; restored on exit."""
    functional = torch.nn.functional
    original = functional.scaled_dot_product_attention

    def fused(query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: float = 0.0,
              is_causal: bool = False, scale: Any = None,
              enable_gqa: bool = False) -> Any:  # fmt: skip
        if query.device.type != "meta" or dropout_p:
            return original(query, key, value, attn_mask, dropout_p, is_causal, scale=scale,
                            enable_gqa=enable_gqa)  # fmt: skip
        if attn_mask is not None and attn_mask.dtype == torch.bool:
            zero, minus_infinity = (torch.scalar_tensor(v, dtype=query.dtype, device="meta")
                                    for v in (0.0, float("-inf")))  # fmt: skip
            attn_mask = torch.where(attn_mask, zero, minus_infinity)
        return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            query, key, value, 0.0, is_causal, attn_mask=attn_mask, scale=scale
        )[0]

    functional.scaled_dot_product_attention = fused
    try:
        yield
    finally:
        functional.scaled_dot_product_attention = original


@contextmanager
def _mha_fast_path_disabled() -> Iterator[None]:
    """nn.MultiheadAttention's fused CPU kernel hides its matrix products from the tracer."""
    enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(enabled)


def _paths(model: nn.Module) -> dict[nn.Module, str]:
    """Each module's path in the tree, as `named_modules` names it (depth first, a module met
    twice named where it was met first), without its generator per level of nesting, which
    costs a module of a deep model a resumption per level."""
    paths: dict[nn.Module, str] = {}
    stack = [("", model)]
    while stack:
        path, module = stack.pop()
        if module in paths:
            continue
        paths[module] = path or ROOT
        prefix = f"{path}." if path else ""
        stack.extend(
            (prefix + name, child)
            for name, child in reversed(module._modules.items())
            if child is not None
        )
    return paths


def trace(
    model: nn.Module,
    examples: Sequence[torch.Tensor],
    name: str,
    bits: int | None = None,
    named: Mapping[str, torch.Tensor] | None = None,
    module_calls: Mapping[type[nn.Module], ModuleCall] = MODULE_CALLS,
) -> Workload:
    """Run `model` once on `examples` (positional) and `named` (keyword) inputs and record
    every operator it executes.

    Modules in `module_calls` issue their operators from their call (the same operators,
    faster); `{}` runs every forward.

    Whatever the model's own code raises comes out as a `ModelError`.

    `bits` overrides the bit-width of weights and activations (e.g. 8 for int8 deployment);
    by default each tensor's own dtype decides.
    """
    paths = _paths(model)
    state = _ModelState(list(paths))
    live = _LiveActivations(bits)
    named = dict(named or {})
    for tensor in [*examples, *named.values()]:
        live.add(tensor)
    on_meta = any(t.is_meta for t in (*examples, *named.values()))
    real_state = any(not t.is_meta for t in state.tensors.values())
    recorder = _Recorder(state, live, bits, on_meta and real_state)
    # eval(), flag by flag: `Module.eval()` walks the tree through its slow __setattr__
    training = [module for module in paths if module.training]
    for module in training:
        module.__dict__["training"] = False
    try:
        with (
            torch.no_grad(),
            _mha_fast_path_disabled(),
            _attention_fused_on_meta(),
            _module_scopes(paths, recorder, module_calls),
            recorder,
        ):
            result = model(*examples, **named)
    except Exception as error:
        # The user's model raised (its forward, an assertion on the input size, an operator
        # refusing a shape); the recorder's own errors are bugs and pass through.
        if error is recorder.failure or recorder.failure is not None:
            raise
        called = "" if recorder.operator is None else str(recorder.operator.overloadpacket)
        raise ModelError(error, called) from error
    finally:
        for module in training:  # each module's own mode back, not its parent's
            module.__dict__["training"] = True
    return Workload(
        model=name,
        input_shape=tuple([*examples, *named.values()][0].shape),
        layers=tuple(recorder.layers),
        peak_activation_bytes=live.peak,
        unused_params=state.unread_params(),
        uncounted_ops=dict(recorder.uncounted),
        outputs=tuple(
            sorted({p for t in _tensors(result) if (p := recorder.producers.of(t)) >= 0})
        ),
        inputs=(*(_described(t) for t in examples), *(_described(t, n) for n, t in named.items())),
    )


def _described(tensor: torch.Tensor, name: str | None = None) -> ModelInput:
    return ModelInput(tuple(tensor.shape), name, str(tensor.dtype).removeprefix("torch."))
