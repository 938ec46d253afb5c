"""Drawing ``compare``: the live board while answers stream, the final table, machine outputs."""

from __future__ import annotations

import csv
import io
import json
import textwrap
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .compare import Job, Summary

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

__all__ = ["Board", "render_csv", "render_json", "render_markdown", "render_table", "truncate"]

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_PANEL_LIMIT = 6  # more jobs than this are drawn as a compact progress table
_ANSWER_WIDTH = 48


def truncate(text: str, width: int = _ANSWER_WIDTH) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}s"


def _number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    if digits:
        return f"{value:.{digits}f}"
    return str(int(value)) if value == int(value) else f"{value:g}"


def _cost(value: float | None, symbol: str) -> str:
    if value is None:
        return "—"
    digits = 2 if value >= 1 else 4 if value >= 0.01 else 6
    return f"{symbol}{value:.{digits}f}"


def _label(job_or_row: Job | Summary, multi: bool) -> str:
    return f"#{job_or_row.prompt_index + 1} {job_or_row.target}" if multi else job_or_row.target


class Board:
    """The live view: a panel per job streaming its answer, or a progress table for big matrices."""

    def __init__(self, jobs: Sequence[Job], console: Console, *, multi_prompt: bool) -> None:
        self.jobs = jobs
        self.console = console
        self.multi = multi_prompt

    def _status(self, job: Job, now: float) -> tuple[str, str]:
        done = len(job.runs)
        runs = f" · run {min(done + 1, job.repeat)}/{job.repeat}" if job.repeat > 1 else ""
        if job.state == "queued" or job.started is None:
            return "queued", "dim"
        if job.state in ("waiting", "streaming"):
            frame = _SPINNER[int(now * 10) % len(_SPINNER)]
            ttft = f" · ttft {job.first_token - job.started:.2f}s" if job.first_token else ""
            return f"{frame} {now - job.started:.1f}s{ttft}{runs}", "cyan"
        last = job.runs[-1] if job.runs else None
        if job.state == "failed" and last is not None and not last.ok:
            return f"✗ {last.error_type}", "red"
        return (f"✓ {last.latency:.2f}s" if last else "✓"), "green"

    def _panel(self, job: Job, now: float, width: int) -> RenderableType:
        from rich.panel import Panel
        from rich.text import Text

        status, style = self._status(job, now)
        inner = max(10, width - 4)
        last = job.runs[-1] if job.runs else None
        if job.state == "failed" and last is not None and last.error:
            body = Text(last.error, style="red")
        else:
            lines: list[str] = []
            for paragraph in "".join(job.live_text).splitlines() or [""]:
                lines += textwrap.wrap(paragraph, inner) or [""]
            body = Text("\n".join(lines[-6:]))
        return Panel(body, title=Text(_label(job, self.multi)), title_align="left",
                     subtitle=Text(status, style=style), subtitle_align="right", height=8)

    def _progress(self, now: float) -> RenderableType:
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        for name in ("target", "status", "answer so far"):
            table.add_column(name, no_wrap=True, overflow="ellipsis")
        for job in self.jobs:
            status, style = self._status(job, now)
            table.add_row(_label(job, self.multi), Text(status, style=style), truncate("".join(job.live_text)))
        return table

    def render(self) -> RenderableType:
        from rich.table import Table

        now = time.perf_counter()
        if len(self.jobs) > _PANEL_LIMIT:
            return self._progress(now)
        columns = 2 if len(self.jobs) == 4 else min(3, len(self.jobs)) or 1
        grid = Table.grid(expand=True, padding=(0, 1))
        for _ in range(columns):
            grid.add_column(ratio=1)
        width = (self.console.width - (columns - 1)) // columns
        panels = [self._panel(job, now, width) for job in self.jobs]
        for start in range(0, len(panels), columns):
            row = panels[start : start + columns]
            grid.add_row(*row, *([""] * (columns - len(row))))
        return grid


# -- the final table ---------------------------------------------------------------------------------

def _status_text(row: Summary) -> str:
    if row.runs > 1:
        return f"{row.status} {row.ok_runs}/{row.runs}"
    if row.status == "ok":
        return "ok" if row.attempts <= 1 else f"ok ({row.attempts} tries)"
    return f"✗ {row.error['type'] if row.error else 'error'}"


def _served(row: Summary) -> str:
    if row.provider and row.model:
        return f"{row.provider}/{row.model}"
    return "—"


def _target(row: Summary) -> str:
    """The target as asked for, and who served it when that differs (a route, a fallback)."""
    served = _served(row)
    return row.target if served in ("—", row.target) else f"{row.target} → {served}"


