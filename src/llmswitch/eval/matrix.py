"""The matrix every report draws: tests (× prompts) as rows, targets as columns, and the cell symbols."""

from __future__ import annotations

from dataclasses import dataclass

from .results import CellResult, Results

__all__ = ["MARKS", "Matrix", "cell_text", "fmt_cost", "fmt_seconds", "matrix"]

MARKS = {"regression": "▼", "improvement": "▲"}
SYMBOLS = {"pass": "✓", "fail": "✗", "error": "!", "skipped": "–"}


@dataclass
class Matrix:
    rows: list[str]
    columns: list[str]
    cells: list[list[CellResult | None]]


def matrix(results: Results) -> Matrix:
    suite = results.suite
    many_prompts = len(suite.prompts) > 1
    rows = [f"{t.label} · {p.label}" if many_prompts else t.label for t in suite.tests for p in suite.prompts]
    index = {(c.cell.test.label, c.cell.prompt.label, c.cell.target.label): c for c in results.cells}
    cells = [[index.get((t.label, p.label, target.label)) for target in suite.targets]
             for t in suite.tests for p in suite.prompts]
    return Matrix(rows, [t.label for t in suite.targets], cells)


def cell_text(result: CellResult | None) -> str:
    """``✓ 1.00``, ``✗ 0.40 ▼``, ``! error``, ``– skipped``."""
    if result is None:
        return ""
    if result.status == "skipped":
        return "– skipped"
    if result.status == "error" and not any(r.output.error is None for r in result.runs):
        text = "! error"
    else:
        text = f"{SYMBOLS[result.status]} {result.score or 0.0:.2f}"
    if result.cell.test.repeat > 1 and result.pass_rate is not None:
        passed = sum(r.passed for r in result.runs)
        text += f" ({passed}/{len(result.runs)})"
    mark = MARKS.get(result.baseline or "")
    return f"{text} {mark}" if mark else text


def fmt_seconds(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def fmt_cost(usd: float, cny: float) -> str:
    if not usd and not cny:
        return "0"
    if usd:
        return f"${usd:.6f}" if usd < 0.01 else f"${usd:.4f}"
    return f"¥{cny:.6f}" if cny < 0.01 else f"¥{cny:.4f}"
