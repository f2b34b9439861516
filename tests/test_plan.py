"""`edgegap plan`, its choice rule, and the analytic faces of the techniques it searches."""

import json

import pytest
from torch import nn
from typer.testing import CliRunner

import edgegap
from edgegap.cli import app
from edgegap.errors import UserError
from edgegap.hardware import estimate, load_platform
from edgegap.plan import Budget, choose, plan
from edgegap.plan.search import Candidate, Point, Step, published_accuracy
from edgegap.techniques import get

PLATFORM = load_platform("eyeriss")


def analytic(workload, name, **values):
    """The workload after the technique's analytic face at `values`."""
    technique = get(name)
    return technique.apply(workload, PLATFORM, technique.setting(**values))[0]


def test_winograd_turns_a_3x3_conv_into_tile_products():
    """Conv 8 -> 16, 3x3, padding 1, on 8x8: direct 64 x 72 x 16 = 73,728 MACs. F(2x2,3x3):
    4 x 4 = 16 output tiles, 16 element-wise products of (16 tiles x 8) @ (8 x 16):
    16 x 16 x 8 x 16 = 32,768 MACs, 2.25x fewer; F(4x4,3x3): 4 tiles x 36 products x 8 x 16 =
    18,432, 4x fewer."""
    workload = edgegap.profile(nn.Conv2d(8, 16, 3, padding=1), (1, 8, 8, 8))
    assert workload.totals.macs == 73_728
    two, four = analytic(workload, "winograd", tile=2), analytic(workload, "winograd", tile=4)
    assert two.layers[0].gemms[0] == edgegap.workload.layer.Gemm(16, 16, 8, 16, weighted=True)
    assert two.totals.macs * 2.25 == workload.totals.macs
    assert four.totals.macs * 4 == workload.totals.macs
    strided = edgegap.profile(nn.Conv2d(8, 16, 3, stride=2), (1, 8, 8, 8))
    assert analytic(strided, "winograd", tile=2) == strided
    with pytest.raises(UserError, match="tile"):
        analytic(workload, "winograd", tile=3)


def test_winograd_counts_what_it_computes_at_any_padding():
    """A 3x3 convolution with padding 2 is computed by Winograd (the module is swapped), so
    the workload's count falls by the same 2.25x on sizes the tile divides: 10x10 outputs
    from 8x8 inputs, 25 tiles x 16 products x 8 x 16 against 100 x 72 x 16."""
    from edgegap.techniques import annotate
    from edgegap.techniques.winograd import winograd_transform

    conv = nn.Conv2d(8, 16, 3, padding=2)
    workload = edgegap.profile(conv, (1, 8, 8, 8))
    result = winograd_transform(nn.Sequential(conv), 2)
    counted = annotate(edgegap.profile(result.model, (1, 8, 8, 8)), result.annotations)
    assert workload.totals.macs == 100 * 72 * 16
    assert counted.totals.macs == 25 * 16 * 8 * 16 == analytic(workload, "winograd").totals.macs


