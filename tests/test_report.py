"""The main job's report: index.html agrees with report.json, reruns are byte-identical, an
interrupted run leaves nothing half-written and resumes from its results file, a model that
fails is named and left out, a local Ray of 2 workers writes the serial report byte for byte,
and the page renders in a real browser."""

from __future__ import annotations

import functools
import json
import math
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from cli_checks import error_leaving_nothing
from typer.testing import CliRunner

from edgegap.cli import app
from edgegap.hardware import builtin_names
from edgegap.report import build
from edgegap.report.build import EDGE_TARGETS, build_report
from edgegap.runner import Workers

MODELS = ("resnet18", "mobilenet_v2")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "out"
    build_report(out, MODELS)
    return out


class Numbers(HTMLParser):
    """Every element with data-key: (key, exact value, text shown, scale of the shown unit)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str, float]] = []
        self._open: list[tuple[str, str, float]] = []
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "data-key" in attributes:
            scale = float(attributes.get("data-scale") or 1)
            self._open.append((attributes["data-key"] or "", attributes["data-value"] or "", scale))
            self._text = ""

    def handle_data(self, data: str) -> None:
        self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "span") and self._open:
            key, value, scale = self._open.pop()
            self.found.append((key, value, self._text.strip(), scale))


def lookup(record: Any, key: str) -> Any:
    """The value at a data-key path: dots, [index], or [name] for a key holding dots."""
    for part in re.findall(r"\[[^\]]+\]|[^.\[\]]+", key):
        name = part[1:-1] if part.startswith("[") else part
        record = record[int(name)] if isinstance(record, list) else record[name]
    return record


def test_html_numbers_are_report_json_numbers(report: Path) -> None:
    record = json.loads((report / "report.json").read_text())
    parser = Numbers()
    parser.feed((report / "index.html").read_text())
    assert len(parser.found) > 300
    sections = {key.split("[")[0].split(".")[0] for key, _, _, _ in parser.found}
    assert {"models", "layers", "edge", "trends", "bridges", "plans", "closing"} <= sections
    for key, value, shown, scale in parser.found:
        expected = lookup(record, key)
        assert float(value) == pytest.approx(expected, rel=1e-12), key
        if shown != "-":
            number = float(shown.replace(",", "").split("x")[0])
            assert number == pytest.approx(expected * scale, rel=5e-3), (key, shown)


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


# The keys every edge row carries: the verdict table reads exactly these.
EDGE_KEYS = {
    "model", "platform", "precision", "latency_ms", "energy_mj", "max_fps", "power_w",
    "peak_power_w", "fits_power_budget", "real_time", "weights_mb", "memory_mb", "fits_memory",
    "memory_reason", "runs", "reasons", "latency_low_ms", "latency_high_ms", "interval_level",
    "interval_basis", "interval_n",
}  # fmt: skip


def test_edge_rows_say_whether_each_model_runs_and_why_not(report: Path) -> None:
    record = json.loads((report / "report.json").read_text())
    for row in record["edge"]:
        assert set(row) == EDGE_KEYS
        assert row["runs"] == (row["fits_memory"] and row["real_time"] and row["fits_power_budget"])
        assert (row["reasons"] == []) == row["runs"]
        assert any(" do not fit " in r for r in row["reasons"]) != row["fits_memory"]
        slow = any(" of 30 frames/s (the rate would need " in r for r in row["reasons"])
        assert slow != row["real_time"]
        over = row["real_time"] and not row["fits_power_budget"]  # too slow: said once
        assert any(" W over the " in r for r in row["reasons"]) == over
    mcu = next(
        r for r in record["edge"] if (r["model"], r["platform"]) == ("resnet18", "cortex-m7")
    )
    assert mcu["reasons"][0] == "weights 11.7 MB do not fit flash (2.1 MB)"


class Tables(HTMLParser):
    """Each table with an id: its head row and body rows, as the text of their cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list[list[str]]]] = {}
        self._table: str | None = None
        self._part = ""
        self._row: list[str] | None = None
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id")
            if self._table:
                self.tables[self._table] = {"thead": [], "tbody": []}
        elif tag in ("thead", "tbody"):
            self._part = tag
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join(self._cell.split()))
            self._cell = None
        elif tag == "tr" and self._table and self._row is not None:
            self.tables[self._table][self._part].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None


