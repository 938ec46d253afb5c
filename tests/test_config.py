"""The providers file: every bad input is an error at load time naming file, line and field — in
YAML, TOML and JSON alike. Each case is one Python dict rendered to all three formats; the line
expected is found in the rendered text, so the test checks where the loader points."""

from __future__ import annotations

import copy
import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

import llmswitch
from llmswitch.config import load

FORMATS = ("yaml", "toml", "json")
SECRET = "sk-CoNfIgTeStSeCrEt0123456789abcdefXYZ"


def base() -> dict[str, Any]:
    return {
        "providers": {
            "a": {"type": "openai", "api_key": SECRET, "base_url": "http://127.0.0.1:9/a/v1"},
            "b": {"type": "deepseek", "api_key": "sk-other-0123456789"},
        },
        "routes": {"chat": {"targets": ["a/gpt-4o", {"target": "b/deepseek-chat", "weight": 2}]}},
    }


# -- rendering one dict three ways ------------------------------------------------------------------

def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def to_toml(data: dict[str, Any]) -> str:
    lines: list[str] = []

    def table(prefix: tuple[str, ...], node: dict[str, Any]) -> None:
        simple = {k: v for k, v in node.items() if not isinstance(v, dict)}
        nested = {k: v for k, v in node.items() if isinstance(v, dict)}
        if prefix and (simple or not nested):
            lines.append("[" + ".".join(_toml_key(p) for p in prefix) + "]")
        lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in simple.items())
        for key, child in nested.items():
            table((*prefix, key), child)

    table((), data)
    return "\n".join(lines) + "\n"


def render(fmt: str, data: dict[str, Any]) -> str:
    if fmt == "yaml":
        return yaml.safe_dump(data, sort_keys=False)
    if fmt == "json":
        return json.dumps(data, indent=2)
    return to_toml(data)


def write(tmp_path: Path, fmt: str, text: str) -> Path:
    path = tmp_path / f"providers.{fmt}"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(fmt: str, text: str, anchors: list[str]) -> int:
    """The line of the last anchor, each anchor searched from the previous one's line on (a repeated
    anchor: from just after the previous match). An anchor is a key as ``fmt`` writes keys or,
    prefixed with '=', a literal value."""
    pos = 0
    for index, anchor in enumerate(anchors):
        if anchor.startswith("="):
            pattern = re.escape(anchor[1:])
        elif fmt == "yaml":
            pattern = rf"^\s*(- )?{re.escape(anchor)}:"
        elif fmt == "json":
            pattern = rf'"{re.escape(anchor)}"\s*:'
        else:
            key = re.escape(anchor)
            pattern = rf"(^\[.*\b{key}\b.*\]$)|(^\s*{key}\s*=)|([{{,]\s*{key} =)"
        found = re.compile(pattern, re.MULTILINE).search(text, pos)
        if found is None:
            raise AssertionError(f"{anchor!r} not found in\n{text}")
        repeated = index + 1 < len(anchors) and anchors[index + 1] == anchor
        pos = found.end() if repeated else text.rfind("\n", 0, found.start()) + 1
    return text.count("\n", 0, pos) + 1


def problems_of(path: Path) -> list[str]:
    with pytest.raises(llmswitch.ConfigError) as caught:
        load(path)
    assert SECRET not in str(caught.value)  # a secret never appears in a config error
    return caught.value.problems


# -- bad inputs ------------------------------------------------------------------------------------------------

def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        node[int(last) if last.isdigit() else last] = value
    return change


