"""The main job's report: index.html agrees with report.json, reruns are byte-identical, an
interrupted run leaves nothing half-written, and the page renders in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from edgegap.hardware import builtin_names
from edgegap.report.build import build_report

MODELS = ("resnet18", "mobilenet_v2")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "out"
    build_report(out, MODELS)
    return out


class Numbers(HTMLParser):
    """Every element with data-key: (key, exact value, text shown)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []
        self._open: list[tuple[str, str] | None] = []
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "data-key" in attributes:
            self._open.append((attributes["data-key"] or "", attributes["data-value"] or ""))
            self._text = ""

    def handle_data(self, data: str) -> None:
        self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "span") and self._open:
            key, value = self._open.pop()  # type: ignore[misc]
            self.found.append((key, value, self._text.strip()))


def lookup(record: Any, key: str) -> Any:
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", key):
        record = record[int(part[1:-1])] if part.startswith("[") else record[part]
    return record


def test_html_numbers_are_report_json_numbers(report: Path) -> None:
    record = json.loads((report / "report.json").read_text())
    parser = Numbers()
    parser.feed((report / "index.html").read_text())
    assert len(parser.found) > 300
    sections = {key.split("[")[0].split(".")[0] for key, _, _ in parser.found}
    assert {"models", "layers", "edge", "trends", "bridges", "plans", "closing"} <= sections
    for key, value, shown in parser.found:
        expected = lookup(record, key)
        assert float(value) == pytest.approx(expected, rel=1e-12), key
        if shown != "-":
            number = float(shown.replace(",", "").split("x")[0])
            assert number == pytest.approx(expected, rel=5e-3), (key, shown)


def test_report_holds_every_part(report: Path) -> None:
    record = json.loads((report / "report.json").read_text())
    assert [m["model"] for m in record["models"]] == list(MODELS)
    assert len(record["edge"]) == len(MODELS) * len(builtin_names())
    assert record["plans"][0]["model"] == "resnet50" and record["plans"][0]["meets_budget"]
    assert len(record["closing"]["rows"]) == 5  # mobilenet_v2, the representative one, x 5
    assert {b["kind"] for b in record["bridges"][0]["bridges"]} >= {"in-memory", "near-data"}
    assert all(row["source"] for row in record["sources"])
    for name in ("index.html", "plotly.min.js", "models.csv", "edge.csv", "trends/trends.json"):
        assert (report / name).is_file(), name


def test_rerun_gives_identical_report_json(report: Path, tmp_path: Path) -> None:
    build_report(tmp_path / "again", MODELS)
    assert (tmp_path / "again" / "report.json").read_bytes() == (
        report / "report.json"
    ).read_bytes()


def test_interrupted_report_leaves_the_old_one_whole(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.json").write_text("{}")

    def interrupt(step: str) -> None:
        if step == "trends":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_report(out, ("resnet18",), progress=interrupt)
    assert [p.name for p in out.iterdir()] == ["report.json"]
    assert (out / "report.json").read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no staging left behind


@pytest.mark.slow
def test_page_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    """Chromium (installed by `make test`) opens index.html from disk: no page errors or
    console errors, every figure drawn by plotly, and a screenshot kept in test-artifacts/."""
    chromium = shutil.which("chromium")
    assert chromium is not None, "headless Chromium is missing: `make browser` installs it"
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000",
        "--enable-logging=stderr", "--v=0",
    ]  # fmt: skip
    url = (report / "index.html").as_uri()
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=180
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "rror" in line], console
    assert 'data-rendered="yes"' in dom.stdout
    assert re.search(r'<pre id="page-errors">\s*</pre>', dom.stdout), "the page raised errors"
    figures = re.findall(r'<div class="figure[^"]*"[^>]*id="([^"]+)"', dom.stdout)
    assert len(figures) >= 10
    for figure_id in figures:
        start = dom.stdout.index(f'id="{figure_id}"')
        assert "main-svg" in dom.stdout[start : start + 20000], f"{figure_id} not drawn"
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    subprocess.run(
        [chromium, *flags, "--window-size=1280,2400", f"--screenshot={shot}", url],
        capture_output=True, timeout=180, check=True,
    )  # fmt: skip
    assert shot.stat().st_size > 20_000
