"""Storage arithmetic shared by the techniques: which weights a technique compresses, the
bytes of a dense model, and integer codes packed at their bit-width. Pure functions of
models, counts and bit-widths; every technique's byte figure is built from these."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from edgegap.precision import FP32_BITS, bits_to_bytes


def prunable(model: nn.Module) -> dict[str, torch.Tensor]:
    """Weights of convolutions and linear layers, by module path (biases stay dense)."""
    return {
        name: module.weight
        for name, module in model.named_modules()
        if isinstance(module, nn.Conv1d | nn.Conv2d | nn.Linear)
    }


def dense_bytes(model: nn.Module) -> int:
    """Every parameter as a 32-bit float."""
    return bits_to_bytes(sum(p.numel() for p in model.parameters()), FP32_BITS)


def bias_bits(model: nn.Module) -> int:
    """Biases stay dense 32-bit floats."""
    biases = [getattr(module, "bias", None) for module in model.modules()]
    return FP32_BITS * sum(b.numel() for b in biases if isinstance(b, torch.Tensor))


def packed_bytes(codes: npt.NDArray[np.integer[Any]], bits: int) -> bytes:
    """Non-negative integer codes packed `bits` bits each, most significant bit first: the
    serialised form whose length a technique reports."""
    if bits < 1 or bits > 32:
        raise ValueError(f"bits must be 1..32, got {bits}")
    values = np.asarray(codes, dtype=np.uint64).ravel()
    if values.size and int(values.max()) >= 2**bits:
        raise ValueError(f"a code does not fit {bits} bits")
    shifts = np.arange(bits - 1, -1, -1, dtype=np.uint64)
    bit_matrix = ((values[:, None] >> shifts[None, :]) & np.uint64(1)).astype(np.uint8)
    return np.packbits(bit_matrix.ravel()).tobytes()
