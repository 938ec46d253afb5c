"""The gate: one round trip per served call; provider tpm and usage counted fleet-wide; a success while
closed is written with the next admission (it still clears the failure count)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.crc import key_slot

import llmswitch
from llmswitch import errors
from llmswitch.config import BreakerConfig
from llmswitch.state.admission import SharedGate
from llmswitch.state.breaker import SharedBreaker
from llmswitch.state.gate import Limits, LocalGate, TokenBucket, Usage
from llmswitch.state.memory import MemoryState
from llmswitch.state.redis import FailOpen, RedisState
from llmswitch.testing import MockServer

from .conftest import RedisServer

MESSAGES = [{"role": "user", "content": "one two three"}]


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer({"a": "openai", "b": "openai"}) as mock:
        yield mock


def config(server: MockServer, state: dict[str, Any], **limits: int) -> dict[str, Any]:
    return {
        "providers": {"a": {"type": "openai", "api_key": "sk-a", "base_url": server.base_url("a"), **limits,
                            "prices": {"gpt-4o": {"input": 2.0, "output": 8.0}}},
                      "b": {"type": "openai", "api_key": "sk-b", "base_url": server.base_url("b")}},
        "routes": {"chat": {"targets": ["a/gpt-4o", "b/gpt-4o-mini"]}},
        "state": state}


def redis_state(server: RedisServer) -> dict[str, Any]:
    return {"backend": "redis", "url": server.url, "timeout": 0.5}


def _commands(server: RedisServer) -> dict[str, int]:
    with redis.Redis(port=server.port) as client:
        stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def test_a_served_call_costs_one_round_trip(redis_server: RedisServer, server: MockServer) -> None:
    with llmswitch.OpenAI(config=config(server, redis_state(redis_server), rpm=1000, tpm=10**6)) as client:
        client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]  # scripts loaded
        before = _commands(redis_server)
        for _ in range(20):
            client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
        after = _commands(redis_server)
    assert after["evalsha"] - before["evalsha"] == 20  # quota, breaker and usage: one script per call
    assert after.get("eval", 0) == before.get("eval", 0)


def test_a_providers_keys_share_one_cluster_slot(redis_server: RedisServer, server: MockServer) -> None:
    with llmswitch.OpenAI(config=config(server, redis_state(redis_server), rpm=1000, tpm=10**6)) as client:
        client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
        client.router.breaker("a/gpt-4o").record_failure()
    with redis.Redis(port=redis_server.port) as plain:
        keys = plain.keys("*")
    names = {k.decode().split("#", 1)[1].split(":")[0] for k in keys}
    assert {"rpm", "tpm", "usage", "failures"} <= names
    assert {key_slot(k) for k in keys} == {key_slot(b"{llmswitch:a}")}


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_tpm_moves_on_then_429_with_retry_after(backend: str, request: pytest.FixtureRequest,
                                                server: MockServer) -> None:
    state = redis_state(request.getfixturevalue("redis_server")) if backend == "redis" else {"backend": "memory"}
    with llmswitch.OpenAI(config=config(server, state, tpm=10), max_retries=0) as client:
        served = []
        for _ in range(3):
            response = client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
            info = llmswitch.route_info(response)
            assert info is not None and info.usage is not None
            served.append((info.provider, info.usage["total_tokens"]))
        tokens = served[0][1]
        assert tokens == 7  # the mock's count for MESSAGES: two calls empty the 10-token bucket, the third finds debt
        assert [p for p, _ in served] == ["a", "a", "b"]
        with pytest.raises(errors.RateLimitError) as caught:
            client.chat.completions.create(model="a/gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
    assert "tpm limit" in str(caught.value)
    # 4 tokens in debt, refilled at 1/6 token per second: Retry-After covers the debt and one token
    assert int(caught.value.response.headers["retry-after"]) == pytest.approx(30, abs=1)
    assert len(server.mount("a").requests) == 2


def test_tpm_holds_across_replicas(redis_server: RedisServer, server: MockServer) -> None:
    cfg = config(server, redis_state(redis_server), tpm=20)
    with llmswitch.OpenAI(config=cfg) as first, llmswitch.OpenAI(config=cfg) as second:
        providers = []
        for client in (first, second, first, second, first):
            response = client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
            providers.append(llmswitch.route_info(response).provider)  # type: ignore[union-attr]
    # 7 tokens a call: each replica's own 20-token bucket would admit all five at "a"; the fleet's
    # bucket takes each call's tokens at that replica's next admission, so the fleet stops after four
    assert providers == ["a", "a", "a", "a", "b"], providers


def test_usage_per_provider_is_counted_across_replicas(redis_server: RedisServer, server: MockServer) -> None:
    cfg = config(server, redis_state(redis_server))
    with llmswitch.OpenAI(config=cfg) as first, llmswitch.OpenAI(config=cfg) as second:
        infos = [llmswitch.route_info(c.chat.completions.create(model="chat", messages=MESSAGES))  # type: ignore[arg-type]
                 for c in (first, second, second)]
        assert first.router.usage("a")["day"].calls < 3  # the second's usage is still pending there ...
        second.close()  # ... until it is carried by an admission (at most every second) or written at close
        usage = first.router.usage("a")
    tokens = sum(i.usage["total_tokens"] for i in infos if i is not None and i.usage is not None)
    cost = sum(i.cost_usd for i in infos if i is not None and i.cost_usd is not None)
    for period in ("day", "month"):
        assert (usage[period].calls, usage[period].tokens) == (3, tokens)
        assert usage[period].cost_usd == pytest.approx(cost, rel=1e-6) and cost > 0


def test_usage_in_memory_and_unknown_provider(server: MockServer) -> None:
    with llmswitch.OpenAI(config=config(server, {"backend": "memory"})) as client:
        client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
        usage = client.router.usage("a")
        assert usage["day"].calls == usage["month"].calls == 1 and usage["day"].tokens > 0
        assert client.router.usage("b")["day"] == Usage()
        with pytest.raises(ValueError, match="unknown provider 'nope'; known: a, b"):
            client.router.usage("nope")


def _gate(server: RedisServer) -> tuple[SharedGate, SharedBreaker]:
    state = FailOpen(RedisState(server.url, timeout=0.5), MemoryState())
    breaker = SharedBreaker(BreakerConfig(failures=3, cooldown=30), state, "a/m")
    return SharedGate(state, LocalGate({})), breaker


def test_a_success_while_closed_still_clears_the_failure_count(redis_server: RedisServer) -> None:
    gate, breaker = _gate(redis_server)
    try:
        for outcome in ("fail", "fail", "ok", "fail", "fail"):
            permit = gate.admit("a", breaker, False).permit
            assert permit is not None
            if outcome == "ok":
                assert breaker.record_success(permit) is False  # not written now ...
            else:
                assert breaker.record_failure(permit) is False  # ... yet the admission after it cleared 2 failures
        assert gate.admit("a", breaker, False).permit is not None
        assert breaker.record_failure() is True  # three in a row open it
        assert gate.admit("a", breaker, False).permit is None
    finally:
        gate.state.close()


def test_token_bucket_refills_and_goes_into_debt() -> None:
    now = [0.0]
    bucket = TokenBucket(60, lambda: now[0])  # one token per second
    assert bucket.wait() == 0.0
    bucket.take(90)
    assert bucket.wait() == pytest.approx(31.0)  # 30 in debt, then one token
    now[0] = 31.0
    assert bucket.wait() == 0.0
    now[0] = 1000.0
    bucket.take(0)
    bucket.take(59.5)
    assert bucket.wait() == pytest.approx(0.5)  # never more than 60 banked


def test_local_gate_refuses_rpm_without_taking_a_probe() -> None:
    gate = LocalGate({"a": Limits(rpm=1)})
    from llmswitch.policies import CircuitBreaker

    breaker = CircuitBreaker(BreakerConfig(failures=1, cooldown=0.01, half_open_probes=1))
    assert gate.admit("a", breaker, False).permit is not None
    breaker.record_failure()
    time.sleep(0.02)
    verdict = gate.admit("a", breaker, False)  # half-open: a probe slot, but the rpm is spent
    assert (verdict.permit, verdict.limit) == (None, "rpm") and 0 < verdict.wait <= 60
    assert breaker.acquire() is not None  # the probe slot was given back


def _served_on_the_loop(cfg: dict[str, Any], calls: int) -> list[str | None]:
    """Who served each of ``calls`` concurrent async calls; asserts the blocking client never ran."""

    async def run() -> list[str | None]:
        async with llmswitch.AsyncOpenAI(config=cfg) as client:
            responses = await asyncio.gather(*(client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
                                               for _ in range(calls)))
            shared = client.router.shared_state
            assert shared is not None and shared.remote.kept.idle == []  # the sync client never ran
            return [llmswitch.route_info(r).provider for r in responses]  # type: ignore[union-attr]

    return asyncio.run(run())


def test_async_calls_admit_on_the_event_loop_exactly(redis_server: RedisServer, server: MockServer) -> None:
    cfg = config(server, {**redis_state(redis_server), "timeout": 5.0}, rpm=50)  # 150 at once on 64 connections

    providers = _served_on_the_loop(cfg, 150)
    assert providers.count("a") == 50 == len(server.mount("a").requests)
    assert providers.count("b") == 100


def test_async_admission_with_redis_paused_costs_no_call(redis_server: RedisServer, server: MockServer) -> None:
    cfg = config(server, {**redis_state(redis_server), "timeout": 0.05}, rpm=1000)

    async def run() -> float:
        async with llmswitch.AsyncOpenAI(config=cfg) as client:
            await client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
            redis_server.pause()
            try:
                start = time.monotonic()
                await asyncio.gather(*(client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
                                       for _ in range(20)))
                return time.monotonic() - start
            finally:
                redis_server.resume()

    assert asyncio.run(run()) < 1.0  # each admission waited at most the 50 ms timeout, concurrently
    assert len(server.mount("a").requests) == 21  # every call answered by the primary


def test_async_hedged_calls_admit_on_the_event_loop(redis_server: RedisServer, server: MockServer) -> None:
    """A hedged route races its targets; both the first attempt and the hedge are admitted with the
    asyncio client (the blocking one would stall every call on the loop while Redis answers)."""
    server.mount("a").latency = 0.3  # slow primary: the hedge to b starts after 50 ms and wins
    cfg = config(server, {**redis_state(redis_server), "timeout": 5.0}, rpm=1000)
    cfg["routes"]["chat"]["hedge_after"] = 0.05

    assert _served_on_the_loop(cfg, 4) == ["b"] * 4
    assert len(server.mount("b").requests) == 4
