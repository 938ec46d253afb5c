"""Two gateway replicas on one Redis count a client key's requests and spend as one."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

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


def test_a_redis_outage_is_counted_and_warned_once(replicas: tuple[Gateway, Gateway], redis_server: RedisServer,
                                                   tmp_path: Path) -> None:
    a, _ = replicas
    with _client(a, CLIENT_KEYS["full"]) as on_a:
        on_a.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
        redis_server.stop()
        for _ in range(3):  # every call still answered
            on_a.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
    scraped = httpx2.get(a.url + "/metrics", timeout=10).text
    fallbacks = next(s.value for f in text_string_to_metric_families(scraped) for s in f.samples
                     if s.name == "llmswitch_state_fallbacks_total")
    assert fallbacks >= 3  # each call's key limits and admission at least
    assert (tmp_path / "a.log").read_text().count("shared state unavailable") == 1
