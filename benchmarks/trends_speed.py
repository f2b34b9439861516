"""How long the trends take: loading the tables, every bootstrap fit, the gap projection, and
the six figures as PNG and HTML. The claim (docs/benchmarks.md): under 5 s for the whole
dataset on this machine.

Run: .venv/bin/python benchmarks/trends_speed.py
"""

from __future__ import annotations

import datetime
import platform as host
import tempfile
import time
from pathlib import Path

from docs_section import write_section

from edgegap.trends import compute_trends
from edgegap.trends.figures import write_figures

HEADING = "## Trends: fits and figures"


def timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def main() -> None:
    trends, fitting = timed(compute_trends)  # first call: reads and validates the CSVs too
    with tempfile.TemporaryDirectory() as out:
        _, drawing = timed(lambda: write_figures(trends, Path(out)))
    rows = sum(len(table) for table in trends.tables.values())
    body = "\n".join(
        [
            f"Produced by `.venv/bin/python benchmarks/trends_speed.py` on "
            f"{datetime.date.today()}; {host.machine()}, Python {host.python_version()}; "
            "one run, in-process (imports excluded).",
            "",
            "| step | seconds |",
            "| --- | ---: |",
            f"| load {rows} rows, {len(trends.fits)} fits x 2,000 bootstrap samples, gaps | "
            f"{fitting:.2f} |",
            f"| 6 figures as PNG (matplotlib) and HTML (plotly) | {drawing:.2f} |",
            f"| total | {fitting + drawing:.2f} |",
            "",
            f"Goal: under 5 s. {'Met' if fitting + drawing < 5 else 'Not met'}.",
        ]
    )
    print(f"{HEADING}\n\n{body}")
    write_section(HEADING, body)


if __name__ == "__main__":
    main()
