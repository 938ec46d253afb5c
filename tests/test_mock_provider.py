"""The built-in ``mock`` provider type: deterministic, configurable, scripted failures, no network."""

from __future__ import annotations

import socket

import pytest

import llmswitch


def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the mock provider must not open sockets")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_deterministic_reply_and_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_network(monkeypatch)
    config = {"providers": {"demo": {"type": "mock", "completion_tokens": 42}}}
    with llmswitch.OpenAI(config=config) as client:
        first = client.chat.completions.create(model="demo/mock-small", messages=[{"role": "user", "content": "a b"}])
        second = client.chat.completions.create(model="demo/mock-small", messages=[{"role": "user", "content": "a b"}])
    assert first.choices[0].message.content == second.choices[0].message.content == "[demo:mock-small] a b"
    assert first.usage is not None and first.usage.completion_tokens == 42
    info = llmswitch.route_info(first)
    assert info is not None and info.provider == "demo" and info.cost_cny is not None


def test_scripted_failure_then_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_network(monkeypatch)
    config = {"providers": {"flaky": {"type": "mock", "faults": ["503"]}, "steady": {"type": "mock"}},
              "routes": {"chat": {"targets": ["flaky/mock-small", "steady/mock-small"]}}}
    with llmswitch.OpenAI(config=config) as client:
        resp = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
        again = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    info = llmswitch.route_info(resp)
    assert info is not None and info.provider == "steady" and info.fallbacks == 1
    assert isinstance(info.attempts[0].error, llmswitch.InternalServerError)
    assert llmswitch.route_info(again).provider == "flaky"  # type: ignore[union-attr]  # fault used up


def test_mock_stream_and_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_network(monkeypatch)
    config = {"providers": {"slow": {"type": "mock", "latency": 0.05}}}
    with llmswitch.OpenAI(config=config) as client:
        chunks = list(client.chat.completions.create(model="slow/mock-large", stream=True,
                                                     messages=[{"role": "user", "content": "one two three"}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "[slow:mock-large] one two three"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert llmswitch.route_info(chunks[0]) is None  # chunks stay clean openai objects


async def test_async_mock_embeddings() -> None:
    async with llmswitch.AsyncOpenAI(config={"providers": {"m": {"type": "mock"}}}) as client:
        emb = await client.embeddings.create(model="m/mock-small", input=["x", "y", "x"])
    assert len(emb.data) == 3 and emb.data[0].embedding == emb.data[2].embedding
    assert emb.data[0].embedding != emb.data[1].embedding
