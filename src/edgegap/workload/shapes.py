"""Validating what a user gives the workload stage: input shapes and dtype names.

Shared by every front end (the PyTorch profiler, the ONNX reader, the command line), so that
a shape or a dtype is refused with the same message wherever it comes from.
"""

from __future__ import annotations

import math
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


# Bounds every front end can hold: a dimension fits a signed 32-bit index (numpy, torch and
# ONNX all take it), and 2**40 elements (4 TiB of float32) is beyond any model's input.
MAX_DIMENSION = 2**31 - 1
MAX_ELEMENTS = 2**40


def parse_shape(text: str) -> tuple[int, ...]:
    """'1,3,224,224' -> (1, 3, 224, 224); every dimension a positive integer."""
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:  # also a number of more than 4300 digits
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise UserError(
            f"malformed input shape '{shown}': give positive integers separated by commas, "
            "e.g. 1,3,224,224"
        ) from None
    check_shape(shape)
    return shape


def check_shape(shape: Sequence[int]) -> None:
    if not shape or any(isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in shape):
        raise UserError(
            f"impossible input shape {_shown(shape)}: every dimension must be a positive "
            "integer, e.g. 1,3,224,224"
        )
    if max(shape) > MAX_DIMENSION:
        raise UserError(
            f"input shape {_shown(shape)} has a dimension above {MAX_DIMENSION:,} (2**31 - 1): "
            "give the model's real input size, e.g. 1,3,224,224"
        )
    if math.prod(shape) > MAX_ELEMENTS:
        raise UserError(
            f"input shape {_shown(shape)} has {math.prod(shape):.3g} elements, above "
            f"{MAX_ELEMENTS:,} (2**40): give the model's real input size, e.g. 1,3,224,224"
        )


def _shown(shape: Sequence[object]) -> str:
    text = str(tuple(shape))
    return text if len(text) <= 60 else text[:57] + "..."
