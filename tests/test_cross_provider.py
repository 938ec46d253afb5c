"""One multi-turn, parallel tool conversation driven through every adapter that supports tools,
each over real HTTP against its vendor's mock protocol, yields the same OpenAI-shaped transcript."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import llmswitch
from llmswitch.testing import MockServer

CREDENTIALS: dict[str, dict[str, str]] = {
    "openai": {"api_key": "sk-x"},
    "anthropic": {"api_key": "sk-ant-x"},
    "gemini": {"api_key": "AIza-x"},
    "ollama": {},
    "dashscope": {"api_key": "sk-ds"},
    "hunyuan": {"secret_id": "AKIDexample", "secret_key": "example-secret"},
    "zhipu": {"api_key": "0123456789abcdef.secretpart"},
    "minimax": {"api_key": "mm-key"},
    "sensenova": {"access_key_id": "ak", "secret_access_key": "sk"},
}
TOOLS = [
    {"type": "function", "function": {"name": "weather", "description": "weather in a city",
                                      "parameters": {"type": "object", "properties": {"query": {"type": "string"}},
                                                     "required": ["query"]}}},
    {"type": "function", "function": {"name": "clock", "description": "time in a city",
                                      "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}},
]
QUESTION = "check weather and clock for Paris"


def _available() -> list[str]:
    from llmswitch.adapters import adapter_class
    from llmswitch.catalog import get_preset
    from llmswitch.testing.protocols import mock_protocol

    found = []
    for protocol in CREDENTIALS:
        try:
            adapter_class(protocol)
            mock_protocol(protocol)
        except ImportError:
            continue
        if get_preset(protocol) is not None:
            found.append(protocol)
    return found


PROTOCOLS = _available()


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(PROTOCOLS) as srv:
        yield srv


def _client(server: MockServer, protocol: str) -> llmswitch.OpenAI:
    spec = {"type": protocol, "base_url": server.base_url(protocol), **CREDENTIALS[protocol]}
    return llmswitch.OpenAI(config={"providers": {"p": spec}})


def _conversation(client: llmswitch.OpenAI, *, stream: bool) -> list[dict[str, Any]]:
    """call → parallel tool calls → results → answer; returns a normalised transcript."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "use tools"},
                                      {"role": "user", "content": QUESTION}]
    transcript: list[dict[str, Any]] = []
    for _turn in range(2):
        content, calls, finish = _ask(client, messages, stream=stream)
        transcript.append({"content": content or None, "finish": finish,
                           "calls": [(c["function"]["name"], json.loads(c["function"]["arguments"]))
                                     for c in calls]})
        if not calls:
            break
        assert all(c["id"] for c in calls) and len({c["id"] for c in calls}) == len(calls)
        messages.append({"role": "assistant", "content": content or None, "tool_calls": calls})
        for call in calls:
            messages.append({"role": "tool", "tool_call_id": call["id"],
                             "content": f"{call['function']['name']} is fine"})
    return transcript


def _ask(client: llmswitch.OpenAI, messages: list[dict[str, Any]], *,
         stream: bool) -> tuple[str, list[dict[str, Any]], str | None]:
    if not stream:
        resp = client.chat.completions.create(model="p/m-tools", messages=messages, tools=TOOLS)
        message = resp.choices[0].message
        calls = [c.model_dump() for c in message.tool_calls or []]
        return message.content or "", calls, resp.choices[0].finish_reason
    text, finish = "", None
    slots: dict[int, dict[str, Any]] = {}
    for chunk in client.chat.completions.create(model="p/m-tools", messages=messages, tools=TOOLS, stream=True):
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                slot = slots.setdefault(delta.index, {"id": "", "type": "function",
                                                      "function": {"name": "", "arguments": ""}})
                slot["id"] = delta.id or slot["id"]
                if delta.function is not None:
                    slot["function"]["name"] += delta.function.name or ""
                    slot["function"]["arguments"] += delta.function.arguments or ""
    return text, [slots[i] for i in sorted(slots)], finish


EXPECTED = [
    {"content": None, "finish": "tool_calls",
     "calls": [("weather", {"query": QUESTION}), ("clock", {"query": QUESTION})]},
    {"content": "Tool results: weather is fine; clock is fine", "finish": "stop", "calls": []},
]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_same_transcript(server: MockServer, protocol: str, stream: bool) -> None:
    with _client(server, protocol) as client:
        assert _conversation(client, stream=stream) == EXPECTED


def test_every_tool_adapter_is_covered() -> None:
    """Guard: the comparison above must not silently shrink to one protocol."""
    assert "openai" in PROTOCOLS and len(PROTOCOLS) >= 2
