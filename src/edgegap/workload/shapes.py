"""Validating what a user gives the workload stage: input shapes and dtype names.

Shared by every front end (the PyTorch profiler, the ONNX reader, the command line), so that
a shape or a dtype is refused with the same message wherever it comes from.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgegap.errors import UserError
from edgegap.precision import ALIASES, BITS, bits_of


def dtype_to_bits(dtype: str | None) -> int | None:
    if dtype is None:
        return None
    bits = bits_of(dtype)
    if bits is None:
        names = ", ".join([*ALIASES, *BITS])
        raise UserError(f"unknown dtype '{dtype}': use one of {names}")
    return bits


def parse_shape(text: str) -> tuple[int, ...]:
    """'1,3,224,224' -> (1, 3, 224, 224); every dimension a positive integer."""
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        raise UserError(
            f"malformed input shape '{text}': give positive integers separated by commas, "
            "e.g. 1,3,224,224"
        ) from None
    check_shape(shape)
    return shape


def check_shape(shape: Sequence[int]) -> None:
    if not shape or any(not isinstance(d, int) or d <= 0 for d in shape):
        raise UserError(
            f"impossible input shape {tuple(shape)}: every dimension must be a positive "
            "integer, e.g. 1,3,224,224"
        )
