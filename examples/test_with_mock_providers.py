"""Testing an app that uses llmswitch, with mock providers instead of real ones.

Three ways, from lightest to most realistic:

- ``type: mock`` providers: in-process, no sockets; options ``latency``, ``completion_tokens``
  and ``faults`` (one scripted failure per request, e.g. ``"429:retry-after=0"``).
- ``MockServer``: a real loopback HTTP server speaking a vendor's protocol (OpenAI, Anthropic,
  …), with fault injection and a log of what each mount received.
- the ``llmswitch_mock`` pytest fixture (installed with llmswitch): a MockServer with one mount per
  protocol, started and stopped for you.

Run it with ``pytest examples/test_with_mock_providers.py``. It sits outside ``tests/`` (the
project's ``testpaths``), so the project's own test run does not collect it; ``tests/test_examples.py``
runs it once, in a subprocess, like the other examples.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

import llmswitch
from llmswitch.testing import MockServer

# -- the app under test ----------------------------------------------------------------------------

def answer(client: llmswitch.OpenAI, question: str, model: str = "chat") -> str:
    """App code: one question, one answer; a rate limit becomes a polite message."""
    try:
        response = client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}])
    except openai.RateLimitError:
        return "busy, try again later"
    return response.choices[0].message.content or ""


# -- 1. in-process mock providers ------------------------------------------------------------------

def test_in_process_mock_provider() -> None:
    with llmswitch.OpenAI(config={"providers": {"fake": {"type": "mock", "completion_tokens": 7}}}) as client:
        response = client.chat.completions.create(model="fake/any-model",
                                                  messages=[{"role": "user", "content": "hi"}])
    assert response.choices[0].message.content == "[fake:any-model] hi"  # deterministic: tag, model, prompt
    assert response.usage is not None and response.usage.completion_tokens == 7


def test_scripted_rate_limit_reaches_the_app() -> None:
    config = {"providers": {"fake": {"type": "mock", "faults": ["429:retry-after=0*3"]}}}
    with llmswitch.OpenAI(config=config, max_retries=0) as client:
        for _ in range(3):
            assert answer(client, "hi", model="fake/m") == "busy, try again later"
        assert answer(client, "hi", model="fake/m") == "[fake:m] hi"  # the script ran out


# -- 2. a loopback server speaking real protocols ----------------------------------------------------

@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer({"primary": "openai", "backup": "anthropic"}) as srv:
        yield srv


def _config(server: MockServer) -> dict[str, Any]:
    return {
        "providers": {
            "primary": {"type": "openai", "api_key": "sk-test", "base_url": server.base_url("primary")},
            "backup": {"type": "anthropic", "api_key": "sk-ant-test", "base_url": server.base_url("backup")},
        },
        "routes": {"chat": {"targets": ["primary/gpt-4o-mini", "backup/claude-3-5-haiku-latest"]}},
    }


def test_failover_to_the_backup(server: MockServer) -> None:
    server.mount("primary").fail("500")
    with llmswitch.OpenAI(config=_config(server)) as client:
        assert answer(client, "hello") == "[backup:claude-3-5-haiku-latest] hello"
        assert answer(client, "again") == "[primary:gpt-4o-mini] again"  # the primary is healthy again
    sent = server.mount("backup").requests[0]
    assert sent.path == "/v1/messages"  # Anthropic's own API, not OpenAI's
    assert sent.json()["messages"] == [{"role": "user", "content": "hello"}]


def test_a_cut_stream_is_an_interruption_with_the_partial_text(server: MockServer) -> None:
    server.mount("primary").fail("cut_stream:after=3")
    received: list[str] = []

    def read_stream(client: llmswitch.OpenAI) -> None:
        stream = client.chat.completions.create(
            model="primary/gpt-4o-mini", messages=[{"role": "user", "content": "one two three four five"}],
            stream=True)
        for chunk in stream:
            if chunk.choices:
                received.append(chunk.choices[0].delta.content or "")

    with llmswitch.OpenAI(config=_config(server)) as client:
        with pytest.raises(llmswitch.StreamInterruptedError) as caught:
            read_stream(client)
    assert caught.value.partial_text == "".join(received) != ""


# -- 3. the pytest fixture that comes with llmswitch -------------------------------------------------

def test_with_the_llmswitch_mock_fixture(llmswitch_mock: MockServer) -> None:
    llmswitch_mock.mount("openai").fail("429:retry-after=0")
    with llmswitch.OpenAI(api_key="sk-test", base_url=llmswitch_mock.base_url("openai")) as client:
        assert answer(client, "hi", model="gpt-4o-mini") == "[openai:gpt-4o-mini] hi"  # retried, like openai
    assert len(llmswitch_mock.mount("openai").requests) == 2
