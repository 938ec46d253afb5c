"""Streams and their commit point, over loopback HTTP, sync and async: what is held back before
the first token, what an interruption carries, and which deadline governs which silence."""

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
from llmswitch.testing.scenario import split_words

CTX = ssl.create_default_context()
KEYS = {"primary": "sk-StReAmPrImArY0123456789abcdefABCDEF", "backup": "sk-StReAmBaCkUp9876543210fedcbaFEDCBA"}
PROMPT = "hello there world"
MESSAGES = [{"role": "user", "content": PROMPT}]
MODES = ("sync", "async")
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer({"primary": "openai", "backup": "openai"}) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(server: MockServer) -> None:
    for name in ("primary", "backup"):
        server.mount(name).script.clear()
        server.mount(name).requests.clear()


def config(server: MockServer, **timeouts: float) -> dict[str, Any]:
    limits = {"connect": 0.5, "first_token": 0.4, "idle": 0.3, "total": 3.0, **timeouts}
    return {
        "providers": {name: {"type": "openai", "api_key": KEYS[name], "base_url": server.base_url(name)}
                      for name in ("primary", "backup")},
        "routes": {"chat": {"targets": ["primary/gpt-4o", "backup/gpt-4o"], "timeouts": limits}},
    }


def consume(mode: str, cfg: dict[str, Any], *, pause: float = 0.0, hooks: dict[str, Any] | None = None,
            **params: Any) -> tuple[list[Any], Any, BaseException | None]:
    """Stream one call to its end (pausing ``pause`` s after the first chunk, as a slow caller would).
    Returns (chunks, the stream object or None, the exception raised or None)."""
    chunks: list[Any] = []
    if mode == "sync":
        with httpx2.Client(verify=CTX) as http, \
                llmswitch.OpenAI(config=cfg, http_client=http, sleep=lambda s: None, hooks=hooks) as client:
            stream = None
            try:
                stream = client.chat.completions.create(model="chat", messages=MESSAGES, stream=True, **params)
                for chunk in stream:
                    chunks.append(chunk)
                    if pause and len(chunks) == 1:
                        time.sleep(pause)
            except Exception as exc:
                return chunks, stream, exc
            return chunks, stream, None

    async def main() -> tuple[list[Any], Any, BaseException | None]:
        async def no_sleep(seconds: float) -> None:
            return None

        async with httpx2.AsyncClient(verify=CTX) as http, \
                llmswitch.AsyncOpenAI(config=cfg, http_client=http, sleep=no_sleep, hooks=hooks) as client:
            stream = None
            try:
                stream = await client.chat.completions.create(model="chat", messages=MESSAGES, stream=True,
                                                              **params)
                async for chunk in stream:
                    chunks.append(chunk)
                    if pause and len(chunks) == 1:
                        await asyncio.sleep(pause)
            except Exception as exc:
                return chunks, stream, exc
            return chunks, stream, None

    return asyncio.run(main())


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def pieces(mount: str) -> list[str]:
    return split_words(f"[{mount}:gpt-4o] {PROMPT}")


@pytest.mark.parametrize("mode", MODES)
def test_chunks_before_the_first_token_are_held_back_so_a_cut_there_is_invisible(mode: str,
                                                                                server: MockServer) -> None:
    server.mount("primary").fail("cut_stream:after=1")  # the role chunk arrived, then the connection died
    chunks, stream, error = consume(mode, config(server))

    assert error is None
    assert [c.choices[0].delta.role for c in chunks if c.choices].count("assistant") == 1
    assert text_of(chunks) == "".join(pieces("backup"))
    assert stream.route_info.reasons == [("primary/gpt-4o", "connection")]


