"""Weight and activation quantization, from 8-bit integers down to one bit, as transforms.

Every technique takes a model of convolutions and linear layers (others pass through), works on
a deep copy, and returns `Compressed`: the copy with each weight replaced by the exact values
its codes decode to (fake quantization: the model still runs in float32), the bytes of those
codes packed at their bit-width plus each layer's side values (scales, exponents) at their real
widths and every other parameter (biases) as float32, and each layer's weight and activation
bit-widths for the cost model. Quantized activations run as forward pre-hooks on the copy.

Each quantizer is a registered technique ("int8", "int4", "qat", "dynamic-fixed-point",
"power-of-two", "twn", "ttq", "binaryconnect", "xnor"): its measured face runs the functions
below, its analytic face sets a workload's bit-widths.

Training techniques keep float latent weights, let the forward pass see their quantized values
through `torch.nn.utils.parametrize`, and pass gradients straight through the rounding (the
straight-through estimator: Bengio, Leonard, Courville 2013; Courbariaux, Bengio, David,
NeurIPS 2015; Jacob et al., CVPR 2018).
"""

from __future__ import annotations

import copy
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn
from torch.nn.utils import parametrize

from edgegap.errors import UserError
from edgegap.precision import FP32_BITS, bits_to_bytes
from edgegap.techniques.base import (
    Compressed,
    LayerAnnotation,
    NotAvailable,
    Param,
    Technique,
    register,
)
from edgegap.techniques.storage import packed_bytes, prunable
from edgegap.training.datasets import Dataset
from edgegap.training.loop import train
from edgegap.workload.layer import Workload
from edgegap.workload.tracer import simulated

if TYPE_CHECKING:
    from edgegap.hardware.platform import Platform
    from edgegap.techniques.base import Setting

EXPONENT_BITS = 8  # a per-layer power-of-two exponent, stored as a signed byte
EXPONENT_RANGE = (-128, 127)


def _exponent_byte(exponent: int) -> int:
    """The exponent held to a signed byte's range, which only weights near float32's limits
    (subnormal or huge) would leave."""
    return max(EXPONENT_RANGE[0], min(exponent, EXPONENT_RANGE[1]))


@dataclass(frozen=True)
class QuantizedWeight:
    """One layer's weight as stored: non-negative integer codes of `bits` bits each, the side
    values that decode them (scales, exponents) at `side_bits` each, and the decoded weight."""

    codes: torch.Tensor
    bits: int
    side: torch.Tensor
    side_bits: int
    values: torch.Tensor

    @property
    def bytes(self) -> int:
        codes = len(packed_bytes(self.codes.flatten().numpy(), self.bits))
        return codes + bits_to_bytes(self.side.numel(), self.side_bits)


WeightQuantizer = Callable[[torch.Tensor], QuantizedWeight]


def _rows(weight: torch.Tensor, per_channel: bool) -> torch.Tensor:
    """One row per output channel (dimension 0), or the whole tensor as one row."""
    return weight.detach().reshape(len(weight) if per_channel else 1, -1)


def _sign(values: torch.Tensor) -> torch.Tensor:
    """+1 above zero, -1 otherwise: two values only (torch.sign maps zero to a third)."""
    return torch.where(values > 0, 1.0, -1.0)


def uniform_weight(weight: torch.Tensor, bits: int, per_channel: bool = True) -> QuantizedWeight:
    """Symmetric uniform quantization: integers in [-(2^(b-1) - 1), 2^(b-1) - 1] times a
    float32 scale max|W| / (2^(b-1) - 1) per output channel (or per tensor); codes are the
    integers offset by 2^(b-1)."""
    levels = 2 ** (bits - 1) - 1
    rows = _rows(weight, per_channel)
    scale = rows.abs().amax(1, keepdim=True) / levels
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    integers = torch.clamp(torch.round(rows / scale), -levels, levels)
    values = (integers * scale).reshape(weight.shape)
    codes = (integers + 2 ** (bits - 1)).long().reshape(weight.shape)
    return QuantizedWeight(codes, bits, scale.flatten(), FP32_BITS, values)