def render_table(rows: Sequence[Summary], *, full: bool, repeat: int, multi_prompt: bool) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=full, header_style="bold")
    if multi_prompt:
        table.add_column("#", justify="right", no_wrap=True)
    table.add_column("target", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("TTFT", justify="right", no_wrap=True)
    table.add_column("p50" if repeat > 1 else "latency", justify="right", no_wrap=True)
    if repeat > 1:
        table.add_column("p95", justify="right", no_wrap=True)
    for name in ("tokens", "tok/s", "CNY", "USD"):
        table.add_column(name, justify="right", no_wrap=True)
    # the only wrapping column: when the terminal is narrow, it gives way first
    table.add_column("answer", overflow="fold", min_width=12)
    for row in rows:
        ok = row.status == "ok"
        status = Text(_status_text(row), style="green" if ok else "yellow" if row.status == "partial" else "red")
        if row.ok_runs:
            answer = Text(row.answer if full else truncate(row.answer))
        else:
            answer = Text(truncate(row.error["message"] or "" if row.error else ""), style="red")
        cells: list[Any] = [str(row.prompt_index + 1)] if multi_prompt else []
        cells += [_target(row), status, _seconds(row.ttft_s), _seconds(row.latency_s)]
        if repeat > 1:
            cells.append(_seconds(row.latency_p95_s))
        cells += [
            f"{_number(row.prompt_tokens)}/{_number(row.completion_tokens)}",
            _number(row.tokens_per_s, 1),
            _cost(row.cost_cny, "¥"),
            _cost(row.cost_usd, "$"),
            answer,
        ]
        table.add_row(*cells)
    return table


def print_failures(console: Console, rows: Sequence[Summary], *, multi_prompt: bool) -> None:
    for row in rows:
        if row.error is None:
            continue
        console.print(f"✗ {_label(row, multi_prompt)}: ", style="red", end="")
        console.print(f"{row.error['type']}: {row.error['message']}", markup=False)


# -- machine-readable outputs ------------------------------------------------------------------------

def _rounded(row: Summary) -> dict[str, Any]:
    data = row.as_dict()
    for key in ("ttft_s", "latency_s", "latency_p95_s"):
        if data[key] is not None:
            data[key] = round(data[key], 4)
    if data["tokens_per_s"] is not None:
        data["tokens_per_s"] = round(data["tokens_per_s"], 2)
    return data


def render_json(rows: Sequence[Summary], *, source: str, prompts: Sequence[str], targets: Sequence[str],
                repeat: int) -> str:
    document = {
        "config": source,
        "prompts": list(prompts),
        "targets": list(targets),
        "repeat": repeat,
        "failed": sum(1 for r in rows if r.failed),
        "results": [_rounded(r) for r in rows],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


_CSV_FIELDS = ("prompt_index", "prompt", "target", "status", "runs", "ok_runs", "provider", "model", "ttft_s",
               "latency_s", "latency_p95_s", "prompt_tokens", "completion_tokens", "tokens_per_s", "cost_cny",
               "cost_usd", "attempts", "fallbacks", "answer", "error_type", "error_kind", "error_message")


def render_csv(rows: Sequence[Summary]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        data = _rounded(row)
        error = data.pop("error") or {}
        data.update(error_type=error.get("type"), error_kind=error.get("kind"), error_message=error.get("message"))
        writer.writerow({k: ("" if data.get(k) is None else data[k]) for k in _CSV_FIELDS})
    return buffer.getvalue()


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def render_markdown(rows: Sequence[Summary], *, full: bool, repeat: int, multi_prompt: bool) -> str:
    headers = [*(["#"] if multi_prompt else []), "target", "served by", "status", "TTFT",
               "p50" if repeat > 1 else "latency", *(["p95"] if repeat > 1 else []),
               "tokens in/out", "tok/s", "cost CNY", "cost USD", "answer"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        if row.ok_runs:
            answer = row.answer if full else truncate(row.answer, 80)
        else:
            answer = f"{row.error['type']}: {row.error['message']}" if row.error else "error"
        cells = [*([str(row.prompt_index + 1)] if multi_prompt else []), row.target, _served(row),
                 _status_text(row), _seconds(row.ttft_s), _seconds(row.latency_s),
                 *([_seconds(row.latency_p95_s)] if repeat > 1 else []),
                 f"{_number(row.prompt_tokens)} / {_number(row.completion_tokens)}",
                 _number(row.tokens_per_s, 1), _cost(row.cost_cny, "¥"), _cost(row.cost_usd, "$"), answer]
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"
