"""What a run produced: cells with their runs and grades, per-target figures, and the JSON form.

The JSON form is the stable contract (``results.schema.json`` in this package describes it); CSV,
JUnit, the terminal matrix, the HTML report and ``--baseline`` are all read from it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

from .assertions import Output
from .spec import Assertion, Prompt, Suite, Target, TestCase

__all__ = ["SCHEMA_ID", "AssertionResult", "Cell", "CellResult", "Results", "Run", "target_summary"]

SCHEMA_ID = "urn:llmswitch:eval:results:1"
Status = Literal["pass", "fail", "error", "skipped"]


@dataclass
class Cell:
    """One prompt × target × test, with its request rendered and its assertions' templates filled."""

    prompt: Prompt
    target: Target
    test: TestCase
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    asserts: list[Assertion]
    question: str  # the last user message, for judges


@dataclass(slots=True)  # not frozen: built four times a cell, and a frozen __init__ costs twice as much
class AssertionResult:
    type: str
    weight: float
    passed: bool
    score: float
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "weight": self.weight, "passed": self.passed, "score": self.score,
                "reason": self.reason}


@dataclass
class Run:
    index: int
    output: Output
    assertions: list[AssertionResult]
    passed: bool
    score: float


@dataclass
class CellResult:
    cell: Cell
    runs: list[Run] = field(default_factory=list)
    status: Status = "skipped"
    reason: str | None = None  # why skipped, or the first error
    baseline: str | None = None  # regression | improvement | same | new (with --baseline)

    @property
    def pass_rate(self) -> float | None:
        return sum(r.passed for r in self.runs) / len(self.runs) if self.runs else None

    @property
    def score(self) -> float | None:
        return sum(r.score for r in self.runs) / len(self.runs) if self.runs else None

    @property
    def cost_usd(self) -> float:
        """What the cell's responses cost (cached ones included: the figure compares targets; the run's
        actual spend is ``Results.spent_usd``)."""
        return sum(r.output.cost_usd or 0.0 for r in self.runs)

    def settle(self) -> None:
        """Decide the status from the runs: pass at or above the test's threshold."""
        rate = self.pass_rate
        if rate is None:
            return
        if rate >= self.cell.test.threshold:
            self.status, self.reason = "pass", None
            return
        errors = [r.output for r in self.runs if r.output.error is not None]
        self.status = "error" if errors else "fail"
        if errors:
            self.reason = f"{errors[0].error_type}: {errors[0].error}"
        else:
            failed = next((a for r in self.runs for a in r.assertions if not a.passed), None)
            self.reason = f"{failed.type}: {failed.reason}" if failed else "under the threshold"

    def as_dict(self) -> dict[str, Any]:
        cell = self.cell
        return {
            "prompt": cell.prompt.label, "target": cell.target.label, "test": cell.test.label,
            "model": cell.target.model, "status": self.status, "reason": self.reason,
            "pass_rate": self.pass_rate, "threshold": cell.test.threshold, "score": self.score,
            "baseline": self.baseline,
            "request": {"messages": cell.messages, "params": cell.params},
            "runs": [{"index": r.index, "passed": r.passed, "score": r.score, "output": r.output.as_dict(),
                      "assertions": [a.as_dict() for a in r.assertions]}
                     for r in self.runs],
        }


def _p50(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def target_summary(cells: list[CellResult], target: Target) -> dict[str, Any]:
    """Pass rate over graded cells, median latency over successful calls, what the responses cost."""
    mine = [c for c in cells if c.cell.target is target]
    graded = [c for c in mine if c.status != "skipped"]
    outputs = [r.output for c in mine for r in c.runs]
    return {
        "target": target.label, "model": target.model, "cells": len(mine), "graded": len(graded),
        "passed": sum(c.status == "pass" for c in graded),
        "pass_rate": sum(c.status == "pass" for c in graded) / len(graded) if graded else None,
        "p50_latency_s": _p50([o.latency for o in outputs if o.latency is not None and o.error is None]),
        "cost_usd": sum(c.cost_usd for c in mine),
        "cost_cny": sum(r.output.cost_cny or 0.0 for c in mine for r in c.runs),
    }


@dataclass(repr=False)
class Results:
    suite: Suite
    cells: list[CellResult]
    config_source: str
    started_at: str
    duration_s: float = 0.0
    interrupted: bool = False
    aborted: str | None = None  # why the run stopped early (max-cost)
    calls: int = 0  # upstream calls made (cache hits excluded)
    cache_hits: int = 0
    spent_usd: float = 0.0

    def __repr__(self) -> str:
        # short on purpose: Python 3.11's asyncio.run reprs the main task's result twice when it restores the
        # SIGINT handler (signal's enum lookup formats its error), which cost ~0.5 ms a cell with a full repr
        return f"<Results {self.suite.source}: {len(self.cells)} cells>"

    @property
    def failed(self) -> list[CellResult]:
        return [c for c in self.cells if c.status in ("fail", "error")]

    def as_dict(self) -> dict[str, Any]:
        from .. import __version__

        suite = self.suite
        counts = {s: sum(c.status == s for c in self.cells) for s in ("pass", "fail", "error", "skipped")}
        return {
            "$schema": SCHEMA_ID,
            "version": 1,
            "llmswitch": __version__,
            "suite": {"file": suite.source, "description": suite.description},
            "config": self.config_source,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 4),
            "interrupted": self.interrupted,
            "aborted": self.aborted,
            "prompts": [{"label": p.label, "messages": p.messages} for p in suite.prompts],
            "targets": [{"label": t.label, "model": t.model, "params": t.params} for t in suite.targets],
            "tests": [{"label": t.label, "vars": t.vars, "repeat": t.repeat, "threshold": t.threshold,
                       "assertions": [a.name for a in t.asserts]} for t in suite.tests],
            "summary": {
                "cells": len(self.cells), "passed": counts["pass"], "failed": counts["fail"],
                "errors": counts["error"], "skipped": counts["skipped"],
                "calls": self.calls, "cache_hits": self.cache_hits, "spent_usd": self.spent_usd,
                "regressions": sum(c.baseline == "regression" for c in self.cells),
                "improvements": sum(c.baseline == "improvement" for c in self.cells),
                "targets": [target_summary(self.cells, t) for t in suite.targets],
            },
            "cells": [c.as_dict() for c in self.cells],
        }
