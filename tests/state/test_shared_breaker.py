"""Breakers shared through Redis: a fleet opens on one failure count and sends exactly N probes."""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

import httpx2  # noqa: F401 — the client's transport stack, imported here so spawn children import it once

import llmswitch
from llmswitch.config import BreakerConfig
from llmswitch.state.breaker import SharedBreaker
from llmswitch.state.memory import MemoryState
from llmswitch.state.redis import FailOpen, RedisState
from llmswitch.testing import MockServer

from .conftest import RedisServer

MESSAGES = [{"role": "user", "content": "ping"}]


def fleet_config(server: MockServer, redis_url: str, **breaker: Any) -> dict[str, Any]:
    return {
        "providers": {"a": {"type": "openai", "api_key": "sk-a", "base_url": server.base_url("a")},
                      "b": {"type": "openai", "api_key": "sk-b", "base_url": server.base_url("b")}},
        "routes": {"chat": {"targets": ["a/gpt-4o", "b/gpt-4o-mini"], "circuit_breaker": breaker}},
        "state": {"backend": "redis", "url": redis_url, "timeout": 0.5},
    }


def _calls(config: dict[str, Any], n: int, served: multiprocessing.Queue[list[str]]) -> None:
    with llmswitch.OpenAI(config=config) as client:
        providers = []
        for _ in range(n):
            response = client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
            providers.append(llmswitch.route_info(response).provider)  # type: ignore[union-attr]
        served.put(providers)


def test_four_processes_open_one_breaker(redis_server: RedisServer) -> None:
    with MockServer({"a": "openai", "b": "openai"}) as server:
        server.mount("a").fail("500*1000")
        config = fleet_config(server, redis_server.url, failures=3, cooldown=30)
        ctx = multiprocessing.get_context("spawn")
        served: multiprocessing.Queue[list[str]] = ctx.Queue()
        workers = [ctx.Process(target=_calls, args=(config, 10, served)) for _ in range(4)]
        for w in workers:
            w.start()
        results = [served.get(timeout=60) for _ in workers]
        for w in workers:
            w.join(30)
        served.close()
        served.join_thread()
        assert all(p == ["b"] * 10 for p in results)  # every call answered (by the fallback)
        hits = len(server.mount("a").requests)
        # per-process breakers would send 4 × 3 = 12; shared: 3, plus at most one call per other process
        # that was already admitted (in flight) when the third failure opened the breaker
        assert 3 <= hits <= 6, hits


def _breaker(server: RedisServer, cfg: BreakerConfig) -> SharedBreaker:
    return SharedBreaker(cfg, FailOpen(RedisState(server.url, timeout=0.5), MemoryState()), "a/m")


def test_exactly_n_probes_fleet_wide(redis_server: RedisServer) -> None:
    cfg = BreakerConfig(failures=2, cooldown=0.2, half_open_probes=2)
    replicas = [_breaker(redis_server, cfg) for _ in range(4)]
    try:
        assert replicas[0].record_failure() is False
        assert replicas[1].record_failure() is True  # the fleet's second failure opens it
        assert [r.acquire() for r in replicas] == [None] * 4
        time.sleep(0.25)
        permits = [r.acquire() for r in replicas for _ in range(3)]
        probes = [p for p in permits if p is not None]
        assert len(probes) == 2 and all(p.probe for p in probes)
        assert replicas[3].record_success(probes[0]) is True  # a probe's success closes it for everyone
        assert all(r.acquire() is not None for r in replicas)
    finally:
        for r in replicas:
            r.shared_state.close()


def test_redis_paused_costs_no_call(redis_server: RedisServer) -> None:
    with MockServer({"a": "openai", "b": "openai"}) as server:
        config = fleet_config(server, redis_server.url, failures=3, cooldown=30)
        config["state"]["timeout"] = 0.05
        with llmswitch.OpenAI(config=config) as client:
            client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
            redis_server.pause()
            try:
                start = time.monotonic()
                for _ in range(5):
                    client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
                elapsed = time.monotonic() - start
            finally:
                redis_server.resume()
        assert len(server.mount("a").requests) == 6  # all answered by the primary
        assert elapsed < 1.0  # one 50 ms timeout discovered the outage; the rest ran on local breakers
