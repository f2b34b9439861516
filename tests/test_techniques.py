"""The technique registry: every registered technique, at every setting the project knows for
it and at settings drawn by hypothesis, applied to a sample of zoo models, keeps the
invariants the cost model relies on."""

import contextlib
import math
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edgegap
from edgegap.errors import UserError
from edgegap.hardware import estimate, load_platform
from edgegap.hardware.platform import Platform
from edgegap.plan.search import published_accuracy
from edgegap.precision import grouped_bytes
from edgegap.techniques import GROUPS, NotAvailable, Setting, Technique, get, names, techniques
from edgegap.workload.layer import Workload

MODELS = ("resnet18", "mobilenet_v2", "vit_b_16")
PLATFORMS = ("eyeriss", "jetson-orin-nano")
# Techniques that only change how weights are stored or which weights are zero: the products
# the model computes stay as they are.
SAME_PRODUCTS = {"quantization", "coding"} | {"prune"}


@cache
def workload(name: str) -> Workload:
    return edgegap.profile(name)


def known_settings(technique: Technique, work: Workload, platform: Platform) -> list[Setting]:
    """The default setting, every published label, and the hardware candidates."""
    found = []
    if technique.changes == "hardware":
        with contextlib.suppress(NotAvailable):
            found += technique.candidates(work, platform)
    else:
        found.append(technique.setting())
    table = published_accuracy()
    for label in sorted(set(table[table["technique"] == technique.name]["setting"].astype(str))):
        found.append(technique.from_label(label))
    return found


def check_invariants(technique: Technique, setting: Setting, before: Workload, platform):
    try:
        after, new_platform = technique.apply(before, platform, setting)
    except (NotAvailable, UserError) as reason:
        assert technique.changes == "hardware" or "needs" in str(reason), reason
        return
    if technique.changes == "hardware" and technique.name != "spiking":
        assert after == before  # a hardware technique leaves the model's counts alone
    assert len(after.layers) == len(before.layers)
    for old, new in zip(before.layers, after.layers, strict=True):
        assert new.weight_elements <= old.weight_elements, (technique.name, old.name)
        if not old.weight_elements:  # no weights invented where there were none
            assert new.weight_elements == 0 and new.params == old.params
        assert new.macs <= old.macs, (technique.name, old.name)
        if technique.group in SAME_PRODUCTS or technique.name in SAME_PRODUCTS:
            assert new.gemms == old.gemms
        assert all(min(g.groups, g.m, g.k, g.n) >= 1 for g in new.gemms)
        assert new.macs == sum(g.macs for g in new.gemms)
        assert 0 < new.weight_density <= 1 and 0 < new.activation_density <= 1
        assert new.weight_bytes == grouped_bytes(
            new.weight_elements, new.weight_bits, new.weight_group, new.weight_group_bits
        )
    assert after.totals.weight_bytes == sum(x.weight_bytes for x in after.layers)
    assert after.peak_activation_bytes <= before.peak_activation_bytes, technique.name
    Platform.model_validate(new_platform.model_dump())  # still a valid platform
    cost = estimate(after, new_platform).totals
    assert math.isfinite(cost.latency_s) and cost.latency_s > 0
    assert math.isfinite(cost.energy_j) and cost.energy_j > 0


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("platform_name", PLATFORMS)
def test_every_technique_at_every_known_setting_keeps_the_invariants(model, platform_name):
    platform = load_platform(platform_name)
    before = workload(model)
    for technique in techniques():
        if not technique.analytic:
            continue
        for setting in known_settings(technique, before, platform):
            check_invariants(technique, setting, before, platform)


@st.composite
def drawn_setting(draw, technique: Technique) -> Setting:
    """A setting with every numeric parameter drawn from its stated range."""
    values = {}
    for param in technique.params:
        if param.choices:
            values[param.name] = draw(st.sampled_from(param.choices))
        elif param.low is not None and param.high is not None:
            if param.integer:
                values[param.name] = draw(st.integers(int(param.low), int(param.high)))
            else:
                values[param.name] = draw(st.floats(param.low, param.high))
    try:
        return technique.setting(**values)
    except UserError:  # values the technique refuses together (one rank rule at a time)
        return technique.setting(**{technique.bare: values[technique.bare]})


