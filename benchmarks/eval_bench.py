"""`llmswitch eval`'s budget, side by side with `compare` making the same calls: `python benchmarks/eval_bench.py`.

Budget (issue #13): 200 cells on the mock providers finish in under 5 s of wall time at the default
concurrency, and eval adds ≤ 5 % CPU per cell over ``compare`` doing the same calls.

The workload: four in-process ``mock`` providers (no network; the same kind the demo config uses), 5
prompts × 4 targets × 10 tests = 200 cells, each test with four assertions (contains, regex, latency,
cost). ``compare`` runs the same 200 streamed requests through its own engine (``run_jobs``) with the
same parallelism (8 per provider = 32 in flight). Figures are medians over rounds; within a round the
contestants take turns in a rotating order so drift hits them alike. CPU is ``time.process_time`` of
this process (the in-process mock's work is in both figures alike). On a shared machine the spread
between rounds is wide, so the ratio to compare is the median of each round's ratio (neighbours in
time share the machine's load) and the ratio of minima (the least disturbed rounds).

Contestants:
- compare            ``llmswitch.cli.compare.run_jobs`` (what ``llmswitch compare`` runs)
- eval --no-cache    every call sent, graded, nothing stored
- eval cold cache    every call sent, graded, and written to the cache
- eval warm cache    every answer from the cache (a rerun after editing assertions)

Last, eval's own per-cell work (grading; the cache's key, lookup and write) is timed alone, since a
few percent of a whole call is within the round-to-round noise of a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from llmswitch import load_config
from llmswitch.cli.compare import Job, request_params, run_jobs
from llmswitch.eval import Cache, RunOptions, load_suite, run_suite
from llmswitch.eval.runner import build_cells

PROVIDERS = ("north", "south", "east", "west")
PROMPTS = 5
TESTS = 10


def providers_config() -> dict[str, Any]:
    return {"providers": {name: {"type": "mock", "models": [f"{name}-1"],
                                 "prices": {f"{name}-1": {"input": 1.0, "output": 2.0}}} for name in PROVIDERS}}


def suite_file(folder: Path) -> Path:
    data = {
        "prompts": [f"Prompt {i}: answer the question about {{{{topic}}}}" for i in range(PROMPTS)],
        "targets": [f"{name}/{name}-1" for name in PROVIDERS],
        "defaults": {"params": {"temperature": 0}},
        "tests": [{"description": f"test {i}", "vars": {"topic": f"topic-{i}"},
                   "assert": [{"type": "contains", "value": "{{topic}}"}, {"type": "regex", "value": r"Prompt \d"},
                              {"type": "latency", "threshold": 5}, {"type": "cost", "threshold": 0.01}]}
                  for i in range(TESTS)],
    }
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def measure(run: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run, from a collected heap (the last run's garbage is not billed)."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def own_work(suite: Any, settings: Any, cells: list[Any], folder: Path, rounds: int) -> tuple[float, float]:
    """CPU µs per cell of what eval adds to each call, timed alone (so the machine's noise in a whole
    call does not drown it): (grading the four assertions, the cache's key + lookup + write)."""
    results = asyncio.run(run_suite(suite, settings, Cache(enabled=False), RunOptions(), cells=cells))
    outputs = [result.runs[0].output for result in results.cells]
    timed = [_own_round(suite, settings, cells, outputs, Cache(folder / f"own-{n}")) for n in range(rounds)]
    return min(g for g, _ in timed) / len(cells) * 1e6, min(c for _, c in timed) / len(cells) * 1e6


def _own_round(suite: Any, settings: Any, cells: list[Any], outputs: list[Any], cache: Cache) -> tuple[float, float]:
    from llmswitch.eval.calls import Caller
    from llmswitch.eval.runner import _Runner

    caller = Caller(None, settings, cache)  # type: ignore[arg-type]  # no client: nothing is sent
    runner = _Runner(suite, settings, caller, RunOptions(), None)

    async def grade_all() -> None:
        for cell, output in zip(cells, outputs, strict=True):
            await runner.grade(cell, 0, output)

    def cache_all() -> None:
        for cell, output in zip(cells, outputs, strict=True):
            key = runner.key(cell, 0)
            if caller.cached(key) is None:
                cache.put(key, output.as_dict())
        cache.close()

    loop = asyncio.new_event_loop()
    try:
        grading = measure(lambda: loop.run_until_complete(grade_all()))[1]
    finally:
        loop.close()
    return grading, measure(cache_all)[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    settings = load_config(providers_config())
    folder = Path(tempfile.mkdtemp(prefix="eval-bench-"))
    suite = load_suite(suite_file(folder), lambda name: None)
    cells = build_cells(suite)
    assert len(cells) == 200, len(cells)
    options = RunOptions()  # the defaults: 8 calls in flight per provider
    params = {cell.question: request_params(system=None, prompt=cell.question, temperature=0, max_tokens=None,
                                            json_mode=False, timeout=120.0) for cell in cells}

    def compare() -> None:
        jobs = [Job(0, cell.question, cell.target.model) for cell in cells]
        asyncio.run(run_jobs(settings, jobs, lambda job: params[job.prompt], repeat=1,
                             concurrency=options.concurrency * len(PROVIDERS), secrets=[]))
        assert all(run.ok for job in jobs for run in job.runs)

    def evaluate(cache: Cache) -> None:
        results = asyncio.run(run_suite(suite, settings, cache, options, cells=cells))
        assert len(results.cells) == 200 and not results.failed, [c.reason for c in results.failed][:3]

    round_no = 0

    def cold() -> None:
        evaluate(Cache(folder / f"cache-{round_no}"))

    def warm() -> None:
        evaluate(Cache(folder / "cache-warm"))

    contestants: dict[str, Callable[[], None]] = {
        "compare": compare,
        "eval --no-cache": lambda: evaluate(Cache(enabled=False)),
        "eval cold cache": cold,
        "eval warm cache": warm,
    }
    evaluate(Cache(folder / "cache-warm"))  # fill the warm cache; also warms imports and the mock
    compare()
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in contestants}
    names = list(contestants)
    for round_no in range(args.rounds):
        for name in names[round_no % len(names):] + names[: round_no % len(names)]:
            figures[name].append(measure(contestants[name]))
    print(f"200 cells (5 prompts × 4 mock providers × 10 tests, 4 assertions each); {args.rounds} rounds, medians "
          f"[min … max]; python {sys.version.split()[0]}")
    print(f"{'contestant':<18} {'wall s':>7} {'CPU ms/cell':>12} {'[min … max]':>16}   vs compare: paired median, min")
    base = [cpu for _, cpu in figures["compare"]]
    for name, values in figures.items():
        wall = statistics.median(w for w, _ in values)
        cpus = [cpu for _, cpu in values]
        per_cell = [cpu / 200 * 1000 for cpu in cpus]
        paired = statistics.median(cpu / other for cpu, other in zip(cpus, base, strict=True)) - 1
        ratio_min = min(cpus) / min(base) - 1
        print(f"{name:<18} {wall:>7.3f} {statistics.median(per_cell):>12.3f} "
              f"{f'[{min(per_cell):.3f} … {max(per_cell):.3f}]':>16} {paired:>+22.1%} {ratio_min:>+8.1%}")
    grading, caching = own_work(suite, settings, cells, folder, args.rounds)
    call_us = statistics.median(cpu for _, cpu in figures["compare"]) / 200 * 1e6
    print(f"eval's own work per cell, timed alone (min of {args.rounds}): grading {grading:.1f} µs "
          f"({grading / call_us:.1%} of compare's median call), cache key + lookup + write {caching:.1f} µs "
          f"({caching / call_us:.1%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