def test_first_screen_is_the_verdict_then_the_gap(report: Path) -> None:
    """The page opens on the verdict: a row per representative model, a column per target
    (labels at the top), each cell runs / does not run and why; then the gap."""
    record = json.loads((report / "report.json").read_text())
    page = (report / "index.html").read_text()
    sections = re.findall(r'<section id="([^"]+)">', page)
    assert sections[:2] == ["verdict", "gap"]
    parser = Tables()
    parser.feed(page)
    verdict = parser.tables["verdict"]
    assert record["verdict"]["targets"] == list(EDGE_TARGETS)
    assert verdict["thead"] == [["model", *EDGE_TARGETS]]
    assert [row[0] for row in verdict["tbody"]] == record["verdict"]["models"] == ["mobilenet_v2"]
    rows = {(r["model"], r["platform"]): r for r in record["edge"]}
    for body in verdict["tbody"]:
        for target, cell in zip(EDGE_TARGETS, body[1:], strict=True):
            row = rows[body[0], target]
            assert cell.startswith("runs" if row["runs"] else "does not run: ")
            for reason in row["reasons"]:
                assert reason in cell
            assert re.search(r"ms \((not validated|[0-9.,]+-[0-9.,]+)\) · ", cell), cell
            assert f"MB at {row['precision']}" in cell
    mcu = verdict["tbody"][0][1 + EDGE_TARGETS.index("cortex-m7")]
    assert "weights 3.5 MB do not fit flash (2.1 MB)" in mcu


def test_the_gap_headlines_only_established_trends(report: Path) -> None:
    record = json.loads((report / "report.json").read_text())
    growth = record["trends"]["gaps"]["growth"]
    page = (report / "index.html").read_text()
    gap = page[page.index('<section id="gap">') : page.index('<section id="demand">')]
    lead = gap[: gap.index("</p>")]
    established = lead[: lead.index("No significant trend")]
    assert "parameters of the largest networks" in established
    assert "operations per image" not in established  # its interval includes no change
    assert "operations per image" in lead[lead.index("No significant trend") :]
    # A gap resting on a weak fit says so in the same sentence, naming the fit.
    start = lead.index("So whether the performance gap")
    sentence = lead[start : lead.index("So whether the energy gap")]
    assert "<strong>not established</strong>" in sentence and "resting on ops_vs_year" in sentence
    parser = Tables()
    parser.feed(page)
    rows = {row[1]: row for row in parser.tables["growth"]["tbody"]}
    ops = rows[growth["ops_growth_per_year"]["what"]]
    n = record["trends"]["fits"]["ops_vs_year"]["n"]
    assert ops[-1] == "no significant trend" and f"n={n}" in ops[-2]
    assert rows[growth["largest_params_growth_per_year"]["what"]][-1] == "significant"
    assert not growth["ops_growth_per_year"]["significant"]


def test_every_latency_is_in_ms(report: Path) -> None:
    page = (report / "index.html").read_text()
    headings = [re.sub("<[^>]+>", "", h) for h in re.findall(r"<th>(.*?)</th>", page)]
    latency = [h for h in headings if "latency" in h and "factor" not in h]
    assert latency and all("(ms)" in h for h in latency), latency
    assert not [h for h in headings if "(s)" in h]
    assert not re.search(r"[0-9]</span> s\b", page)  # no latency in seconds in running text


def _spec(page: str, figure_id: str) -> dict[str, Any]:
    found = re.search(
        rf'<script type="application/json" id="{figure_id}-spec">(.*?)</script>', page
    )
    assert found, figure_id
    spec: dict[str, Any] = json.loads(found.group(1).replace("<\\/", "</"))
    return spec


def test_heat_maps_label_their_columns_at_the_top_with_the_precision(report: Path) -> None:
    page = (report / "index.html").read_text()
    record = json.loads((report / "report.json").read_text())
    for figure_id in ("edge-heatmap", "closing-heatmap"):
        spec = _spec(page, figure_id)
        assert spec["layout"]["xaxis"]["side"] == "top", figure_id
        assert all("<br>int" in label or "<br>fp" in label for label in spec["data"][0]["x"])
    columns = _spec(page, "edge-heatmap")["data"][0]["x"]
    assert "eyeriss<br>int16" in columns and "cortex-m7<br>int8" in columns
    assert {r["precision"] for r in record["closing"]["rows"]} <= {"int8", "int16", "fp16", "fp32"}


