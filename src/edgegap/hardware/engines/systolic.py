"""A systolic array: matrix products folded over rows x cols PEs by the dataflow
(`hardware.systolic`, SCALE-Sim's rule), element-wise work on one lane per array column."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from edgegap.hardware import systolic
from edgegap.hardware.engines.base import Engine, elementwise_cycles
from edgegap.hardware.layers import Ints
from edgegap.hardware.platform import SystolicCompute

if TYPE_CHECKING:
    from edgegap.hardware.cost import Designs

# Hops on the inter-PE network per MAC: the two moving operands.
ARRAY_HOPS_PER_MAC = 2


class Systolic(Engine[SystolicCompute]):
    array_hops_per_mac = ARRAY_HOPS_PER_MAC

    def cycles(self, designs: Designs) -> Ints:
        """Each product folded over the design's array (`systolic.grouped_cycles`)."""
        layers, dataflow = self.layers, designs.dataflow[None, :]
        rows, cols = designs.rows[None, :], designs.cols[None, :]
        cycles = elementwise_cycles(layers, cols, len(designs))
        if len(layers.gemm_layers):
            groups, m, k, n = (layers.gemm[:, i, None] for i in range(4))
            per_gemm = systolic.grouped_cycles(groups, m, k, n, rows, cols, dataflow)
            cycles[layers.gemm_layers] = np.add.reduceat(per_gemm, layers.gemm_starts, axis=0)
        return cycles

    def buffer_bytes(self, designs: Designs) -> Ints:
        """The stationary operand is read once and the streamed one once per fold of the
        other array dimension (the array's shifting supplies a sliding window's reuse, so an
        input is fetched, not its im2col copies); partial sums accumulate beside the array and
        each output is written once. A layer without matrix products passes each operand
        once."""
        layers = self.moved
        once = super().buffer_bytes(designs)
        operands = (layers.weights, layers.inputs, layers.outputs)
        weights, inputs, outputs = (x[:, None] for x in operands)
        m, k, n = (layers.largest[:, i, None] for i in range(3))
        dataflow = designs.dataflow[None, :]
        sr, sc, _ = systolic.operand_dims(m, k, n, dataflow)
        row_folds, col_folds = systolic.folds(sr, sc, designs.rows[None, :], designs.cols[None, :])
        streamed = np.choose(
            dataflow,
            [inputs * col_folds + weights * row_folds, weights + inputs * col_folds,
             inputs + weights * col_folds],
        )  # fmt: skip
        has_gemm = (layers.largest[:, 0] > 0)[:, None]
        traffic: Ints = np.where(has_gemm, streamed + outputs, once)
        return traffic
