"""Models of several inputs, and of integer ones: `--input NAME:SHAPE[:DTYPE]` and
`profile(..., inputs=...)`, from a PyTorch module and from an ONNX file."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch
from cli_checks import one_line_error, runner
from torch import nn

import edgegap
from edgegap.cli import app
from edgegap.errors import UserError
from edgegap.workload.shapes import ModelInput

VOCABULARY, WIDTH, CLASSES = 100, 8, 4


class Tagger(nn.Module):
    """Token ids in, a masked linear layer on their embeddings out."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCABULARY, WIDTH)
        self.head = nn.Linear(WIDTH, CLASSES)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.embed(ids)
        if mask is not None:
            x = x * mask.unsqueeze(-1)
        return self.head(x)


def _head_macs(tokens: int) -> int:
    return tokens * WIDTH * CLASSES


def test_named_and_positional_inputs_reach_the_model_with_their_dtypes() -> None:
    alone = edgegap.profile(Tagger(), inputs=["1x16:int64"])
    both = edgegap.profile(Tagger(), inputs=["ids:1x16:int64", "mask:1x16"])
    assert alone.totals.macs == both.totals.macs == _head_macs(16)
    assert both.totals.flops > alone.totals.flops  # the mask's multiply is counted
    ids, mask = ModelInput((1, 16), "ids", "int64"), ModelInput((1, 16), "mask", "float32")
    assert both.inputs == (ids, mask)
    assert both.input_shape == (1, 16)
    assert both.to_dict()["inputs"][0] == {"name": "ids", "shape": [1, 16], "dtype": "int64"}


def test_float_token_ids_are_refused_with_the_fix() -> None:
    with pytest.raises(UserError, match="--input ids:1x128:int64"):
        edgegap.profile(Tagger(), (1, 16))


def test_an_input_shape_and_inputs_together_are_refused() -> None:
    with pytest.raises(UserError, match="not both"):
        edgegap.profile(Tagger(), (1, 16), inputs=["1x16:int64"])


def _exported(tmp_path: Path) -> Path:
    path = tmp_path / "tagger.onnx"
    ids, mask = torch.zeros(1, 16, dtype=torch.long), torch.ones(1, 16)
    torch.onnx.export(
        Tagger(), (ids, mask), path, input_names=["ids", "mask"], dynamo=False,
        dynamic_axes={"ids": {1: "tokens"}, "mask": {1: "tokens"}},
    )  # fmt: skip
    return path


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the TorchScript exporter's
def test_an_onnx_file_takes_inputs_by_name_and_shares_symbolic_sizes(tmp_path: Path) -> None:
    path = _exported(tmp_path)
    workload = edgegap.profile(path, inputs=["ids:1x32"])
    assert workload.totals.macs == _head_macs(32)
    # the mask shares the symbolic "tokens" dimension, so it takes 32 too
    ids, mask = ModelInput((1, 32), "ids", "int64"), ModelInput((1, 32), "mask", "float32")
    assert workload.inputs == (ids, mask)
    with pytest.raises(UserError, match="has no input 'tokens': its inputs are ids, mask"):
        edgegap.profile(path, inputs=["tokens:1x32"])
    with pytest.raises(UserError, match="input 'ids' is int64 in the graph, not float32"):
        edgegap.profile(path, inputs=["ids:1x32:float32"])


def test_the_cli_takes_repeated_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "taggers.py").write_text(textwrap.dedent("""
        from test_inputs import Tagger
        def tagger():
            return Tagger()
    """))  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    args = ["profile", "taggers:tagger", "--input", "ids:1x16:int64", "--input", "mask:1x16"]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [i["name"] for i in json.loads(result.stdout)["inputs"]] == ["ids", "mask"]
    line = one_line_error(*args, "--input-shape", "1,16")
    assert "give --input-shape or --input, not both" in line
    assert "unknown input dtype 'int65'" in one_line_error("profile", "taggers:tagger",
                                                           "--input", "ids:1x16:int65")  # fmt: skip
    batched = runner.invoke(app, ["estimate", *args[1:], "--batch", "4", "--format", "json"])
    assert batched.exit_code == 0, batched.output


@pytest.mark.parametrize("shape", [(0, 16), (1, -1)])
def test_an_impossible_shape_given_to_the_api_is_a_user_error(shape: tuple[int, ...]) -> None:
    with pytest.raises(UserError, match="impossible input shape"):
        edgegap.profile(Tagger(), shape)