def _inside(value: float, axis: dict[str, Any]) -> bool:
    low, high = sorted(axis["range"])
    return bool(low <= value <= high)


def test_budget_lines_lie_inside_their_log_axis(report: Path) -> None:
    """The Pareto plots' budget line (a shape, in data coordinates) and its label (an
    annotation, in log10 coordinates on a log axis) inside the axis range the figure sets."""
    from edgegap.report.page import pareto_plot

    record = json.loads((report / "report.json").read_text())
    cases = list(record["plans"])
    far = dict(cases[0], budget={"latency_s": 30.0, "energy_j": None, "memory_bytes": None})
    for result in [*cases, far]:  # the README's 100 ms case, the MCU's 1 s, and a far one
        plot = pareto_plot(result).to_plotly_json()["layout"]
        axis = plot["xaxis"]
        assert axis["type"] == "log"
        budget_ms = result["budget"]["latency_s"] * 1e3
        (line,) = plot["shapes"]
        (label,) = plot["annotations"]
        assert line["x0"] == line["x1"] == pytest.approx(budget_ms)
        assert _inside(math.log10(line["x0"]), axis) and _inside(label["x"], axis)
        assert label["x"] == pytest.approx(math.log10(budget_ms))
        points = [p["latency_s"] * 1e3 for p in result["pareto"]]
        assert all(_inside(math.log10(x), axis) for x in points)
        assert axis["range"][1] - axis["range"][0] < 4  # decades, not 10^99


def test_a_reference_label_on_a_log_axis_is_placed_in_log_coordinates() -> None:
    import plotly.graph_objects as go

    from edgegap.plotting import log_range, reference

    plot = go.Figure(go.Scatter(x=[1, 2], y=[1e9, 1e12]))
    plot.update_layout(yaxis_type="log")
    reference(plot, "y", 1e14, "brain", high=1e15)
    (label,) = plot.layout.annotations
    assert label.y == pytest.approx(15)  # not 1e15, which plotly would read as 10^(1e15)
    assert plot.layout.shapes[0].y1 == 1e15  # shapes stay in data coordinates
    assert log_range([50, 100, 300]) == pytest.approx([math.log10(50) - 0.1, math.log10(300) + 0.1])


def rendered_layouts(dom: str) -> dict[str, dict[str, Any]]:
    """Each figure's `data-layout`, which the page's script writes once plotly has drawn it."""
    import html

    found = re.findall(r'<div class="figure[^"]*"[^>]*id="([^"]+)"[^>]*data-layout="([^"]*)"', dom)
    return {figure_id: json.loads(html.unescape(layout)) for figure_id, layout in found}


def rendered_coordinate(axis: dict[str, Any], value: float) -> float:
    """A data value in the axis's own coordinates (log10 on a log axis)."""
    return math.log10(value) if axis["type"] == "log" else value


