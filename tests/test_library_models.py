"""Models from outside torchvision: `timm:NAME[.TAG]` and `hf:NAME` specs, profiled by the
Python API and the CLI, and compared exactly with counts written from the architectures'
equations (`independent_counts.py`). Nothing is downloaded."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cli_checks import one_line_error, runner
from independent_counts import SAMPLE, bert, gpt2, shipped_config, vit

import edgegap
from edgegap.cli import app
from edgegap.errors import UserError
from edgegap.workload import hf_models, library

SHIPPED = (
    "bert-base-uncased", "distilbert-base-uncased", "gpt2", "HuggingFaceTB/SmolLM2-135M",
    "Qwen/Qwen2.5-0.5B", "google/vit-base-patch16-224",
    # the edge language models (tests/test_edge_llms.py)
    "meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.2-3B", "Qwen/Qwen2.5-1.5B", "Qwen/Qwen2.5-3B",
    "Qwen/Qwen2.5-7B", "microsoft/Phi-3.5-mini-instruct", "google/gemma-2-2b",
    "HuggingFaceTB/SmolLM2-360M", "HuggingFaceTB/SmolLM2-1.7B", "mistralai/Mistral-7B-v0.3",
    "meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-13b-hf", "meta-llama/Llama-2-70b-hf",
    "meta-llama/Llama-3.1-8B", "google/gemma-2-9b", "togethercomputer/RedPajama-INCITE-Chat-3B-v1",
    "nvidia/Nemotron-Mini-4B-Instruct", "Qwen/Qwen2.5-VL-3B-Instruct",
    "Qwen/Qwen2.5-VL-3B-Instruct/language_model", "Qwen/Qwen3-30B-A3B",
)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("spec", list(SAMPLE))
def test_matches_the_independent_count(spec: str) -> None:
    expected = SAMPLE[spec]()
    totals = edgegap.profile(spec).totals
    assert (totals.macs, totals.params) == (expected.macs, expected.params)


def test_the_sample_is_twelve_models_of_both_libraries() -> None:
    assert len(SAMPLE) == 12
    assert {spec.partition(":")[0] for spec in SAMPLE} == {"timm", "hf"}


def test_timm_model_by_the_api_and_its_default_input() -> None:
    workload = edgegap.profile("timm:resnet18")
    expected = SAMPLE["timm:resnet18"]()
    assert (workload.totals.macs, workload.totals.params) == (expected.macs, expected.params)
    assert workload.input_shape == (1, 3, 224, 224)
    assert workload.model == "timm:resnet18"
    assert not workload.uncounted_ops


def test_timm_tag_sets_the_input_size() -> None:
    # resnet50.tv_in1k is torchvision's weights (224), resnet50.a1_in1k trains at 224 too:
    # the tag's pretrained_cfg decides
    assert library.default_inputs("timm:resnet50.tv_in1k")[0].shape == (1, 3, 224, 224)
    assert library.default_inputs("timm:vit_small_patch16_384")[0].shape == (1, 3, 384, 384)


@pytest.mark.slow
def test_timm_vit_at_another_input_size() -> None:
    workload = edgegap.profile("timm:vit_small_patch16_224", input_shape=(1, 3, 384, 384))
    expected = vit(384, 12, 6, 1536, side=384)
    assert (workload.totals.macs, workload.totals.params) == (expected.macs, expected.params)


def test_hf_text_model_defaults_to_128_token_ids() -> None:
    workload = edgegap.profile("hf:distilbert-base-uncased")
    assert [str(i) for i in workload.inputs] == ["input_ids:1x128:int64"]
    assert not workload.uncounted_ops
    assert not any("real tensors" in note for note in workload.notes)  # stayed on meta


@pytest.mark.slow
def test_hf_sequence_length_from_the_input_shape() -> None:
    workload = edgegap.profile("hf:gpt2", input_shape=(1, 256))
    expected = gpt2(shipped_config("gpt2"), length=256)
    assert (workload.totals.macs, workload.totals.params) == (expected.macs, expected.params)
    assert [str(i) for i in workload.inputs] == ["input_ids:1x256:int64"]


@pytest.mark.slow
def test_hf_language_models_trace_on_meta() -> None:
    for spec in ("hf:gpt2", "hf:Qwen/Qwen2.5-0.5B"):
        workload = edgegap.profile(spec)
        assert not workload.uncounted_ops, spec
        assert not any("real tensors" in note for note in workload.notes), spec


@pytest.mark.slow
def test_hf_model_type_default_config() -> None:
    # transformers' default BertConfig is bert-base-uncased's sizes
    expected = bert(shipped_config("bert-base-uncased"))
    totals = edgegap.profile("hf:bert").totals
    assert (totals.macs, totals.params) == (expected.macs, expected.params)


def test_hf_config_file(tmp_path: Path) -> None:
    fields = shipped_config("distilbert-base-uncased")
    fields["n_layers"] = 2
    path = tmp_path / "config.json"
    path.write_text(json.dumps(fields), encoding="utf-8")
    workload = edgegap.profile(f"hf:{path}")
    assert workload.totals.params == 66_362_880 - 4 * 7_087_872  # four layers fewer


def test_shipped_configs_cite_their_source() -> None:
    assert tuple(sorted(hf_models.shipped())) == tuple(sorted(SHIPPED))
    for name in SHIPPED:
        source = shipped_config(name)["_source"]
        assert name in source
        assert "https://huggingface.co/" in source
        assert "config.json" in source


def test_cli_profiles_a_library_model() -> None:
    result = runner.invoke(app, ["profile", "timm:resnet18", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["macs"] == SAMPLE["timm:resnet18"]().macs


@pytest.mark.slow
def test_cli_profiles_an_hf_model() -> None:
    result = runner.invoke(app, ["profile", "hf:gpt2", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["macs"] == 16_114_089_984


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["timm:resnt50"], "unknown timm model 'resnt50': did you mean resnet50"),
        (["timm:resnet50.bogus"], "has no tag 'bogus'"),
        (["timm:"], "give a model after 'timm:'"),
        (["hf:gpt3"], "unknown Hugging Face model 'gpt3'"),
        (["hf:no/such/config.json"], "no config file at no/such/config.json"),
    ],
)
def test_unknown_names_are_one_line(args: list[str], says: str) -> None:
    assert says in one_line_error("profile", *args)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"model_type": "gpt2", "n_layer": ', "malformed config"),
        ("[1, 2]", "a JSON object of fields"),
        ('{"n_layer": 2}', "has no model_type"),
        ('{"model_type": "no_such_type"}', "is not a valid no_such_type config"),
        ('{"model_type": "gpt2", "n_layer": "twelve"}', "is not a valid gpt2 config"),
    ],
)
def test_malformed_config_is_one_line(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(text, encoding="utf-8")
    assert says in one_line_error("profile", f"hf:{path}")


def test_a_missing_library_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    monkeypatch.setattr(hf_models, "shipped", lambda: {})
    with pytest.raises(UserError, match="need the transformers package"):
        edgegap.profile("hf:bert")


def test_cli_batch_of_a_library_model() -> None:
    from edgegap.cli import _model_inputs

    inputs = _model_inputs("hf:gpt2", None, None, 4)
    assert [str(i) for i in inputs or []] == ["input_ids:4x128:int64"]


def test_measure_refuses_an_hf_model_in_one_line() -> None:
    assert "measure times models of one float image input" in one_line_error("measure", "hf:gpt2")


@pytest.mark.slow
def test_measure_times_a_timm_model() -> None:
    result = runner.invoke(app, ["measure", "timm:resnet18", "--runs", "2", "--warmup", "0",
                                 "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "timm:resnet18" in result.stdout


def test_readme_table_is_the_independent_counts() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    rows = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].strip("`") in SAMPLE:
            rows[cells[0].strip("`")] = (int(cells[1].replace(",", "")),
                                         int(cells[2].replace(",", "")))  # fmt: skip
    assert rows == {spec: (c.macs, c.params) for spec, c in ((s, f()) for s, f in SAMPLE.items())}


@pytest.mark.slow
def test_a_tied_embedding_is_one_weight() -> None:
    # GPT-2's head is its token embedding: the head's product reads the table (float32), the
    # embedding's gather the 128 rows it gathers, and the position table's its 128 rows of
    # 1024; every parameter is stored once
    workload = edgegap.profile("hf:gpt2")
    assert workload.totals.params == 124_439_808
    assert workload.totals.stored_weight_bytes == 4 * 124_439_808
    assert workload.totals.weight_bytes == 4 * (124_439_808 - 1024 * 768 + 2 * 128 * 768)
    embedding = next(layer for layer in workload.layers if layer.name == "transformer.wte")
    assert embedding.weight_elements == 128 * 768


def test_the_operators_language_models_need_are_counted() -> None:
    import torch
    from torch import nn

    class Masks(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            positions = torch.cumsum(x, dim=1)  # 1 add each
            causal = torch.tril(positions)  # 1 select each
            mask = torch.logical_and(causal > 0, positions > 0)  # 2 compares, 1 and
            return torch.sin(positions) + torch.cos(positions) * mask  # sin, cos, mul, add

    workload = edgegap.profile(Masks(), (1, 4, 4))
    assert not workload.uncounted_ops
    assert workload.totals.flops == 16 * 9


@pytest.mark.slow
def test_without_the_packing_answer_an_lm_runs_on_real_tensors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # transformers' packed-sequence check reads the position ids: left unanswered, the meta
    # device refuses it and the model runs on real tensors, to the same counts
    from contextlib import nullcontext

    monkeypatch.setattr(hf_models, "one_sequence_per_row", nullcontext)
    workload = edgegap.profile("hf:gpt2")
    assert any("ran on real tensors" in note for note in workload.notes)
    expected = SAMPLE["hf:gpt2"]()
    assert (workload.totals.macs, workload.totals.params) == (expected.macs, expected.params)
    assert workload.totals.weight_bytes == 4 * (124_439_808 - 1024 * 768 + 2 * 128 * 768)
    assert workload.totals.stored_weight_bytes == 4 * 124_439_808
