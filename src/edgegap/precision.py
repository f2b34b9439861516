"""Numeric formats: bit-widths by name, and the arithmetic every stage shares about them.

One table for profiles, platforms and trends; one rule for turning elements at a bit-width
into bytes; one count of the operations in a multiply-accumulate.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy loads with the first array: the catalog and the CLI need none
    import numpy as np
    import numpy.typing as npt

# fmt: off
BITS: dict[str, int] = {
    "fp64": 64, "fp32": 32, "tf32": 19, "fp16": 16, "bf16": 16, "int16": 16, "fp8": 8,
    "int8": 8, "int4": 4, "int2": 2, "binary": 1,
}
# fmt: on
ALIASES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "float64": "fp64"}

FP32_BITS = BITS["fp32"]  # a float that a technique stores as it is (scales, codebooks, biases)
OPS_PER_MAC = 2  # a multiply-accumulate is two operations: FLOPs, peak ops/s, the trends' ops


def bits_of(name: str) -> int | None:
    """The bit-width of a format name or PyTorch-style alias; None if unknown."""
    return BITS.get(ALIASES.get(name, name))


def bits_to_bytes(elements: float, bits: int) -> int:
    """Bytes that hold `elements` values of `bits` bits each, packed: rounded up to a byte."""
    return math.ceil(elements * bits / 8)


def grouped_bytes(elements: int, bits: int, group: int = 0, group_bits: int = 0) -> int:
    """Bytes of `elements` values of `bits` bits each stored in groups of `group` (0: no
    groups), each group carrying `group_bits` more (its scales, zero points or minima, and
    any padding of its storage words), as ggml's blocks and group-quantized formats lay
    weights out: packed, rounded up to a byte."""
    groups = -(-elements // group) if group else 0
    return bits_to_bytes(elements * bits + groups * group_bits, 1)


def bits_to_bytes_array(elements: npt.ArrayLike, bits: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """`bits_to_bytes` element by element; exact integer arithmetic for integer counts."""
    import numpy as np

    counts, widths = np.asarray(elements), np.asarray(bits)
    if np.issubdtype(counts.dtype, np.integer) and np.issubdtype(widths.dtype, np.integer):
        exact: npt.NDArray[np.int64] = (-(-counts * widths // 8)).astype(np.int64)
        return exact
    rounded: npt.NDArray[np.int64] = np.ceil(counts * widths / 8).astype(np.int64)
    return rounded
