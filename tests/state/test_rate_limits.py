"""A provider's rpm holds across the fleet: exactly ``rpm`` requests reach it per window; the rest
move to the route's next target, or get RateLimitError with Retry-After when there is none."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

import llmswitch
from llmswitch import errors
from llmswitch.testing import MockServer

from .conftest import RedisServer

MESSAGES = [{"role": "user", "content": "ping"}]


def config(server: MockServer, state: dict[str, Any], rpm: int) -> dict[str, Any]:
    return {
        "providers": {"a": {"type": "openai", "api_key": "sk-a", "base_url": server.base_url("a"), "rpm": rpm},
                      "b": {"type": "openai", "api_key": "sk-b", "base_url": server.base_url("b")}},
        "routes": {"chat": {"targets": ["a/gpt-4o", "b/gpt-4o-mini"]}},
        "state": state,
    }


def _calls(cfg: dict[str, Any], n: int, served: multiprocessing.Queue[dict[str, int]]) -> None:
    counts = {"a": 0, "b": 0}
    with llmswitch.OpenAI(config=cfg) as client:
        for _ in range(n):
            response = client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
            counts[llmswitch.route_info(response).provider] += 1  # type: ignore[union-attr]
    served.put(counts)


def test_4_processes_x_200_calls_admit_exactly_100_at_the_provider(redis_server: RedisServer) -> None:
    with MockServer({"a": "openai", "b": "openai"}) as server:
        cfg = config(server, {"backend": "redis", "url": redis_server.url, "timeout": 0.5}, rpm=100)
        ctx = multiprocessing.get_context("spawn")
        served: multiprocessing.Queue[dict[str, int]] = ctx.Queue()
        workers = [ctx.Process(target=_calls, args=(cfg, 200, served)) for _ in range(4)]
        for w in workers:
            w.start()
        results = [served.get(timeout=90) for _ in workers]
        for w in workers:
            w.join(30)
        served.close()
        served.join_thread()
        assert len(server.mount("a").requests) == 100  # per-process limits would let 400 through
        assert len(server.mount("b").requests) == 700
        assert sum(r["a"] for r in results) == 100 and sum(r["b"] for r in results) == 700


def test_without_another_target_the_caller_gets_429_with_retry_after() -> None:
    with MockServer({"a": "openai", "b": "openai"}) as server:
        cfg = config(server, {"backend": "memory"}, rpm=2)
        with llmswitch.OpenAI(config=cfg, max_retries=0) as client:
            for _ in range(2):
                client.chat.completions.create(model="a/gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
            with pytest.raises(errors.RateLimitError) as info:
                client.chat.completions.create(model="a/gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
        assert len(server.mount("a").requests) == 2
        assert info.value.status_code == 429 and "rpm limit" in str(info.value)
        assert 1 <= int(info.value.response.headers["retry-after"]) <= 60
