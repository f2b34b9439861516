"""Recipes as YAML: parsing, and a composed pipeline measured stage by stage on real digits."""

import pytest
import torch
from torch import nn

from edgegap.compress.compose import parse_recipe, run_recipe
from edgegap.errors import UserError
from edgegap.hardware import load_platform
from edgegap.techniques import get
from edgegap.training import load_dataset, train


def test_parse_recipe_accepts_names_values_and_params():
    steps = parse_recipe("- prune: 0.9\n- weight-sharing: {bits: 5}\n- huffman\n")
    assert steps == [
        get("prune").setting(sparsity=0.9),
        get("weight-sharing").setting(bits=5),
        get("huffman").setting(),
    ]
    assert steps[0]["steps"] == 3 and steps[0].label == "sparsity=0.9"  # defaults filled in


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- prune: [0.9\n", "r.yaml:2: malformed YAML"),
        ("prune: 0.9\n", "a recipe is a YAML list"),
        ("- shrink: 2\n", "unknown technique 'shrink'"),
        ("- pruen: 2\n", "did you mean prune"),
        ("- reram\n", "reram is not run for real"),
        ("- {prune: 0.5, huffman: 1}\n", "step 1 must be a name"),
    ],
)
def test_parse_recipe_rejects_bad_files(text, message):
    with pytest.raises(UserError, match=message):
        parse_recipe(text, "r.yaml")


@pytest.fixture(scope="module")
def trained():
    data = load_dataset("digits")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    train(model, data, 8, lr=1e-2)
    return model, data


def test_prune_share_huffman_shrinks_every_stage(trained):
    model, data = trained
    steps = parse_recipe("- prune: {sparsity: 0.8, steps: 2, epochs: 1}\n"
                         "- weight-sharing: {bits: 4}\n- huffman\n")  # fmt: skip
    result = run_recipe(model, "mlp", steps, data, load_platform("eyeriss"))
    sizes = [stage.bytes for stage in result.stages]
    assert sizes[0] == (64 * 64 + 64 + 64 * 10 + 10) * 4
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == 4
    assert result.stages[1].weights_kept == pytest.approx(0.2, abs=0.01)
    assert result.stages[1].macs < result.stages[0].macs
    assert result.stages[-1].accuracy > 0.8
    assert all(stage.energy_j for stage in result.stages)
    assert model[1].weight.count_nonzero() == 64 * 64  # the input model is untouched


def test_a_quantizer_by_name_sets_the_bits_the_cost_model_sees(trained):
    model, data = trained
    result = run_recipe(model, "mlp", parse_recipe("- int8\n"), data)
    dense, int8 = result.stages
    assert int8.bytes < dense.bytes / 3
    assert int8.accuracy == pytest.approx(dense.accuracy, abs=0.02)


def test_huffman_needs_shared_weights(trained):
    model, data = trained
    with pytest.raises(UserError, match="huffman codes shared weights"):
        run_recipe(model, "mlp", parse_recipe("- huffman\n"), data)
    with pytest.raises(UserError, match="sparsity must be in"):
        run_recipe(model, "mlp", parse_recipe("- prune: 1.5\n"), data)


def test_compress_cli_recipe_errors(tmp_path):
    from typer.testing import CliRunner

    from edgegap.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["compress", "lenet-5", "--recipe", str(tmp_path / "no.yaml")])
    assert result.exit_code == 2 and "recipe file not found" in result.output
    recipe = tmp_path / "r.yaml"
    recipe.write_text("- int8\n")
    result = runner.invoke(app, ["compress", "lenet-5", "--recipe", str(recipe),
                                 "--dataset", "digits"])  # fmt: skip
    assert result.exit_code == 2 and "cannot take digits's samples" in result.output
    result = runner.invoke(app, ["compress", "lenet-5", "--recipe", "fancy"])
    assert result.exit_code == 2 and "unknown recipe 'fancy'" in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- prune: {sparsty: 0.5}\n", "prune has no parameter sparsty: it takes"),
        ("- activation-sparsity: 5\n", "activation-sparsity takes no value"),
        ("- int8: {bits: 3}\n", "int8 has no parameter bits"),
        ("- weight-sharing: {bits: 0}\n", "bits must be in"),
        ("- prune: {sparsity: 0.5, steps: -1}\n", "steps must be in"),
        ("- prune: {sparsity: {9: 0.5}}\n", "sparsity: no layer 9"),
    ],
)
def test_recipe_parameters_are_checked(trained, text, message):
    model, data = trained
    with pytest.raises(UserError, match=message):
        run_recipe(model, "mlp", parse_recipe(text), data)


def test_a_step_that_keeps_the_weights_keeps_their_bytes(trained):
    """Measuring activation sparsity after pruning leaves the sparse representation's size."""
    model, data = trained
    steps = parse_recipe("- prune: {sparsity: 0.5, steps: 1, epochs: 0}\n- activation-sparsity\n")
    pruned, measured = run_recipe(model, "mlp", steps, data).stages[1:]
    assert measured.bytes == pruned.bytes


def test_compress_cli_runs_a_recipe_on_a_data_directory(tmp_path):
    """Two classes of 28x28 grey images in class folders (ImageFolder style) through
    `--data-dir`: the recipe runs and the JSON contract holds."""
    import json

    import numpy as np
    from PIL import Image
    from typer.testing import CliRunner

    from edgegap.cli import app

    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / "data" / label).mkdir(parents=True)
        for index in range(12):
            pixels = rng.integers(0, 256, (28, 28), dtype=np.uint8)
            Image.fromarray(pixels, mode="L").save(tmp_path / "data" / label / f"{index}.png")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("- int8\n")
    args = ["compress", "lenet-5", "--recipe", str(recipe), "--quick",
            "--data-dir", str(tmp_path / "data"), "--format", "json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert [stage["name"] for stage in record["stages"]][1].startswith("+ int8")
    assert record["stages"][1]["bytes"] < record["baseline"]["bytes"] / 3


def test_the_index_width_carries_through_later_steps_and_old_names_get_a_hint(trained):
    """Regression: prune's relative-index width survives a later step that stores weights
    its own way (its codebooks do not: the weights changed)."""
    from edgegap.compress.compose import _merged
    from edgegap.techniques import Compressed

    model, _ = trained
    pruned = Compressed("prune", model, 10, state={"index_bits": 3, "shared": {"0": None}})
    after = _merged(pruned, Compressed("int8", model, 5), keeps_weights=False)
    assert after.state == {"index_bits": 3} and after.storage_bytes == 5
    kept = _merged(pruned, Compressed("activation-sparsity", model, 99), keeps_weights=True)
    assert kept.state == pruned.state and kept.storage_bytes == 10
    with pytest.raises(UserError, match="'quantize' is now 'weight-sharing: BITS'"):
        parse_recipe("- quantize: {bits: 5}\n")