@pytest.mark.slow
def test_page_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    """Chromium (installed by `make test`) opens index.html from disk: no page errors or
    console errors, every figure drawn by plotly with every line, band and label inside the
    axis ranges plotly computed (the budget lines of the Pareto plots among them), the heat
    maps' column labels at the top, the verdict table first with its target names heading
    the columns, and a screenshot kept in test-artifacts/."""
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
    layouts = rendered_layouts(dom.stdout)
    assert set(layouts) == set(figures)
    budget_lines = 0
    for figure_id, layout in layouts.items():
        for axis in ("xaxis", "yaxis"):  # ranges the browser computed, in axis coordinates
            if layout[axis]["type"] == "log":
                low, high = sorted(layout[axis]["range"])
                assert high - low < 20, (figure_id, axis, layout[axis]["range"])
        for shape in layout["shapes"]:  # shapes: data coordinates
            for axis, ends in (("x", ("x0", "x1")), ("y", ("y0", "y1"))):
                if shape[f"{axis}ref"] == axis:
                    for end in ends:
                        at = rendered_coordinate(layout[f"{axis}axis"], shape[end])
                        assert _inside(at, layout[f"{axis}axis"]), (figure_id, shape)
        for note in layout["annotations"]:  # annotations: axis coordinates already
            for axis in ("x", "y"):
                if note[f"{axis}ref"] == axis:
                    assert _inside(note[axis], layout[f"{axis}axis"]), (figure_id, note)
            budget_lines += note["text"].startswith("budget")
    assert budget_lines == len([f for f in figures if f.startswith("plan-")]) == 2
    for heat_map in ("edge-heatmap", "closing-heatmap"):
        assert layouts[heat_map]["xaxis"]["side"] == "top", heat_map
    tables = Tables()
    tables.feed(dom.stdout)
    verdict = tables.tables["verdict"]
    assert verdict["thead"] == [["model", *EDGE_TARGETS]]  # column labels at the top
    assert [row[0] for row in verdict["tbody"]] == ["mobilenet_v2"]
    first = dom.stdout.index("<section")
    assert dom.stdout.index('<table class="verdict" id="verdict">') < dom.stdout.index(
        "<section", first + 1
    )  # in the first section
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    subprocess.run(
        [chromium, *flags, "--window-size=1280,2400", f"--screenshot={shot}", url],
        capture_output=True, timeout=180, check=True,
    )  # fmt: skip
    assert shot.stat().st_size > 20_000


def test_every_estimate_carries_its_platforms_interval(report: Path) -> None:
    record = json.loads((report / "report.json").read_text())
    assert set(record["intervals"]) == set(builtin_names())
    for row in record["edge"]:
        interval = record["intervals"][row["platform"]]
        if interval is None:  # not validated: said so, no range
            assert row["latency_low_ms"] is None and row["interval_n"] == 0
            continue
        assert row["latency_low_ms"] == pytest.approx(row["latency_ms"] * interval["low_factor"])
        assert row["latency_high_ms"] == pytest.approx(row["latency_ms"] * interval["high_factor"])
        assert row["interval_basis"] == interval["basis"] and row["interval_n"] == interval["n"]
    page = (report / "index.html").read_text()
    verdict = page.split('<table class="verdict" id="verdict">')[1].split("</p>")[0]
    assert "Latency range: where the measured latency falls" in verdict
    for target in EDGE_TARGETS:
        shown = "not validated" if record["intervals"][target] is None else "of "
        assert f"{target} " in verdict and shown in verdict
    plan = record["plans"][0]
    assert "interval" in plan["baseline"] and "interval" in plan["estimate"]


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by its path there: equal trees are equal under `diff -r`."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {str(p.relative_to(folder)): p.read_bytes() for p in files}


def test_an_interrupted_report_resumes_from_its_results_file(
    report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped after its first model, a report run with a results file profiles only the
    second when rerun with it, and is the uninterrupted report byte for byte."""
    out, results = tmp_path / "out", tmp_path / "results.jsonl"

    def stop(message: str) -> None:
        if message.startswith("profiled 1 of"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_report(out, MODELS, stop, workers=Workers(results=results))
    assert not out.exists() and len(results.read_text().splitlines()) == 1
    ran: list[str] = []
    part = build.model_part

    @functools.wraps(part)  # its name, so its tasks' keys, unchanged
    def counted(input: dict[str, Any], seed: int, shared: Any) -> dict[str, Any]:
        ran.append(input["model"])
        return part(input, seed, shared)

    monkeypatch.setattr(build, "model_part", counted)
    build_report(out, MODELS, workers=Workers(results=results))
    assert ran == [MODELS[1]]
    assert tree(out) == tree(report)


def test_a_model_that_fails_is_named_and_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its task fails twice: one line on stderr with its input, exit code 3, and the report
    of the others written."""
    monkeypatch.setattr(build, "QUICK_MODELS", ("resnet18", "not_a_model"))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["report", "--quick", "--out", str(out)])
    assert result.exit_code == 3, result.output
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith('error: task {"model":"not_a_model"')
    assert "unknown model" in errors[0] and "Traceback" not in result.stderr
    record = json.loads((out / "report.json").read_text())
    assert [m["model"] for m in record["models"]] == ["resnet18"]
    assert sorted(p.name for p in (out / "layers").iterdir()) == ["resnet18.csv"]


