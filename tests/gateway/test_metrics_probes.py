"""/metrics parses as Prometheus exposition and counts what happened; /health and /ready answer."""

from __future__ import annotations

from typing import Any

import httpx2
from gw_harness import Gateway
from prometheus_client.parser import text_string_to_metric_families

from llmswitch.testing import MockServer


def _samples(gateway: Gateway) -> list[Any]:
    reply = httpx2.get(gateway.url + "/metrics", timeout=10)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    return [s for family in text_string_to_metric_families(reply.text) for s in family.samples]


def _value(samples: list[Any], name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def test_metrics_count_the_requests_made(mock: MockServer, gateway: Gateway, key: str) -> None:
    where = {"route": "counted", "provider": "backup", "model": "counted"}
    before = _samples(gateway)
    usage = {"prompt_tokens": 0, "completion_tokens": 0}
    for _ in range(3):
        reply = httpx2.post(gateway.base_url + "/chat/completions", headers={"authorization": f"Bearer {key}"},
                            json={"model": "counted", "messages": [{"role": "user", "content": "count me"}]},
                            timeout=30)
        assert reply.status_code == 200
        for name in usage:
            usage[name] += reply.json()["usage"][name]
    mock.mount("backup").fail("500*3")
    failed = httpx2.post(gateway.base_url + "/chat/completions", headers={"authorization": f"Bearer {key}"},
                         json={"model": "counted", "messages": [{"role": "user", "content": "x"}]}, timeout=30)
    assert failed.status_code == 500
    after = _samples(gateway)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("llmswitch_requests_total", **where, status="200") == 3
    assert grew("llmswitch_requests_total", **where, status="500") == 1
    assert grew("llmswitch_errors_total", **where, kind="server_error") == 1
    assert grew("llmswitch_attempts_total", provider="backup", model="counted", outcome="server_error") == 3
    assert grew("llmswitch_retries_total", **where) == 2
    assert grew("llmswitch_request_duration_seconds_count", **where) == 3
    assert grew("llmswitch_tokens_total", **where, direction="in") == usage["prompt_tokens"] > 0
    assert grew("llmswitch_tokens_total", **where, direction="out") == usage["completion_tokens"] > 0
    assert _value(after, "llmswitch_circuit_state", route="counted") in (0.0, 2.0)


def test_health_and_ready(gateway: Gateway) -> None:
    assert httpx2.get(gateway.url + "/health", timeout=10).json() == {"status": "ok"}
    ready = httpx2.get(gateway.url + "/ready", timeout=10)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