MODEL_TECHNIQUES = [t.name for t in techniques(changes="model") if t.analytic]


@pytest.mark.parametrize("name", MODEL_TECHNIQUES)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_drawn_settings_keep_the_invariants(name, data):
    technique = get(name)
    setting = data.draw(drawn_setting(technique))
    check_invariants(technique, setting, workload("mobilenet_v2"), load_platform("eyeriss"))


def test_every_published_result_names_a_registered_technique():
    assert set(published_accuracy()["technique"]) <= set(names())


def test_registry_entries_are_complete():
    for technique in techniques():
        assert technique.group in GROUPS and technique.sources and technique.summary
        assert technique.analytic or technique.measured, technique.name
        if technique.bare is not None:
            assert technique.bare in {p.name for p in technique.params}
    with pytest.raises(UserError, match="did you mean low-rank"):
        get("lowrank")


def test_low_rank_and_circulant_keep_what_holds_no_weight():
    """Regressions: a product whose weight is the left operand (W @ x) is not factorised as
    if the weight were on the right, and a factorised or circulant layer keeps its bias."""
    import torch
    from torch import nn

    class LeftWeight(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(64, 128))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.w @ x

    platform = load_platform("eyeriss")
    left = edgegap.profile(LeftWeight(), (128, 4))
    low_rank = get("low-rank")
    assert low_rank.apply(left, platform, low_rank.setting(macs_kept=0.5))[0] == left
    linear = edgegap.profile(nn.Linear(64, 32), (1, 64))
    circulant = get("circulant")
    after = circulant.apply(linear, platform, circulant.setting(block_size=8))[0]
    assert after.totals.params == 4 * 8 * 8 + 32  # 4 x 8 blocks of 8, and the 32 biases
    factored = low_rank.apply(linear, platform, low_rank.setting(macs_kept=0.5))[0]
    rank = 0.5 * 64 * 32 // (64 + 32)
    assert factored.totals.params == rank * (64 + 32) + 32


def test_narrower_activations_shrink_the_peak_of_live_activations():
    """The issue's case: int8 on an fp32 model counted the fp32 peak (7.8 MB for
    MobileNetV3-Large instead of 2.0 MB): the peak follows the activations' bytes."""
    before = workload("mobilenet_v2")
    after, _ = get("int8").apply(before, load_platform("eyeriss"), get("int8").from_label("W8A8"))
    assert after.peak_activation_bytes == math.ceil(before.peak_activation_bytes * 8 / 32)
    pruned, _ = get("prune-channels").apply(
        before, load_platform("eyeriss"), get("prune-channels").setting()
    )
    assert pruned.peak_activation_bytes < before.peak_activation_bytes


def test_xnor_keeps_the_first_input_real():
    work = workload("resnet18")
    xnor = get("xnor")
    after = xnor.apply(work, load_platform("eyeriss"), xnor.setting())[0]
    weighted = [x for x in after.layers if x.weight_elements]
    assert weighted[0].activation_bits == 32 and {x.weight_bits for x in weighted} == {1}
    assert {x.activation_bits for x in weighted[1:]} == {1}


def test_settings_are_checked_and_normalised():
    winograd = get("winograd")
    assert winograd.setting(tile=4.0)["tile"] == 4 and winograd.setting(tile=4.0).label == (
        "F(4x4,3x3)"
    )
    with pytest.raises(UserError, match="tile must be one of 2, 4"):
        winograd.setting(tile=3)
    assert get("scaling").setting(scaling_ends_nm=None)["scaling_ends_nm"] is None
    with pytest.raises(UserError, match="node_nm must be a number in"):
        get("scaling").setting(node_nm="five")