@pytest.mark.parametrize("mode", MODES)
def test_an_interruption_carries_the_partial_tool_calls(mode: str, server: MockServer) -> None:
    server.mount("primary").fail("cut_stream:after=3")  # role, tool call head, half of its arguments
    _, _, error = consume(mode, config(server), tools=TOOLS)

    assert isinstance(error, llmswitch.StreamInterruptedError)
    [call] = error.partial_tool_calls
    assert call["id"] == "call_0_lookup" and call["function"]["name"] == "lookup"
    full = f'{{"query": "{PROMPT}"}}'
    assert call["function"]["arguments"] == full[: len(full) // 2]
    assert error.partial_text == ""
    assert len(server.mount("backup").requests) == 0


@pytest.mark.parametrize("mode", MODES)
def test_first_token_deadline_spans_reads_not_each_read(mode: str, server: MockServer) -> None:
    # every event 0.25 s apart: no single read waits longer than idle (0.3 s), but the first
    # token (second event) comes at 0.5 s, after the 0.4 s first_token deadline
    server.mount("primary").fail("slow:seconds=0.25")
    started = time.monotonic()
    chunks, stream, error = consume(mode, config(server, first_token=0.4, idle=0.3))

    assert error is None
    assert text_of(chunks) == "".join(pieces("backup"))
    assert stream.route_info.reasons == [("primary/gpt-4o", "timeout")]
    assert stream.route_info.attempts[0].elapsed == pytest.approx(0.4, abs=0.15)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("mode", MODES)
def test_the_total_deadline_interrupts_a_trickle_that_never_stalls(mode: str, server: MockServer) -> None:
    server.mount("primary").fail("slow:seconds=0.1")  # ~7 events: 0.7 s in all
    started = time.monotonic()
    chunks, _, error = consume(mode, config(server, connect=0.2, first_token=0.3, idle=0.3, total=0.45))

    assert isinstance(error, llmswitch.StreamInterruptedError)
    assert isinstance(error.__cause__, llmswitch.APITimeoutError)
    assert "total deadline" in str(error.__cause__)
    assert error.partial_text == text_of(chunks) != ""
    assert time.monotonic() - started < 0.7


@pytest.mark.parametrize("mode", MODES)
def test_time_the_caller_spends_on_a_chunk_is_not_idle_time(mode: str, server: MockServer) -> None:
    chunks, _, error = consume(mode, config(server, idle=0.1), pause=0.25)

    assert error is None
    assert text_of(chunks) == "".join(pieces("primary"))


@pytest.mark.parametrize("mode", MODES)
def test_a_connection_reset_after_the_finish_reason_is_still_an_interruption(mode: str,
                                                                            server: MockServer) -> None:
    server.mount("primary").fail(f"cut_stream:after={len(pieces('primary')) + 2}")  # all but [DONE], then a reset
    _, _, error = consume(mode, config(server))
    # as with openai's client, a connection reset is an error even after the finish reason
    assert isinstance(error, llmswitch.StreamInterruptedError)
    assert error.partial_text == "".join(pieces("primary"))


@pytest.mark.parametrize("mode", MODES)
def test_in_band_errors_are_typed_and_named(mode: str, server: MockServer) -> None:
    server.mount("primary").fail("stream_error:after=3:error=context_window:status=400")
    _, _, error = consume(mode, config(server))

    assert isinstance(error, llmswitch.StreamInterruptedError)
    cause = error.__cause__
    assert isinstance(cause, llmswitch.ContextWindowExceededError)
    assert (cause.provider, cause.model) == ("primary", "gpt-4o")  # type: ignore[attr-defined]
    assert error.partial_text == "".join(pieces("primary")[:2])


@pytest.mark.parametrize("mode", MODES)
def test_an_interruption_reaches_on_failure_not_on_success(mode: str, server: MockServer) -> None:
    seen: list[Any] = []
    server.mount("primary").fail("cut_stream:after=3")
    _, _, error = consume(mode, config(server), hooks={"on_failure": lambda info, exc: seen.append(exc),
                                                       "on_success": lambda info: seen.append("success")})
    assert seen == [error]
    assert error.route_info.provider == "primary"  # type: ignore[union-attr]
    assert error.route_info.latency is not None  # type: ignore[union-attr]


def test_an_interruption_counts_against_the_target(server: MockServer) -> None:
    cfg = config(server)
    cfg["routes"]["chat"]["circuit_breaker"] = {"failures": 2}
    server.mount("primary").fail("cut_stream:after=3*2")
    with httpx2.Client(verify=CTX) as http, llmswitch.OpenAI(config=cfg, http_client=http) as client:
        for expected in ("closed", "open"):
            stream = client.chat.completions.create(model="chat", messages=MESSAGES, stream=True)
            with pytest.raises(llmswitch.StreamInterruptedError):
                list(stream)
            assert client.router.breaker("primary/gpt-4o", "chat").state == expected
        stream = client.chat.completions.create(model="chat", messages=MESSAGES, stream=True)
        assert text_of(list(stream)) == "".join(pieces("backup"))


def test_closing_a_stream_early_releases_its_connection(server: MockServer) -> None:
    with httpx2.Client(verify=CTX) as http, llmswitch.OpenAI(config=config(server), http_client=http) as client:
        stream = client.chat.completions.create(model="chat", messages=MESSAGES, stream=True)
        with stream:
            first = next(iter(stream))
        assert first.choices[0].delta.role == "assistant"
        assert stream.response.is_closed
        again = client.chat.completions.create(model="chat", messages=MESSAGES)  # the pool is not exhausted
        assert again.choices[0].message.content == "".join(pieces("primary"))


async def test_closing_an_async_stream_early_releases_its_connection(server: MockServer) -> None:
    async with httpx2.AsyncClient(verify=CTX) as http, \
            llmswitch.AsyncOpenAI(config=config(server), http_client=http) as client:
        stream = await client.chat.completions.create(model="chat", messages=MESSAGES, stream=True)
        async with stream:
            async for _ in stream:
                break
        assert stream.response.is_closed
