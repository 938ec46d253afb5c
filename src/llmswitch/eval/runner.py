"""Runs a suite: every prompt × target × test, concurrently, with a limit per provider.

Each cell's runs are looked up in the cache, sent when missing, then graded. Ctrl-C (the main
task cancelled) stops cleanly: cells that finished keep their results, the rest are ``skipped``.
``max_cost`` is checked before anything is sent (on an estimate) and again before each call
(on what was spent plus that call's estimate).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .assertions import Context, Grade, Output
from .calls import Caller, reachable
from .results import AssertionResult, Cell, CellResult, Results, Run
from .spec import Assertion, Suite
from .template import render

if TYPE_CHECKING:
    from ..config import Settings
    from .cache import Cache

__all__ = ["CostLimitError", "Progress", "RunOptions", "build_cells", "estimate_usd", "run_suite"]

Progress = Callable[[int, int, int, float], None]  # done, total, failed, spent (USD)
DEFAULT_COMPLETION_TOKENS = 512  # the estimate's completion length when a cell sets no max_tokens


class CostLimitError(Exception):
    """The estimated spend of the calls not in the cache is over ``max_cost``; nothing was sent."""


@dataclass(frozen=True)
class RunOptions:
    concurrency: int = 8  # calls in flight per provider (a route counts as one)
    max_cost: float | None = None  # USD
    timeout: float | None = 120.0  # seconds per call, failover included


def _render_messages(messages: list[dict[str, Any]], variables: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**m, "content": render(m["content"], variables)} if isinstance(m.get("content"), str) else m
            for m in messages]


def build_cells(suite: Suite) -> list[Cell]:
    """Tests × prompts × targets, in the order the matrix shows them."""
    cells = []
    for test in suite.tests:
        asserts = [Assertion(a.kind, a.options.rendered(test.vars), a.negate, a.weight) for a in test.asserts]
        for prompt in suite.prompts:
            messages = _render_messages(prompt.messages, test.vars)
            users = [m["content"] for m in messages if m.get("role") == "user" and isinstance(m.get("content"), str)]
            for target in suite.targets:
                cells.append(Cell(prompt, target, test, messages, {**target.params, **test.params}, asserts,
                                  users[-1] if users else ""))
    return cells


def estimate_usd(settings: Settings, cell: Cell) -> float:
    """One call's cost, guessed high: the dearest model the target can reach, prompt at ~3 characters a token,
    the completion at its max_tokens (or 512)."""
    prompt_tokens = sum(len(str(m.get("content") or "")) for m in cell.messages) / 3 + 8
    completion = cell.params.get("max_completion_tokens") or cell.params.get("max_tokens")
    completion_tokens = float(completion or DEFAULT_COMPLETION_TOKENS)
    worst = 0.0
    for name in reachable(settings, cell.target.model):
        provider_name, _, model = name.partition("/")
        provider = settings.providers.get(provider_name)
        info = provider.model_info(model) if provider is not None else None
        if info is None or info.input_price is None:
            continue
        cost = (prompt_tokens * info.input_price + completion_tokens * (info.output_price or 0.0)) / 1e6
        worst = max(worst, cost / settings.config.cny_per_usd if info.currency == "CNY" else cost)
    return worst


def _provider_of(settings: Settings, model: str) -> str:
    return f"route:{model}" if model in settings.config.routes else model.partition("/")[0]


class _Runner:
    def __init__(self, suite: Suite, settings: Settings, caller: Caller, options: RunOptions,
                 progress: Progress | None) -> None:
        self.suite, self.settings, self.caller, self.options = suite, settings, caller, options
        self.progress = progress
        self.gates: dict[str, asyncio.Semaphore] = {}
        self.done = self.failed = 0
        self.total = 0
        self.aborted: str | None = None

    def _gate(self, model: str) -> asyncio.Semaphore:
        name = _provider_of(self.settings, model)
        gate = self.gates.get(name)
        if gate is None:
            gate = self.gates[name] = asyncio.Semaphore(self.options.concurrency)
        return gate

    async def cell(self, result: CellResult, estimate: float) -> None:
        cell = result.cell
        params = dict(cell.params)
        if self.options.timeout is not None:
            params.setdefault("timeout", self.options.timeout)
        for index in range(cell.test.repeat):
            key = self.key(cell, index)
            output = self.caller.cached(key)
            if output is None:
                limit = self.options.max_cost
                if limit is not None and self.caller.spent_usd + estimate > limit:
                    self.aborted = f"max-cost: spent {self.caller.spent_usd:.4g} USD; the next call could pass the " \
                                   f"{limit:g} USD limit"
                    result.runs, result.reason = [], "not run: --max-cost reached"
                    break
                async with self._gate(cell.target.model):
                    output = await self.caller.chat(cell.target.model, cell.messages, params, key)
            result.runs.append(await self.grade(cell, index, output))
        result.settle()
        self.done += 1
        self.failed += result.status in ("fail", "error")
        if self.progress is not None:
            self.progress(self.done, self.total, self.failed, self.caller.spent_usd)

    def key(self, cell: Cell, index: int) -> str:
        """The cache key of a cell's run: the request as sent (the timeout aside) and the run's number."""
        request = {"messages": cell.messages, "params": {k: v for k, v in cell.params.items() if k != "timeout"}}
        return self.caller.key("chat", cell.target.model, request, index)

    def check_budget(self, results: list[CellResult]) -> None:
        limit = self.options.max_cost
        if limit is None:
            return
        estimate = sum(estimate_usd(self.settings, r.cell) for r in results for i in range(r.cell.test.repeat)
                       if not self.caller.cache.has(self.key(r.cell, i)))
        if estimate > limit:
            raise CostLimitError(f"the estimated spend, {estimate:.4g} USD for the calls not in the cache, is over "
                                 f"--max-cost {limit:g} USD; nothing was sent (filter the suite, or raise the limit)")

    async def grade(self, cell: Cell, index: int, output: Output) -> Run:
        if output.error is not None:
            failed = AssertionResult("call", 1.0, False, 0.0, f"{output.error_type}: {output.error}")
            return Run(index, output, [failed], False, 0.0)
        context = Context(cell.test.vars, self.caller, cell.question, self.suite.judge, self.suite.embedding)
        graded: list[AssertionResult] = []
        weights = weighted = 0.0
        passed = True
        for assertion in cell.asserts:
            try:
                grade = assertion.kind.check(assertion.options, output, context)
                if type(grade) is not Grade:  # a model-calling check returned a coroutine (a type test is cheap)
                    grade = await grade  # type: ignore[misc]
            except Exception as exc:  # a broken judge or user function fails its assertion, with the reason
                grade = Grade(False, 0.0, f"{type(exc).__name__}: {exc}")
            assert isinstance(grade, Grade)
            ok, score, reason = grade.passed, grade.score, grade.reason
            if assertion.negate:
                ok, score, reason = not ok, 1.0 - score, f"NOT ({reason})"
            score = 0.0 if score < 0.0 else 1.0 if score > 1.0 else score
            graded.append(AssertionResult(assertion.name, assertion.weight, ok, score, reason))
            weights += assertion.weight
            weighted += assertion.weight * score
            passed = passed and (ok or assertion.weight == 0)  # weight 0: informative only
        score = weighted / weights if weights else float(all(a.passed for a in graded))
        return Run(index, output, graded, passed, score)


async def run_suite(suite: Suite, settings: Settings, cache: Cache, options: RunOptions, *,
                    progress: Progress | None = None, secrets: Sequence[str] = (),
                    cells: list[Cell] | None = None, config_source: str = "") -> Results:
    """Run the cells (default: all of the suite's); returns even when interrupted, with what finished."""
    from ..client import AsyncOpenAI

    cells = build_cells(suite) if cells is None else cells
    started = datetime.now(UTC).isoformat(timespec="seconds")
    clock = time.perf_counter()
    results = [CellResult(cell) for cell in cells]
    interrupted = False
    try:
        async with AsyncOpenAI(config=settings) as client:
            caller = Caller(client, settings, cache, secrets)
            runner = _Runner(suite, settings, caller, options, progress)
            runner.total = len(results)
            runner.check_budget(results)
            priced = options.max_cost is not None
            tasks = [asyncio.ensure_future(runner.cell(r, estimate_usd(settings, r.cell) if priced else 0.0))
                     for r in results]
            try:
                await asyncio.gather(*tasks)
            except asyncio.CancelledError:
                interrupted = True
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                current = asyncio.current_task()
                if current is not None:
                    current.uncancel()
    finally:
        cache.close()  # commits what finished, Ctrl-C included
    for result in results:
        if interrupted and result.status == "skipped" and result.reason is None:
            result.runs, result.reason = [], "not run: interrupted"
    return Results(suite, results, config_source, started, duration_s=time.perf_counter() - clock,
                   interrupted=interrupted, aborted=runner.aborted, calls=caller.calls, cache_hits=cache.hits,
                   spent_usd=caller.spent_usd)