def test_a_report_whose_every_model_failed_is_not_written(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.json").write_text("{}")
    built = build_report(out, ("not_a_model",))
    assert built.record is None and [f.task.input["model"] for f in built.failures] == [
        "not_a_model"
    ]
    assert [p.name for p in out.iterdir()] == ["report.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no staging left behind


def test_a_bad_ray_address_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    line = error_leaving_nothing(tmp_path, "report", "--out", out, "--ray-address", "127.0.0.1:9")
    assert "cannot reach the Ray cluster at --ray-address 127.0.0.1:9" in line
    assert "HOST:PORT" in error_leaving_nothing(tmp_path, "report", "--ray-address", "x")


@pytest.mark.slow
def test_two_local_ray_workers_write_the_serial_report_byte_for_byte(
    report: Path, tmp_path: Path
) -> None:
    """In a process of its own, as a user runs it (Ray keeps its token for the process's
    life); every model's part recorded in the results file, Ray's folder gone after."""
    out, results = tmp_path / "ray", tmp_path / "results.jsonl"
    script = (
        "import sys; from pathlib import Path; from edgegap.report.build import build_report; "
        "from edgegap.runner import Workers; build_report(Path(sys.argv[1]), sys.argv[3:], "
        "workers=Workers(2, results=Path(sys.argv[2])))"
    )
    command = [sys.executable, "-c", script, str(out), str(results), *MODELS]
    finished = subprocess.run(command, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert tree(out) == tree(report)
    assert len(results.read_text().splitlines()) == len(MODELS)
    assert not list(Path("/tmp").glob("eg-ray-*/session_*"))


def test_generative_section_shows_fig4c_and_the_decode_table(report: Path) -> None:
    """The generative section: Fig. 4c with its memory gap, then a row per shipped edge
    language model and a column per target, each cell the decode tokens/s the package
    computes (the README's table is the same computation) or what the model needs."""
    from edgegap.report.generative import TARGETS, decode_verdicts, edge_models, markdown_table

    record = json.loads((report / "report.json").read_text())
    page = (report / "index.html").read_text()
    assert "generative" in re.findall(r'<section id="([^"]+)">', page)
    decode = record["generative"]
    assert page.count(f'id="trend-{decode["figure"]}"') == 1  # here, not also among the trends
    assert record["trends"]["gaps"]["generative"]["statement"].split(";")[0] in page.replace(
        "&#x27;", "'"
    )
    assert decode["rows"] == json.loads(json.dumps(decode_verdicts(), allow_nan=False))
    parser = Tables()
    parser.feed(page)
    table = parser.tables["decode-verdict"]
    assert table["thead"] == [["model", *TARGETS]] and decode["targets"] == list(TARGETS)
    assert [row[0] for row in table["tbody"]] == list(edge_models())
    rows = {(r["model"], r["platform"]): r for r in decode["rows"]}
    for body in table["tbody"]:  # the numbers themselves: test_html_numbers_are_report_json_numbers
        for target, cell in zip(TARGETS, body[1:], strict=True):
            row = rows[body[0], target]
            assert cell.startswith("needs ") is (not row["fits"]), cell
            assert re.fullmatch(r"needs [0-9.]+ GB" if not row["fits"] else r"[0-9.,]+", cell)
    assert any(not r["fits"] for r in decode["rows"]) and any(r["fits"] for r in decode["rows"])
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert markdown_table(decode["rows"]) in readme  # benchmarks/generative.py wrote it


def test_the_quick_decode_table_is_a_named_subset() -> None:
    from edgegap.errors import UserError
    from edgegap.report.build import QUICK_LANGUAGE_MODELS
    from edgegap.report.generative import TARGETS, decode_verdicts

    rows = decode_verdicts(models=QUICK_LANGUAGE_MODELS)
    assert len(rows) == len(QUICK_LANGUAGE_MODELS) * len(TARGETS)
    assert {row["model"] for row in rows} == set(QUICK_LANGUAGE_MODELS)
    assert any(not row["fits"] for row in rows)  # the quick table still shows what stops one
    with pytest.raises(UserError, match="not a shipped edge language model: gpt-5"):
        decode_verdicts(models=["gpt-5"])
