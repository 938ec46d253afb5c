"""``report.html``: one self-contained file (no network): the matrix, each cell's detail, and charts.

The page is rendered here, not by script, so it reads the same with JavaScript off; the only
script opens a cell's detail (its outputs and every assertion's reason) in a dialog. Charts are
inline SVG bars per target: pass rate, p50 latency, cost.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from .matrix import cell_text, fmt_cost, fmt_seconds, matrix
from .results import CellResult, Results, target_summary

__all__ = ["render_html"]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2330;background:#fafbfc}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.summary{color:#4a5163}table{border-collapse:collapse;background:#fff}
th,td{border:1px solid #d9dde5;padding:4px 8px;text-align:center}th.row{text-align:left;font-weight:500}
tfoot td,tfoot th{background:#f1f3f7;font-weight:600}
button.cell{border:0;border-radius:4px;padding:3px 8px;cursor:pointer;font:inherit;min-width:72px}
.pass{background:#dff5e3;color:#13612a}.fail{background:#fde2e1;color:#9b1c1c}
.error{background:#9b1c1c;color:#fff}.skipped{background:#eceef2;color:#697086}
.charts{display:flex;gap:24px;flex-wrap:wrap}.chart{background:#fff;border:1px solid #d9dde5;padding:8px}
dialog{max-width:900px;width:90vw;border:1px solid #b8bfcc;border-radius:8px}
pre{white-space:pre-wrap;background:#f4f5f8;padding:8px;border-radius:4px;max-height:320px;overflow:auto}
ul.asserts{padding-left:18px}li.ok{color:#13612a}li.bad{color:#9b1c1c}.muted{color:#697086}
"""

_SCRIPT = """
const dialog = document.getElementById('detail');
const body = document.getElementById('detail-body');
for (const button of document.querySelectorAll('button.cell')) {
  button.addEventListener('click', () => {
    const template = document.getElementById('cell-' + button.dataset.cell);
    body.replaceChildren(template.content.cloneNode(true));
    dialog.showModal();
  });
}
document.getElementById('close').addEventListener('click', () => dialog.close());
"""


def _bars(title: str, values: list[tuple[str, float | None]], fmt: Any) -> str:
    """A horizontal bar chart as inline SVG."""
    width, label_w, bar_h = 360, 120, 22
    top = max((v for _, v in values if v is not None), default=0.0) or 1.0
    rows = []
    for i, (label, value) in enumerate(values):
        y = 24 + i * (bar_h + 6)
        length = 0 if value is None else max(1.0, (width - label_w - 70) * value / top)
        rows.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(label[:18])}</text>'
                    f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_h}" fill="#4f6bd8"/>'
                    f'<text x="{label_w + length + 4:.1f}" y="{y + 15}" font-size="12">{escape(fmt(value))}</text>')
    height = 30 + len(values) * (bar_h + 6)
    return (f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg"><text x="0" y="14" font-size="13" font-weight="600">'
            f'{escape(title)}</text>{"".join(rows)}</svg>')