def fixed_point_weight(weight: torch.Tensor, bits: int) -> QuantizedWeight:
    """Dynamic fixed point (Courbariaux, Bengio, David 2014; Gysel et al., "Ristretto", 2016):
    `bits`-bit two's complement integers times 2^-f, the fractional length f = bits - il with
    il = ceil(log2 max|W|) + 1 integer bits (sign included) so the layer's range fits; values
    beyond the largest integer saturate. Codes are the integers offset by 2^(b-1); f is the
    layer's one side value, a signed byte."""
    peak = float(weight.detach().abs().max())
    integer_bits = math.ceil(math.log2(peak)) + 1 if peak > 0 else 1
    fraction = _exponent_byte(bits - integer_bits)
    step = 2.0**-fraction
    integers = torch.clamp(
        torch.round(weight.detach() / step), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    )
    codes = (integers + 2 ** (bits - 1)).long()
    return QuantizedWeight(codes, bits, torch.tensor([fraction]), EXPONENT_BITS, integers * step)


def power_of_two_weight(weight: torch.Tensor, bits: int) -> QuantizedWeight:
    """Logarithmic quantization (Miyashita, Lee, Murmann 2016; Zhou et al., "INQ", ICLR 2017):
    each weight becomes 0 or +-2^k, k in [n1 - 2^(b-1) + 2, n1] with n1 = floor(log2(4 max|W| /
    3)) as in INQ; a weight rounds to the nearest level (INQ's rule: 2^k covers [1.5 * 2^(k-1),
    1.5 * 2^k)), below half the smallest level to zero. A code is a sign bit and b - 1 bits of
    magnitude m: m = 0 is zero, m >= 1 is 2^(n1 - m + 1); n1 is the layer's signed byte."""
    magnitude = weight.detach().abs()
    peak = float(magnitude.max())
    top = _exponent_byte(math.floor(math.log2(4 * peak / 3))) if peak > 0 else 0
    bottom = top - 2 ** (bits - 1) + 2
    exponent = torch.clamp(torch.floor(torch.log2(4 * magnitude / 3)), bottom, top)
    is_zero = magnitude < 2.0**bottom / 2
    negative = (weight.detach() < 0) & ~is_zero
    levels = torch.where(is_zero, 0.0, torch.exp2(exponent))
    values = torch.where(negative, -levels, levels)
    steps = torch.where(is_zero, 0, top - exponent + 1).long()
    codes = negative.long() * 2 ** (bits - 1) + steps
    return QuantizedWeight(codes, bits, torch.tensor([top]), EXPONENT_BITS, values)


