"""Each benchmark owns one `## ` section of docs/benchmarks.md and replaces only that one."""

from __future__ import annotations

import re
from pathlib import Path

from edgegap.atomic import write_text

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def write_section(heading: str, body: str) -> None:
    """Replace the section titled `heading` (append it if new), atomically."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    sections = re.split(r"(?m)^(?=## )", text)
    new = f"{heading}\n\n{body.strip()}\n\n"
    for index, section in enumerate(sections):
        if section.splitlines()[0] == heading:
            sections[index] = new
            break
    else:
        sections[-1] = sections[-1].rstrip("\n") + "\n\n"
        sections.append(new)
    write_text(DOC, "".join(sections).rstrip("\n") + "\n")
