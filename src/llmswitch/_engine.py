"""The two drivers of a :class:`~llmswitch._call.Call`: they send, sleep and wait, nothing else.

Every decision (which target, how long to sleep, when to give up) comes from the call's
:class:`~llmswitch.plan.CallPlan`; every translation from the :class:`~._call.Call`. The sync
and async engines are the same lines with and without ``await``; hedged calls race attempts on
a small thread pool (sync) or as tasks (async).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent import futures
from typing import Any, Generic, TypeVar

import httpx2

from . import errors
from ._call import Call, not_a_stream, refusal
from ._stream import Opened, StreamCore, open_async, open_sync
from .plan import CallPlan
from .router import Fail, Router, Sleep, Try
from .transport import AsyncTransport, SyncTransport, connection_error

__all__ = ["AsyncEngine", "Engine"]

R = TypeVar("R")
H = TypeVar("H")  # a running attempt's handle: a Future (sync) or a Task (async)
ATTEMPT_ERRORS = (errors.APIStatusError, errors.APIConnectionError)
HEDGE_THREADS = 8  # sync hedging runs the racing attempts on a small per-engine pool


def _hedged(plan: CallPlan) -> bool:
    return plan.hedge_after is not None and len(plan.targets) > 1


class _Race(Generic[H]):
    """A hedged call's schedule, without I/O: what runs, when the next target joins, who won.

    The drivers own the waiting (``futures.wait`` or ``asyncio.wait``) and hand back what
    finished; every decision is made here, once for both. At most two attempts run at a time:
    the next target starts when the running one has produced nothing after ``hedge_after``.
    """

    def __init__(self, plan: CallPlan, stream: bool, now: Callable[[], float]) -> None:
        self.plan = plan
        self.stream = stream
        self.running: dict[H, tuple[Try, float]] = {}
        self._now = now  # the driver's clock for the hedge timer (the loop's time, async)
        self.abandoned: list[tuple[H, Try]] = []
        self._last_start = 0.0
        self._can_hedge = True

    def started(self, handle: H, step: Try) -> None:
        self.running[handle] = (step, self.plan.router.clock())
        self._last_start = self._now()

    def wait(self) -> float | None:
        """How long the driver may wait for a finish before the next target should join."""
        if not self._can_hedge or len(self.running) >= 2:
            return None
        return max(self._last_start + (self.plan.hedge_after or 0.0) - self._now(), 0.0)

    def hedge(self) -> Try | None:
        """The wait ran out with nothing finished: the step to start next, if any is left."""
        step = self.plan.hedge_step()
        if step is None:
            self._can_hedge = False
        return step

    def settled(self, handle: H, error: BaseException | None) -> bool:
        """Record a finished attempt: True when it won (the others are abandoned first)."""
        step, started = self.running.pop(handle)
        plan = self.plan
        elapsed = plan.router.clock() - started
        if error is None:
            self.abandon()
            plan.succeeded(step, elapsed, first_token=elapsed if self.stream else None)
            return True
        if not isinstance(error, ATTEMPT_ERRORS):
            plan.released(step, elapsed, "aborted")
            raise error
        plan.failed(step, error, elapsed)
        return False

    def abandon(self) -> None:
        """Release every attempt still running; the driver cancels those in :attr:`abandoned`."""
        clock = self.plan.router.clock
        for handle, (step, started) in self.running.items():
            self.plan.released(step, clock() - started)
            self.abandoned.append((handle, step))
        self.running.clear()


def _discard_sync(future: futures.Future[Any]) -> None:
    """A hedge that lost but finished anyway: close what it opened."""
    if future.cancelled() or future.exception() is not None:
        return
    result = future.result()
    if isinstance(result, Opened):
        result.core.release()
        result.core.response.close()


class Engine:
    """Runs calls synchronously over a :class:`~llmswitch.transport.SyncTransport`."""

    def __init__(self, router: Router, transport: SyncTransport, sleep: Callable[[float], None]) -> None:
        self.router = router
        self.transport = transport
        self.sleep = sleep
        self._pool: futures.ThreadPoolExecutor | None = None

    def complete(self, call: Call) -> dict[str, Any]:
        """A whole answer (chat or embeddings) as OpenAI wire JSON."""
        def attempt(step: Try) -> dict[str, Any]:
            return call.parse(step, self._send(step, call))

        return call.finish(self._drive(call.plan, attempt))

    def open(self, call: Call) -> Opened:
        """A stream read up to its commit point (failures before it were retried or fell back)."""
        def attempt(step: Try) -> Opened:
            started = time.monotonic()
            response = self._send(step, call)
            adapter, model = step.target.adapter, step.target.model
            if not_a_stream(response):
                try:
                    response.read()
                except httpx2.TransportError as exc:
                    raise connection_error(exc, response.request, step.target.provider.name, model) from exc
                finally:
                    response.close()
                raise refusal(adapter, response, model)
            return open_sync(StreamCore(response, adapter, model, step.deadline, started))

        return self._drive(call.plan, attempt, stream=True)

    def _send(self, step: Try, call: Call) -> httpx2.Response:
        target = step.target
        response = self.transport.send(target.provider, call.wire(step), step.deadline, target.adapter.auth(),
                                       target.model)
        step.slot.attach(response)
        return response

    # -- the one retry loop, sync ----------------------------------------------------------------
    def _drive(self, plan: CallPlan, attempt: Callable[[Try], R], *, stream: bool = False) -> R:
        if _hedged(plan):
            return self._drive_hedged(plan, attempt, stream)
        clock = self.router.clock
        while True:
            step = plan.next_step()
            if isinstance(step, Fail):
                raise step.error
            if isinstance(step, Sleep):
                self.sleep(step.seconds)
                continue
            started = clock()
            try:
                result = attempt(step)
            except ATTEMPT_ERRORS as exc:
                plan.failed(step, exc, clock() - started)
                continue
            except BaseException:
                plan.released(step, clock() - started, "aborted")
                raise
            elapsed = clock() - started
            plan.succeeded(step, elapsed, first_token=elapsed if stream else None)
            return result

    def _drive_hedged(self, plan: CallPlan, attempt: Callable[[Try], R], stream: bool) -> R:
        """Race attempts on a small thread pool (:class:`_Race` decides); the losers are aborted
        (their sockets shut down) and released."""
        if self._pool is None:
            self._pool = futures.ThreadPoolExecutor(HEDGE_THREADS, thread_name_prefix="llmswitch-hedge")
        pool = self._pool
        race: _Race[futures.Future[R]] = _Race(plan, stream, time.monotonic)
        try:
            while True:
                if not race.running:
                    step = plan.next_step()
                    if isinstance(step, Fail):
                        raise step.error
                    if isinstance(step, Sleep):
                        self.sleep(step.seconds)
                        continue
                    race.started(pool.submit(attempt, step), step)
                done, _ = futures.wait(race.running, timeout=race.wait(), return_when=futures.FIRST_COMPLETED)
                if not done:
                    hedge = race.hedge()
                    if hedge is not None:
                        race.started(pool.submit(attempt, hedge), hedge)
                    continue
                for future in done:
                    if race.settled(future, future.exception()):
                        return future.result()
        finally:
            race.abandon()
            for future, step in race.abandoned:
                step.slot.cancel()
                future.cancel()
                future.add_done_callback(_discard_sync)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self.transport.close()
        self.router.close()


_CLOSING: set[asyncio.Task[Any]] = set()  # keeps loser clean-up tasks alive until they finish


def _discard_async(task: asyncio.Task[Any]) -> None:
    """A hedge that lost but finished anyway: close what it opened (and retrieve its error)."""
    if task.cancelled() or task.exception() is not None:
        return
    result = task.result()
    if isinstance(result, Opened):
        closing = asyncio.ensure_future(result.core.response.aclose())
        _CLOSING.add(closing)
        closing.add_done_callback(_CLOSING.discard)


class AsyncEngine:
    """Runs calls on the event loop over an :class:`~llmswitch.transport.AsyncTransport`."""

    def __init__(self, router: Router, transport: AsyncTransport, sleep: Callable[[float], Awaitable[Any]]) -> None:
        self.router = router
        self.transport = transport
        self.sleep = sleep

    async def complete(self, call: Call) -> dict[str, Any]:
        async def attempt(step: Try) -> dict[str, Any]:
            return call.parse(step, await self._send(step, call))

        return call.finish(await self._drive(call.plan, attempt))

    async def open(self, call: Call) -> Opened:
        async def attempt(step: Try) -> Opened:
            started = time.monotonic()
            response = await self._send(step, call)
            adapter, model = step.target.adapter, step.target.model
            if not_a_stream(response):
                try:
                    await response.aread()
                except httpx2.TransportError as exc:
                    raise connection_error(exc, response.request, step.target.provider.name, model) from exc
                finally:
                    await response.aclose()
                raise refusal(adapter, response, model)
            return await open_async(StreamCore(response, adapter, model, step.deadline, started))

        opened: Opened = await self._drive(call.plan, attempt, stream=True)
        return opened

    async def _send(self, step: Try, call: Call) -> httpx2.Response:
        target = step.target
        response = await self.transport.send(target.provider, call.wire(step), step.deadline,
                                             target.adapter.auth(), target.model)
        step.slot.attach(response)
        return response

    # -- the one retry loop, async ---------------------------------------------------------------
    async def _drive(self, plan: CallPlan, attempt: Callable[[Try], Awaitable[R]], *, stream: bool = False) -> R:
        if _hedged(plan):
            return await self._drive_hedged(plan, attempt, stream)
        clock = self.router.clock
        while True:
            if plan.prefetch:  # shared state: admit on the loop, not in next_step's blocking call
                await plan.aprepare()
            step = plan.next_step()
            if isinstance(step, Fail):
                raise step.error
            if isinstance(step, Sleep):
                await self.sleep(step.seconds)
                continue
            started = clock()
            try:
                result = await attempt(step)
            except ATTEMPT_ERRORS as exc:
                plan.failed(step, exc, clock() - started)
                continue
            except BaseException:
                plan.released(step, clock() - started, "aborted")
                raise
            elapsed = clock() - started
            plan.succeeded(step, elapsed, first_token=elapsed if stream else None)
            return result

    async def _drive_hedged(self, plan: CallPlan, attempt: Callable[[Try], Awaitable[R]], stream: bool) -> R:
        """Race attempts as tasks (:class:`_Race` decides); the losers are cancelled and released."""
        race: _Race[asyncio.Task[R]] = _Race(plan, stream, asyncio.get_running_loop().time)
        try:
            while True:
                if not race.running:
                    if plan.prefetch:  # shared state: admit on the loop, as in _drive
                        await plan.aprepare()
                    step = plan.next_step()
                    if isinstance(step, Fail):
                        raise step.error
                    if isinstance(step, Sleep):
                        await self.sleep(step.seconds)
                        continue
                    race.started(asyncio.ensure_future(attempt(step)), step)
                done, _ = await asyncio.wait(race.running, timeout=race.wait(), return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    if plan.prefetch:
                        await plan.aprepare()
                    hedge = race.hedge()
                    if hedge is not None:
                        race.started(asyncio.ensure_future(attempt(hedge)), hedge)
                    continue
                for task in done:
                    if race.settled(task, task.exception()):
                        return task.result()
        finally:
            race.abandon()
            for task, _step in race.abandoned:
                task.cancel()
                task.add_done_callback(_discard_async)

    async def aclose(self) -> None:
        await self.transport.aclose()
        await self.router.aclose()