def _ternary_codes(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """2-bit codes: 0 for zero, 1 for the positive level, 2 for the negative one."""
    return positive.long() + 2 * negative.long()


def ternary_weight(weight: torch.Tensor) -> QuantizedWeight:
    """Ternary Weight Networks (Li, Zhang, Liu 2016): threshold delta = 0.7 mean|W|, values
    alpha * sign(W) above it and 0 below, alpha = mean |W| over the weights above delta (the
    paper's approximate minimiser of ||W - alpha T||^2); alpha is a float32 per layer."""
    latent = weight.detach()
    delta = 0.7 * latent.abs().mean()
    positive, negative = latent > delta, latent < -delta
    kept = latent.abs()[positive | negative]
    alpha = kept.mean() if kept.numel() else torch.zeros(())
    values = alpha * (positive.float() - negative.float())
    return QuantizedWeight(
        _ternary_codes(positive, negative), 2, alpha.reshape(1), FP32_BITS, values
    )


def binary_weight(weight: torch.Tensor, per_channel: bool) -> QuantizedWeight:
    """alpha * sign(W) with alpha = mean |W| per output channel (XNOR-Net, Rastegari et al.,
    ECCV 2016) or per layer; 1-bit codes (1 for +alpha) and float32 alphas."""
    rows = _rows(weight, per_channel)
    alpha = rows.abs().mean(1, keepdim=True)
    values = (alpha * _sign(rows)).reshape(weight.shape)
    codes = (weight.detach() > 0).long()
    return QuantizedWeight(codes, 1, alpha.flatten(), FP32_BITS, values)


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weights quantized: those of convolutions and linear layers, by module path."""
    weights = prunable(model)
    if not weights:
        raise UserError("the model has no Conv1d, Conv2d or Linear layer to quantize")
    return weights


def _layers(model: nn.Module) -> dict[str, nn.Module]:
    names = _weights(model)
    return {name: module for name, module in model.named_modules() if name in names}


def _storage_bytes(model: nn.Module, quantized: dict[str, QuantizedWeight]) -> int:
    """Packed codes and side values of each quantized weight; every other parameter (biases)
    as float32."""
    weights = [id(weight) for weight in prunable(model).values()]
    others = sum(p.numel() for p in model.parameters() if id(p) not in weights)
    return sum(q.bytes for q in quantized.values()) + bits_to_bytes(others, FP32_BITS)


def _compressed(
    technique: str,
    model: nn.Module,
    quantized: dict[str, QuantizedWeight],
    activation_bits: dict[str, int],
    params: dict[str, Any],
) -> Compressed:
    annotations = {
        name: LayerAnnotation(weight_bits=q.bits, activation_bits=activation_bits.get(name))
        for name, q in quantized.items()
    }
    return Compressed(technique, model, _storage_bytes(model, quantized), annotations, params)


def _quantize_in_place(model: nn.Module, quantizer: WeightQuantizer) -> dict[str, QuantizedWeight]:
    quantized = {}
    with torch.no_grad():
        for name, weight in _weights(model).items():
            quantized[name] = quantizer(weight)
            weight.copy_(quantized[name].values)
    return quantized


class ActivationQuantizer:
    """A forward pre-hook that fake-quantizes a layer's input to `bits` over [low, high]:
    affine integers in [0, 2^b - 1] with a zero point, the range widened to hold 0 exactly
    (Jacob et al., CVPR 2018). Gradients pass straight through inside the range. While
    `tracking`, each training batch moves the range by an exponential moving average of its
    min and max (QAT); otherwise the range stays as calibrated."""

    def __init__(self, bits: int, momentum: float = 0.1) -> None:
        self.bits = bits
        self.momentum = momentum
        self.low: float | None = None
        self.high: float | None = None
        self.tracking = False

    def observe(self, inputs: torch.Tensor, percentile: float = 100.0) -> None:
        flat = inputs.detach().flatten()
        if percentile < 100.0:
            low = float(torch.quantile(flat, 1 - percentile / 100))
            high = float(torch.quantile(flat, percentile / 100))
        else:
            low, high = float(flat.min()), float(flat.max())
        low, high = min(low, 0.0), max(high, 0.0)
        if self.low is None or self.high is None:
            self.low, self.high = low, high
        else:
            self.low += self.momentum * (low - self.low)
            self.high += self.momentum * (high - self.high)

    def __call__(self, module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        inputs = args[0]
        if self.tracking and module.training:
            self.observe(inputs)
        if self.low is None or self.high is None:
            raise RuntimeError("activation range used before calibration")
        top = 2**self.bits - 1
        scale = (self.high - self.low) / top if self.high > self.low else 1.0
        zero_point = round(-self.low / scale)
        with simulated():
            integers = torch.clamp(torch.round(inputs / scale) + zero_point, 0, top)
            clipped = torch.clamp(inputs, self.low, self.high)
            dequantized = (integers - zero_point) * scale
            return (dequantized + (clipped - clipped.detach()), *args[1:])


def binarize_input(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """XNOR-Net's binary activation as a forward pre-hook: sign of the input, gradient passed
    straight through where |x| <= 1 (the hard-tanh estimator of Hubara, Courbariaux et al.,
    NeurIPS 2016)."""
    inputs = args[0]
    with simulated():
        clipped = torch.clamp(inputs, -1.0, 1.0)
        return (_sign(inputs) + (clipped - clipped.detach()), *args[1:])


def _check_bits(bits: int, low: int, high: int, technique: str) -> None:
    if not isinstance(bits, int) or not low <= bits <= high:
        raise UserError(f"{technique} needs bits in {low}..{high}, got {bits!r}: pick one there")


def _check_training(epochs: int, lr: float) -> None:
    if not isinstance(epochs, int) or epochs < 0:
        raise UserError(f"epochs must be a non-negative integer, got {epochs!r}")
    if not lr > 0:
        raise UserError(f"the learning rate must be positive, got {lr!r}")


def quantize_uniform(
    model: nn.Module,
    bits: int,
    per_channel: bool = True,
    calibration: torch.Tensor | None = None,
    activation_bits: int | None = None,
    percentile: float = 100.0,
) -> Compressed:
    """Post-training symmetric uniform quantization of the weights (Krishnamoorthi 2018; Jacob
    et al., CVPR 2018). With `activation_bits` and a `calibration` batch, each quantized
    layer's input range is observed on that batch (its min and max, or the given percentile
    and its mirror to clip outliers) and inputs are fake-quantized at run time."""
    _check_bits(bits, 2, 16, "uniform quantization")
    if (calibration is None) != (activation_bits is None):
        raise UserError("activation quantization needs both activation_bits and calibration")
    if activation_bits is not None:
        _check_bits(activation_bits, 2, 16, "activation quantization")
    if not 50.0 < percentile <= 100.0:
        raise UserError(f"percentile must be in (50, 100], got {percentile!r}")
    quantized_model = copy.deepcopy(model).eval()
    quantized = _quantize_in_place(
        quantized_model, partial(uniform_weight, bits=bits, per_channel=per_channel)
    )
    act_bits: dict[str, int] = {}
    if calibration is not None and activation_bits is not None:
        _calibrate(quantized_model, calibration, activation_bits, percentile)
        act_bits = dict.fromkeys(quantized, activation_bits)
    params = {
        "bits": bits,
        "per_channel": per_channel,
        "activation_bits": activation_bits,
        "percentile": percentile,
    }
    return _compressed(f"int{bits}", quantized_model, quantized, act_bits, params)


def _calibrate(
    model: nn.Module, calibration: torch.Tensor, bits: int, percentile: float
) -> dict[str, ActivationQuantizer]:
    """Observe each layer's input on the calibration batch, then quantize it from then on."""
    layers = _layers(model)
    quantizers = {name: ActivationQuantizer(bits) for name in layers}
    handles = [
        layers[name].register_forward_pre_hook(
            lambda _module, args, quantizer=quantizer: quantizer.observe(args[0], percentile)
        )
        for name, quantizer in quantizers.items()
    ]
    with torch.no_grad():
        model(calibration)
    for handle in handles:
        handle.remove()
    for name, quantizer in quantizers.items():
        layers[name].register_forward_pre_hook(quantizer)
    return quantizers


