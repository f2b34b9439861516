"""Algorithm bridges as workload transforms: what a compression technique does to the demand
of a model that is not retrained here (a torchvision network with random weights).

`edgegap.compress` runs each technique for real on small models with data and measures the
accuracy; these transforms carry the same techniques' effect on counts into the cost model for
any model, so that `edgegap plan` can search combinations. Their accuracy cost comes from
published results (`plan/data/published_accuracy.csv`), labelled as such.
"""

from __future__ import annotations

import math
from dataclasses import replace

from edgegap.errors import UserError
from edgegap.workload.layer import Gemm, Layer, Workload

WINOGRAD_TILES = (2, 4)  # F(2x2,3x3) and F(4x4,3x3), Lavin & Gray, CVPR 2016


def quantize(workload: Workload, bits: int, activation_bits: int | None = None) -> Workload:
    """Weights at `bits` and activations at `activation_bits` (default: the same); the
    platform runs the narrowest precision it has that holds both."""
    activations = bits if activation_bits is None else activation_bits
    if min(bits, activations) < 1:
        raise UserError(f"quantization needs at least 1 bit, got {bits} and {activations}")
    return replace(
        workload,
        layers=tuple(
            replace(x, weight_bits=bits, activation_bits=activations) for x in workload.layers
        ),
    )


def prune_weights(workload: Workload, sparsity: float) -> Workload:
    """Unstructured pruning: each weighted layer keeps 1 - sparsity of its weights (a
    zero-skipping platform skips the rest; others store and run them)."""
    if not 0 <= sparsity < 1:
        raise UserError(f"sparsity must be in [0, 1), got {sparsity}")
    return replace(
        workload,
        layers=tuple(
            replace(x, weight_density=x.weight_density * (1 - sparsity)) if x.params else x
            for x in workload.layers
        ),
    )


def _scaled(value: int, factor: float) -> int:
    return max(1, math.ceil(value * factor))


def prune_channels(workload: Workload, macs_kept: float) -> Workload:
    """Structured pruning as a uniform width multiplier w = sqrt(macs_kept) on every channel
    count inside the network (a layer's MACs scale by w on each side: w^2): the first layer
    keeps its image channels and the last its classes. Element-wise layers scale by w."""
    if not 0 < macs_kept <= 1:
        raise UserError(f"the fraction of MACs kept must be in (0, 1], got {macs_kept}")
    width = math.sqrt(macs_kept)
    weighted = [i for i, x in enumerate(workload.layers) if x.gemms]
    first, last = (weighted[0], weighted[-1]) if weighted else (-1, -1)
    layers = []
    for index, layer in enumerate(workload.layers):
        k_factor = 1.0 if index == first else width
        n_factor = 1.0 if index == last else width
        if layer.gemms:
            depthwise = all(g.n == 1 and g.groups > 1 for g in layer.gemms)
            if depthwise:  # one filter per channel: the groups shrink, not k or n
                gemms = tuple(replace(g, groups=_scaled(g.groups, width)) for g in layer.gemms)
            else:
                gemms = tuple(
                    replace(g, k=_scaled(g.k, k_factor), n=_scaled(g.n, n_factor))
                    for g in layer.gemms
                )
            ratio = sum(g.macs for g in gemms) / max(layer.macs, 1)
            layers.append(_rescaled(layer, gemms, ratio, k_factor, n_factor))
        else:
            layers.append(_rescaled(layer, (), width, width, width))
    return replace(workload, layers=tuple(layers))


def _rescaled(
    layer: Layer, gemms: tuple[Gemm, ...], macs_ratio: float, in_factor: float, out_factor: float
) -> Layer:
    macs = sum(g.macs for g in gemms) if gemms else 0
    flops = round(layer.flops * macs_ratio) if gemms else round(layer.flops * out_factor)
    return replace(
        layer,
        gemms=gemms,
        elementwise_flops=flops - 2 * macs,
        params=round(layer.params * (macs_ratio if gemms else out_factor)),
        weight_elements=round(layer.weight_elements * (macs_ratio if gemms else out_factor)),
        input_elements=round(layer.input_elements * in_factor),
        output_elements=round(layer.output_elements * out_factor),
    )


def low_rank(workload: Workload, macs_kept: float) -> Workload:
    """Every matrix product (m x k)(k x n) factorised as (m x k)(k x r)(r x n) with the rank r
    that keeps `macs_kept` of its MACs, r = macs_kept k n / (k + n) (Jaderberg et al. 2014;
    Denton et al. 2014); products too small to gain keep their full rank."""
    if not 0 < macs_kept <= 1:
        raise UserError(f"the fraction of MACs kept must be in (0, 1], got {macs_kept}")
    layers = []
    for layer in workload.layers:
        gemms: list[Gemm] = []
        for g in layer.gemms:
            rank = math.floor(macs_kept * g.k * g.n / (g.k + g.n))
            if rank >= 1 and rank * (g.k + g.n) < g.k * g.n:
                gemms += [replace(g, n=rank), replace(g, k=rank)]
            else:
                gemms.append(g)
        if gemms == list(layer.gemms):
            layers.append(layer)
            continue
        ratio = sum(g.macs for g in gemms) / layer.macs
        weights = sum(g.groups * g.k * g.n for g in gemms)
        layers.append(
            replace(
                layer,
                gemms=tuple(gemms),
                elementwise_flops=round(layer.flops * ratio) - 2 * sum(g.macs for g in gemms),
                params=layer.params - layer.weight_elements + weights,
                weight_elements=weights,
            )
        )
    return replace(workload, layers=tuple(layers))


def winograd_layer(layer: Layer, tile: int) -> Layer:
    """A 3x3 stride-1 convolution computed as Winograd F(tile x tile, 3x3): (tile + 2)^2
    element-wise products per output tile (partial edge tiles count whole), each a
    (tiles x C_in)(C_in x C_out) matrix product (Lavin & Gray, CVPR 2016): 2.25x fewer
    multiplies for tile 2, 4x for tile 4 on sizes the tile divides. The input and output
    transforms are additions, at least one per input and output element, counted as
    element-wise work. Any other layer is returned as it is."""
    if tile not in WINOGRAD_TILES:
        raise UserError(f"Winograd tile must be one of {WINOGRAD_TILES}, got {tile}")
    shape_in = layer.input_shapes[0] if layer.input_shapes else ()
    shape_out = layer.output_shape
    eligible = (
        layer.kind == "conv" and len(layer.gemms) == 1 and len(shape_in) == 4
        and len(shape_out) == 4 and layer.gemms[0].groups == 1
        and layer.gemms[0].k == 9 * shape_in[1]
        and shape_out[2] in (shape_in[2], shape_in[2] - 2)
        and shape_out[3] in (shape_in[3], shape_in[3] - 2)
    )  # fmt: skip
    if not eligible:
        return layer
    batch, _, height, width = shape_out
    tiles = batch * math.ceil(height / tile) * math.ceil(width / tile)
    gemm = Gemm((tile + 2) ** 2, tiles, shape_in[1], shape_out[1], weighted=True)
    transform_adds = layer.input_elements + layer.output_elements
    return replace(layer, gemms=(gemm,), elementwise_flops=layer.elementwise_flops + transform_adds)


def winograd(workload: Workload, tile: int) -> Workload:
    """Every eligible convolution of the workload computed by `winograd_layer`."""
    layers = tuple(winograd_layer(layer, tile) for layer in workload.layers)
    return replace(workload, layers=layers)
