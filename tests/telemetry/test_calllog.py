"""The per-call JSON log record: one per call at INFO, with no secret and no content."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx2
import pytest

import llmswitch
from llmswitch.testing import MockServer

KEY = "sk-CcCcCcCc5555666677778888999900001111"
MESSAGES = [{"role": "user", "content": "a private question"}]


@pytest.fixture
def server() -> Any:
    with MockServer({"a": "openai", "b": "openai"}) as srv:
        yield srv


def config(server: MockServer) -> dict[str, Any]:
    return {"providers": {name: {"type": "openai", "api_key": KEY, "base_url": server.base_url(name)}
                          for name in ("a", "b")},
            "routes": {"chat": {"targets": ["a/gpt-4o", "b/gpt-4o-mini"]}}}


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "llmswitch.calls"]


def test_one_record_per_call_with_target_attempts_tokens_and_cost(server: MockServer, http: httpx2.Client,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="llmswitch.calls")
    server.mount("a").fail("500")
    with llmswitch.OpenAI(config=config(server), http_client=http) as client:
        response = client.chat.completions.create(model="chat", messages=MESSAGES)
        stream = client.chat.completions.create(model="chat", messages=MESSAGES, stream=True)
        list(stream)
    first, second = records(caplog)
    record = json.loads(first.getMessage())
    assert record == first.llmswitch  # type: ignore[attr-defined]
    assert response.usage is not None
    assert (record["route"], record["target"], record["outcome"], record["fallbacks"]) == (
        "chat", "b/gpt-4o-mini", "ok", 1)
    assert [(a["target"], a["kind"]) for a in record["attempts"]] == [("a/gpt-4o", "server_error"),
                                                                      ("b/gpt-4o-mini", None)]
    assert record["usage"]["completion_tokens"] == response.usage.completion_tokens
    assert record["cost_usd"] > 0 and record["latency"] >= 0
    assert json.loads(second.getMessage())["first_token_latency"] is not None
    assert KEY not in caplog.text and "private question" not in caplog.text


def test_a_failed_call_is_logged_by_class_and_kind_only(server: MockServer, http: httpx2.Client,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="llmswitch.calls")
    server.mount("a").fail("400")
    with llmswitch.OpenAI(config=config(server), http_client=http) as client:
        with pytest.raises(llmswitch.BadRequestError):
            client.chat.completions.create(model="a/gpt-4o", messages=MESSAGES)
    (only,) = records(caplog)
    record = json.loads(only.getMessage())
    assert (record["outcome"], record["error"], record["error_kind"], record["target"]) == (
        "error", "BadRequestError", "bad_request", None)


def test_nothing_is_built_when_nobody_listens(server: MockServer, http: httpx2.Client,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="llmswitch.calls")
    with llmswitch.OpenAI(config=config(server), http_client=http) as client:
        client.chat.completions.create(model="chat", messages=MESSAGES)
    assert records(caplog) == []
