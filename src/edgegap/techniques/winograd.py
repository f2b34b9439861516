"""Winograd minimal filtering for 3x3 convolutions (Lavin and Gray, "Fast Algorithms for
Convolutional Neural Networks", CVPR 2016).

F(m x m, 3 x 3) computes an m x m output tile from an (m + 2) x (m + 2) input tile with
(m + 2)^2 multiplies instead of the direct 9 m^2: each tile and each filter go to the
Winograd domain (B^T d B, G g G^T: additions and constant scalings, the filter's done once),
are multiplied element-wise (summed over input channels: (m + 2)^2 independent GEMMs), and come
back with A^T M A. F(2x2, 3x3) saves 36/16 = 2.25x, F(4x4, 3x3) 144/36 = 4x, at the price of
float rounding that grows with the tile (F(4, 3)'s interpolation points 0, +-1, +-2 bring
1/24-sized coefficients).

`winograd_transform` swaps every eligible convolution for a module that computes with
`winograd_conv2d` and annotates it with the setting, so the cost model charges the tile products
the algorithm executes (`Winograd.rewrite`, edge tiles included): the one count of them, for
compressed models and for any profiled workload alike. On a module, `eligible` sees the
kernel, stride, dilation and padding; on a profiled layer, `computes` sees only the shapes
and the matrix form, so it takes any 3x3 ungrouped convolution whose output grows by the
same even amount on both sides (a stride-2 or dilated convolution whose sizes happen to look
like that would be miscounted: the workload records no stride).
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from edgegap.errors import UserError
from edgegap.techniques.base import Compressed, LayerAnnotation, NotAvailable, Param, Technique
from edgegap.techniques.base import register as register_technique
from edgegap.techniques.storage import dense_bytes
from edgegap.workload import formulas
from edgegap.workload.aten_ops import Shape, register
from edgegap.workload.layer import Gemm, Layer, Workload

if TYPE_CHECKING:
    from edgegap.hardware.platform import Platform
    from edgegap.techniques.base import Setting
    from edgegap.training.datasets import Dataset

KERNEL = 3

# (B^T, G, A^T) for F(m x m, 3 x 3), keyed by the output tile m (Lavin and Gray, Section 4).
TRANSFORMS: dict[int, tuple[list[list[float]], list[list[float]], list[list[float]]]] = {
    2: (
        [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
        [[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]],
        [[1, 1, 1, 0], [0, 1, -1, -1]],
    ),
    4: (
        [
            [4, 0, -5, 0, 1, 0],
            [0, -4, -4, 1, 1, 0],
            [0, 4, -4, -1, 1, 0],
            [0, -2, -1, 2, 1, 0],
            [0, 2, -1, -2, 1, 0],
            [0, 4, 0, -5, 0, 1],
        ],
        [
            [1 / 4, 0, 0],
            [-1 / 6, -1 / 6, -1 / 6],
            [-1 / 6, 1 / 6, -1 / 6],
            [1 / 24, 1 / 12, 1 / 6],
            [1 / 24, -1 / 12, 1 / 6],
            [0, 0, 1],
        ],
        [
            [1, 1, 1, 1, 1, 0],
            [0, 1, -1, 2, -2, 0],
            [0, 1, 1, 4, 4, 0],
            [0, 1, -1, 8, -8, 1],
        ],
    ),
}

TILES = tuple(TRANSFORMS)  # F(2x2,3x3) and F(4x4,3x3)


def _check_tile(tile: int) -> None:
    if tile not in TRANSFORMS:
        raise UserError(
            f"unsupported Winograd tile {tile}: use 2 for F(2x2,3x3) or 4 for F(4x4,3x3)"
        )


def multiplies(tile: int) -> tuple[int, int]:
    """Multiplies per output tile and channel pair: (direct, Winograd) = (9 m^2, (m + 2)^2)."""
    _check_tile(tile)
    return KERNEL * KERNEL * tile * tile, (tile + KERNEL - 1) ** 2


def winograd_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    padding: int = 0,
    tile: int = 2,
) -> torch.Tensor:
    """`F.conv2d(x, weight, bias, padding=padding)` for a 3x3, stride-1, ungrouped convolution,
    computed by F(tile x tile, 3 x 3). The input is zero-padded to whole tiles and the output
    cropped back."""
    _check_tile(tile)
    if x.dim() != 4 or weight.dim() != 4 or tuple(weight.shape[2:]) != (KERNEL, KERNEL):
        raise UserError(
            f"winograd_conv2d takes x (N, C, H, W) and a 3x3 weight (K, C, 3, 3), got "
            f"{tuple(x.shape)} and {tuple(weight.shape)}"
        )
    if weight.shape[1] != x.shape[1]:
        raise UserError(f"weight expects {weight.shape[1]} input channels, x has {x.shape[1]}")
    if padding < 0:
        raise UserError(f"padding must be 0 or more, got {padding}")
    out_h, out_w = (size + 2 * padding - KERNEL + 1 for size in x.shape[2:])
    if out_h < 1 or out_w < 1:
        raise UserError(f"input {tuple(x.shape[2:])} is smaller than the 3x3 kernel: pad it")
    span = tile + KERNEL - 1
    tiles_h, tiles_w = math.ceil(out_h / tile), math.ceil(out_w / tile)
    input_t, filter_t, output_t = (
        torch.tensor(matrix, dtype=x.dtype, device=x.device) for matrix in TRANSFORMS[tile]
    )
    padded = F.pad(
        x, (padding, padding + tiles_w * tile - out_w, padding, padding + tiles_h * tile - out_h)
    )
    tiles = padded.unfold(2, span, tile).unfold(3, span, tile)  # (N, C, th, tw, span, span)
    batch, channels = x.shape[:2]
    filters = weight.shape[0]
    data = torch.einsum("ai,nchwij,bj->abcnhw", input_t, tiles, input_t)
    kernels = torch.einsum("ai,kcij,bj->abkc", filter_t, weight, filter_t)
    products = torch.bmm(  # one (K x C) @ (C x tiles) GEMM per Winograd-domain point
        kernels.reshape(span * span, filters, channels),
        data.reshape(span * span, channels, batch * tiles_h * tiles_w),
    ).reshape(span, span, filters, batch, tiles_h, tiles_w)
    out = torch.einsum("xa,abknhw,yb->nkhxwy", output_t, products, output_t)
    out = out.reshape(batch, filters, tiles_h * tile, tiles_w * tile)[:, :, :out_h, :out_w]
    return out if bias is None else out + bias[None, :, None, None]


# The operator the swapped-in module calls: the tracer sees one convolution (its inner
# products stay hidden), so a profiled Winograd layer is the convolution it replaces and
# its annotation says how it is computed. Inference only: no backward.
_winograd_op = torch.library.custom_op("edgegap::winograd_conv2d", mutates_args=())(winograd_conv2d)


@_winograd_op.register_fake
def _winograd_shape(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    padding: int = 0,
    tile: int = 2,
) -> torch.Tensor:
    out_h, out_w = (size + 2 * padding - KERNEL + 1 for size in x.shape[2:])
    return x.new_empty((x.shape[0], weight.shape[0], out_h, out_w))


@register(torch.ops.edgegap.winograd_conv2d)
def _winograd_count(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> formulas.OpCount:
    """Counted as the direct convolution; the transform's annotation scales its MACs."""
    x, weight, bias = args[:3]
    return formulas.conv(x, weight, out, groups=1, transposed=False, bias=bias is not None)


