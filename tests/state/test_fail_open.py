"""Redis failing costs no call: killed, paused past the timeout, restarted — answers come from memory,
each wait bounded by the timeout, one warning per outage, and shared state resumes once Redis answers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest

from llmswitch.state.memory import MemoryState
from llmswitch.state.redis import FailOpen, RedisState

from .conftest import RedisServer

TIMEOUT = 0.05
SLACK = 0.1  # scheduling on a shared 2-core machine


@pytest.fixture
def state(redis_server: RedisServer) -> Iterator[FailOpen]:
    store = FailOpen(RedisState(redis_server.url, prefix="f", timeout=TIMEOUT), MemoryState(), retry_after=0.2)
    yield store
    store.close()


def _slowest_of(state: FailOpen, calls: int) -> float:
    slowest = 0.0
    for _ in range(calls):
        start = time.monotonic()
        state.add("k#n", 1, time.time() + 60)
        slowest = max(slowest, time.monotonic() - start)
        time.sleep(0.01)
    return slowest


def _in_redis(server: RedisServer) -> float:
    check = RedisState(server.url, prefix="f", timeout=2)
    try:
        return check.get("k#n")
    finally:
        check.close()


@pytest.mark.parametrize("fault", ["pause", "kill"])
def test_an_outage_falls_back_then_resumes(state: FailOpen, redis_server: RedisServer, fault: str,
                                           caplog: pytest.LogCaptureFixture) -> None:
    state.add("k#n", 1, time.time() + 60)
    assert _in_redis(redis_server) == 1 and state.shared
    redis_server.pause() if fault == "pause" else redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="llmswitch.state"):
        assert _slowest_of(state, 40) < TIMEOUT + SLACK  # 40 calls over ~0.4 s: two retries of Redis
    assert not state.shared and state.fallbacks >= 40
    assert [r.message for r in caplog.records].count(
        next(r.message for r in caplog.records if "unavailable" in r.message)) == 1  # once per outage
    redis_server.resume() if fault == "pause" else redis_server.start()
    time.sleep(0.25)  # past retry_after: the next call tries Redis again
    state.add("k#n", 1, time.time() + 60)
    assert state.shared
    if fault == "kill":
        assert _in_redis(redis_server) == 1  # a restart without persistence starts empty
    else:  # a write that timed out may still land when the server wakes (it was in its socket buffer)
        assert 2 <= _in_redis(redis_server) <= 4


def test_async_calls_are_bounded_too(state: FailOpen, redis_server: RedisServer) -> None:
    async def run() -> tuple[float, float | None, float]:
        try:
            await state.aadd("k#n", 1, time.time() + 60)
            redis_server.pause()
            start = time.monotonic()
            total = await state.aadd("k#n", 1, time.time() + 60)
            waited = time.monotonic() - start
            return total, await state.aadmit("k#rpm", 5, 60), waited
        finally:
            redis_server.resume()
            await state.aclose()

    total, admitted, waited = asyncio.run(run())
    assert total == 1.0 and admitted is None  # answered from memory, which had not seen the first add
    assert waited < TIMEOUT + SLACK and state.fallbacks == 2
