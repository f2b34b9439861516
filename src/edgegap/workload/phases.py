"""Generation phases of a language model: what one pass of it reads and computes.

A prompt of `tokens` tokens is prefilled in one pass (every token's keys and values computed,
and kept); each token after it is decoded in a pass of its own, which reads the keys and
values of the `context` tokens before it (the KV cache). The two differ in kind: prefill is
matrix products over many tokens, decode reads every weight and the whole cache for one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgegap.errors import UserError

if TYPE_CHECKING:
    from edgegap.workload.layer import Workload
    from edgegap.workload.shapes import ModelInput

KINDS = ("prefill", "decode")
PROMPT_TOKENS = 128  # a prefill's default prompt length
# A decode step's KV cache arrives as two inputs per layer, its keys and its values.
CACHE_INPUTS = ("past_key", "past_value")


def cache_inputs(workload: Workload) -> list[ModelInput]:
    """The KV cache a decode step reads: its `past_key_*` and `past_value_*` inputs."""
    return [i for i in workload.inputs if i.name and i.name.startswith(CACHE_INPUTS)]


@dataclass(frozen=True)
class Phase:
    """One pass of generation: `kind` prefill (of `tokens`) or decode (after `context`),
    `batch` sequences at once."""

    kind: str
    tokens: int = PROMPT_TOKENS
    context: int = 0
    batch: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UserError(f"unknown phase '{self.kind}': give prefill or decode")
        for what, value, least in (("tokens", self.tokens, 1), ("batch", self.batch, 1)):
            if value < least:
                raise UserError(f"--{what} must be at least {least}, not {value}")
        if self.kind == "decode" and self.context < 1:
            raise UserError(
                "a decode step reads a KV cache: give --context, the tokens before it (>= 1)"
            )
        if self.kind == "prefill" and self.context:
            raise UserError("--context is a decode step's: a prefill starts from no cache")

    @property
    def processed(self) -> int:
        """The tokens one pass takes in: every sequence's prompt, or one token a sequence."""
        return self.batch * (self.tokens if self.kind == "prefill" else 1)