def test_channel_pruning_scales_inner_channels_by_the_width():
    """Conv 3 -> 16 -> 16 -> Linear 10 at keep 0.25 MACs: width 0.5. The first conv keeps its
    3 input channels and loses half its 16 outputs; the second conv halves both sides (a
    quarter of its MACs); the classifier keeps its 10 classes."""
    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.Conv2d(16, 16, 3), nn.Flatten(),
                          nn.Linear(16 * 4 * 4, 10))  # fmt: skip
    workload = edgegap.profile(model, (1, 3, 8, 8))
    pruned = analytic(workload, "prune-channels", keep=0.5)
    macs = [layer.macs for layer in workload.layers if layer.gemms]
    kept = [layer.macs for layer in pruned.layers if layer.gemms]
    assert kept == [macs[0] // 2, macs[1] // 4, macs[2] // 2]


def test_low_rank_keeps_the_asked_fraction_of_macs():
    """Linear 300 -> 100 at 0.5: rank floor(0.5 x 300 x 100 / 400) = 37, MACs 37 x 400 =
    14,800 of 30,000."""
    workload = edgegap.profile(nn.Linear(300, 100, bias=False), (1, 300))
    factored = analytic(workload, "low-rank", macs_kept=0.5)
    assert [g.n for g in factored.layers[0].gemms] == [37, 100]
    assert factored.totals.macs == 14_800
    assert factored.totals.params == 37 * 400


def test_low_rank_leaves_activation_products_whole():
    """Regression: attention's Q K^T and scores @ V hold no weights, so low-rank must not
    factorise them (on vit_b_16 it once invented 1,804,032 weights on 24 weightless layers)."""
    workload = edgegap.profile("vit_b_16")
    factored = analytic(workload, "low-rank", macs_kept=0.5)
    for before, after in zip(workload.layers, factored.layers, strict=True):
        if not before.weight_elements:
            assert after == before
        assert after.weight_elements <= before.weight_elements
    assert factored.totals.params < workload.totals.params


def test_choice_rule_least_loss_among_those_that_meet_every_budget():
    """Constructed candidates: the fastest loses most; one meets the budget with less loss
    but does not fit memory; of the two that meet and fit, the one with less loss wins even
    though it is slower; with no candidate meeting, the closest that fits wins."""

    def candidate(latency, loss, fits=True, steps=1):
        step = Step(get("int8").setting(), loss / steps, "constructed")
        return Candidate((step,) * steps, Point(latency, 1.0, 10, fits))

    fastest = candidate(0.01, 3.0)
    unfit = candidate(0.05, 0.1, fits=False)
    slower_better = candidate(0.09, 0.5)
    worse = candidate(0.08, 1.0)
    budget = Budget(latency_s=0.1)
    assert choose([fastest, unfit, slower_better, worse], budget) is slower_better
    tied = candidate(0.07, 0.5, steps=2)
    assert choose([tied, slower_better], budget) is slower_better  # fewer steps break ties
    far, near_unfit, near = candidate(1.0, 0.0), candidate(0.2, 0.0, False), candidate(0.5, 2.0)
    assert choose([far, near_unfit, near], budget) is near
    with pytest.raises(UserError, match="no combination"):
        choose([fastest], budget, max_accuracy_drop_pp=1.0)


def test_quantize_and_prune_change_what_the_cost_model_sees():
    workload = edgegap.profile(nn.Linear(64, 64), (1, 64))
    assert analytic(workload, "int8").totals.weight_bytes == (64 * 64 + 64)
    pruned = analytic(workload, "prune", sparsity=0.75)
    assert pruned.layers[0].weight_density == 0.25
    with pytest.raises(UserError):
        analytic(workload, "prune", sparsity=1.0)


def test_published_table_is_sourced_and_consistent():
    table = published_accuracy()
    assert table["source"].str.len().min() > 10
    measured = table.dropna(subset=["baseline_top1", "compressed_top1"])
    difference = measured["baseline_top1"] - measured["compressed_top1"]
    assert (difference - measured["drop_pp"]).abs().max() < 1e-6


def test_resnet50_on_eyeriss_meets_100_ms_and_the_cost_model_confirms():
    """Dense ResNet-50 takes 648 ms on Eyeriss; the plan must bring it under 100 ms and say
    what each step contributed; re-running the recipe's transforms through the cost model
    must give the same latency."""
    workload, platform = edgegap.profile("resnet50"), load_platform("eyeriss")
    result = plan("resnet50", workload, platform, Budget(latency_s=0.1))
    assert result.baseline.latency_s > 0.1
    assert result.meets_budget and result.recipe.point.latency_s <= 0.1
    for step in result.recipe.steps:
        workload, platform = step.apply(workload, platform)
    assert estimate(workload, platform).totals.latency_s == pytest.approx(
        result.recipe.point.latency_s
    )
    total = 1.0
    for contribution in result.contributions:
        total *= contribution["contribution"]["latency_factor"]
        assert contribution["source"]
    assert total == pytest.approx(result.baseline.latency_s / result.recipe.point.latency_s)
    assert result.gap() == [f"latency: {result.baseline.latency_s / 0.1:.3g}x over the budget"]


def test_plan_cli_json_contract():
    result = CliRunner().invoke(
        app, ["plan", "mobilenet_v2", "--target", "edge-tpu", "--latency-ms", "5",
              "--energy-mj", "2", "--format", "json"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert {"model", "platform", "budget", "baseline", "meets_budget", "recipe", "estimate",
            "pareto"} <= set(record)  # fmt: skip
    assert {"latency_s", "energy_j", "memory_bytes"} <= set(record["baseline"])
    assert record["estimate"]["accuracy_source"] == "published"
    for step in record["recipe"]:
        assert {"technique", "params", "contribution"} <= set(step)


def test_plan_cli_rejects_bad_budgets():
    runner = CliRunner()
    result = runner.invoke(app, ["plan", "resnet18", "--target", "eyeriss"])
    assert result.exit_code == 2 and "give at least one budget" in result.output
    result = runner.invoke(app, ["plan", "resnet18", "--latency-ms", "-5"])
    assert result.exit_code == 2 and "latency budget must be a positive number" in result.output
    result = runner.invoke(app, ["plan", "resnet18", "--latency-ms", "5",
                                 "--max-accuracy-drop", "-1"])  # fmt: skip
    assert result.exit_code == 2 and "no combination" in result.output


@pytest.mark.slow
def test_plan_measures_losses_on_a_dataset_for_a_small_model():
    """The MNIST-1D CNN on the Cortex-M7 at a budget its dense form misses: every step's loss
    is measured on the validation split (never negative), the JSON says "measured", and the
    recipe the cost model confirms meets the budget."""
    from edgegap.plan.measure import MeasuredAccuracy
    from edgegap.training import load_dataset, seeded_model

    data = load_dataset("mnist1d")
    model = seeded_model("mnist1d-cnn", data)
    workload = edgegap.profile(model, (1, *data.sample_shape), name="mnist1d-cnn")
    platform = load_platform("cortex-m7")
    dense = estimate(workload, platform).totals.latency_s
    accuracy = MeasuredAccuracy(model, data)
    result = plan("mnist1d-cnn", workload, platform, Budget(latency_s=dense / 2), None, accuracy)
    record = result.to_dict()
    assert record["estimate"]["accuracy_source"] == "measured"
    assert result.meets_budget and result.recipe.point.latency_s <= dense / 2
    for step in record["recipe"]:
        assert step["contribution"]["accuracy_drop_pp"] >= 0
        assert step["source"].startswith("measured on mnist1d validation")
    assert accuracy.drop("winograd", "F(2x2,3x3)") is None  # 1-D convolutions only


def test_plan_exit_code_says_whether_the_budgets_are_met():
    """Regression (the report's own case): run operator by operator (--no-fuse), MobileNetV2
    cannot fit the Cortex-M7's 2 MB flash, so no recipe meets the budget: exit code 1, and
    the JSON says why. Fused as CMSIS-NN runs it, the best recipe fits: the largest working
    set was a batch norm reading and writing a 96 x 112 x 112 tensor (2.4 MB at int8), folded
    away (1.5 MB is left, the expanding convolution's), and no batch-norm weights remain."""
    runner = CliRunner()
    command = ["plan", "mobilenet_v2", "--target", "cortex-m7", "--latency-ms", "1000",
               "--format", "json"]  # fmt: skip
    result = runner.invoke(app, [*command, "--no-fuse"])
    assert result.exit_code == 1, result.output
    record = json.loads(result.stdout)
    assert not record["meets_budget"] and not record["estimate"]["fits"]
    fused = runner.invoke(app, command)
    assert fused.exit_code == 0, fused.output
    record = json.loads(fused.stdout)
    assert record["meets_budget"] and record["estimate"]["fits"]
    met = runner.invoke(app, ["plan", "resnet18", "--target", "edge-tpu", "--latency-ms", "1e4"])
    assert met.exit_code == 0, met.output
