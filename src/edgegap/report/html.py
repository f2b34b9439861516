"""The report as one page: `index.html`, readable offline in a browser, with interactive plotly
figures (plotly.min.js beside it) and tables whose every number is the one in report.json.

Each numeric cell carries `data-key` (its path in report.json: dots and [index] steps, or
[name] for a key that itself holds dots), `data-value` (the exact value) and, where the page
shows it in another unit, `data-scale` (shown = value x scale: seconds as ms), so a test can
check the page against the JSON; a script records any error the page raises in
`#page-errors`, and writes each drawn figure's axis ranges, shapes and annotations (in plotly's
own coordinates) into its `data-layout`, for a test to read from the rendered page.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

# (heading, field (dots go into nested records), number format[, scale: shown = value x scale])
Column = tuple[str, str, str] | tuple[str, str, str, float]


def number_attributes(value: float, key: str, scale: float = 1.0) -> str:
    """The attributes that tie a number on the page to its place in report.json."""
    scaled = f' data-scale="{scale!r}"' if scale != 1 else ""
    return f'data-key="{html.escape(key)}" data-value="{value!r}"{scaled}'


def _cell(value: Any, fmt: str, key: str, scale: float = 1.0) -> str:
    if fmt and isinstance(value, int | float) and not isinstance(value, bool):
        shown = format(value * scale if scale != 1 else value, fmt) if math.isfinite(value) else "-"
        return f'<td class="num" {number_attributes(value, key, scale)}>{shown}</td>'
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "<td>-</td>"
    if isinstance(value, bool):
        return f'<td class="{"yes" if value else "no"}">{"yes" if value else "no"}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _get(row: dict[str, Any], field: str) -> Any:
    """A row's field, following dots into nested records (and digits into lists)."""
    value: Any = row
    for part in field.split("."):
        if isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
    return value


def table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[Column],
    key: str,
    row_keys: Sequence[str] | None = None,
) -> str:
    """An HTML table; `key` is the rows' path in report.json (row i is `key[i]`), or
    `row_keys` gives each row's path."""
    head = "".join(f"<th>{html.escape(column[0])}</th>" for column in columns)
    body = []
    for index, row in enumerate(rows):
        path = row_keys[index] if row_keys is not None else f"{key}[{index}]"
        cells = "".join(
            _cell(
                _get(row, column[1]),
                column[2],
                f"{path}.{column[1]}",
                column[3] if len(column) == 4 else 1.0,
            )
            for column in columns
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figure(figure_id: str, plot: go.Figure, height_px: int | None = None) -> str:
    """A div the page draws with Plotly from the figure's JSON."""
    spec = plot.to_json(engine="json").replace("</", "<\\/")  # no early </script>
    style = f' style="height:{height_px}px"' if height_px else ""
    return (
        f'<div class="figure" id="{figure_id}"{style}></div>'
        f'<script type="application/json" id="{figure_id}-spec">{spec}</script>'
    )


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; color: #222;
       line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.7em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; max-width: 32em; }
td { overflow-wrap: anywhere; } th { background: #f3f3f3; overflow-wrap: normal; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.yes, .yes { color: #17632a; } td.no, .no { color: #a11; }
table.verdict { font-size: 0.8em; } table.verdict td { vertical-align: top; min-width: 11em; }
table.verdict td.runs { background: #eef8f1; } table.verdict td.fails { background: #fbefee; }
table.verdict .status { font-weight: 600; }
table.verdict ul { margin: 0.1em 0; padding-left: 1.1em; }
p.caption { font-size: 0.85em; color: #444; margin-top: 0; }
table#growth td { overflow-wrap: normal; }
.figure { width: 100%; height: 480px; } .lead { font-size: 1.1em; background: #f7f7fb;
       padding: 0.8em 1em; border-left: 4px solid #557; }
#page-errors:empty { display: none; } #page-errors { color: #a11; }
"""

SCRIPT = """
function layoutOf(div) {
  var full = div._fullLayout, axis = function (a) {
    return a ? {type: a.type, range: a.range, side: a.side} : null;
  };
  return {
    xaxis: axis(full.xaxis), yaxis: axis(full.yaxis),
    shapes: (full.shapes || []).map(function (s) {
      return {x0: s.x0, x1: s.x1, y0: s.y0, y1: s.y1, xref: s.xref, yref: s.yref};
    }),
    annotations: (full.annotations || []).map(function (a) {
      return {x: a.x, y: a.y, xref: a.xref, yref: a.yref, text: a.text};
    })
  };
}
window.addEventListener("error", function (event) {
  document.getElementById("page-errors").textContent += "error: " + event.message + "\\n";
});
window.addEventListener("load", function () {
  var drawn = [];
  document.querySelectorAll("div.figure").forEach(function (div) {
    var spec = JSON.parse(document.getElementById(div.id + "-spec").textContent);
    drawn.push(Plotly.newPlot(div, spec.data, spec.layout, {responsive: true, displaylogo: false})
      .then(function () { div.setAttribute("data-layout", JSON.stringify(layoutOf(div))); }));
  });
  Promise.all(drawn).then(function () { document.body.setAttribute("data-rendered", "yes"); });
});
"""


def page(title: str, sections: Sequence[tuple[str, str, str]], meta: dict[str, Any]) -> str:
    """The whole page: (anchor, heading, body HTML) per section, provenance in the footer."""
    nav = " · ".join(f'<a href="#{anchor}">{html.escape(h)}</a>' for anchor, h, _ in sections)
    body = "\n".join(
        f'<section id="{anchor}"><h2>{html.escape(heading)}</h2>{content}</section>'
        for anchor, heading, content in sections
    )
    generated = html.escape(json.dumps(meta, sort_keys=True))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>
<meta name="generator" content="edgegap {html.escape(str(meta.get("edgegap")))}">
<style>{STYLE}</style>
<script>{SCRIPT}</script>
<script src="plotly.min.js"></script>
</head><body>
<h1>{html.escape(title)}</h1>
<pre id="page-errors"></pre>
<nav>{nav}</nav>
{body}
<footer><p>Generated by <code>{generated}</code></p></footer>
</body></html>
"""
