"""Two gateway replicas on one Redis count a client key's requests and spend as one."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import yaml

from llmswitch.testing import MockServer

from .conftest import RedisServer

sys.path.insert(0, str(Path(__file__).parent.parent / "gateway"))
from gw_harness import CLIENT_KEYS, Gateway, providers_file

MESSAGES = [{"role": "user", "content": "ping"}]


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with MockServer({"primary": "openai", "backup": "openai"}) as server:
        yield server


@pytest.fixture
def replicas(redis_server: RedisServer, mock: MockServer, tmp_path: Path) -> Iterator[tuple[Gateway, Gateway]]:
    if True:  # (kept flat: the mock server is its own fixture)
        path = providers_file(mock, tmp_path / "providers.yaml")
        config = yaml.safe_load(path.read_text())
        config["state"] = {"backend": "redis", "url": redis_server.url, "timeout": 0.5}
        path.write_text(yaml.safe_dump(config))
        a = Gateway(path, tmp_path / "a.log")
        try:
            b = Gateway(path, tmp_path / "b.log")
            try:
                yield a, b
            finally:
                b.stop()
        finally:
            a.stop()


def _client(gateway: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0, timeout=10)


def test_budget_and_rpm_hold_across_replicas(replicas: tuple[Gateway, Gateway]) -> None:
    a, b = replicas
    with _client(a, CLIENT_KEYS["budget"]) as on_a, _client(b, CLIENT_KEYS["budget"]) as on_b:
        on_a.chat.completions.create(model="metered", messages=MESSAGES)  # type: ignore[arg-type]  # spends it
        with pytest.raises(openai.RateLimitError) as caught:
            on_b.chat.completions.create(model="metered", messages=MESSAGES)  # type: ignore[arg-type]
    assert "budget of 0.001 USD per day spent" in caught.value.message
    if time.time() % 60 > 55:  # the rpm window is the calendar minute: do not straddle it
        time.sleep(60 - time.time() % 60 + 0.1)
    with _client(a, CLIENT_KEYS["narrow"]) as on_a, _client(b, CLIENT_KEYS["narrow"]) as on_b:
        for client in (on_a, on_b, on_a):  # rpm 3 in all
            client.chat.completions.create(model="limited", messages=MESSAGES)  # type: ignore[arg-type]
        with pytest.raises(openai.RateLimitError) as limited:
            on_b.chat.completions.create(model="limited", messages=MESSAGES)  # type: ignore[arg-type]
    assert "requests per minute" in limited.value.message
    assert 1 <= int(limited.value.response.headers["retry-after"]) <= 60


def test_a_conversation_started_on_a_continues_on_b(replicas: tuple[Gateway, Gateway], mock: MockServer) -> None:
    a, b = replicas
    with _client(a, CLIENT_KEYS["full"]) as on_a, _client(b, CLIENT_KEYS["full"]) as on_b:
        first = on_a.responses.create(model="chat", input="first question")
        second = on_b.responses.create(model="chat", input="second question", previous_response_id=first.id)
        assert on_b.responses.retrieve(first.id).output_text == first.output_text
    assert second.output_text
    sent = mock.mount("primary").requests[-1].json()["messages"]
    assert [m["content"] for m in sent if m["role"] == "user"] == ["first question", "second question"]
    assert any(m["role"] == "assistant" and m["content"] == first.output_text for m in sent)
