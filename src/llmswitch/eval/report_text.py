"""The terminal matrix: pass/fail with a score per cell, then pass rate, p50 latency and cost per target."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .matrix import cell_text, fmt_cost, fmt_seconds, matrix
from .results import Results, target_summary

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["print_failures", "print_matrix"]

_STYLES = {"pass": "green", "fail": "red", "error": "bold red", "skipped": "dim"}


def print_matrix(results: Results, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    grid = matrix(results)
    table = Table(title=results.suite.description, show_footer=False, header_style="bold")
    table.add_column("test", overflow="fold", max_width=48)
    for column in grid.columns:
        table.add_column(column, justify="center")
    for label, row in zip(grid.rows, grid.cells, strict=True):
        table.add_row(label, *(Text(cell_text(c), style=_STYLES[c.status] if c else "") for c in row))
    summaries = [target_summary(results.cells, t) for t in results.suite.targets]
    table.add_section()
    table.add_row("pass rate", *("—" if s["pass_rate"] is None else f"{s['pass_rate']:.0%} ({s['passed']}/"
                                 f"{s['graded']})" for s in summaries), style="bold")
    table.add_row("p50 latency", *(fmt_seconds(s["p50_latency_s"]) for s in summaries))
    table.add_row("cost", *(fmt_cost(s["cost_usd"], s["cost_cny"]) for s in summaries))
    console.print(table)


def print_failures(results: Results, console: Console, *, limit: int = 20) -> None:
    """One line per failing cell (the first failing assertion's reason), then the totals."""
    failed = results.failed
    for result in failed[:limit]:
        cell = result.cell
        console.print(f"✗ {cell.test.label} · {cell.prompt.label} · {cell.target.label}: {result.reason}",
                      style="red", markup=False)
    if len(failed) > limit:
        console.print(f"… and {len(failed) - limit} more failing cells (see -o results.json)", style="dim")
    data = results.as_dict()["summary"]
    line = (f"{data['passed']} passed, {data['failed']} failed, {data['errors']} errors, {data['skipped']} skipped"
            f" · {results.calls} calls, {results.cache_hits} from cache · ${results.spent_usd:.4g} spent"
            f" · {results.duration_s:.2f} s")
    if data["regressions"] or data["improvements"]:
        line += f" · {data['regressions']} regressions ▼, {data['improvements']} improvements ▲"
    console.print(line, style="bold")
    if results.interrupted:
        console.print("interrupted: the results hold the cells that finished", style="yellow")
    if results.aborted:
        console.print(f"stopped early: {results.aborted}", style="yellow")