def dynamic_fixed_point(model: nn.Module, bits: int) -> Compressed:
    """Every layer in `bits`-bit dynamic fixed point: its own fractional length, one signed
    byte per layer (see `fixed_point_weight`)."""
    _check_bits(bits, 2, 16, "dynamic fixed point")
    quantized_model = copy.deepcopy(model).eval()
    quantized = _quantize_in_place(quantized_model, partial(fixed_point_weight, bits=bits))
    technique = f"dynamic-fixed-point-{bits}"
    return _compressed(technique, quantized_model, quantized, {}, {"bits": bits})


def power_of_two(model: nn.Module, bits: int) -> Compressed:
    """Every weight 0 or +-2^k, multiplies become shifts (see `power_of_two_weight`)."""
    _check_bits(bits, 2, 8, "power-of-two quantization")
    quantized_model = copy.deepcopy(model).eval()
    quantized = _quantize_in_place(quantized_model, partial(power_of_two_weight, bits=bits))
    return _compressed(f"power-of-two-{bits}", quantized_model, quantized, {}, {"bits": bits})


class _Latent(nn.Module, ABC):
    """A parametrization: the forward pass sees the quantized value of a latent float
    weight; `freeze` gives that value and its codes once training ends."""

    @abstractmethod
    def freeze(self, latent: torch.Tensor) -> QuantizedWeight: ...


class StraightThrough(_Latent):
    """The quantized weight forward, the gradient passed unchanged to the latent weight:
    q + (w - w.detach()) is exactly q, since the difference is exactly zero, and has
    gradient 1 in w."""

    def __init__(self, quantizer: WeightQuantizer) -> None:
        super().__init__()
        self.quantizer = quantizer

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        with simulated():
            return self.quantizer(latent).values + (latent - latent.detach())

    def freeze(self, latent: torch.Tensor) -> QuantizedWeight:
        return self.quantizer(latent)


