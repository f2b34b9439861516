"""Power as users measure it: energy per frame x the frame rate + idle power, no memory
energy counted twice, and the one precision policy behind every default estimate."""

import itertools
from pathlib import Path

import pytest

import edgegap
from edgegap.hardware import (
    Platform,
    builtin_names,
    deployment_precision,
    estimate,
    load_platform,
)

TINY = Path(__file__).parent / "data" / "platforms" / "tiny.yaml"
JETSON_MODELS = ("resnet18", "resnet34", "resnet50", "vgg16")


@pytest.fixture(scope="module")
def jetson_costs():
    platform = load_platform("jetson-orin-nano")
    return {m: estimate(edgegap.profile(m, dtype="int8"), platform) for m in JETSON_MODELS}


def test_power_on_the_jetson_grows_with_the_model_and_stays_within_the_module(jetson_costs):
    """The issue's case: ResNet-18 drew 17.3 W on a 15 W module and "did not fit" while
    ResNet-50 and VGG-16 were green. Now each draws idle + energy x 30 frames/s, more for the
    larger models, and back to back never more than the module's 15 W."""
    average = [jetson_costs[m].power.average_w for m in JETSON_MODELS]
    assert average == sorted(average)
    for model, cost in jetson_costs.items():
        power = cost.power
        assert power.idle_stated and power.idle_w == pytest.approx(4.556)
        assert power.fits_budget and power.sustains_rate, model
        assert power.average_w == pytest.approx(power.idle_w + cost.totals.energy_j * 30)
        assert power.average_w < power.peak_w <= 15.0 + 1e-9, model


def test_memory_the_mac_energy_includes_is_not_charged_again(jetson_costs):
    for cost in jetson_costs.values():
        assert set(cost.totals.energy_breakdown.memory.values()) == {0.0}


def test_a_platform_that_counts_memory_twice_is_refused():
    """A MAC energy measured on the whole chip already holds the on-chip accesses."""
    record = load_platform(TINY).model_dump()
    record["compute"]["mac_energy_includes"] = "on-chip memory"
    with pytest.raises(ValueError, match="energy of rf, sram is already in the MAC energy"):
        Platform.model_validate(record)
    for level in record["memory"][:-1]:
        level["energy_pj_per_bit"] = 0.0
    Platform.model_validate(record)  # the DRAM, off chip, keeps its energy


def test_idle_power_must_be_below_the_budget():
    record = load_platform(TINY).model_dump() | {"idle_power_w": 0.002}
    with pytest.raises(ValueError, match="idle_power_w"):
        Platform.model_validate(record)


@pytest.fixture(scope="module")
def zoo_costs():
    models = ("mobilenet_v3_small", "mobilenet_v2", "resnet18", "resnet50", "vgg11", "alexnet")
    costs = {}
    for target in builtin_names():
        platform = load_platform(target)
        dtype = deployment_precision(platform)
        for model in models:
            costs[model, target] = estimate(edgegap.profile(model, dtype=dtype), platform)
    return costs


def test_more_macs_and_more_traffic_never_draw_less(zoo_costs):
    """Across one target, a model with at least the MACs, element-wise work and traffic at
    every level of another draws at least its average power."""

    def demand(cost):
        traffic = {}
        for layer in cost.layers:
            for level, moved in layer.traffic_bytes.items():
                traffic[level] = traffic.get(level, 0) + moved
        elementwise = cost.totals.energy_breakdown.compute["elementwise"]
        return sum(layer.macs for layer in cost.layers), elementwise, traffic

    compared = 0
    for (a, target), (b, other) in itertools.permutations(zoo_costs, 2):
        if target != other:
            continue
        (macs_a, ew_a, moved_a), (macs_b, ew_b, moved_b) = (
            demand(zoo_costs[a, target]), demand(zoo_costs[b, target]),
        )  # fmt: skip
        if macs_a >= macs_b and ew_a >= ew_b and all(moved_a[k] >= moved_b[k] for k in moved_a):
            compared += 1
            power_a = zoo_costs[a, target].power.average_w
            assert power_a >= zoo_costs[b, target].power.average_w, (a, b, target)
    assert compared > 20


def test_the_precision_policy():
    """The best supported integer precision of at least 8 bits: the fastest, then the
    narrowest; Eyeriss computes in 16-bit fixed point only."""
    expected = {"cortex-m7": "int8", "edge-tpu": "int8", "eyeriss": "int16",
                "jetson-orin-nano": "int8", "nvdla-small": "int8", "tpu-v1": "int8"}  # fmt: skip
    assert {n: deployment_precision(load_platform(n)) for n in expected} == expected
    record = load_platform("jetson-orin-nano").model_dump()
    record["compute"]["mac_energy_pj"] = {"fp32": 4.0, "fp16": 2.0}
    record["compute"]["macs_per_cycle_by_precision"] = {"fp16": 16384}
    assert deployment_precision(Platform.model_validate(record)) == "fp16"  # no integer MACs
