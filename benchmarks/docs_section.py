"""Each benchmark owns one `## ` section of docs/benchmarks.md and replaces only that one."""

from __future__ import annotations

import re
from pathlib import Path

from edgegap.atomic import write_text

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def write_section(heading: str, body: str, doc: Path = DOC, before: str | None = None) -> None:
    """Replace the section titled `heading` of `doc` (docs/benchmarks.md by default), or add it
    if new: before the section titled `before` where there is one, else at the end;
    atomically."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    sections = re.split(r"(?m)^(?=## )", text)
    new = f"{heading}\n\n{body.strip()}\n\n"
    titles = [section.splitlines()[0] for section in sections]
    if heading in titles:
        sections[titles.index(heading)] = new
    elif before in titles:
        sections.insert(titles.index(before), new)
    else:
        sections[-1] = sections[-1].rstrip("\n") + "\n\n"
        sections.append(new)
    write_text(doc, "".join(sections).rstrip("\n") + "\n")
