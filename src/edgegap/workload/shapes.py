"""Validating what a user gives the workload stage: inputs, their shapes and dtype names.

Shared by every front end (the PyTorch profiler, the ONNX reader, the command line), so that
a shape or a dtype is refused with the same message wherever it comes from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

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


# The element types an input may have: what a model's first layers take (images as floats,
# token ids and masks as integers or booleans).
INPUT_DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8",
                "uint8", "bool")  # fmt: skip
_SHAPE = re.compile(r"[0-9]+([x,][0-9]+)*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def _printable(text: str) -> str:
    """`text` on one line, at most 40 characters, as a message quotes it."""
    shown = text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= 40 else shown[:37] + "..."


@dataclass(frozen=True)
class ModelInput:
    """One input of a model: its shape, its name (None: passed by position, in the order
    given) and its element type (None: float32 for a PyTorch model, the graph's own for an
    ONNX file)."""

    shape: tuple[int, ...]
    name: str | None = None
    dtype: str | None = None

    def __str__(self) -> str:
        parts = [self.name] if self.name else []
        parts.append("x".join(map(str, self.shape)))
        return ":".join([*parts, *([self.dtype] if self.dtype else [])])


def parse_input(text: str) -> ModelInput:
    """'image1:1x3x224x224', 'ids:1x128:int64', '1x3x224x224' or '1x128:int64' -> a
    ModelInput: an optional name, the shape, an optional dtype, separated by colons."""
    parts = text.split(":")
    shapes = [i for i, part in enumerate(parts) if _SHAPE.fullmatch(part)]
    hint = "give NAME:SHAPE[:DTYPE], e.g. ids:1x128:int64 or image:1x3x224x224"
    if len(parts) > 3 or len(shapes) != 1 or shapes[0] > 1:
        raise UserError(f"malformed input '{_printable(text)}': {hint}")
    at = shapes[0]
    name = parts[0] if at == 1 else None
    rest = parts[at + 1 :]
    if name is not None and not _NAME.fullmatch(name):
        raise UserError(f"malformed input name '{_printable(name)}' in '{_printable(text)}': "
                        + hint)  # fmt: skip
    dtype = rest[0] if rest else None
    if dtype is not None and dtype not in INPUT_DTYPES:
        raise UserError(f"unknown input dtype '{_printable(dtype)}' in '{_printable(text)}': "
                        "use one of " + ", ".join(INPUT_DTYPES))  # fmt: skip
    return ModelInput(parse_shape(parts[at]), name, dtype)


def check_inputs(inputs: Sequence[ModelInput]) -> None:
    """Named inputs once each, positional ones before named ones (as in a Python call)."""
    names = [i.name for i in inputs if i.name]
    if len(set(names)) != len(names):
        raise UserError(f"an input is given twice: {', '.join(names)}; name each once")
    seen_named = False
    for given in inputs:
        if given.name is None and seen_named:
            raise UserError(f"input {given} has no name but follows a named one: give the "
                            "unnamed (positional) inputs first")  # fmt: skip
        seen_named = seen_named or given.name is not None
