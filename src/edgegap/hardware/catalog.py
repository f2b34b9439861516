"""Platforms by name (the built-in catalog) or by YAML path, validated at load.

A bad file gets one line naming the file, the line and the field, e.g.
`eyeriss.yaml:12: compute.rows: must be an integer in 1..65,536 PEs, got -4`.
Every number has a physical range (platform.py); a value outside it, infinite, NaN or a
boolean is refused with the range in the message.
"""

from __future__ import annotations

import difflib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from edgegap.errors import UserError
from edgegap.hardware.platform import Platform, located

CATALOG = resources.files("edgegap.hardware") / "catalog"


def builtin_names() -> list[str]:
    return sorted(
        p.name.removesuffix(".yaml") for p in CATALOG.iterdir() if p.name.endswith(".yaml")
    )


def _node_line(node: yaml.Node, location: tuple[int | str, ...]) -> int:
    """The 1-based line of the YAML node at a pydantic error location (as deep as it exists)."""
    for key in location:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if k.value == key]
            if not match:
                break
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
    line: int = node.start_mark.line
    return line + 1


def parse_platform(text: str, origin: str) -> Platform:
    """Validate YAML text; errors name `origin`, the line and the field."""
    try:
        data: Any = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}" if mark is not None else origin
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise UserError(f"{where}: malformed YAML: {problem}") from None
    except (ValueError, OverflowError) as error:  # a scalar YAML cannot convert (5000 digits)
        reason = str(error).strip().splitlines()[0].split(";")[0] or type(error).__name__
        raise UserError(f"{origin}: malformed YAML: {reason}") from None
    except RecursionError:
        raise UserError(
            f"{origin}: malformed YAML: nested too deeply (a platform file is a few levels "
            "of mappings and lists)"
        ) from None
    if not isinstance(data, dict) or root is None:
        raise UserError(f"{origin}: a platform file is a YAML mapping (name:, compute:, memory:)")
    try:
        return Platform.model_validate(data)
    except ValidationError as error:
        location, message = located(error)
        field = ".".join(map(str, location)) or "platform"
        raise UserError(f"{origin}:{_node_line(root, location)}: {field}: {message}") from None


@cache
def _builtin(name: str) -> Platform:
    path = CATALOG / f"{name}.yaml"
    return parse_platform(path.read_text(encoding="utf-8"), f"{name}.yaml")


def load_platform(spec: str | Path) -> Platform:
    """A catalog name (`eyeriss`) or the path of a YAML file."""
    text = str(spec)
    if text.endswith((".yaml", ".yml")) or Path(text).is_file():
        path = Path(text)
        if not path.is_file():
            raise UserError(f"platform file not found: {path}")
        try:
            content = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise UserError(
                f"{path}: not UTF-8 text (byte {error.start}): save the platform file as UTF-8"
            ) from None
        except OSError as error:
            raise UserError(f"cannot read platform file {path}: {error.strerror}") from None
        return parse_platform(content, str(path))
    if text not in builtin_names():
        close = difflib.get_close_matches(text, builtin_names(), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "run `edgegap hw list`"
        raise UserError(f"unknown platform '{text}': {hint}")
    return _builtin(text)