class WinogradConv2d(nn.Module):
    """A 3x3, stride-1 convolution computed by F(tile x tile, 3 x 3); same weights."""

    def __init__(self, conv: nn.Conv2d, tile: int) -> None:
        super().__init__()
        _check_tile(tile)
        if not eligible(conv):
            raise UserError(f"{conv} is not a 3x3, stride-1, ungrouped, zero-padded convolution")
        self.weight = conv.weight
        self.bias = conv.bias
        self.padding = int(conv.padding[0])
        self.tile = tile

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = torch.ops.edgegap.winograd_conv2d(
            x, self.weight, self.bias, self.padding, self.tile
        )
        return out

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}, {self.weight.shape[0]}, padding={self.padding}, " + (
            f"F({self.tile}x{self.tile},3x3)"
        )


def eligible(module: nn.Module) -> bool:
    """A Conv2d Winograd F(m, 3) computes as is: 3x3 kernel, stride and dilation 1, one group,
    the same zero padding on every side."""
    return (
        isinstance(module, nn.Conv2d)
        and module.kernel_size == (KERNEL, KERNEL)
        and module.stride == (1, 1)
        and module.dilation == (1, 1)
        and module.groups == 1
        and module.padding_mode == "zeros"
        and isinstance(module.padding, tuple)
        and module.padding[0] == module.padding[1]
    )


