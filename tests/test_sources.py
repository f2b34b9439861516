"""Shipped data cites primary sources: no row or catalog note points to the team's reference
notes (ANCHORS.md), which users of `edgegap bridges` or the catalog cannot read."""

from pathlib import Path

import pytest

import edgegap

PACKAGE = Path(edgegap.__file__).parent
SHIPPED = sorted(
    path
    for pattern in ("**/*.csv", "**/*.yaml", "**/data/README.md")
    for path in PACKAGE.glob(pattern)
)


def test_shipped_data_is_found():
    names = {path.name for path in SHIPPED}
    assert {"memories.csv", "bridge_parameters.csv", "platforms.csv", "eyeriss.yaml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_row_cites_the_team_notes(path: Path):
    lines = path.read_text(encoding="utf-8").splitlines()
    citing = [f"{n}: {line[:120]}" for n, line in enumerate(lines, 1) if "anchors" in line.lower()]
    assert not citing, f"{path.name} cites ANCHORS.md instead of the primary source: {citing}"
