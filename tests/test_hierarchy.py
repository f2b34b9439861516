"""A memory hierarchy of any depth: traffic at each level from the capacity inside it
(docs/cost-model.md, Per layer), on hand-worked examples and as properties."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import edgegap
from edgegap.errors import UserError
from edgegap.hardware import Platform, estimate, fits
from edgegap.hardware.catalog import parse_platform
from edgegap.hardware.cost import Designs, evaluate_designs
from edgegap.workload.layer import Gemm, Layer, Workload

KIB, MIB = 1024, 1024 * 1024


def _level(name: str, role: str, size: int | None = None, **extra: Any) -> dict[str, Any]:
    level = {"name": name, "role": role, "bandwidth_gb_s": 10.0, "energy_pj_per_bit": 1.0,
             "source": "test fixture"} | extra  # fmt: skip
    return level | ({"size_bytes": size} if size is not None else {})


def cpu(*buffers: dict[str, Any]) -> Platform:
    """A vector engine of 16 int8 MACs per cycle at 1 GHz with the given buffers, innermost
    first, then DRAM."""
    return Platform.model_validate(
        {
            "name": "cpu", "description": "a test CPU", "kind": "cpu", "year": 2024,
            "process_nm": 5, "power_budget_w": 10, "source": "test fixture",
            "compute": {"type": "vector", "macs_per_cycle": 16, "clock_mhz": 1000,
                        "mac_energy_pj": {"int8": 1.0}, "source": "test fixture"},
            "memory": [_level("rf", "register", 256), *buffers, _level("dram", "offchip")],
        }
    )  # fmt: skip


THREE_CACHES = cpu(
    _level("l1", "buffer", 32 * KIB), _level("l2", "buffer", MIB), _level("l3", "buffer", 32 * MIB)
)


def test_a_layer_that_fits_l2_but_not_l1_spills_only_out_of_l1():
    """Linear(1024 -> 1024) at batch 64, int8: 1,049,600 B of weights (bias included),
    65,536 B of inputs and of outputs. L1 serves each operand once (a vector engine). The
    activations (128 KiB) overflow half of L1 (16 KiB): a tiled loop nest crosses into L2,
    the cheaper order keeping input tiles and streaming the weights once per tile:
    65,536 + 65,536 + 1,049,600 x 4 = 4,329,472 B (the other order: 1,049,600 + 65,536 +
    65,536 x ceil(1,049,600 / 16,384) = 5,374,976 B). They fit half of L2, so only the
    weights cross into L3, and from L3 into DRAM."""
    workload = edgegap.profile(nn.Linear(1024, 1024), (64, 1024), dtype="int8")
    (layer,) = estimate(workload, THREE_CACHES).layers
    weights, activations = 1_049_600, 2 * 65_536
    assert layer.traffic_bytes == {
        "rf": 3 * 64 * 1024 * 1024,
        "l1": weights + activations,
        "l2": activations + 4 * weights,
        "l3": weights,
        "dram": weights,
    }


def test_the_outermost_buffer_is_the_one_a_design_varies():
    """Batch 1024: 2 MiB of activations overflow half of L2 but fit half of L3, so DRAM sees
    the weights. A design whose L3 is 2 MiB tiles them instead: 1 MiB input tiles kept, the
    weights streamed once per tile (one), 2 MiB + 1,049,600 B (the other order streams the
    inputs twice: 1,049,600 + 1 MiB + 2 x 1 MiB). What L3 sees comes from L2, whatever L3's
    size."""
    workload = edgegap.profile(nn.Linear(1024, 1024), (1024, 1024), dtype="int8")
    assert THREE_CACHES.level("buffer").name == "l3"
    assert [level.name for level in THREE_CACHES.buffers] == ["l1", "l2", "l3"]
    designs = Designs(np.ones(2, np.int64), np.ones(2, np.int64), np.zeros(2, np.int64),
                      np.array([32 * MIB, 2 * MIB]))  # fmt: skip
    traffic = evaluate_designs(workload, THREE_CACHES, designs, fuse=False).traffic
    weights, activations = 1_049_600, 2 * MIB
    assert traffic["dram"][0].tolist() == [weights, activations + weights]
    assert traffic["l3"][0].tolist() == 2 * [traffic["l3"][0, 0]]  # L2 decides what L3 sees


def test_weights_cached_inside_move_nowhere_beyond():
    """A 4 MiB L2 that caches weights holds the 1,049,600 B of weights beside the 128 KiB of
    activations: nothing reaches L3 or DRAM; without room for them, the weights stream."""
    workload = edgegap.profile(nn.Linear(1024, 1024), (64, 1024), dtype="int8")
    caching = cpu(_level("l1", "buffer", 32 * KIB),
                  _level("l2", "buffer", 4 * MIB, caches_weights=True),
                  _level("l3", "buffer", 32 * MIB))  # fmt: skip
    (layer,) = estimate(workload, caching).layers
    assert (layer.traffic_bytes["l3"], layer.traffic_bytes["dram"]) == (0, 0)
    assert layer.traffic_bytes["l2"] > 0
    small = cpu(_level("l1", "buffer", 32 * KIB),
                _level("l2", "buffer", MIB, caches_weights=True))  # fmt: skip
    assert estimate(workload, small).layers[0].traffic_bytes["dram"] == 1_049_600


def test_with_no_buffer_every_operand_crosses_once():
    workload = edgegap.profile(nn.Linear(1024, 1024), (64, 1024), dtype="int8")
    (layer,) = estimate(workload, cpu()).layers
    assert layer.traffic_bytes["dram"] == 1_049_600 + 2 * 65_536


def test_an_mcus_sram_levels_hold_the_activations_together():
    """Two RAMs inside a read-only flash: the activations may use both (each is a scratchpad
    of its own), the weights the flash."""
    workload = edgegap.profile(nn.Linear(64, 64), (1, 64), dtype="int8")
    mcu = cpu(_level("dtcm", "buffer", 64), _level("sram", "buffer", 64))
    memory = [level.model_dump() for level in mcu.memory]
    memory[-1] |= {"size_bytes": 8192, "read_only": True}
    mcu = Platform.model_validate(mcu.model_dump() | {"memory": memory})
    fit = fits(workload, mcu)
    assert [(p.holds, p.level, p.capacity_bytes) for p in fit.placements] == [
        ("weights", "dram", 8192), ("activations", "dtcm + sram", 128)]  # fmt: skip
    assert fit.fits


@pytest.mark.parametrize(
    ("roles", "valid"),
    [
        (["register", "buffer", "buffer", "buffer", "offchip"], True),
        (["buffer", "offchip"], True),
        (["register", "array", "buffer"], True),
        (["buffer", "register", "offchip"], False),
        (["register", "register", "buffer", "offchip"], False),
        (["buffer", "offchip", "offchip"], False),
        (["offchip", "buffer"], False),
    ],
)  # fmt: skip
def test_memory_levels_go_innermost_first(roles: list[str], valid: bool) -> None:
    levels = "".join(
        f"  - {{name: m{i}, role: {role}, size_bytes: 1024, bandwidth_gb_s: 1, "
        "energy_pj_per_bit: 1, source: test fixture}\n"
        for i, role in enumerate(roles)
    )
    text = (
        "name: x\ndescription: x\nkind: cpu\nyear: 2024\nprocess_nm: 5\npower_budget_w: 1\n"
        "source: test fixture\ncompute: {type: vector, macs_per_cycle: 1, clock_mhz: 1, "
        "mac_energy_pj: {int8: 1}, source: test fixture}\nmemory:\n" + levels
    )
    if valid:
        assert [level.role for level in parse_platform(text, "x.yaml").memory] == roles
        return
    with pytest.raises(UserError) as error:
        parse_platform(text, "x.yaml")
    assert "memory levels go innermost first" in str(error.value)
    assert "\n" not in str(error.value)


# --- properties --------------------------------------------------------------------------


@st.composite
def workloads(draw: st.DrawFn) -> Workload:
    """A few int8 matrix-product layers (a linear layer's shapes, with or without a bias)
    and element-wise layers of any size."""
    layers = []
    for index in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            m, k, n = (draw(st.integers(1, 300)) for _ in range(3))
            bias = draw(st.booleans())
            counts = {"weight_elements": k * n + bias * n, "input_elements": m * k,
                      "output_elements": m * n, "gemms": (Gemm(1, m, k, n, True),)}  # fmt: skip
        else:
            size = draw(st.integers(1, 100_000))
            counts = {"weight_elements": draw(st.sampled_from([0, size])),
                      "input_elements": size, "output_elements": size}  # fmt: skip
        layer = Layer(index=index, name=f"l{index}", op="op", kind="kind", input_shapes=(),
                      output_shape=(), elementwise_flops=counts["output_elements"], params=0,
                      weight_bits=8, activation_bits=8, **counts)  # fmt: skip
        layers.append(layer)
    return Workload("drawn", (1,), tuple(layers), peak_activation_bytes=0)


capacities = st.lists(st.integers(1, 4 * MIB), min_size=1, max_size=4)


def _buffers(sizes: list[int]) -> list[dict[str, Any]]:
    return [_level(f"b{i}", "buffer", size) for i, size in enumerate(sizes)]


@settings(max_examples=60, deadline=None)
@given(workloads(), capacities)
def test_traffic_never_grows_outward_nor_falls_below_the_weights(
    workload: Workload, sizes: list[int]
) -> None:
    """Beyond the innermost buffer (which serves the engine), each level sees at most what
    the level inside it sees, in any order of capacities, and at least every weight once."""
    platform = cpu(*_buffers(sizes))
    evaluation = evaluate_designs(workload, platform, Designs.of(platform), fuse=False)
    outward = [evaluation.traffic[level.name][:, 0] for level in platform.memory[2:]]
    weights = np.array([layer.weight_elements for layer in workload.layers])
    for inner, outer in itertools.pairwise(outward):
        assert (outer <= inner).all()
    assert (outward[-1] >= weights).all()


@settings(max_examples=60, deadline=None)
@given(workloads(), capacities, st.integers(1, 64 * MIB))
def test_a_buffer_added_outside_sees_what_crossed_to_memory_before(
    workload: Workload, sizes: list[int], extra: int
) -> None:
    """Adding a buffer outside the last one changes nothing inside it; the new level sees
    what DRAM saw, and DRAM now sees no more than that (only weights once the activations
    fit), and exactly that when the new buffer is no larger than the largest inside it."""

    def traffic(platform: Platform) -> dict[str, list[int]]:
        evaluation = evaluate_designs(workload, platform, Designs.of(platform), fuse=False)
        return {name: t[:, 0].tolist() for name, t in evaluation.traffic.items()}

    before = traffic(cpu(*_buffers(sizes)))
    after = traffic(cpu(*_buffers(sizes), _level("extra", "buffer", extra)))
    assert {name: after[name] for name in before} | {"dram": before["dram"]} == before
    assert after["extra"] == before["dram"]
    assert all(a <= b for a, b in zip(after["dram"], before["dram"], strict=True))
    if extra <= max(sizes):
        assert after["dram"] == before["dram"]