def winograd_transform(model: nn.Module, tile: int = 2) -> Compressed:
    """A copy of `model` with every eligible convolution computed by F(tile x tile, 3 x 3),
    annotated with its multiply reduction; weights (float32) and their storage unchanged."""
    setting = Winograd().setting(tile=tile)
    direct, fast = multiplies(tile)
    transformed = copy.deepcopy(model)
    names = [name for name, module in transformed.named_modules() if name and eligible(module)]
    if not names:
        raise NotAvailable(
            "the model has no 3x3, stride-1, ungrouped convolution for Winograd to compute"
        )
    for name in names:
        conv = transformed.get_submodule(name)
        assert isinstance(conv, nn.Conv2d)
        transformed.set_submodule(name, WinogradConv2d(conv, tile))
    return Compressed(
        technique=f"winograd-F({tile}x{tile},3x3)",
        model=transformed,
        storage_bytes=dense_bytes(transformed),
        annotations={name: LayerAnnotation(rewrite=setting) for name in names},
        params={"tile": tile, "layers": names, "reduction": direct / fast},
    )


def computes(layer: Layer) -> bool:
    """Whether a profiled layer is a convolution `eligible` accepts: one ungrouped product
    over 3x3 windows of every input channel whose output is the input grown by the same
    2 x padding - 2 on both sides (stride 1)."""
    shape_in = layer.input_shapes[0] if layer.input_shapes else ()
    shape_out = layer.output_shape
    if not (layer.kind == "conv" and len(layer.gemms) == 1 and len(shape_in) == 4
            and len(shape_out) == 4):  # fmt: skip
        return False
    gemm = layer.gemms[0]
    grown = (shape_out[2] - shape_in[2], shape_out[3] - shape_in[3])
    return (
        gemm.groups == 1 and gemm.k == KERNEL * KERNEL * shape_in[1]
        and grown[0] == grown[1] and grown[0] >= 1 - KERNEL and grown[0] % 2 == 0
    )  # fmt: skip


@register_technique(
    "winograd",
    group="algorithm",
    summary="3x3 convolutions by Winograd's minimal filtering: 2.25x or 4x fewer multiplies",
    sources=("Lavin & Gray, CVPR 2016", "Lu, Liang, Xiao, Yan, FCCM 2017"),
)
class Winograd(Technique):
    params = (Param("tile", 2, choices=TILES, help="output tile"),)
    bare = "tile"
    keeps_weights = True

    def setting(self, label: str | None = None, **values: Any) -> Setting:
        setting = super().setting(label, **values)
        tile = setting["tile"]
        return replace(setting, label=label or f"F({tile}x{tile},3x3)")

    def from_label(self, label: str) -> Setting:
        tile = next((t for t in TILES if label == f"F({t}x{t},3x3)"), None)
        if tile is None:
            raise NotAvailable(f"winograd: '{label}' is not F(2x2,3x3) or F(4x4,3x3)")
        return self.setting(label, tile=tile)

    def rewrite(self, layer: Layer, setting: Setting) -> Layer:
        """An eligible convolution as (tile + 2)^2 element-wise products per output tile
        (partial edge tiles count whole), each a (tiles x C_in)(C_in x C_out) product; the
        input and output transforms are additions, at least one per input and output element,
        counted as element-wise work. Any other layer is returned as it is."""
        if not computes(layer):
            return layer
        tile = setting["tile"]
        batch, channels_out, height, width = layer.output_shape
        tiles = batch * math.ceil(height / tile) * math.ceil(width / tile)
        gemm = Gemm((tile + 2) ** 2, tiles, layer.input_shapes[0][1], channels_out, weighted=True)
        transform_adds = layer.input_elements + layer.output_elements
        return replace(
            layer, gemms=(gemm,), elementwise_flops=layer.elementwise_flops + transform_adds
        )

    def apply(
        self, workload: Workload, platform: Platform, setting: Setting
    ) -> tuple[Workload, Platform]:
        layers = tuple(self.rewrite(layer, setting) for layer in workload.layers)
        return workload.with_layers(layers), platform

    def run(self, model: nn.Module, setting: Setting, data: Dataset | None, seed: int,
            previous: Compressed) -> Compressed:  # fmt: skip
        return winograd_transform(model, setting["tile"])
