"""Bit-widths of numeric formats by name: one table for profiles, platforms and trends."""

# fmt: off
BITS: dict[str, int] = {
    "fp64": 64, "fp32": 32, "tf32": 19, "fp16": 16, "bf16": 16, "int16": 16, "fp8": 8,
    "int8": 8, "int4": 4, "int2": 2, "binary": 1,
}
# fmt: on
ALIASES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "float64": "fp64"}


def bits_of(name: str) -> int | None:
    """The bit-width of a format name or PyTorch-style alias; None if unknown."""
    return BITS.get(ALIASES.get(name, name))
