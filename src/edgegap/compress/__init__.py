"""Compression run for real: recipes of registered techniques applied to a trained small
model, every stage measured (`compose`), Deep Compression as such a recipe and the
`edgegap compress` job (`recipes`), and onnxruntime timing of compressed models (`runtime`)."""

from edgegap.compress.compose import CompressionResult, Stage, parse_recipe, run_recipe
from edgegap.compress.recipes import compress

__all__ = [
    "CompressionResult",
    "Stage",
    "compress",
    "parse_recipe",
    "run_recipe",
]
