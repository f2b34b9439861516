"""`edgegap plan --tokens-per-s`: a language model's decode budgets, and the weight format and
KV-cache type that meet them with the least published perplexity increase."""

import json

import pytest
from cli_checks import one_line_error
from typer.testing import CliRunner

from edgegap.cli import app
from edgegap.errors import UserError
from edgegap.hardware import load_platform
from edgegap.plan import Budget, choose, plan_for
from edgegap.plan.search import Candidate, Point, PublishedPerplexity, Step, published_perplexity
from edgegap.techniques import get
from edgegap.techniques.weight_formats import formats, kv_types

runner = CliRunner()
SMALL = ("plan", "smollm2-135m", "--target", "jetson-agx-orin", "--tokens-per-s", "5",
         "--context", "256")  # fmt: skip


def test_every_perplexity_row_is_a_type_the_registry_implements_with_its_source():
    """Rows only for the formats `weight-format` and `kv-cache` store; a reference model is
    named wherever the increase is not the reference itself (0 over F16 or an f16 cache)."""
    table = published_perplexity()
    implemented = {"weight-format": set(formats()), "kv-cache": set(kv_types())}
    for row in table.itertuples():
        assert row.setting in implemented[row.technique], row
        assert row.source.strip(), row
        assert (row.ppl_increase == 0) == (row.reference_model == ""), row
    quantize = dict(zip(table["setting"][table["technique"] == "weight-format"],
                        table["ppl_increase"][table["technique"] == "weight-format"],
                        strict=True))  # fmt: skip
    assert quantize == {"f16": 0, "q8_0": 0.0026, "q4_k_m": 0.1754, "q4_0": 0.4685,
                        "q2_k": 3.5199}  # fmt: skip


def test_a_published_increase_says_it_is_transferred():
    increase, source = PublishedPerplexity("llama-3.2-3b").drop("weight-format", "q4_k_m")
    assert increase == 0.1754
    assert "measured on Llama-3-8B, transferred to llama-3.2-3b: not measured for it" in source
    assert PublishedPerplexity("x").drop("weight-format", "mlc-q4f16_1") is None


def test_a_small_model_meets_a_generous_budget_at_the_least_increase():
    """SmolLM2-135M decodes far faster than 5 tokens/s on the AGX Orin: the baseline, F16
    weights and an f16 cache (the reference of the published increases), meets every budget
    and is the recipe; the search holds every weight format with a published increase but
    F16 itself (the baseline's), and q8_0 for the cache, at most one of each."""
    result = plan_for("smollm2-135m", load_platform("jetson-agx-orin"),
                      Budget(fps=5, per_pass=1), context=256)  # fmt: skip
    assert result.meets_budget
    assert result.recipe.steps == () and result.recipe.accuracy_drop_pp == 0
    assert result.precision.name == "float16"
    described = {c.describe() for c in result.candidates}
    assert len(described) == 5 * 2  # none, q8_0, q4_k_m, q4_0, q2_k x none, q8_0
    assert "weight-format (q4_k_m) -> kv-cache (q8_0)" in described
    names = [check.name for check in result.checks(result.baseline)]
    assert names == ["memory", "decode rate", "power"]
    rate = next(c for c in result.checks() if c.name == "decode rate")
    assert rate.text.startswith("decode rate 5 tokens/s (given): reaches ")
    assert rate.used == pytest.approx(1 / result.recipe.point.latency_s)
    with pytest.raises(UserError, match="--dtype"):
        plan_for("smollm2-135m", load_platform("jetson-agx-orin"), Budget(fps=5, per_pass=1),
                 dtype="int8", context=256)  # fmt: skip


def test_a_tight_rate_buys_speed_with_perplexity():
    """Llama-3.2-3B after 4096 tokens on the Orin Nano: F16 weights do not reach 10
    tokens/s, so the recipe stores them narrower, at the least published increase of the
    candidates that do."""
    result = plan_for("llama-3.2-3b", load_platform("jetson-orin-nano"),
                      Budget(fps=10, per_pass=1), context=4096)  # fmt: skip
    assert not next(c for c in result.checks(result.baseline) if c.name == "decode rate").met
    assert result.meets_budget
    table = published_perplexity().set_index(["technique", "setting"])["ppl_increase"]
    steps = result.recipe.steps
    assert steps[0].setting.technique == "weight-format"
    assert result.recipe.accuracy_drop_pp == pytest.approx(
        sum(table[(step.setting.technique, step.setting.label)] for step in steps)
    )
    meeting = [c for c in result.candidates if c.point.max_fps >= 10 and c.point.fits]
    assert len(meeting) < len(result.candidates)
    assert result.recipe.accuracy_drop_pp == min(c.accuracy_drop_pp for c in meeting)


