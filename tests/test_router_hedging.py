"""Hedging (``hedge_after``): a slow first byte starts the next target too; the first to answer wins
and the other is cancelled. Sync races on a small thread pool, async on tasks."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

import llmswitch
from llmswitch.testing import MockServer

CTX = ssl.create_default_context()
MESSAGES = [{"role": "user", "content": "race"}]
CASES = [pytest.param(mode, stream, id=f"{mode}-{'stream' if stream else 'plain'}")
         for mode in ("sync", "async") for stream in (False, True)]


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer({"primary": "openai", "backup": "openai"}) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(server: MockServer) -> None:
    for name in ("primary", "backup"):
        server.mount(name).script.clear()
        server.mount(name).requests.clear()


def config(server: MockServer, hedge_after: float = 0.05) -> dict[str, Any]:
    return {
        "providers": {name: {"type": "openai", "api_key": f"sk-{name}-0123456789abcdef",
                             "base_url": server.base_url(name)} for name in ("primary", "backup")},
        "routes": {"chat": {"targets": ["primary/gpt-4o", "backup/gpt-4o"], "hedge_after": hedge_after,
                            "timeouts": {"connect": 0.5, "first_token": 2, "read": 2, "total": 3}}},
    }


def call(mode: str, cfg: dict[str, Any], stream: bool) -> tuple[str, llmswitch.RouteInfo, float]:
    """(answer text, route info, seconds until the answer was complete)."""
    started = time.monotonic()
    if mode == "sync":
        with httpx2.Client(verify=CTX) as http, llmswitch.OpenAI(config=cfg, http_client=http) as client:
            response = client.chat.completions.create(model="chat", messages=MESSAGES, stream=stream)
            text = ("".join(c.choices[0].delta.content or "" for c in response if c.choices) if stream
                    else response.choices[0].message.content)
            info = llmswitch.route_info(response)
            assert info is not None
            return text, info, time.monotonic() - started

    async def main() -> tuple[str, llmswitch.RouteInfo, float]:
        async with httpx2.AsyncClient(verify=CTX) as http, llmswitch.AsyncOpenAI(config=cfg, http_client=http) as c:
            response = await c.chat.completions.create(model="chat", messages=MESSAGES, stream=stream)
            if stream:
                text = "".join([ch.choices[0].delta.content or "" async for ch in response if ch.choices])
            else:
                text = response.choices[0].message.content
            info = llmswitch.route_info(response)
            assert info is not None
            return text, info, time.monotonic() - started

    return asyncio.run(main())


@pytest.mark.parametrize(("mode", "stream"), CASES)
def test_a_slow_first_byte_starts_the_next_target_and_the_first_answer_wins(mode: str, stream: bool,
                                                                           server: MockServer) -> None:
    server.mount("primary").fail("stall:seconds=1")
    text, info, elapsed = call(mode, config(server), stream)

    assert text == "[backup:gpt-4o] race"
    assert [(a.target, a.kind) for a in info.attempts] == [("primary/gpt-4o", "cancelled"), ("backup/gpt-4o", None)]
    assert (info.hedges, info.fallbacks) == (1, 0)
    assert elapsed < 0.6  # not the primary's 1 s


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_stream_stalling_before_its_first_token_is_hedged_and_the_loser_aborted(mode: str,
                                                                                 server: MockServer) -> None:
    server.mount("primary").fail("stall:after=1:seconds=1")  # headers and role chunk, then silence
    text, info, elapsed = call(mode, config(server), True)

    assert text == "[backup:gpt-4o] race"
    assert info.reasons == [("primary/gpt-4o", "cancelled")]
    assert elapsed < 0.6


@pytest.mark.parametrize(("mode", "stream"), CASES)
def test_a_prompt_answer_starts_no_hedge(mode: str, stream: bool, server: MockServer) -> None:
    text, info, _ = call(mode, config(server, hedge_after=0.5), stream)

    assert text == "[primary:gpt-4o] race"
    assert info.hedges == 0
    assert len(server.mount("backup").requests) == 0


@pytest.mark.parametrize(("mode", "stream"), CASES)
def test_a_fast_failure_falls_back_as_usual(mode: str, stream: bool, server: MockServer) -> None:
    server.mount("primary").fail("500")
    text, info, _ = call(mode, config(server, hedge_after=0.5), stream)

    assert text == "[backup:gpt-4o] race"
    assert (info.hedges, info.fallbacks) == (0, 1)


@pytest.mark.parametrize(("mode", "stream"), CASES)
def test_when_the_hedge_fails_the_slow_primary_still_serves(mode: str, stream: bool, server: MockServer) -> None:
    server.mount("primary").fail("stall:seconds=0.3")
    server.mount("backup").fail("503")
    text, info, elapsed = call(mode, config(server), stream)

    assert text == "[primary:gpt-4o] race"
    assert info.reasons == [("backup/gpt-4o", "server_error")]
    assert info.provider == "primary" and elapsed < 0.9


def test_a_lost_hedge_does_not_count_against_its_target(server: MockServer) -> None:
    cfg = config(server)
    cfg["routes"]["chat"]["circuit_breaker"] = {"failures": 1}
    server.mount("primary").fail("stall:seconds=1")
    with httpx2.Client(verify=CTX) as http, llmswitch.OpenAI(config=cfg, http_client=http) as client:
        response = client.chat.completions.create(model="chat", messages=MESSAGES)
        assert llmswitch.route_info(response).reasons == [("primary/gpt-4o", "cancelled")]  # type: ignore[union-attr]
        assert client.router.breaker("primary/gpt-4o", "chat").state == "closed"


async def test_a_cancelled_async_hedge_does_not_count_against_its_target(server: MockServer) -> None:
    cfg = config(server)
    cfg["routes"]["chat"]["circuit_breaker"] = {"failures": 1}
    server.mount("primary").fail("stall:seconds=1")
    async with httpx2.AsyncClient(verify=CTX) as http, llmswitch.AsyncOpenAI(config=cfg, http_client=http) as client:
        response = await client.chat.completions.create(model="chat", messages=MESSAGES, stream=True)
        await response.close()
        assert response.route_info.reasons == [("primary/gpt-4o", "cancelled")]
        assert client.router.breaker("primary/gpt-4o", "chat").state == "closed"
