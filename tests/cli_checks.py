"""The bad-input promise as one assertion, shared by the bad-input suites."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from edgegap.cli import app

runner = CliRunner()


def one_line_error(*args: str) -> str:
    """Run the CLI; assert exit code 2, one `error:` line on stderr and no traceback; return
    the line."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:"), lines[0]
    return lines[0]


def error_leaving_nothing(folder: Path, *args: str) -> str:
    """`one_line_error`, and no file added under `folder`."""
    before = set(folder.rglob("*"))
    line = one_line_error(*args)
    assert set(folder.rglob("*")) == before
    return line
