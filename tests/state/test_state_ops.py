"""The state operations behave the same in memory and on a real Redis; Redis's are atomic across processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Iterator

import pytest

from llmswitch.state.memory import MemoryState, State
from llmswitch.state.redis import RedisState

from .conftest import RedisServer


@pytest.fixture(params=["memory", "redis"])
def state(request: pytest.FixtureRequest) -> Iterator[State]:
    if request.param == "memory":
        yield MemoryState()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    store = RedisState(server.url, prefix="t", timeout=1.0)
    yield store
    store.close()


def test_counters_add_and_expire(state: State) -> None:
    assert state.add("k1#spend", 1.5, time.time() + 60) == 1.5
    assert state.add("k1#spend", 2.25, time.time() + 60) == 3.75
    assert state.get("k1#spend") == 3.75
    assert state.get("k2#spend") == 0.0
    state.add("k1#gone", 5, time.time() + 0.05)
    time.sleep(0.12)
    assert state.get("k1#gone") == 0.0


def test_admit_counts_a_sliding_window(state: State) -> None:
    assert [state.admit("p/m#rpm", 3, 0.3) for _ in range(3)] == [None, None, None]
    wait = state.admit("p/m#rpm", 3, 0.3)
    assert wait is not None and 0 < wait <= 0.3
    time.sleep(0.32)
    assert state.admit("p/m#rpm", 3, 0.3) is None


def test_records_put_fetch_delete_expire(state: State) -> None:
    state.put("resp#r1", '{"a": 1}', 60)
    assert state.fetch("resp#r1") == '{"a": 1}'
    assert state.delete("resp#r1") is True
    assert state.delete("resp#r1") is False
    assert state.fetch("resp#r1") is None
    state.put("resp#r2", "x", 0.05)
    time.sleep(0.12)
    assert state.fetch("resp#r2") is None


def test_async_operations(state: State) -> None:
    async def run() -> tuple[float, float, float | None]:
        try:
            await state.aadd("k#n", 2, time.time() + 60)
            return (await state.aadd("k#n", 3, time.time() + 60), await state.aget("k#n"),
                    await state.aadmit("k#rpm", 1, 60))
        finally:
            await state.aclose()

    assert asyncio.run(run()) == (5.0, 5.0, None)


def test_keys_are_hash_tagged_per_target(redis_server: RedisServer) -> None:
    store = RedisState(redis_server.url, prefix="fleet")
    try:
        store.add("openai/gpt-4o#tokens", 1, time.time() + 60)
        assert store.sync.keys("*") == [b"{fleet:openai/gpt-4o}#tokens"]
    finally:
        store.close()


def _async_adds(url: str, n: int) -> None:
    async def run() -> None:
        store = RedisState(url, timeout=5.0)
        try:
            await asyncio.gather(*(store.aadd("k#tokens", 1.5, time.time() + 60) for _ in range(n)))
        finally:
            await store.aclose()
            store.close()

    asyncio.run(run())


def _admits(url: str, n: int, admitted: multiprocessing.Queue[int]) -> None:
    store = RedisState(url, timeout=5.0)
    try:
        admitted.put(sum(store.admit("p/m#rpm", 100, 60) is None for _ in range(n)))
    finally:
        store.close()


def test_1000_concurrent_async_adds_in_2_processes_lose_nothing(redis_server: RedisServer) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_async_adds, args=(redis_server.url, 500)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
        assert w.exitcode == 0
    store = RedisState(redis_server.url)
    try:
        assert store.get("k#tokens") == 1500.0
    finally:
        store.close()


def test_4_processes_x_200_admits_against_100_admit_exactly_100(redis_server: RedisServer) -> None:
    ctx = multiprocessing.get_context("spawn")
    admitted: multiprocessing.Queue[int] = ctx.Queue()
    workers = [ctx.Process(target=_admits, args=(redis_server.url, 200, admitted)) for _ in range(4)]
    for w in workers:
        w.start()
    counts = [admitted.get(timeout=30) for _ in workers]
    for w in workers:
        w.join(30)
    admitted.close()
    admitted.join_thread()
    assert sum(counts) == 100
