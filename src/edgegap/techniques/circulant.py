"""Block-circulant fully connected layers computed with FFTs: CirCNN (Ding et al., "CirCNN:
Accelerating and Compressing Deep Neural Networks Using Block-Circulant Weight Matrices",
MICRO 2017).

An (out x in) weight becomes p x q blocks of b x b circulant matrices, p = ceil(out / b),
q = ceil(in / b), features zero-padded to whole blocks and the padding cropped away. Block
C(w) has first column w, C[r, c] = w[(r - c) mod b], so C(w) x is the circular convolution
w * x = IFFT(FFT(w) . FFT(x)): each output block is y_i = sum_j IFFT(FFT(w_ij) . FFT(x_j)).
Storage drops from in x out to p q b weights; multiplies from in x out to

    (q + p) b log2 b + p q (2 b - 2)        (b even; 2 b - 1 for odd b)

per input vector: a real FFT of each input block and a real inverse FFT of each output block
(a radix-2 FFT of length b does b/2 log2 b butterflies of one complex multiply, 4 real
multiplies; a real-input or real-output transform half of that: b log2 b; trivial twiddles
are not discounted), and the element-wise complex products of the half spectra (b/2 + 1 bins,
the DC and Nyquist ones real: 1 multiply each, the others 4). The filters' FFTs are computed
once offline and not counted. `mac_factor` is that over the dense layer's in x out MACs.
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
from edgegap.techniques.base import Compressed, LayerAnnotation, Param, Setting, Technique, shrunk
from edgegap.techniques.base import register as register_technique
from edgegap.techniques.storage import dense_bytes
from edgegap.training.datasets import Dataset
from edgegap.training.loop import train
from edgegap.workload.layer import Workload

if TYPE_CHECKING:
    from edgegap.hardware.platform import Platform
from edgegap.workload import formulas
from edgegap.workload.aten_ops import Shape, register


def _blocks(x: torch.Tensor, count: int, block_size: int) -> torch.Tensor:
    """(..., features) zero-padded to (..., count, block_size)."""
    padded = F.pad(x, (0, count * block_size - x.shape[-1]))
    return padded.reshape(*x.shape[:-1], count, block_size)


def _circulant_linear(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, out_features: int
) -> torch.Tensor:
    rows, cols, block = weight.shape
    spectrum = torch.fft.rfft(_blocks(x, cols, block))  # (..., q, b/2 + 1)
    products = torch.einsum("...qf,pqf->...pf", spectrum, torch.fft.rfft(weight))
    y: torch.Tensor = torch.fft.irfft(products, n=block).reshape(*x.shape[:-1], rows * block)
    y = y[..., :out_features].contiguous()
    return y if bias is None else y + bias


# One operator for the tracer: a profiled block-circulant layer is the dense layer it stands
# for (its FFTs stay inside), and the annotation's `mac_factor` says what it executes.
_circulant_op = torch.library.custom_op("edgegap::block_circulant_linear", mutates_args=())(
    _circulant_linear
)


@_circulant_op.register_fake
def _circulant_shape(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, out_features: int
) -> torch.Tensor:
    return x.new_empty((*x.shape[:-1], out_features))


def _save_for_backward(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
    x, weight, bias, _ = inputs
    ctx.save_for_backward(x, weight)
    ctx.has_bias = bias is not None


def _circulant_backward(
    ctx: Any, grad: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, None]:
    """CirCNN's backward pass, also by FFT: the transpose of C(w) is the circulant of w's
    reversal, whose spectrum is conj(FFT(w)), so dx_j = sum_i IFFT(conj(W_ij) . G_i) and
    dw_ij = sum_batch IFFT(conj(X_j) . G_i)."""
    x, weight = ctx.saved_tensors
    rows, cols, block = weight.shape
    grads = torch.fft.rfft(_blocks(grad, rows, block)).reshape(-1, rows, block // 2 + 1)
    spectrum = torch.fft.rfft(_blocks(x, cols, block)).reshape(-1, cols, block // 2 + 1)
    grad_spectrum = torch.einsum("npf,pqf->nqf", grads, torch.fft.rfft(weight).conj())
    grad_x = torch.fft.irfft(grad_spectrum, n=block).reshape(*x.shape[:-1], cols * block)
    grad_weight = torch.fft.irfft(torch.einsum("npf,nqf->pqf", grads, spectrum.conj()), n=block)
    grad_bias = grad.reshape(-1, grad.shape[-1]).sum(0) if ctx.has_bias else None
    return grad_x[..., : x.shape[-1]].contiguous(), grad_weight, grad_bias, None


_circulant_op.register_autograd(_circulant_backward, setup_context=_save_for_backward)


@register(torch.ops.edgegap.block_circulant_linear)
def _circulant_count(args: tuple[Any, ...], kwargs: dict[str, Any], out: Shape) -> formulas.OpCount:
    """Counted as the dense matrix product (by the layer's stored weights); the transform's
    annotation scales its MACs."""
    x, _, bias, out_features = args
    rows = formulas.numel(x[:-1])
    dense = (x[-1], out_features)
    return formulas.matmul((rows, x[-1]), dense, out, weighted=True, bias=bias is not None)


def circulant_index(block_size: int, device: torch.device | None = None) -> torch.Tensor:
    """(b, b) indices into a defining vector: C[r, c] = w[(r - c) mod b]."""
    positions = torch.arange(block_size, device=device)
    return (positions[:, None] - positions[None, :]) % block_size


def project_block_circulant(weight: torch.Tensor, block_size: int) -> torch.Tensor:
    """The (p, q, b) defining vectors of the block-circulant matrix nearest `weight` (out, in)
    in Frobenius norm: each vector entry is the mean of its circulant diagonal in the block,
    over the positions inside the matrix (padding is cropped away, so it does not vote)."""
    out_features, in_features = weight.shape
    rows, cols = math.ceil(out_features / block_size), math.ceil(in_features / block_size)
    pad = (0, cols * block_size - in_features, 0, rows * block_size - out_features)
    values = F.pad(weight.detach(), pad)
    inside = F.pad(torch.ones_like(values[:out_features, :in_features]), pad)

    def per_diagonal(matrix: torch.Tensor) -> torch.Tensor:
        blocks = matrix.reshape(rows, block_size, cols, block_size).permute(0, 2, 1, 3)
        index = circulant_index(block_size, matrix.device).flatten().expand(rows, cols, -1)
        sums = torch.zeros(rows, cols, block_size, dtype=matrix.dtype, device=matrix.device)
        return sums.scatter_add_(2, index, blocks.reshape(rows, cols, -1))

    return per_diagonal(values) / per_diagonal(inside).clamp(min=1)


def multiplies(rows: int, cols: int, block: int) -> float:
    """Real multiplies per input vector of a (rows x cols)-block circulant layer (module
    docstring): FFTs of the cols input blocks, inverse FFTs of the rows output blocks, complex
    products of rows x cols half spectra."""
    transforms = (rows + cols) * block * math.log2(block)
    real_bins = 2 if block % 2 == 0 else 1
    complex_bins = block // 2 + 1 - real_bins
    return transforms + rows * cols * (real_bins + 4 * complex_bins)


class BlockCirculantLinear(nn.Module):
    """y = W x + bias with W block-circulant, stored as (p, q, b) defining vectors and
    computed by FFT."""

    def __init__(
        self, in_features: int, out_features: int, block_size: int, bias: bool = True
    ) -> None:
        super().__init__()
        if min(in_features, out_features, block_size) < 1:
            raise UserError(
                f"in_features, out_features and block_size must be positive, got "
                f"{in_features}, {out_features}, {block_size}"
            )
        self.in_features, self.out_features, self.block_size = (
            in_features, out_features, block_size,
        )  # fmt: skip
        rows, cols = math.ceil(out_features / block_size), math.ceil(in_features / block_size)
        bound = 1 / math.sqrt(in_features)  # nn.Linear's initial range for every dense entry
        self.weight = nn.Parameter(torch.empty(rows, cols, block_size).uniform_(-bound, bound))
        self.bias = (
            nn.Parameter(torch.empty(out_features).uniform_(-bound, bound)) if bias else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = torch.ops.edgegap.block_circulant_linear(
            x, self.weight, self.bias, self.out_features
        )
        return y

    def dense_weight(self) -> torch.Tensor:
        """The equivalent (out, in) matrix, assembled from the circulant blocks."""
        rows, cols, block = self.weight.shape
        blocks = self.weight[:, :, circulant_index(block, self.weight.device)]  # (p, q, b, b)
        dense = blocks.permute(0, 2, 1, 3).reshape(rows * block, cols * block)
        return dense[: self.out_features, : self.in_features]

    def multiplies(self) -> float:
        return multiplies(*self.weight.shape)

    @property
    def mac_factor(self) -> float:
        return self.multiplies() / (self.in_features * self.out_features)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"block_size={self.block_size}, bias={self.bias is not None}"
        )

    @classmethod
    def projected(cls, linear: nn.Linear, block_size: int) -> BlockCirculantLinear:
        """The block-circulant layer nearest a trained dense one (least squares)."""
        layer = cls(linear.in_features, linear.out_features, block_size, linear.bias is not None)
        with torch.no_grad():
            layer.weight.copy_(project_block_circulant(linear.weight, block_size))
            if layer.bias is not None and linear.bias is not None:
                layer.bias.copy_(linear.bias)
        return layer


def circulant_linear(
    model: nn.Module,
    block_size: int,
    data: Dataset | None = None,
    epochs: int = 0,
    lr: float = 1e-3,
    seed: int = 0,
) -> Compressed:
    """A copy of `model` whose Linear layers are block-circulant, projected from the trained
    weights, then trained `epochs` on `data` (Adam, `lr`). A layer is replaced when a block
    fits inside it (block_size <= min(in, out)), so padding adds less than one block per
    dimension; a smaller layer (a 10-class classifier under 16-wide blocks) stays dense.
    Storage: every parameter as float32, the defining vectors and biases included."""
    if block_size < 1:
        raise UserError(f"block_size must be a positive integer, got {block_size}")
    if epochs < 0:
        raise UserError(f"epochs must be 0 or more, got {epochs}")
    if epochs > 0 and data is None:
        raise UserError(f"training {epochs} epochs needs a dataset: pass data, or epochs=0")
    compressed = copy.deepcopy(model)
    names = [
        name
        for name, module in compressed.named_modules()
        if name
        and isinstance(module, nn.Linear)
        and min(module.in_features, module.out_features) >= block_size
    ]
    if not names:
        raise UserError(
            f"no Linear layer has both dimensions >= block_size {block_size}: use a smaller one"
        )
    annotations = {}
    for name in names:
        linear = compressed.get_submodule(name)
        assert isinstance(linear, nn.Linear)
        layer = BlockCirculantLinear.projected(linear, block_size)
        compressed.set_submodule(name, layer)
        annotations[name] = LayerAnnotation(mac_factor=layer.mac_factor)
    if epochs:
        assert data is not None
        train(compressed, data, epochs, lr=lr, seed=seed)
    return Compressed(
        technique=f"block-circulant-b{block_size}",
        model=compressed,
        storage_bytes=dense_bytes(compressed),
        annotations=annotations,
        params={"block_size": block_size, "layers": names, "epochs": epochs, "lr": lr},
    )


@register_technique(
    "circulant",
    group="factorisation",
    summary="fully connected layers as block-circulant matrices computed by FFT (CirCNN)",
    sources=("Ding et al., 'CirCNN', MICRO 2017",),
)
class Circulant(Technique):
    params = (
        Param("block_size", 8, 2, 4096, integer=True),
        Param("epochs", 1, 0, 1000, integer=True),
    )
    bare = "block_size"

    def apply(
        self, workload: Workload, platform: Platform, setting: Setting
    ) -> tuple[Workload, Platform]:
        """Every fully connected product a block fits inside: p q b weights, and the FFT's
        multiplies per input row instead of k n."""
        block = setting["block_size"]
        layers = []
        for layer in workload.layers:
            gemm = layer.gemms[0] if len(layer.gemms) == 1 else None
            if (layer.kind != "matmul" or gemm is None or not gemm.weighted
                    or min(gemm.k, gemm.n) < block):  # fmt: skip
                layers.append(layer)
                continue
            rows, cols = math.ceil(gemm.n / block), math.ceil(gemm.k / block)
            factor = multiplies(rows, cols, block) / (gemm.k * gemm.n)
            dense = gemm.groups * gemm.k * gemm.n
            stored = gemm.groups * rows * cols * block  # the bias stays as it is
            layers.append(
                replace(
                    layer,
                    gemms=(shrunk(gemm, factor),),
                    params=layer.params - dense + stored,
                    weight_elements=layer.weight_elements - dense + stored,
                )
            )
        return workload.with_layers(layers), platform

    def run(self, model: nn.Module, setting: Setting, data: Dataset | None, seed: int,
            previous: Compressed) -> Compressed:  # fmt: skip
        return circulant_linear(model, setting["block_size"], data, setting["epochs"], seed=seed)
