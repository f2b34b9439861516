"""A vector (SIMD) engine: MACs at its peak rate for the layer's precision times the sustained
utilisation, element-wise work on its lanes, and the runtime's fixed time per layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from edgegap.hardware.engines.base import Engine, elementwise_cycles
from edgegap.hardware.layers import Ints
from edgegap.hardware.platform import VectorCompute

if TYPE_CHECKING:
    from edgegap.hardware.cost import Designs


class Vector(Engine[VectorCompute]):
    def cycles(self, designs: Designs) -> Ints:
        """MACs / (MACs per cycle at the layer's precision x utilisation), rounded up."""
        layers, spec = self.layers, self.spec
        cycles = elementwise_cycles(layers, spec.vector_ops_per_cycle, len(designs))
        if len(layers.gemm_layers):
            peak = np.array([spec.macs_per_cycle_at(p) for p in layers.precision])
            rate = (peak[layers.gemm_layers] * spec.utilization)[:, None]
            macs = layers.macs[layers.gemm_layers, None]
            cycles[layers.gemm_layers] = np.ceil(macs / rate).astype(np.int64)
        return cycles

    @property
    def fixed_s(self) -> float:
        return self.spec.fixed_s_per_layer
