"""The interface between the cost model and a compute engine (`Engine`), and the rules every
engine may share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

import numpy as np

from edgegap.hardware.layers import Floats, Ints, LayerArrays
from edgegap.hardware.platform import BaseCompute

if TYPE_CHECKING:
    from edgegap.hardware.cost import Designs

Spec = TypeVar("Spec", bound=BaseCompute)

# Operand accesses to the register file per MAC: weight, input, partial sum (Chen et al.,
# "Eyeriss", ISCA 2016, Section V's accounting of a MAC's data movement).
REGISTER_ACCESSES_PER_MAC = 3


class Engine(ABC, Generic[Spec]):
    """What the cost model asks of a compute engine about a workload's layers (`layers`, as
    the platform runs them), for each of several `designs` (a sweep's variants of a systolic
    array, which an engine without one ignores). Arrays are per layer (L,) or per (layer,
    design) pair (L, D).

    - `cycles(designs)`: the compute cycles of each layer at the engine's `clock_mhz`, MACs
      and element-wise work together, (L, D) integers. An engine that predicts time (from
      kernel timings, say) answers seconds x clock, rounded up. `layers.kinds`, `ops` and
      `source` (the `Layer`s themselves, with their shapes) are there for such an engine;
    - `register_accesses_per_mac`, `array_hops_per_mac`: the operand accesses a MAC costs at
      the register file and on the inter-PE network;
    - `buffer_bytes(designs)`: the bytes the innermost buffer serves, (L, D); by default each
      operand once;
    - `energy()`: the joules of each layer's MACs by component, (L,) each: `mac` by default
      (MACs x the energy per MAC at the layer's precision), a crossbar's `crossbar`, `dac`,
      `adc` and `write`;
    - `on_chip_memory_in_time`: whether `cycles` already includes the on-chip levels' time
      (an engine timed on the machine with its caches), so that only off-chip traffic adds
      a memory bound; their traffic still counts for energy;
    - `moved`: the layers as the memory hierarchy sees them: as they are, unless the engine
      keeps the weights in place (programmed crossbars), which then never move;
    - `fixed_s`: the seconds each layer costs on top of its compute and memory time, which
      nothing overlaps (a runtime's launch of the layer); none by default.

    The cost model does the rest the same way for every engine: traffic beyond the innermost
    buffer, the element-wise energy, the roofline and the sums. A new engine is a module here
    with an `Engine` subclass for its spec (a member of `platform.Compute`), registered in
    `engines.ENGINES`."""

    register_accesses_per_mac: ClassVar[int] = REGISTER_ACCESSES_PER_MAC
    array_hops_per_mac: ClassVar[int] = 0
    on_chip_memory_in_time: ClassVar[bool] = False

    def __init__(self, spec: Spec, layers: LayerArrays) -> None:
        self.spec = spec
        self.layers = layers

    @abstractmethod
    def cycles(self, designs: Designs) -> Ints:
        """Compute cycles per (layer, design) pair."""

    @property
    def moved(self) -> LayerArrays:
        return self.layers

    def buffer_bytes(self, designs: Designs) -> Ints:
        """Every operand passes the innermost buffer once."""
        layers = self.moved
        once = layers.weights + layers.inputs + layers.outputs
        return np.broadcast_to(once[:, None], (len(once), len(designs)))

    def energy(self) -> dict[str, Floats]:
        return {"mac": self.layers.macs * self.layers.mac_energy_j}

    @property
    def fixed_s(self) -> float:
        return 0.0


def elementwise_cycles(layers: LayerArrays, lanes: Ints | int, width: int) -> Ints:
    """(L, width) cycles of each layer's element-wise work on `lanes` lanes (an int, or one per
    design, (1, width)): a writable array, for an engine to set its matrix-product layers in
    (their bias adds and fused activations riding along)."""
    per_layer = -(-layers.elementwise_ops[:, None] // lanes)
    cycles: Ints = np.broadcast_to(per_layer, (len(layers.macs), width)).copy()
    return cycles
