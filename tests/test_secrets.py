"""No secret ever appears in an exception message, repr, or log line."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest

import llmswitch
from llmswitch.config import load
from llmswitch.testing import MockServer

KEY = "sk-live-SECRETd41d8cd98f00b204e9800998ecf8427e"
OTHER = "tc3-SECRETKEY-0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def _texts(exc: BaseException) -> list[str]:
    out = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for attempt in getattr(exc, "attempts", []):
        out += [repr(attempt), str(attempt.error)]
    body = getattr(exc, "body", None)
    out.append(repr(body))
    return out


def _assert_clean(texts: list[str]) -> None:
    for text in texts:
        assert KEY not in text and OTHER not in text, text[:300]


@pytest.mark.parametrize("fault", ["401", "429:retry-after=0", "500", "400", "stall:seconds=2", "html"])
def test_errors_never_contain_keys(fault: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with MockServer({"a": "openai", "b": "openai"}) as server:
        config = {"providers": {"a": {"type": "openai", "api_key": KEY, "base_url": server.base_url("a")},
                                "b": {"type": "deepseek", "api_key": OTHER, "base_url": server.base_url("b")}},
                  "routes": {"r": {"targets": ["a/m", "b/m"], "timeouts": {"total": 0.5}}}}
        server.mount("a").fail(fault + "*5")
        server.mount("b").fail(fault + "*5")
        with llmswitch.OpenAI(config=config, sleep=lambda s: None) as client:
            with pytest.raises(Exception) as info:
                client.chat.completions.create(model="r", messages=[{"role": "user", "content": "x"}])
    _assert_clean(_texts(info.value))
    _assert_clean([r.getMessage() for r in caplog.records])


def test_config_reprs_never_contain_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", KEY)
    settings = load({"providers": {"a": {"type": "openai", "api_key": "${MY_KEY}"},
                                   "h": {"type": "azure", "api_key": OTHER, "base_url": "https://x.test"}}})
    texts: list[Any] = [repr(settings), str(settings), repr(settings.providers), repr(settings.providers["a"])]
    _assert_clean([str(t) for t in texts])
    assert settings.providers["a"].credential("api_key") == KEY  # the value is still usable


def test_config_errors_never_contain_keys() -> None:
    with pytest.raises(llmswitch.ConfigError) as info:
        load({"providers": {"a": {"type": "openai", "api_key": KEY, "bogus": OTHER}}})
    _assert_clean(_texts(info.value))
    assert "bogus" in str(info.value)


def test_secret_cannot_be_pickled() -> None:
    import pickle

    from llmswitch._secret import Secret

    with pytest.raises(TypeError):
        pickle.dumps(Secret(KEY))
