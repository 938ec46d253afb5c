"""Round-robin positions and least_latency statistics shared by the fleet, riding on admissions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import llmswitch
from llmswitch.config import BreakerConfig
from llmswitch.state.admission import SharedGate
from llmswitch.state.breaker import SharedBreaker
from llmswitch.state.gate import LocalGate
from llmswitch.state.memory import MemoryState
from llmswitch.state.redis import FailOpen, RedisState
from llmswitch.state.spread import SharedLatency
from llmswitch.testing import MockServer

from .conftest import RedisServer

MESSAGES = [{"role": "user", "content": "ping"}]


def config(server: MockServer, state: dict[str, Any], strategy: str) -> dict[str, Any]:
    return {"providers": {name: {"type": "openai", "api_key": "sk", "base_url": server.base_url(name)}
                          for name in ("a", "b")},
            "routes": {"chat": {"strategy": strategy, "targets": ["a/m", "b/m"]}}, "state": state}


@pytest.mark.parametrize(("backend", "expected"), [("memory", ["a"] * 4), ("redis", ["a", "b", "a", "b"])])
def test_fresh_processes_take_turns_fleet_wide(backend: str, expected: list[str],
                                               request: pytest.FixtureRequest) -> None:
    state = ({"backend": "redis", "url": request.getfixturevalue("redis_server").url, "timeout": 0.5}
             if backend == "redis" else {"backend": "memory"})
    with MockServer({"a": "openai", "b": "openai"}) as server:
        served = []
        for _ in range(4):  # four replicas with one call each: per-process rotation starts each at "a"
            with llmswitch.OpenAI(config=config(server, state, "round_robin")) as client:
                response = client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
                served.append(llmswitch.route_info(response).provider)  # type: ignore[union-attr]
    assert served == expected


def test_a_replicas_later_calls_keep_the_fleets_turns(redis_server: RedisServer) -> None:
    with MockServer({"a": "openai", "b": "openai"}) as server:
        cfg = config(server, {"backend": "redis", "url": redis_server.url, "timeout": 0.5}, "round_robin")
        with llmswitch.OpenAI(config=cfg) as first, llmswitch.OpenAI(config=cfg) as second:
            for _ in range(6):
                for client in (first, second):
                    client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
        assert len(server.mount("a").requests) == len(server.mount("b").requests) == 6
    with redis.Redis(port=redis_server.port) as plain:
        assert int(plain.get("{llmswitch:route:chat}#rr") or 0) == 12  # one claim per call, no round trip of its own


@pytest.fixture
def gate(redis_server: RedisServer) -> Iterator[tuple[SharedGate, SharedBreaker, FailOpen]]:
    state = FailOpen(RedisState(redis_server.url, timeout=0.5), MemoryState())
    yield SharedGate(state, LocalGate({})), SharedBreaker(BreakerConfig(), state, "a/m"), state
    state.close()


def test_latency_is_blended_fleet_wide_at_most_every_period(gate: tuple[SharedGate, SharedBreaker, FailOpen]) -> None:
    shared_gate, breaker, state = gate
    now = [0.0]
    mine, theirs = (SharedLatency(state, "a/m", "latency", every=1.0, clock=lambda: now[0]) for _ in range(2))

    def sync(*trackers: SharedLatency) -> None:
        also = [a for a in (t.also() for t in trackers) if a is not None]
        assert shared_gate.admit("a", breaker, False, also).permit is not None

    for _ in range(3):
        mine.observe(0.5)
    sync(mine, theirs)
    assert theirs.value == pytest.approx(0.5)  # learnt from the fleet before measuring anything itself
    theirs.observe(0.1)
    blended = 0.3 * 0.1 + 0.7 * 0.5
    sync(theirs, mine)  # not due yet: nothing sent, nothing read
    assert mine.value == pytest.approx(0.5) and theirs.value == pytest.approx(blended)
    now[0] = 1.0
    sync(theirs, mine)  # theirs pushes its observation, mine reads the blend
    assert mine.value == pytest.approx(blended) and theirs.value == pytest.approx(blended)


def test_a_fresh_replica_knows_latencies_it_never_measured(redis_server: RedisServer) -> None:
    with MockServer({"a": "openai", "b": "openai"}) as server:
        cfg = config(server, {"backend": "redis", "url": redis_server.url, "timeout": 0.5}, "least_latency")
        with llmswitch.OpenAI(config=cfg) as measuring:
            for _ in range(2):  # unmeasured targets go first: a, then b
                measuring.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
            time.sleep(1.0)  # the push period
            measuring.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]  # pushes
        with redis.Redis(port=redis_server.port) as plain:
            measured = float(plain.hget("{llmswitch:b}#latency:m", "latency") or 0)
        assert measured > 0
        with llmswitch.OpenAI(config=cfg) as fresh:
            fresh.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]  # served by a
            assert _tracker(fresh, "b").value == pytest.approx(measured)  # alone, it would know nothing of b


def _tracker(client: llmswitch.OpenAI, provider: str) -> SharedLatency:
    router = client.router
    tracker = router.state(router.target(provider, "m"), router.settings.policy_for("chat")).latency
    assert isinstance(tracker, SharedLatency)
    return tracker
