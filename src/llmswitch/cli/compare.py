"""``llmswitch compare``: one prompt (or a file of them) on many targets, concurrently, streamed.

The engine here only calls and measures; :mod:`.compare_view` draws the live board, the table
and the machine-readable outputs. Every call streams through ``llmswitch.AsyncOpenAI``, so time
to first token is what a user of the real client would see, failover and retries included.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:

    from ..client import AsyncOpenAI
    from ..config import Settings

__all__ = ["Job", "Run", "Summary", "run_jobs", "summarize"]


@dataclass
class Run:
    """One call of one target, measured."""

    ok: bool
    latency: float
    text: str = ""
    ttft: float | None = None
    provider: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_cny: float | None = None
    cost_usd: float | None = None
    attempts: int = 1
    fallbacks: int = 0
    finish_reason: str | None = None
    error_type: str | None = None
    error_kind: str | None = None
    error: str | None = None


@dataclass
class Job:
    """One (prompt, target) cell of the matrix, with the live state the board draws."""

    prompt_index: int
    prompt: str
    target: str
    runs: list[Run] = field(default_factory=list)
    state: str = "queued"  # queued | waiting | streaming | done | failed
    live_text: list[str] = field(default_factory=list)
    started: float | None = None
    first_token: float | None = None
    repeat: int = 1


def _p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile (with few runs, the slowest one)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _median(values: Sequence[float | int | None]) -> float | None:
    """The median; token counts stay whole numbers when it is one."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    middle = statistics.median(present)
    return int(middle) if all(isinstance(v, int) for v in present) and middle == int(middle) else float(middle)


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


@dataclass
class Summary:
    """A job's runs reduced to one row: medians over successful runs, the first error if any."""

    prompt_index: int
    prompt: str
    target: str
    status: str  # ok | error | partial
    runs: int
    ok_runs: int
    provider: str | None
    model: str | None
    ttft_s: float | None
    latency_s: float | None
    latency_p95_s: float | None
    prompt_tokens: float | None
    completion_tokens: float | None
    tokens_per_s: float | None
    cost_cny: float | None
    cost_usd: float | None
    attempts: int
    fallbacks: int
    answer: str
    error: dict[str, str | None] | None

    @property
    def failed(self) -> bool:
        return self.ok_runs < self.runs

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def summarize(job: Job) -> Summary:
    ok = [r for r in job.runs if r.ok]
    bad = [r for r in job.runs if not r.ok]
    latencies = [r.latency for r in ok]
    served = ok[0] if ok else (job.runs[0] if job.runs else None)
    rates = [r.completion_tokens / r.latency for r in ok if r.completion_tokens is not None and r.latency > 0]
    status = "ok" if not bad else ("error" if not ok else "partial")
    error = None
    if bad:
        first = bad[0]
        error = {"type": first.error_type, "kind": first.error_kind, "message": first.error}
    return Summary(
        prompt_index=job.prompt_index, prompt=job.prompt, target=job.target, status=status,
        runs=len(job.runs), ok_runs=len(ok),
        provider=served.provider if served else None, model=served.model if served else None,
        ttft_s=_median([r.ttft for r in ok]),
        latency_s=_median(latencies), latency_p95_s=_p95(latencies) if latencies else None,
        prompt_tokens=_median([r.prompt_tokens for r in ok]),
        completion_tokens=_median([r.completion_tokens for r in ok]),
        tokens_per_s=_median(rates),
        cost_cny=_mean([r.cost_cny for r in ok]), cost_usd=_mean([r.cost_usd for r in ok]),
        attempts=served.attempts if served else 0, fallbacks=served.fallbacks if served else 0,
        answer=ok[0].text if ok else "",
        error=error,
    )


async def _call(client: AsyncOpenAI, job: Job, params: dict[str, Any], secrets: Sequence[str]) -> Run:
    from ..client import route_info
    from ._common import scrub

    clock = time.perf_counter
    start = clock()
    job.started, job.first_token, job.state = start, None, "waiting"
    job.live_text = []
    usage: Any = None
    finish: str | None = None
    try:
        stream = await client.chat.completions.create(model=job.target, stream=True, **params)
        async for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                piece = choice.delta.content if choice.delta else None
                if piece:
                    if job.first_token is None:
                        job.first_token = clock()
                        job.state = "streaming"
                    job.live_text.append(piece)
                finish = choice.finish_reason or finish
    except Exception as exc:  # each failure is a row in the table, never a traceback
        info = getattr(exc, "route_info", None)
        job.state = "failed"
        return Run(ok=False, latency=clock() - start, text="".join(job.live_text),
                   provider=getattr(exc, "provider", None), model=getattr(exc, "model", None),
                   attempts=len(info.attempts) if info else 1, fallbacks=info.fallbacks if info else 0,
                   error_type=type(exc).__name__, error_kind=getattr(exc, "kind", None),
                   error=scrub(str(exc).strip(), secrets))
    end = clock()
    job.state = "done"
    info = route_info(stream)
    return Run(
        ok=True, latency=end - start, text="".join(job.live_text),
        ttft=(job.first_token - start) if job.first_token is not None else None,
        provider=info.provider if info else None, model=info.model if info else None,
        prompt_tokens=getattr(usage, "prompt_tokens", None),
        completion_tokens=getattr(usage, "completion_tokens", None),
        cost_cny=info.cost_cny if info else None, cost_usd=info.cost_usd if info else None,
        attempts=len(info.attempts) if info else 1, fallbacks=info.fallbacks if info else 0,
        finish_reason=finish,
    )


def request_params(*, system: str | None, prompt: str, temperature: float | None, max_tokens: int | None,
                   json_mode: bool, timeout: float | None) -> dict[str, Any]:
    """The create() keyword arguments for one prompt (model and stream added per call)."""
    messages: list[dict[str, str]] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": prompt})
    params: dict[str, Any] = {"messages": messages, "stream_options": {"include_usage": True}}
    if temperature is not None:
        params["temperature"] = temperature
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    if json_mode:
        params["response_format"] = {"type": "json_object"}
    if timeout is not None:
        params["timeout"] = timeout
    return params


async def run_jobs(settings: Settings, jobs: Sequence[Job], params_for: Callable[[Job], dict[str, Any]], *,
                   repeat: int, concurrency: int, secrets: Sequence[str]) -> None:
    """Run every job ``repeat`` times (a job's runs in sequence, jobs concurrently)."""
    from ..client import AsyncOpenAI

    gate = asyncio.Semaphore(max(1, concurrency))

    async def run(job: Job) -> None:
        async with gate:
            for _ in range(repeat):
                job.runs.append(await _call(client, job, params_for(job), secrets))
            job.state = "done" if all(r.ok for r in job.runs) else "failed"

    async with AsyncOpenAI(config=settings) as client:
        for job in jobs:
            job.repeat = repeat
        await asyncio.gather(*(run(job) for job in jobs))