def test_the_quality_tie_goes_to_the_fewer_bytes():
    """Two candidates of one increase that both meet the budget: a language model's plan
    takes the one of fewer bytes, an image model's the one of fewer steps."""
    weights = get("weight-format")
    one = Step(weights.setting(format="q4_0"), 0.5, "a")
    two = Step(get("kv-cache").setting(format="q8_0"), 0.0, "b")
    small = Candidate((one, two), Point(0.01, 0.1, 1_000, True, max_fps=100))
    large = Candidate((one,), Point(0.01, 0.1, 2_000, True, max_fps=100))
    assert choose([large, small], Budget(fps=10, per_pass=1)) is small
    assert choose([small, large], Budget(fps=10)) is large
    with pytest.raises(UserError, match=r"raises perplexity by at most 0\.1"):
        choose([small, large], Budget(fps=10, per_pass=1), 0.1)


def test_a_70b_model_does_not_fit_a_pi():
    """Llama-2-70B's Q2_K alone is about 25 GB: no format fits the Pi 5's 8 GiB, the memory
    check names the overflow, and the exit code is 1."""
    result = runner.invoke(app, ["plan", "llama-2-70b", "--target", "raspberry-pi-5",
                                 "--tokens-per-s", "1", "--context", "512"])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "does NOT meet every budget" in result.stdout
    memory = [line for line in result.stdout.splitlines() if line.startswith("recipe: memory")]
    assert len(memory) == 1 and "of weights and activations" in memory[0]
    assert "x over" in memory[0] and "lpddr4x" in memory[0]


def test_a_ttft_budget_plans_the_prefill():
    result = runner.invoke(app, [*SMALL, "--ttft-ms", "0.001", "--tokens", "64"])
    assert result.exit_code == 1, result.output
    assert "time to first token 0.001 ms (given): needs" in result.stdout
    assert "recipe: time to first token" in result.stdout


def test_plan_generation_json_shape():
    result = runner.invoke(app, [*SMALL, "--format", "json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["quality"] == "wikitext-2 perplexity increase over F16"
    assert record["searched"] == ["weight-format", "kv-cache"]
    assert record["precision"] == {
        "name": "float16",
        "origin": record["precision"]["origin"],
        "ppl_increase": 0,
        "source": "the reference of the increases",
    }
    assert record["phases"] == [{"kind": "decode", "tokens": 128, "context": 256, "batch": 1}]
    assert record["budget"]["unit"] == "tokens/s" and record["budget"]["rate"] == 5
    assert [b["name"] for b in record["budgets"]] == ["memory", "decode rate", "power"]
    estimate = record["estimate"]
    assert estimate["ppl_increase"] == 0 and estimate["unmet"] == []
    assert estimate["tokens_per_s"] == pytest.approx(1 / estimate["latency_s"])
    assert record["recipe"] == []  # the baseline meets the budget
    assert all("ppl_increase" in point and "tokens_per_s" in point for point in record["pareto"])
    assert "accuracy_drop_pp" not in json.dumps(record)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ("plan", "resnet18", "--tokens-per-s", "20", "--context", "64"),
            "a generation phase is for a Hugging Face language model",
        ),
        ((*SMALL[:-4], "--tokens-per-s", "-5", "--context", "64"), "positive number"),
        (("plan", "llama-9z", "--tokens-per-s", "20", "--context", "64"), "llama-9z"),
        (("plan", "smollm2-135m", "--tokens-per-s", "20"), "give --context"),
        (("plan", "smollm2-135m", "--context", "64"), "give --tokens-per-s"),
        ((*SMALL, "--latency-ms", "5"), "--latency-ms is an image model's budget"),
        ((*SMALL, "--tokens", "64"), "give --ttft-ms"),
        ((*SMALL, "--max-ppl-increase", "-1"), "number >= 0"),
        ((*SMALL, "--change", "both"), "changes its weight and cache formats only"),
        ((*SMALL, "--dtype", "int8"), "--dtype: a language model's plan runs at float16"),
    ],
)
def test_plan_generation_user_errors(args, says):
    assert says in one_line_error(*args)
