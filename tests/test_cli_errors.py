"""Usage errors, every command: one line on stderr (`error: ... (see 'edgegap X --help')`),
exit code 2, no traceback, no boxed panel; signals end a report cleanly (130, 143)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgegap.cli import app

SRC = Path(__file__).resolve().parent.parent / "src"
BOX = set("│╭╮╰╯─┃━")

# Each command, with the arguments that make it complete (so a mistake added is the only one).
COMMANDS: dict[str, list[str]] = {
    "profile": ["profile", "resnet18"],
    "zoo": ["zoo"],
    "techniques": ["techniques"],
    "report": ["report"],
    "hw list": ["hw", "list"],
    "hw show": ["hw", "show", "eyeriss"],
    "hw schema": ["hw", "schema"],
    "estimate": ["estimate", "resnet18"],
    "compress": ["compress", "lenet-5"],
    "sweep": ["sweep", "resnet18"],
    "bridges": ["bridges", "resnet18"],
    "plan": ["plan", "resnet18"],
    "scale": ["scale", "eyeriss", "--node", "7"],
    "trends": ["trends"],
    "measure": ["measure", "resnet18"],
}
WITH_FORMAT = [name for name in COMMANDS if name not in ("report", "hw schema")]
# Commands whose positional arguments are all given above: one more is one too many
# (profile, estimate and measure take several models).
FIXED_ARGUMENTS = [name for name in COMMANDS if name not in ("profile", "estimate", "measure")]
# The command without its required argument.
MISSING_ARGUMENT = {
    "profile": ["profile"],
    "hw show": ["hw", "show"],
    "compress": ["compress"],
    "sweep": ["sweep"],
    "bridges": ["bridges"],
    "plan": ["plan"],
    "scale": ["scale", "--node", "7"],
    "scale --node": ["scale", "eyeriss"],  # a required option
    "measure": ["measure"],
}
# Text where a number is expected, and numbers out of range.
BAD_NUMBERS = [
    ("estimate", "--batch", "two"),
    ("estimate", "--batch", "0"),
    ("estimate", "--batch", "-1"),
    ("estimate", "--batch", "1.5"),
    ("bridges", "--node", "abc"),
    ("bridges", "--spikes-per-neuron", "many"),
    ("plan", "--latency-ms", "fast"),
    ("plan", "--energy-mj", "x"),
    ("plan", "--memory-mb", "1MB"),
    ("plan", "--max-accuracy-drop", "lots"),
    ("plan", "--fps", "thirty"),
    ("plan", "--power-w", "1W"),
    ("scale", "--node", "seven"),
    ("trends", "--until", "soon"),
    ("trends", "--until", "2030.5"),
    ("trends", "--area-mm2", "big"),
    ("trends", "--power-w", "1W"),
    ("trends", "--fps", "thirty"),
    ("measure", "--threads", "0"),
    ("measure", "--threads", "two"),
    ("measure", "--runs", "0"),
    ("measure", "--warmup", "-1"),
]
UNKNOWN_COMMANDS = [
    ["nope"],
    ["profil", "resnet18"],
    ["estmate"],
    ["hw", "nope"],
    ["hw", "lst"],
    ["HW", "list"],
]
FLAG_WITH_VALUE = [
    ["profile", "resnet18", "--per-layer=yes"],
    ["report", "--quick=1"],
    ["compress", "lenet-5", "--quick=true"],
]


def _cases() -> list[pytest.param]:
    cases = []
    for name, argv in COMMANDS.items():
        cases.append(pytest.param([*argv, "--bogus"], id=f"{name}-unknown-option"))
        cases.append(pytest.param([*argv, "--hepl"], id=f"{name}-misspelt-help"))
        cases.append(pytest.param([*argv, "-z"], id=f"{name}-unknown-short-option"))
    for name in FIXED_ARGUMENTS:
        cases.append(pytest.param([*COMMANDS[name], "surplus"], id=f"{name}-extra-argument"))
    for name, argv in MISSING_ARGUMENT.items():
        cases.append(pytest.param(argv, id=f"{name}-missing-argument"))
    for name in WITH_FORMAT:
        argv = COMMANDS[name]
        cases.append(pytest.param([*argv, "--format", "xml"], id=f"{name}-bad-format"))
        cases.append(pytest.param([*argv, "--format", "JSON"], id=f"{name}-format-case"))
        cases.append(pytest.param([*argv, "--format"], id=f"{name}-format-without-value"))
    for name, option, value in BAD_NUMBERS:
        cases.append(pytest.param([*COMMANDS[name], option, value], id=f"{name}{option}={value}"))
    for argv in UNKNOWN_COMMANDS:
        cases.append(pytest.param(argv, id="unknown-command-" + "-".join(argv)))
    for argv in FLAG_WITH_VALUE:
        cases.append(pytest.param(argv, id="flag-with-value-" + argv[-1]))
    cases.append(pytest.param(["hw"], id="hw-missing-command"))
    cases.append(pytest.param(["report", "--out"], id="report-out-without-value"))
    cases.append(pytest.param(["--bogus"], id="top-level-unknown-option"))
    return cases


CASES = _cases()


def assert_one_line_usage_error(exit_code: int, stdout: str, stderr: str) -> str:
    lines = stderr.splitlines()
    assert exit_code == 2, (exit_code, stderr)
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    assert not BOX & set(stderr), stderr
    assert stdout == "", stdout
    return lines[0]


def test_enough_cases():
    assert len(CASES) >= 60


@pytest.mark.parametrize("argv", CASES)
def test_usage_error_is_one_line(argv: list[str]):
    result = CliRunner().invoke(app, argv)
    line = assert_one_line_usage_error(result.exit_code, result.stdout, result.stderr)
    assert line.endswith(" --help')"), line
    assert "(see 'edgegap" in line, line


def test_message_names_the_mistake_and_the_command():
    result = CliRunner().invoke(app, ["hw", "show", "eyeriss", "--format", "xml"])
    assert result.stderr.startswith("error: Invalid value for '--format'")
    assert "'xml'" in result.stderr
    assert result.stderr.rstrip().endswith("(see 'edgegap hw show --help')")
    suggestion = CliRunner().invoke(app, ["profil", "resnet18"]).stderr
    assert "'profile'" in suggestion and "(see 'edgegap --help')" in suggestion


@pytest.mark.parametrize("command", [[], ["hw"], *(name.split() for name in COMMANDS)], ids=str)
def test_help_still_works(command: list[str]):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: edgegap" in result.stdout
    assert result.stderr == ""


def _edgegap(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, "-m", "edgegap", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,  # type: ignore[call-overload]
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_real_process_usage_error_is_one_line():
    """Through `main()` and a pipe, not the test runner: same line, same exit code."""
    process = _edgegap("estimate", "resnet18", "--batch", "0")
    stdout, stderr = process.communicate(timeout=120)
    line = assert_one_line_usage_error(process.returncode, stdout, stderr)
    assert line == (
        "error: Invalid value for '--batch': Input should be greater than or equal to 1 "
        "(see 'edgegap estimate --help')"
    )


def test_no_blank_line_before_an_error_when_stderr_is_a_pipe():
    """A transient progress bar on a pipe used to leave an empty line before the error."""
    process = _edgegap("profile", "resnet18", "resnt50")
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 2, stderr
    assert stderr.splitlines() == [
        "error: unknown model 'resnt50': did you mean resnet50, resnet152, resnet101?"
    ]
    assert stdout == ""


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_report_cleans_up(tmp_path: Path, signum: int, code: int):
    out = tmp_path / "report"
    out.mkdir()
    (out / "index.html").write_text("<p>the previous report</p>\n")
    (out / "report.json").write_text("{}\n")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def staging() -> list[Path]:
        return sorted(tmp_path.glob(f".{out.name}.*"))

    def finished() -> bool:
        """The report was swapped in whole before the signal landed (it then hits the exiting
        interpreter): a race, not an interruption, so the run is tried again."""
        return (out / "index.html").read_bytes() != before["index.html"]

    for _attempt in range(3):
        # a shell without job control starts background jobs with SIGINT ignored, and a child
        # keeps that; the report is interrupted as from a terminal, with the default handler
        process = _edgegap("report", "--quick", "--out", str(out), preexec_fn=_default_sigint)
        try:
            deadline = time.monotonic() + 60
            while not staging():
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the report never started writing"
                time.sleep(0.05)
            process.send_signal(signum)
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        if not finished():
            break
        shutil.rmtree(out)
        out.mkdir()
        for name, content in before.items():
            (out / name).write_bytes(content)
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    assert staging() == []
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_interrupted_swap_puts_the_old_directory_back(tmp_path: Path, monkeypatch):
    """A signal between moving the old output aside and moving the new one in."""
    from edgegap import atomic

    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    real_replace = os.replace
    calls: list[object] = []

    def replace(source: object, target: object) -> None:
        calls.append(source)
        if len(calls) == 2:  # the new one moving in
            raise KeyboardInterrupt
        real_replace(source, target)  # type: ignore[arg-type]

    with pytest.raises(KeyboardInterrupt), atomic.directory(out) as staging:
        (staging / "new.txt").write_text("new")
        monkeypatch.setattr(os, "replace", replace)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in out.iterdir()] == ["old.txt"]
