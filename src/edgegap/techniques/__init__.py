"""Every technique that closes the gap, in one registry (`base`): algorithm techniques as
transforms of a workload (any model) and of a trained model (run for real), architecture
techniques as transforms of a platform. Importing this package registers them all."""

from edgegap.techniques import (  # noqa: F401  (each module registers its techniques)
    activations,
    architecture,
    circulant,
    lowrank,
    pruning,
    quantization,
    sharing,
    structured,
    weight_formats,
    winograd,
)
from edgegap.techniques.base import (
    GROUPS,
    Compressed,
    LayerAnnotation,
    NotAvailable,
    Setting,
    Technique,
    annotate,
    get,
    names,
    techniques,
)

__all__ = [
    "GROUPS",
    "Compressed",
    "LayerAnnotation",
    "NotAvailable",
    "Setting",
    "Technique",
    "annotate",
    "get",
    "names",
    "techniques",
]
