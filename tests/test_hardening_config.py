"""Issue #14: hostile or broken providers files get one clear ConfigError naming file, line and field."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import llmswitch
from llmswitch._lines import MAX_EXPANDED
from llmswitch.config import load


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LLMSWITCH_CONFIG", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def write(tmp_path: Path, text: str | bytes, name: str = "providers.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def refused(source: Any) -> str:
    with pytest.raises(llmswitch.ConfigError) as info:
        load(source)
    return str(info.value)


BOMB = "\n".join([
    "a: &a [x, x, x, x, x, x, x, x, x]",
    *(f"{b}: &{b} [*{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}]"
      for a, b in zip("abcdefgh", "bcdefghi", strict=True)),
    "providers: *i",
])


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    assert len(BOMB) < 600  # 9^9 values once expanded, from a few hundred bytes
    path = write(tmp_path, BOMB)
    started = time.monotonic()
    message = refused(path)
    assert time.monotonic() - started < 1.0
    assert f"{path}:" in message and f"more than {MAX_EXPANDED}" in message


def test_an_alias_inside_its_own_value_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "providers: {m: {type: mock}}\nx-loop: &loop {again: *loop}\n")
    message = refused(path)
    assert f"{path}:2:" in message and "refers to the value that contains it" in message


def test_modest_aliases_still_work(tmp_path: Path) -> None:
    path = write(tmp_path, "defaults: {timeouts: &limits {total: 30, connect: 2}}\n"
                           "providers: {m: {type: mock}}\n"
                           "routes: {r: {targets: [m/x], timeouts: *limits}}\n")
    timeouts = load(path).config.routes["r"].timeouts
    assert timeouts is not None and (timeouts.total, timeouts.connect) == (30, 2)


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"providers:\n  m:\n    type: mock  # caf\xe9\n")
    message = refused(path)
    assert f"{path}:3:" in message and "UTF-8" in message


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n"])
def test_an_empty_file_is_an_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    assert f"{path}:1:" in refused(path)


@pytest.mark.parametrize(("text", "name"), [("- a\n- b\n", "providers.yaml"), ("[1, 2]", "providers.json"),
                                            ('"text"', "providers.json")])
def test_a_top_level_that_is_not_a_mapping_is_an_error(tmp_path: Path, text: str, name: str) -> None:
    path = write(tmp_path, text, name)
    message = refused(path)
    assert f"{path}:1:" in message and "mapping" in message


@pytest.mark.parametrize(("snippet", "field"), [
    ("retry: {max_attempts: true}", "defaults.retry.max_attempts"),
    ("timeouts: {total: .inf}", "defaults.timeouts.total"),
    ("timeouts: {connect: .nan}", "defaults.timeouts.connect"),
    ("retry: {backoff: {max: .inf}}", "defaults.retry.backoff.max"),
    ("retry: {max_wait: .inf}", "defaults.retry.max_wait"),
    ("circuit_breaker: {failures: false}", "defaults.circuit_breaker.failures"),
])
def test_numbers_must_be_finite_and_of_the_right_type(tmp_path: Path, snippet: str, field: str) -> None:
    path = write(tmp_path, f"providers: {{m: {{type: mock}}}}\ndefaults:\n  {snippet}\n")
    message = refused(path)
    assert f"{path}:3: {field}" in message


def test_per_provider_limits_are_checked_too(tmp_path: Path) -> None:
    path = write(tmp_path, "providers:\n  m:\n    type: mock\n    max_response_bytes: true\n")
    assert f"{path}:4: providers.m.max_response_bytes" in refused(path)
    ok = load({"providers": {"m": {"type": "mock", "max_response_bytes": 1024}},
               "defaults": {"retry": {"max_wait": 5}, "timeouts": {"total": None}}})
    assert ok.providers["m"].max_response_bytes == 1024
    assert ok.config.defaults.retry.max_wait == 5 and ok.config.defaults.timeouts.total is None


def test_quota_and_its_old_name_are_fallback_classes() -> None:
    settings = load({"providers": {"m": {"type": "mock"}},
                     "routes": {"r": {"targets": ["m/x"], "fallback_on": ["quota", "billing"]}}})
    assert settings.config.routes["r"].fallback_on == ("quota", "billing")
