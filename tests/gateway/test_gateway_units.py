"""The gateway's config section and its limit rules, without a server."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from llmswitch.config import load
from llmswitch.errors import ConfigError
from llmswitch.gateway.keys import KeyRing, bearer
from llmswitch.gateway.limits import Limiter, MemoryCounters, window
from llmswitch.router import RouteInfo

BASE = """\
providers:
  p: {type: openai, base_url: "http://127.0.0.1:9/v1", api_key: k}
routes:
  chat: {targets: [p/m]}
gateway:
  keys:
"""


def _load(tmp_path: Path, keys: str) -> object:
    path = tmp_path / "providers.yaml"
    path.write_text(BASE + keys, encoding="utf-8")
    return load(path)


def test_keys_errors_name_file_line_and_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_KEY", raising=False)
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, "    a: {key: plain-text-key}\n"
                        "    b: {key: \"${NOPE_KEY}\"}\n"
                        "    c: {sha256: abc}\n"
                        "    d: {sha256: " + "a" * 64 + ", rpm: -1}\n")
    text = str(caught.value)
    assert f"{tmp_path / 'providers.yaml'}:7: gateway.keys.a.key: give the key as ${{ENV_VAR}}" in text
    assert ":8: gateway.keys.b: key: empty (the environment variable it names is unset or empty)" in text
    assert ":9: gateway.keys.c: sha256: must be 64 hex digits" in text
    assert ":10: gateway.keys.d.rpm: Input should be greater than 0" in text
    assert "plain-text-key" not in text


def test_unknown_routes_and_models_in_a_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A_KEY", "secret-a")
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, "    a:\n      key: ${A_KEY}\n      routes: [chat, nope]\n      models: [q/m]\n")
    assert ":9: gateway.keys.a.routes.1: unknown route 'nope'" in str(caught.value)
    assert ":10: gateway.keys.a.models.0: 'q/m' is not 'provider/model'" in str(caught.value)


def test_only_the_digest_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A_KEY", "secret-a")
    settings = _load(tmp_path, "    a: {key: \"${A_KEY}\", routes: [chat]}\n")
    spec = settings.config.gateway.keys["a"]  # type: ignore[attr-defined]
    assert spec.sha256 == hashlib.sha256(b"secret-a").hexdigest()
    assert "secret-a" not in repr(settings.config.model_dump())  # type: ignore[attr-defined]
    ring = KeyRing(settings.config.gateway.keys)  # type: ignore[attr-defined]
    client = ring.authenticate("secret-a")
    assert client is not None and client.name == "a" and client.allows("chat") and not client.allows("p/m")
    assert ring.authenticate("secret-b") is None and ring.authenticate(None) is None
    assert bearer("Bearer  tok ") == "tok" and bearer("Basic x") is None and bearer(None, "az") == "az"


def test_windows_end_at_the_minute_day_and_month() -> None:
    now = dt.datetime(2026, 12, 31, 23, 59, 30, tzinfo=dt.UTC).timestamp()
    assert window("minute", now).ends == now + 30
    assert window("day", now).ends == now + 30
    assert window("month", now).ends == now + 30
    assert window("month", now).key == "M2026-12"


async def test_limiter_counts_tokens_and_spend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A_KEY", "secret-a")
    settings = _load(tmp_path, "    a: {key: \"${A_KEY}\", tpm: 100, budget: {amount: 1, currency: CNY, per: month}}\n")
    client = KeyRing(settings.config.gateway.keys).authenticate("secret-a")  # type: ignore[attr-defined]
    assert client is not None
    clock = [dt.datetime(2026, 5, 10, 12, 0, 0, tzinfo=dt.UTC).timestamp()]
    limiter = Limiter(MemoryCounters(lambda: clock[0]), lambda: clock[0])
    assert await limiter.admit(client) is None
    await limiter.record(client, RouteInfo("chat", usage={"total_tokens": 100}, cost_cny=0.5))
    refused = await limiter.admit(client)
    assert refused is not None and "tokens per minute" in refused.message and refused.retry_after == 60
    clock[0] += 60
    assert await limiter.admit(client) is None  # a new minute
    await limiter.record(client, RouteInfo("chat", usage={"total_tokens": 1}, cost_cny=0.6))
    refused = await limiter.admit(client)
    assert refused is not None and "budget of 1 CNY per month" in refused.message
