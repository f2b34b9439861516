"""In-memory crossbars (`platform.Crossbar`): matrix products as analog matrix-vector
multiplies in arrays that hold the weights, element-wise work on digital lanes beside them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from edgegap.hardware.engines.base import Engine, elementwise_cycles
from edgegap.hardware.layers import Floats, Ints, LayerArrays
from edgegap.hardware.platform import Crossbar, InMemoryCompute, Platform
from edgegap.workload.layer import Workload

if TYPE_CHECKING:
    from edgegap.hardware.cost import Designs


@dataclass(frozen=True)
class _Tiling:
    """Per product, as the arrays hold it: groups that fit one array side by side are packed
    on its block diagonal (a depthwise layer's 9 x 1 filters share an array instead of taking
    one each), so `groups`, `k` and `n` are those of the packed products."""

    groups: Ints
    k: Ints
    n: Ints
    cells: Ints  # per weight
    row_tiles: Ints  # arrays along the reduction axis
    col_tiles: Ints  # arrays along the output axis

    @property
    def tiles(self) -> Ints:
        tiles: Ints = self.groups * self.row_tiles * self.col_tiles
        return tiles


def _tiling(layers: LayerArrays, xbar: Crossbar) -> _Tiling:
    groups, k, n = layers.gemm[:, 0], layers.gemm[:, 2], layers.gemm[:, 3]
    cells = -(-layers.gemm_bits // xbar.bits_per_cell)
    fit = np.minimum(xbar.rows // k, xbar.cols // (n * cells))
    pack = np.maximum(np.minimum(fit, groups), 1)
    k, n = k * pack, n * pack
    return _Tiling(
        -(-groups // pack), k, n, cells, -(-k // xbar.rows), -(-(n * cells) // xbar.cols)
    )


def crossbar_tiles(workload: Workload, platform: Platform, crossbar: Crossbar) -> int:
    """Arrays of `crossbar`'s shape that hold every weight of `workload` at once, at the
    precisions `platform` runs it."""
    layers = LayerArrays.of(workload, platform)
    return int(_tiling(layers, crossbar).tiles.sum()) if len(layers.gemm_layers) else 0


@dataclass(frozen=True)
class _Crossbars:
    """Per-layer cycles and energy of the matrix products (L,), and whether all the model's
    weights stay programmed in the arrays."""

    cycles: Ints
    energy: dict[str, Floats]
    resident: bool


class InMemory(Engine[InMemoryCompute]):
    register_accesses_per_mac = 0  # the operands meet in the array's cells

    def cycles(self, designs: Designs) -> Ints:
        cycles = elementwise_cycles(self.layers, self.spec.vector_ops_per_cycle, len(designs))
        gemm_layers = self.layers.gemm_layers
        cycles[gemm_layers] = self._crossbars.cycles[gemm_layers, None]
        return cycles

    @property
    def moved(self) -> LayerArrays:
        """Weights programmed once stay in the arrays: none moves."""
        if not self._crossbars.resident:
            return self.layers
        return replace(self.layers, weights=np.zeros_like(self.layers.weights))

    def energy(self) -> dict[str, Floats]:
        return self._crossbars.energy

    @cached_property
    def _crossbars(self) -> _Crossbars:
        """Each product (m x k) @ (k x n) maps its k x n weights onto ceil(k / rows) x
        ceil(n cells / cols) arrays (small groups packed, `_Tiling`); each of the m input
        vectors takes ceil(bits / dac_bits) steps. A step reads the array (all rows driven by
        DACs) and converts every used column once; it lasts one cycle or the time the array's
        ADCs need for its columns. Arrays work in parallel; when the model's arrays outnumber
        the chip's, every layer's cells are written before it runs (energy per cell, time per
        row)."""
        layers, xbar, clock_mhz = self.layers, self.spec.crossbar, self.spec.clock_mhz
        count = len(layers.macs)
        if not len(layers.gemm_layers):
            empty = {key: np.zeros(count) for key in ("crossbar", "dac", "adc", "write")}
            return _Crossbars(np.zeros(count, dtype=np.int64), empty, True)
        m, bits = layers.gemm[:, 1], layers.gemm_bits
        tiling = _tiling(layers, xbar)
        groups, k, n, cells = tiling.groups, tiling.k, tiling.n, tiling.cells
        row_tiles, col_tiles, tiles = tiling.row_tiles, tiling.col_tiles, tiling.tiles
        steps = m * -(-bits // xbar.dac_bits)
        used_cols = np.minimum(n * cells, xbar.cols)
        conversion_cycles = np.ceil(
            -(-used_cols // xbar.adcs_per_array) * xbar.adc_conversion_ns * clock_mhz / 1e3
        ).astype(np.int64)
        step_cycles = np.maximum(conversion_cycles, 1)
        passes = -(-tiles // xbar.arrays)
        resident = int(tiles.sum()) <= xbar.arrays
        write_cycles = (
            np.zeros_like(tiles)
            if resident
            else np.ceil(passes * xbar.rows * xbar.write_ns_per_row * clock_mhz / 1e3).astype(
                np.int64
            )
        )
        per_gemm = {
            "crossbar": tiles * steps * xbar.read_energy_pj,
            "dac": groups * col_tiles * steps * k * xbar.dac_energy_pj,
            "adc": groups * row_tiles * steps * n * cells * xbar.adc_energy_pj,
            "write": (0.0 if resident else 1.0)
            * groups
            * k
            * n
            * cells
            * xbar.write_energy_pj_per_cell,
        }

        def per_layer(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
            out = np.zeros(count, dtype=values.dtype)
            out[layers.gemm_layers] = np.add.reduceat(values, layers.gemm_starts)
            return out

        cycles = per_layer(passes * steps * step_cycles + write_cycles)
        energy = {
            key: per_layer(np.asarray(v, dtype=np.float64)) * 1e-12 for key, v in per_gemm.items()
        }
        return _Crossbars(cycles, energy, resident)
