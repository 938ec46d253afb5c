"""Client keys and limits: 401 / 403 / 429 / 413 / 400, openai-shaped, and no secret anywhere."""

from __future__ import annotations

import time
from typing import Any

import httpx2
import openai
import pytest
from gw_harness import CLIENT_KEYS, UPSTREAM_SECRET, Gateway

from llmswitch.testing import MockServer

MESSAGES: list[Any] = [{"role": "user", "content": "a private prompt about zebras"}]


def _client(gateway: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)


def _post(gateway: Gateway, key: str | None, body: Any = None, **kwargs: Any) -> httpx2.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx2.post(gateway.base_url + "/chat/completions", headers=headers, timeout=30,
                       json=body if body is not None else {"model": "chat", "messages": MESSAGES}, **kwargs)


def test_missing_or_wrong_key_is_401(gateway: Gateway) -> None:
    assert _post(gateway, None).status_code == 401
    with _client(gateway, "gw-key-wrong") as client, pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="chat", messages=MESSAGES)
    assert caught.value.code == "invalid_api_key"
    assert httpx2.get(gateway.base_url + "/models", timeout=10).status_code == 401


def test_forbidden_model_is_403(gateway: Gateway) -> None:
    with _client(gateway, CLIENT_KEYS["narrow"]) as client, pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="chat", messages=MESSAGES)
    reply = httpx2.get(gateway.base_url + "/files", headers={"authorization": f"Bearer {CLIENT_KEYS['narrow']}"},
                       timeout=10)
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "passthrough_not_allowed"


def test_rpm_exhausted_is_429_with_retry_after(gateway: Gateway) -> None:
    if time.time() % 60 > 55:  # the window is the calendar minute: do not straddle it
        time.sleep(60 - time.time() % 60 + 0.1)
    with _client(gateway, CLIENT_KEYS["narrow"]) as client:
        for _ in range(3):
            client.chat.completions.create(model="limited", messages=MESSAGES)
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="limited", messages=MESSAGES)
    assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60
    assert "requests per minute" in caught.value.message


def test_budget_exhausted_is_429(gateway: Gateway) -> None:
    with _client(gateway, CLIENT_KEYS["budget"]) as client:
        client.chat.completions.create(model="metered", messages=MESSAGES)  # costs more than the budget
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="metered", messages=MESSAGES)
    assert "budget of 0.001 USD per day spent" in caught.value.message
    assert int(caught.value.response.headers["retry-after"]) <= 86400


def test_body_and_message_caps(gateway: Gateway, key: str) -> None:
    big = _post(gateway, key, {"model": "chat", "messages": [{"role": "user", "content": "x" * 70_000}]})
    assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"
    many = _post(gateway, key, {"model": "chat", "messages": MESSAGES * 51})
    assert many.status_code == 400 and many.json()["error"]["param"] == "messages"
    smuggled = _post(gateway, key, {"model": "chat", "messages": MESSAGES,
                                    "extra_headers": {"Authorization": "Bearer mine"}})
    assert smuggled.status_code == 400
    assert _post(gateway, key, content=b"{not json").status_code == 400


def test_client_credentials_never_reach_upstream(mock: MockServer, gateway: Gateway, key: str) -> None:
    assert _post(gateway, key).status_code == 200
    routed = mock.mount("primary").requests[-1]
    assert routed.headers["authorization"] == f"Bearer {UPSTREAM_SECRET}"
    passed = httpx2.get(gateway.base_url + "/files?purpose=batch", timeout=10,
                        headers={"authorization": f"Bearer {key}", "x-api-key": key, "api-key": key})
    assert passed.status_code == 404  # the mock does not serve /files: what matters is what it received
    forwarded = mock.mount("primary").requests[-1]
    assert forwarded.path == "/v1/files" and forwarded.query == {"purpose": "batch"}
    assert forwarded.headers["authorization"] == f"Bearer {UPSTREAM_SECRET}"
    assert key not in str(forwarded.headers)


def test_upstream_secret_echoed_in_an_error_is_masked(mock: MockServer, gateway: Gateway, key: str) -> None:
    mock.mount("primary").fail(f"500:message=upstream rejected {UPSTREAM_SECRET}*3")
    reply = _post(gateway, key)
    assert reply.status_code == 500
    assert "upstream rejected" in reply.text and UPSTREAM_SECRET not in reply.text


def test_no_key_secret_or_prompt_in_logs(gateway: Gateway) -> None:
    """Runs last in this module: every request above has been logged by now."""
    logs = gateway.logs()
    assert '"status": 401' in logs and '"status": 429' in logs  # the lines are there...
    for secret in (UPSTREAM_SECRET, *CLIENT_KEYS.values(), "zebras"):
        assert secret not in logs  # ...without keys, upstream secrets or prompts