def _detail(number: int, result: CellResult) -> str:
    cell = result.cell
    parts = [f"<h2>{escape(cell.test.label)} · {escape(cell.prompt.label)} · {escape(cell.target.label)}</h2>",
             f'<p class="summary">status <b class="status">{result.status}</b>'
             + (f" · pass rate {result.pass_rate:.0%} (threshold {cell.test.threshold:.0%})"
                if result.pass_rate is not None else "")
             + (f" · {escape(result.reason)}" if result.reason else "") + "</p>",
             "<h3>request</h3><pre>" + escape(json.dumps(cell.messages, ensure_ascii=False, indent=1)) + "</pre>"]
    for run in result.runs:
        out = run.output
        facts = [f"latency {fmt_seconds(out.latency)}", f"ttft {fmt_seconds(out.ttft)}",
                 f"tokens {out.prompt_tokens}+{out.completion_tokens}", f"cost ${out.cost_usd or 0:.4g}",
                 f"served by {out.provider}/{out.model}", "from cache" if out.cached else "sent"]
        parts.append(f"<h3>run {run.index + 1}: {'pass' if run.passed else 'fail'} (score {run.score:.2f})</h3>"
                     f'<p class="muted">{escape(" · ".join(facts))}</p>'
                     f'<pre class="output">{escape(out.text or "")}'
                     + (escape("\n" + json.dumps(out.tool_calls, ensure_ascii=False)) if out.tool_calls else "")
                     + "</pre><ul class=\"asserts\">"
                     + "".join(f'<li class="{"ok" if a.passed else "bad"}">{"✓" if a.passed else "✗"} '
                               f"<b>{escape(a.type)}</b> ({a.score:.2f}): {escape(a.reason)}</li>"
                               for a in run.assertions) + "</ul>")
    return f'<template id="cell-{number}">{"".join(parts)}</template>'


def render_html(results: Results) -> str:
    suite = results.suite
    grid = matrix(results)
    numbers = {id(r): i for i, r in enumerate(results.cells)}
    head = "".join(f"<th>{escape(c)}</th>" for c in grid.columns)
    rows = []
    for label, row in zip(grid.rows, grid.cells, strict=True):
        cells = "".join(
            "<td></td>" if c is None else
            f'<td><button class="cell {c.status}" data-cell="{numbers[id(c)]}" data-status="{c.status}">'
            f"{escape(cell_text(c))}</button></td>" for c in row)
        rows.append(f'<tr><th class="row">{escape(label)}</th>{cells}</tr>')
    summaries = [target_summary(results.cells, t) for t in suite.targets]
    foot = "".join([
        "<tr><th>pass rate</th>" + "".join(f"<td>{'—' if s['pass_rate'] is None else format(s['pass_rate'], '.0%')}"
                                           "</td>" for s in summaries) + "</tr>",
        "<tr><th>p50 latency</th>" + "".join(f"<td>{fmt_seconds(s['p50_latency_s'])}</td>" for s in summaries)
        + "</tr>",
        "<tr><th>cost</th>" + "".join(f"<td>{escape(fmt_cost(s['cost_usd'], s['cost_cny']))}</td>"
                                      for s in summaries) + "</tr>",
    ])
    charts = "".join([
        _bars("pass rate", [(s["target"], s["pass_rate"]) for s in summaries],
              lambda v: "—" if v is None else f"{v:.0%}"),
        _bars("p50 latency", [(s["target"], s["p50_latency_s"]) for s in summaries], fmt_seconds),
        _bars("cost (USD)", [(s["target"], s["cost_usd"]) for s in summaries], lambda v: f"${v or 0:.4g}"),
    ])
    data = results.as_dict()["summary"]
    summary = (f"{data['passed']} passed · {data['failed']} failed · {data['errors']} errors · "
               f"{data['skipped']} skipped · {results.calls} calls, {results.cache_hits} from cache · "
               f"${results.spent_usd:.4g} · {results.duration_s:.2f} s · config: {results.config_source}")
    if results.interrupted:
        summary += " · INTERRUPTED (partial results)"
    if results.aborted:
        summary += f" · stopped early: {results.aborted}"
    title = suite.description or suite.source
    details = "".join(_detail(numbers[id(r)], r) for r in results.cells)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>llmswitch eval: {escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>llmswitch eval: {escape(title)}</h1>
<p class="summary" id="summary">{escape(summary)}</p>
<h2>matrix</h2>
<table id="matrix"><thead><tr><th>test</th>{head}</tr></thead>
<tbody>{"".join(rows)}</tbody><tfoot>{foot}</tfoot></table>
<h2>per target</h2><div class="charts">{charts}</div>
<dialog id="detail"><button id="close" type="button">close</button><div id="detail-body"></div></dialog>
{details}
<script>{_SCRIPT}</script>
</body></html>
"""