class TrainedTernary(_Latent):
    """Trained Ternary Quantization (Zhu, Han, Mao, Dally, ICLR 2017): values W_p above the
    threshold t * max|w|, -W_n below its negative, 0 between, with W_p and W_n trained. By
    autograd each scale's gradient is the sum of the ternary weights' gradients over its index
    set (eq. 7; negated for W_n, the chain rule of -W_n); the latent weight receives the
    ternary gradient scaled by W_p, 1 or W_n on the three sets (eq. 8)."""

    def __init__(self, latent: torch.Tensor, threshold: float) -> None:
        super().__init__()
        self.threshold = threshold
        positive, negative = self._sets(latent)
        kept = latent.detach().abs()[positive | negative]
        start = float(kept.mean()) if kept.numel() else 0.0  # TWN's alpha
        self.positive_scale = nn.Parameter(torch.tensor(start))
        self.negative_scale = nn.Parameter(torch.tensor(start))

    def _sets(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        delta = self.threshold * latent.detach().abs().max()
        return latent.detach() > delta, latent.detach() < -delta

    def _ternary(self, latent: torch.Tensor) -> torch.Tensor:
        positive, negative = self._sets(latent)
        return self.positive_scale * positive - self.negative_scale * negative

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        with simulated():
            positive, negative = self._sets(latent)
            wp, wn = self.positive_scale.detach(), self.negative_scale.detach()
            surrogate = torch.where(positive, wp, torch.where(negative, wn, 1.0)) * latent
            return self._ternary(latent) + (surrogate - surrogate.detach())

    def freeze(self, latent: torch.Tensor) -> QuantizedWeight:
        positive, negative = self._sets(latent)
        scales = torch.stack([self.positive_scale, self.negative_scale]).detach()
        values = self._ternary(latent).detach()
        return QuantizedWeight(_ternary_codes(positive, negative), 2, scales, FP32_BITS, values)


def _train_quantized(
    model: nn.Module,
    data: Dataset,
    epochs: int,
    lr: float,
    seed: int,
    latent: Callable[[torch.Tensor], _Latent],
    after_step: Callable[[], None] | None = None,
) -> dict[str, QuantizedWeight]:
    """Train `model` (in place) with each weight seen through its parametrization, then fix
    every weight at its quantized value."""
    parametrizations = {name: latent(weight.detach()) for name, weight in _weights(model).items()}
    layers = _layers(model)
    for name, layer in layers.items():
        parametrize.register_parametrization(layer, "weight", parametrizations[name])
    train(model, data, epochs, lr=lr, seed=seed, after_step=after_step)
    for layer in layers.values():
        parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    quantized = {}
    with torch.no_grad():
        for name, weight in _weights(model).items():
            quantized[name] = parametrizations[name].freeze(weight)
            weight.copy_(quantized[name].values)
    model.eval()
    return quantized


def quantization_aware_training(
    model: nn.Module,
    data: Dataset,
    bits: int,
    epochs: int,
    lr: float = 1e-3,
    seed: int = 0,
    per_channel: bool = True,
    activation_bits: int | None = None,
) -> Compressed:
    """Quantization-aware training (Jacob et al., CVPR 2018): the forward pass sees weights
    fake-quantized as `quantize_uniform` does and, with `activation_bits`, inputs quantized
    over ranges tracked by a moving average of batch min/max (started on the first 256
    training samples); straight-through gradients update the float weights, which end fixed
    at their quantized values."""
    _check_bits(bits, 2, 16, "quantization-aware training")
    _check_training(epochs, lr)
    trained = copy.deepcopy(model)
    ranges: dict[str, ActivationQuantizer] = {}
    if activation_bits is not None:
        _check_bits(activation_bits, 2, 16, "activation quantization")
        ranges = _calibrate(trained, data.x_train[:256], activation_bits, 100.0)
    for activation_range in ranges.values():
        activation_range.tracking = True
    quantizer = partial(uniform_weight, bits=bits, per_channel=per_channel)
    quantized = _train_quantized(
        trained, data, epochs, lr, seed, lambda _: StraightThrough(quantizer)
    )
    for activation_range in ranges.values():
        activation_range.tracking = False
    act_bits = {name: activation_range.bits for name, activation_range in ranges.items()}
    params: dict[str, Any] = {"bits": bits, "epochs": epochs, "lr": lr, "seed": seed}
    params |= {"per_channel": per_channel, "activation_bits": activation_bits}
    return _compressed(f"qat-int{bits}", trained, quantized, act_bits, params)


def ternary_twn(
    model: nn.Module,
    data: Dataset | None = None,
    epochs: int = 0,
    lr: float = 1e-3,
    seed: int = 0,
) -> Compressed:
    """Ternary Weight Networks (Li, Zhang, Liu 2016; see `ternary_weight`): 2-bit codes and a
    float32 alpha per layer; with `data` and `epochs`, fine-tuned with the ternary weights
    forward and straight-through gradients to the float weights, as the paper trains."""
    _check_training(epochs, lr)
    if epochs and data is None:
        raise UserError("fine-tuning TWN needs data: pass data=load_dataset(...) or epochs=0")
    ternary = copy.deepcopy(model)
    if data is not None and epochs:
        quantized = _train_quantized(
            ternary, data, epochs, lr, seed, lambda _: StraightThrough(ternary_weight)
        )
    else:
        quantized = _quantize_in_place(ternary.eval(), ternary_weight)
    return _compressed("twn", ternary, quantized, {}, {"epochs": epochs, "lr": lr, "seed": seed})


def ternary_ttq(
    model: nn.Module,
    data: Dataset,
    epochs: int,
    threshold: float = 0.05,
    lr: float = 1e-3,
    seed: int = 0,
) -> Compressed:
    """Trained Ternary Quantization (Zhu, Han, Mao, Dally, ICLR 2017; see `TrainedTernary`):
    2-bit codes and two float32 scales per layer. Unlike the paper, the first and last layers
    are ternary too."""
    _check_training(epochs, lr)
    if not 0.0 < threshold < 1.0:
        raise UserError(f"the TTQ threshold is a fraction of max|W| in (0, 1), got {threshold!r}")
    ternary = copy.deepcopy(model)
    quantized = _train_quantized(
        ternary, data, epochs, lr, seed, lambda latent: TrainedTernary(latent, threshold)
    )
    params = {"epochs": epochs, "threshold": threshold, "lr": lr, "seed": seed}
    return _compressed("ttq", ternary, quantized, {}, params)


def binary_connect(
    model: nn.Module, data: Dataset, epochs: int, lr: float = 1e-3, seed: int = 0
) -> Compressed:
    """BinaryConnect (Courbariaux, Bengio, David, NeurIPS 2015), deterministic: the forward
    pass sees alpha * sign(w), gradients pass straight through to the float weights, which are
    clipped after every step. The paper binarises to +-H with H a per-layer Glorot constant and
    clips to [-H, H]; here the per-layer float32 scale is alpha = mean|w| (XNOR-Net's weight
    scaling) and the clip bound each layer's starting max|w|. 1-bit codes."""
    _check_training(epochs, lr)
    binary = copy.deepcopy(model)
    latents = _weights(binary)  # the same parameters stay the latents once parametrized
    bounds = {name: float(latent.detach().abs().max()) for name, latent in latents.items()}

    def clip_latents() -> None:
        with torch.no_grad():
            for name, latent in latents.items():
                latent.clamp_(-bounds[name], bounds[name])

    per_layer = partial(binary_weight, per_channel=False)
    quantized = _train_quantized(
        binary, data, epochs, lr, seed, lambda _: StraightThrough(per_layer), clip_latents
    )
    params = {"epochs": epochs, "lr": lr, "seed": seed}
    return _compressed("binaryconnect", binary, quantized, {}, params)


def xnor(
    model: nn.Module, data: Dataset, epochs: int, lr: float = 1e-3, seed: int = 0
) -> Compressed:
    """XNOR-Net (Rastegari, Ordonez, Redmon, Farhadi, ECCV 2016): binary weights with a float32
    alpha = mean|W| per output channel, and binary inputs (sign, straight-through inside
    [-1, 1]) to every quantized layer but the first, whose input stays real-valued as in the
    paper (its activation_bits annotation is left at the profiled 32); "first" is first in
    module order. The paper's per-position input scale K is left out: inputs are sign(x)
    alone. Weight gradients pass straight through unchanged."""
    _check_training(epochs, lr)
    binary = copy.deepcopy(model)
    layers = _layers(binary)
    later = list(layers)[1:]
    for name in later:
        layers[name].register_forward_pre_hook(binarize_input)
    per_channel = partial(binary_weight, per_channel=True)
    quantized = _train_quantized(
        binary, data, epochs, lr, seed, lambda _: StraightThrough(per_channel)
    )
    params = {"epochs": epochs, "lr": lr, "seed": seed}
    return _compressed("xnor", binary, quantized, dict.fromkeys(later, 1), params)


# --- the registry's quantization techniques ------------------------------------------------

CALIBRATION_SAMPLES = 256  # training samples that set post-training activation ranges
_WEIGHTS_ACTIVATIONS = re.compile(r"W(\d+)A(\d+)")
EPOCHS = Param("epochs", 1, 0, 1000, integer=True, help="fine-tuning epochs")
LR = Param("lr", 1e-3, 1e-7, 1.0, help="fine-tuning learning rate")
ACTIVATION_BITS = Param(
    "activation_bits",
    None,
    2,
    16,
    integer=True,
    help="activations quantized too (default: left as profiled)",
)


def quantized_workload(
    workload: Workload, weight_bits: int, activation_bits: int | None
) -> Workload:
    """Every layer's weights at `weight_bits` and activations at `activation_bits` (None:
    as profiled); the platform runs the narrowest precision it has that holds both."""
    layers = tuple(
        replace(layer.with_weight_bits(weight_bits),
                activation_bits=layer.activation_bits if activation_bits is None
                else activation_bits)
        for layer in workload.layers
    )  # fmt: skip
    return workload.with_layers(layers)


class _Quantizer(Technique):
    """A weight quantizer: its analytic face sets the workload's bit-widths."""

    group = "quantization"

    def bits(self, setting: Setting) -> tuple[int, int | None]:
        """Weight and activation bits (None: activations stay as profiled)."""
        raise NotImplementedError

    def apply(
        self, workload: Workload, platform: Platform, setting: Setting
    ) -> tuple[Workload, Platform]:
        return quantized_workload(workload, *self.bits(setting)), platform

    def from_label(self, label: str) -> Setting:
        """Published results name a quantizer by its widths: "W4A8"."""
        match = _WEIGHTS_ACTIVATIONS.fullmatch(label)
        if match is None:
            raise NotAvailable(f"{self.name}: '{label}' is not of the form W<bits>A<bits>")
        weights, activations = int(match[1]), int(match[2])
        takes = {p.name for p in self.params}
        values: dict[str, Any] = {"bits": weights, "activation_bits": activations}
        setting = self.setting(label, **{k: v for k, v in values.items() if k in takes})
        weight_bits, activation_bits = self.bits(setting)
        if (weight_bits, activation_bits or FP32_BITS) != (weights, activations):
            raise NotAvailable(f"{self.name} does not quantize to {label}")
        return setting


def _needs(data: Dataset | None, technique: str) -> Dataset:
    if data is None:
        raise UserError(f"{technique} trains or calibrates on data: give a dataset")
    return data


@register(
    "int8",
    summary="post-training int8 weights (per channel) with calibrated activations",
    sources=("Krishnamoorthi, arXiv:1806.08342, 2018", "Jacob et al., CVPR 2018"),
)
class Int8(_Quantizer):
    params = (
        ACTIVATION_BITS,
        Param("per_channel", True, choices=(True, False), help="a scale per output channel"),
        Param("percentile", 100.0, 50.0, 100.0, help="activation range clipping"),
    )
    bare = "activation_bits"
    weight_bits = 8

    def bits(self, setting: Setting) -> tuple[int, int | None]:
        return self.weight_bits, setting.get("activation_bits")

    def run(self, model: nn.Module, setting: Setting, data: Dataset | None, seed: int,
            previous: Compressed) -> Compressed:  # fmt: skip
        activation_bits = setting.get("activation_bits")
        calibration = None
        if activation_bits is not None:
            calibration = _needs(data, self.name).x_train[:CALIBRATION_SAMPLES]
        return quantize_uniform(model, self.weight_bits, setting["per_channel"], calibration,
                                activation_bits, setting["percentile"])  # fmt: skip


@register("int4", summary="post-training int4 weights (per channel) with calibrated activations")
class Int4(Int8):
    weight_bits = 4


@register(
    "qat",
    summary="quantization-aware training with the straight-through estimator",
    sources=("Jacob et al., CVPR 2018", "Bengio, Leonard, Courville, arXiv:1308.3432, 2013"),
)
class QuantizationAwareTraining(_Quantizer):
    params = (Param("bits", 8, 2, 16, integer=True), ACTIVATION_BITS, EPOCHS, LR)
    bare = "bits"

    def bits(self, setting: Setting) -> tuple[int, int | None]:
        return setting["bits"], setting.get("activation_bits")

    def run(self, model: nn.Module, setting: Setting, data: Dataset | None, seed: int,
            previous: Compressed) -> Compressed:  # fmt: skip
        return quantization_aware_training(
            model, _needs(data, self.name), setting["bits"], setting["epochs"], setting["lr"],
            seed, activation_bits=setting.get("activation_bits"),
        )  # fmt: skip


@register(
    "dynamic-fixed-point",
    summary="weights in dynamic fixed point, a fractional length per layer",
    sources=("Gysel, Motamedi, Ghiasi, arXiv:1604.03168, 2016",),
)
class DynamicFixedPoint(_Quantizer):
    params = (Param("bits", 8, 2, 16, integer=True),)
    bare = "bits"

    def bits(self, setting: Setting) -> tuple[int, int | None]:
        return setting["bits"], None

    def run(self, model: nn.Module, setting: Setting, data: Dataset | None, seed: int,
            previous: Compressed) -> Compressed:  # fmt: skip
        return WEIGHTS_ONLY[self.name](model, setting["bits"])


@register(
    "power-of-two",
    summary="weights 0 or +-2^k: multiplies become shifts",
    sources=("Miyashita, Lee, Murmann, arXiv:1603.01025, 2016",),
)
class PowerOfTwo(DynamicFixedPoint):
    params = (Param("bits", 4, 2, 8, integer=True),)


WEIGHTS_ONLY: dict[str, Callable[[nn.Module, int], Compressed]] = {
    "dynamic-fixed-point": dynamic_fixed_point,
    "power-of-two": power_of_two,
}


class _Trained(_Quantizer):
    """A low-bit quantizer fine-tuned on data: `weight_bits` codes per weight, trained by
    `TRAINED[name]` with the setting's parameters."""

    params: ClassVar[tuple[Param, ...]] = (EPOCHS, LR)
    weight_bits: ClassVar[int]
    activation_bits: ClassVar[int | None] = None

    def bits(self, setting: Setting) -> tuple[int, int | None]:
        return self.weight_bits, self.activation_bits

    def run(self, model: nn.Module, setting: Setting, data: Dataset | None, seed: int,
            previous: Compressed) -> Compressed:  # fmt: skip
        values = setting.params
        epochs = values.pop("epochs")
        return TRAINED[self.name](model, _needs(data, self.name), epochs, seed=seed, **values)


TRAINED: dict[str, Callable[..., Compressed]] = {
    "twn": ternary_twn,
    "ttq": ternary_ttq,
    "binaryconnect": binary_connect,
    "xnor": xnor,
}


@register(
    "twn",
    summary="ternary weight networks: 2-bit codes and one scale per layer",
    sources=("Li, Zhang, Liu, arXiv:1605.04711, 2016",),
)
class TernaryWeights(_Trained):
    weight_bits = 2


@register(
    "ttq",
    summary="trained ternary quantization: two trained scales per layer",
    sources=("Zhu, Han, Mao, Dally, ICLR 2017",),
)
class TrainedTernaryQuantization(_Trained):
    params = (EPOCHS, Param("threshold", 0.05, 1e-6, 0.999), LR)
    weight_bits = 2


@register(
    "binaryconnect",
    summary="binary weights, float activations",
    sources=("Courbariaux, Bengio, David, NeurIPS 2015",),
)
class BinaryConnect(_Trained):
    weight_bits = 1


@register(
    "xnor",
    summary="binary weights and binary activations with float scales",
    sources=("Rastegari, Ordonez, Redmon, Farhadi, ECCV 2016",),
)
class Xnor(BinaryConnect):
    activation_bits = 1

    def apply(
        self, workload: Workload, platform: Platform, setting: Setting
    ) -> tuple[Workload, Platform]:
        """Binary weights everywhere and binary inputs to every weighted layer but the first,
        whose input (the image) stays as profiled, as `xnor` runs it."""
        first = next((x.index for x in workload.layers if x.weight_elements), None)
        layers = tuple(
            replace(x.with_weight_bits(1), activation_bits=x.activation_bits if x.index == first
                    else 1)
            for x in workload.layers
        )  # fmt: skip
        return workload.with_layers(layers), platform
