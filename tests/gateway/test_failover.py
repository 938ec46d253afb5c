"""Failover through the gateway has the client's behaviour: same target served, same attempts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import openai
import pytest
from gw_harness import Gateway, env

import llmswitch
from llmswitch.testing import MockServer

MESSAGES: list[Any] = [{"role": "user", "content": "fail over please"}]


@pytest.fixture
def direct(config_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[llmswitch.OpenAI]:
    for name, value in env().items():
        if name.startswith("GW_"):
            monkeypatch.setenv(name, value)
    with llmswitch.OpenAI(config=str(config_path), api_key="unused") as own:
        yield own


@pytest.fixture
def client(gateway: Gateway, key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0) as through:
        yield through


def _both(mock: MockServer, script: Callable[[], None], gateway_call: Callable[[], Any],
          direct_call: Callable[[], Any]) -> tuple[Any, Any]:
    script()
    through = gateway_call()
    for name in ("primary", "backup"):
        mock.mount(name).script.clear()
    script()
    return through, direct_call()


def test_primary_down(mock: MockServer, client: openai.OpenAI, direct: llmswitch.OpenAI) -> None:
    raw, own = _both(mock, lambda: None,
                     lambda: client.chat.completions.with_raw_response.create(model="failover-down", messages=MESSAGES),
                     lambda: direct.chat.completions.with_raw_response.create(model="failover-down", messages=MESSAGES))
    assert raw.headers["x-llmswitch-provider"] == own.headers["x-llmswitch-provider"] == "backup"
    assert raw.headers["x-llmswitch-attempts"] == own.headers["x-llmswitch-attempts"] == "2"
    assert raw.parse().choices[0].message.content == own.parse().choices[0].message.content


def test_429_storm(mock: MockServer, client: openai.OpenAI, direct: llmswitch.OpenAI) -> None:
    def storm() -> None:
        mock.mount("primary").fail("429:retry-after=0*5")
        mock.mount("backup").fail("429:retry-after=0")

    raw, own = _both(mock, storm,
                     lambda: client.chat.completions.with_raw_response.create(model="failover-429", messages=MESSAGES),
                     lambda: direct.chat.completions.with_raw_response.create(model="failover-429", messages=MESSAGES))
    assert raw.headers["x-llmswitch-provider"] == own.headers["x-llmswitch-provider"] == "backup"
    assert raw.headers["x-llmswitch-attempts"] == own.headers["x-llmswitch-attempts"] == "3"


def test_cut_stream_before_commit_falls_back(mock: MockServer, client: openai.OpenAI,
                                             direct: llmswitch.OpenAI) -> None:
    def text(stream: Any) -> str:
        return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    through, own = _both(
        mock, lambda: mock.mount("primary").fail("cut_stream:after=0"),
        lambda: text(client.chat.completions.create(model="cut-before", messages=MESSAGES, stream=True)),
        lambda: text(direct.chat.completions.create(model="cut-before", messages=MESSAGES, stream=True)))
    assert through == own
    assert through.startswith("[backup:")


def test_cut_stream_after_commit_raises(mock: MockServer, client: openai.OpenAI, direct: llmswitch.OpenAI) -> None:
    def partial(stream_call: Callable[[], Any], error: type[BaseException]) -> str:
        seen: list[str] = []

        def read() -> None:
            seen.extend(c.choices[0].delta.content or "" for c in stream_call() if c.choices)

        with pytest.raises(error, match=r"(?i)interrupted|ended"):
            read()
        return "".join(seen)

    through, own = _both(
        mock, lambda: mock.mount("primary").fail("cut_stream:after=2"),
        lambda: partial(lambda: client.chat.completions.create(model="cut-after", messages=MESSAGES, stream=True),
                        openai.APIError),
        lambda: partial(lambda: direct.chat.completions.create(model="cut-after", messages=MESSAGES, stream=True),
                        llmswitch.StreamInterruptedError))
    assert through == own
    assert through.startswith("[primary:")  # committed to the primary: no silent switch mid-answer


def test_all_targets_failed_is_the_last_status_with_attempts(mock: MockServer, gateway: Gateway, key: str) -> None:
    mock.mount("primary").fail("500")
    mock.mount("backup").fail("503")
    reply = httpx2.post(gateway.base_url + "/chat/completions", headers={"authorization": f"Bearer {key}"},
                        json={"model": "all-fail", "messages": MESSAGES}, timeout=30)
    assert reply.status_code == 503
    error = reply.json()["error"]
    assert error["code"] == "all_targets_failed"
    assert [(a["target"], a["status"]) for a in error["attempts"]] == [("primary/m-all", 500), ("backup/m-all", 503)]
    mock.mount("primary").fail("500")
    mock.mount("backup").fail("500")
    with openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0) as client, \
            pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="all-fail", messages=MESSAGES)


def test_connection_failure_last_is_502(mock: MockServer, gateway: Gateway, key: str) -> None:
    mock.mount("backup").fail("close*3")
    reply = httpx2.post(gateway.base_url + "/chat/completions", headers={"authorization": f"Bearer {key}"},
                        json={"model": "failover-down", "messages": MESSAGES}, timeout=30)
    assert reply.status_code == 502
    attempts = reply.json()["error"]["attempts"]
    assert attempts[0]["target"] == "down/m-down" and attempts[0]["kind"] == "connection"
    assert all(a["status"] == 502 for a in attempts)
