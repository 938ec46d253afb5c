"""The response store: previous_response_id across turns, retrieve/delete, size bound and TTL."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from responses_support import bridge_stream

from llmswitch.responses import ResponseEvents, ResponseStore, from_chat, to_chat

TOOL = {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answer(content: str | None, calls: list[tuple[str, str, str]] = (), reasoning: str | None = None,
           finish: str = "stop") -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [{"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                                 for cid, name, args in calls]
    if reasoning:
        message["reasoning_content"] = reasoning
    return {"id": "c", "object": "chat.completion", "created": 1, "model": "deepseek-chat",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}


def test_three_turns_with_tool_calls_in_the_middle() -> None:
    store = ResponseStore()
    # turn 1: the model calls a tool (with reasoning, as DeepSeek's reasoner does)
    params, ctx = to_chat({"model": "m", "instructions": "You are terse.", "input": "Weather in Paris?",
                           "tools": [TOOL]}, store)
    assert params["messages"][0] == {"role": "system", "content": "You are terse."}
    first = from_chat(answer(None, [("call_a", "lookup", '{"q":"Paris"}')], reasoning="need data",
                             finish="tool_calls"), ctx)
    assert [item["type"] for item in first["output"]] == ["reasoning", "function_call"]
    call = first["output"][1]
    assert call["call_id"] == "call_a"
    # turn 2: the tool result, continued from turn 1 (instructions are not carried over, as on OpenAI)
    params, ctx = to_chat({"model": "m", "previous_response_id": first["id"], "tools": [TOOL],
                           "input": [{"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}]},
                          store)
    assert params["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "reasoning_content": "need data", "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "lookup", "arguments": '{"q":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
    ]
    second = from_chat(answer("Sunny in Paris."), ctx)
    assert second["previous_response_id"] == first["id"]
    # turn 3, streamed: the whole conversation so far, then the new question
    params, ctx = to_chat({"model": "m", "previous_response_id": second["id"], "input": "And tomorrow?",
                           "stream": True}, store)
    assert params["messages"][2:] == [
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
        {"role": "assistant", "content": "Sunny in Paris."},
        {"role": "user", "content": "And tomorrow?"},
    ]
    events = bridge_stream([{"model": "m", "choices": [{"index": 0, "delta": {"content": "Rain."},
                                                        "finish_reason": "stop"}]}], ResponseEvents(ctx))
    third = events[-1]["response"]
    assert store.retrieve(third["id"]) == third
    assert store.get(third["id"]).conversation[-2:] == [
        {"type": "message", "role": "user", "content": "And tomorrow?"}, third["output"][0]]


def test_unknown_deleted_and_unstored_ids_are_not_found() -> None:
    store = ResponseStore()
    with pytest.raises(openai.NotFoundError, match="resp_nope") as info:
        to_chat({"model": "m", "input": "x", "previous_response_id": "resp_nope"}, store)
    assert info.value.status_code == 404
    assert info.value.param == "previous_response_id"  # type: ignore[attr-defined]
    _, ctx = to_chat({"model": "m", "input": "x", "store": False}, store)
    unstored = from_chat(answer("hi"), ctx)
    with pytest.raises(openai.NotFoundError, match="store=false"):
        store.retrieve(unstored["id"])
    _, ctx = to_chat({"model": "m", "input": "x"}, store)
    kept = from_chat(answer("hi"), ctx)
    assert store.delete(kept["id"]) == {"id": kept["id"], "object": "response.deleted", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        store.delete(kept["id"])
    with pytest.raises(openai.NotFoundError, match="no response store"):
        to_chat({"model": "m", "input": "x", "previous_response_id": kept["id"]}, None)


def test_size_bound_evicts_the_least_recently_used() -> None:
    store = ResponseStore(max_entries=2)
    ids = []
    for n in range(3):
        _, ctx = to_chat({"model": "m", "input": f"q{n}"}, store)
        ids.append(from_chat(answer(f"a{n}"), ctx)["id"])
        if n == 1:
            store.get(ids[0])  # touch the first: the second becomes least recently used
    assert len(store) == 2
    store.retrieve(ids[0])
    store.retrieve(ids[2])
    with pytest.raises(openai.NotFoundError, match="evicted"):
        store.retrieve(ids[1])


def test_ttl_expires_entries() -> None:
    clock = Clock()
    store = ResponseStore(ttl=60, clock=clock)
    _, ctx = to_chat({"model": "m", "input": "x"}, store)
    rid = from_chat(answer("hi"), ctx)["id"]
    clock.now += 59.9
    store.retrieve(rid)
    clock.now += 0.1
    with pytest.raises(openai.NotFoundError, match="expired"):
        to_chat({"model": "m", "input": "y", "previous_response_id": rid}, store)
    assert len(store) == 0


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        ResponseStore(max_entries=0)
    with pytest.raises(ValueError, match="ttl"):
        ResponseStore(ttl=0)