CASES: list[tuple[str, Any, str, str, list[str]]] = [
    # id, change to base(), field named, message fragment, anchors locating the line
    ("unknown-top-level-key", _set("provders", {}), "provders", "unknown key", ["provders"]),
    ("unknown-route-key", _set("routes.chat.retries", 3), "routes.chat.retries", "unknown key",
     ["routes", "chat", "retries"]),
    ("unknown-provider-key", _set("providers.a.api_kye", "x"), "providers.a.api_kye",
     "unknown key for type 'openai'", ["providers", "a", "api_kye"]),
    ("unknown-nested-key", _set("defaults", {"timeouts": {"conect": 5}}), "defaults.timeouts.conect",
     "unknown key", ["defaults", "timeouts", "conect"]),
    ("wrong-type-weight", _set("routes.chat.targets.1.weight", "heavy"), "routes.chat.targets.1.weight",
     "valid number", ["routes", "chat", "targets", "weight"]),
    ("wrong-type-attempts", _set("routes.chat.retry", {"max_attempts": "three"}), "routes.chat.retry.max_attempts",
     "valid integer", ["routes", "chat", "retry", "max_attempts"]),
    ("wrong-type-bool", _set("providers.a.strict", "maybe"), "providers.a.strict", "valid boolean",
     ["providers", "a", "strict"]),
    ("wrong-type-credential", _set("providers.b.api_key", ["a", "list"]), "providers.b.api_key",
     "must be a string", ["providers", "b", "api_key"]),
    ("unset-variable", _set("providers.a.api_key", "${LLMSWITCH_TEST_UNSET_VAR}"), "providers.a.api_key",
     "environment variable LLMSWITCH_TEST_UNSET_VAR is not set", ["providers", "a", "api_key"]),
    ("unknown-provider-type", _set("providers.a.type", "openia"), "providers.a.type",
     "unknown provider type 'openia'", ["providers", "a", "type"]),
    ("unknown-provider-in-target", _set("routes.chat.targets.0", "nope/gpt-4o"), "routes.chat.targets.0",
     "unknown provider 'nope' (configured: a, b)", ["routes", "chat", "targets", "=nope/gpt-4o"]),
    ("not-provider-slash-model", _set("routes.chat.targets.0", "justaname"), "routes.chat.targets.0",
     "neither a route nor 'provider/model'", ["routes", "chat", "targets", "=justaname"]),
    ("unknown-model-in-target", _set("providers.b.models", ["deepseek-reasoner"]), "routes.chat.targets.1",
     "unknown model 'deepseek-chat' for provider 'b'", ["routes", "chat", "targets", "=b/deepseek-chat"]),
    ("duplicate-target", _set("routes.chat.targets.1", "a/gpt-4o"), "routes.chat.targets.1",
     "duplicate target 'a/gpt-4o'", ["routes", "chat", "targets", "=a/gpt-4o", "=a/gpt-4o"]),
    ("route-named-like-a-provider", _set("routes.a", {"targets": ["b/deepseek-chat"]}), "routes.a",
     "used for both a route and a provider", ["routes", "a"]),
    ("weight-zero", _set("routes.chat.targets.1.weight", 0), "routes.chat.targets.1.weight",
     "greater than 0", ["routes", "chat", "targets", "weight"]),
    ("weight-negative", _set("routes.chat.targets.1.weight", -1), "routes.chat.targets.1.weight",
     "greater than 0", ["routes", "chat", "targets", "weight"]),
    ("url-without-host", _set("providers.a.base_url", "http://"), "providers.a.base_url", "has no host",
     ["providers", "a", "base_url"]),
    ("url-with-space", _set("providers.a.base_url", "http://exa mple.com/v1"), "providers.a.base_url",
     "whitespace", ["providers", "a", "base_url"]),
    ("url-bad-port", _set("providers.a.base_url", "http://example.com:99999/v1"), "providers.a.base_url",
     "invalid port", ["providers", "a", "base_url"]),
    ("url-scheme-ftp", _set("providers.a.base_url", "ftp://example.com/v1"), "providers.a.base_url",
     "must be an http(s) URL, got scheme 'ftp'", ["providers", "a", "base_url"]),
    ("url-no-scheme", _set("providers.a.base_url", "example.com/v1"), "providers.a.base_url",
     "must be an http(s) URL", ["providers", "a", "base_url"]),
    ("timeout-longer-than-total", _set("routes.chat.timeouts", {"connect": 10, "total": 5}),
     "routes.chat.timeouts", "connect (10.0s) is longer than total (5.0s)", ["routes", "chat", "timeouts"]),
    ("timeout-longer-than-inherited-total", _set("routes.chat.timeouts", {"first_token": 900}),
     "routes.chat.timeouts", "first_token (900.0s) is longer than total (600.0s)", ["routes", "chat", "timeouts"]),
    ("timeout-negative", _set("routes.chat.timeouts", {"idle": -1}), "routes.chat.timeouts.idle",
     "greater than 0", ["routes", "chat", "timeouts", "idle"]),
    ("hedge-after-total", _set("routes.chat.hedge_after", 700), "routes.chat.hedge_after",
     "not shorter than total", ["routes", "chat", "hedge_after"]),
    ("backoff-inverted", _set("defaults", {"retry": {"backoff": {"initial": 9, "max": 1}}}),
     "defaults.retry.backoff", "initial (9.0s) is longer than max (1.0s)", ["defaults", "retry", "backoff"]),
    ("unknown-strategy", _set("routes.chat.strategy", "fastest"), "routes.chat.strategy", "Input should be",
     ["routes", "chat", "strategy"]),
    ("unknown-fallback-class", _set("routes.chat.fallback_on", ["rate_limit", "weather"]),
     "routes.chat.fallback_on.1", "Input should be", ["routes", "chat", "fallback_on", "=weather"]),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("change", "field", "fragment", "anchors"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_each_bad_input_names_file_line_and_field(fmt: str, change: Any, field: str, fragment: str,
                                                  anchors: list[str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMSWITCH_TEST_UNSET_VAR", raising=False)
    data = copy.deepcopy(base())
    change(data)
    text = render(fmt, data)
    path = write(tmp_path, fmt, text)

    problems = problems_of(path)
    expected = f"{path}:{line_of(fmt, text, anchors)}: {field}: "
    assert any(p.startswith(expected) and fragment in p for p in problems), (expected, fragment, problems)


def test_a_route_cycle_names_the_route(tmp_path: Path) -> None:
    for fmt in FORMATS:
        data = base()
        data["routes"] = {"one": {"targets": ["two"]}, "two": {"targets": ["a/gpt-4o", "one"]}}
        text = render(fmt, data)
        path = write(tmp_path, fmt, text)
        [problem] = problems_of(path)
        assert problem.startswith(f"{path}:{line_of(fmt, text, ['routes', 'one', 'targets'])}: routes.one.targets: ")
        assert "route cycle one -> two -> one" in problem


DUPLICATES = {
    "yaml": ("providers:\n  a:\n    type: openai\n    base_url: http://127.0.0.1:9/v1\n"
             "  a:\n    type: openai\n", 5),
    "json": ('{\n  "providers": {\n    "a": {"type": "openai"},\n    "a": {"type": "deepseek"}\n  }\n}\n', 4),
    "toml": ('[providers.a]\ntype = "openai"\n\n[providers.a]\ntype = "deepseek"\n', 4),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_duplicate_names_are_errors_at_their_second_line(fmt: str, tmp_path: Path) -> None:
    text, line = DUPLICATES[fmt]
    path = write(tmp_path, fmt, text)
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:{line}: ")
    assert "a" in problem and ("duplicate" in problem or "twice" in problem)


SYNTAX = {
    "yaml": ("providers:\n  a: {type: openai\nroutes: {}\n", 3),
    "json": ('{\n  "providers": {\n    "a": {"type": "openai",}\n  }\n}\n', 3),
    "toml": ('[providers.a]\ntype = "openai"\nbase_url = \n', 3),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_syntax_errors_name_their_line(fmt: str, tmp_path: Path) -> None:
    text, line = SYNTAX[fmt]
    path = write(tmp_path, fmt, text)
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:{line}: ") and f"not valid {fmt.upper()}" in problem


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = base()
    data["routes"]["chat"]["targets"] = ["nope/x", {"target": "a/gpt-4o", "weight": 1}]
    data["providers"]["a"]["base_url"] = "ftp://x"
    data["routes"]["chat"]["strategy"] = "fastest"
    path = write(tmp_path, "yaml", render("yaml", data))
    with pytest.raises(llmswitch.ConfigError) as caught:
        load(path)
    assert len(caught.value.problems) == 2  # schema errors first: base_url and strategy
    assert "2 problem(s)" in str(caught.value)
    data["providers"]["a"]["base_url"] = "http://x/v1"
    data["routes"]["chat"]["strategy"] = "fallback"
    data["routes"]["other"] = {"targets": ["alsonope/y"]}
    path = write(tmp_path, "yaml", render("yaml", data))
    assert len(problems_of(path)) == 2


def test_variables_are_read_from_the_environment_with_defaults(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSWITCH_TEST_KEY", SECRET)
    monkeypatch.delenv("LLMSWITCH_TEST_HOST", raising=False)
    path = write(tmp_path, "yaml", "providers:\n  a:\n    type: openai\n    api_key: ${LLMSWITCH_TEST_KEY}\n"
                                   "    base_url: http://${LLMSWITCH_TEST_HOST:-127.0.0.1}:9/v1\n")
    settings = load(path)
    provider = settings.providers["a"]
    assert provider.credential("api_key") == SECRET
    assert provider.base_url == "http://127.0.0.1:9/v1"
    assert SECRET not in repr(settings) and SECRET not in repr(provider)


def test_an_unset_variable_of_an_unused_provider_is_an_error_only_when_used(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMSWITCH_TEST_UNSET_VAR", raising=False)
    text = ("providers:\n  a:\n    type: openai\n    api_key: sk-abcdef0123456789\n"
            "    base_url: http://127.0.0.1:9/v1\n  spare:\n    type: openai\n"
            "    api_key: ${LLMSWITCH_TEST_UNSET_VAR}\nroutes:\n  chat:\n    targets: [a/gpt-4o]\n")
    path = write(tmp_path, "yaml", text)
    client = llmswitch.OpenAI(config=path)
    with pytest.raises(llmswitch.ConfigError, match=rf"{re.escape(str(path))}:8: providers.spare.api_key: "
                                                    r"environment variable LLMSWITCH_TEST_UNSET_VAR is not set"):
        client.chat.completions.create(model="spare/gpt-4o", messages=[])


def test_loading_validates_without_sending_anything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("load() opened a connection")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    settings = llmswitch.load_config(write(tmp_path, "json", render("json", base())))
    assert sorted(settings.providers) == ["a", "b"]


def test_models_in_the_file_describe_capabilities_and_windows(tmp_path: Path) -> None:
    data = base()
    data["providers"]["a"]["models"] = {"local-7b": {"context_window": 4096, "capabilities": ["chat", "stream"]},
                                        "gpt-4o": {}}
    data["providers"]["a"]["prices"] = {"local-7b": {"input": 0.5, "output": 1.0, "currency": "CNY"}}
    data["routes"]["chat"]["targets"] = ["a/local-7b", "a/gpt-4o"]
    settings = load(write(tmp_path, "toml", to_toml(data)))
    info = settings.providers["a"].model_info("local-7b")
    assert info is not None
    assert (info.context_window, info.capabilities, info.input_price, info.currency) == (
        4096, frozenset({"chat", "stream"}), 0.5, "CNY")
    gpt = settings.providers["a"].model_info("gpt-4o")
    assert gpt is not None and gpt.context_window == 128_000  # the catalog's facts, kept


def test_route_policies_merge_with_defaults_field_by_field(tmp_path: Path) -> None:
    data = base()
    data["defaults"] = {"timeouts": {"total": 60, "connect": 2}, "retry": {"max_attempts": 5}}
    data["routes"]["chat"]["timeouts"] = {"idle": 7}
    data["routes"]["chat"]["retry"] = {"backoff": {"max": 2}}
    settings = load(write(tmp_path, "yaml", render("yaml", data)))
    policy = settings.policy_for("chat")
    assert (policy.timeouts.total, policy.timeouts.connect, policy.timeouts.idle) == (60, 2, 7)
    assert (policy.retry.max_attempts, policy.retry.backoff.max, policy.retry.backoff.initial) == (5, 2, 0.5)
