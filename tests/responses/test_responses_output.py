"""from_chat and the stream translator: statuses, usage, items, and plain ≡ streamed."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from responses_support import bridge_stream, counter_ids, strict_events, strict_response, summary

from llmswitch.responses import ResponseEvents, ResponseStore, from_chat, to_chat


def completion(message: dict[str, Any], finish: str | None, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {"id": "c", "object": "chat.completion", "created": 1, "model": "vendor-model",
           "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}]}
    if usage:
        out["usage"] = usage
    return out


def delta(finish: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"model": "vendor-model", "choices": [{"index": 0, "delta": fields, "finish_reason": finish}]}


def bridged(body: dict[str, Any] | None = None) -> Any:
    return to_chat({"model": "m", "input": "q", **(body or {})}, ResponseStore(), ids=counter_ids())[1]


@pytest.mark.parametrize(("finish", "status", "reason"), [
    ("stop", "completed", None), ("tool_calls", "completed", None),
    ("length", "incomplete", "max_output_tokens"), ("content_filter", "incomplete", "content_filter")])
def test_status_plain_and_streamed(finish: str, status: str, reason: str | None) -> None:
    plain = from_chat(completion({"content": "Hel" "lo"}, finish), bridged())
    strict_response(plain)
    events = bridge_stream([delta(content="Hel"), delta(content="lo", finish=finish)], ResponseEvents(bridged()))
    strict_events(events)
    streamed = events[-1]["response"]
    assert events[-1]["type"] == f"response.{status}"
    for response in (plain, streamed):
        assert response["status"] == status
        assert response["incomplete_details"] == (reason and {"reason": reason})
        assert response["output"][0]["status"] == ("incomplete" if reason else "completed")
    assert plain == streamed  # same ids (counter), same fields: one builder for both


def test_usage_details_map_to_responses_names() -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140,
             "prompt_tokens_details": {"cached_tokens": 64}, "completion_tokens_details": {"reasoning_tokens": 30}}
    response = from_chat(completion({"content": "x"}, "stop", usage), bridged())
    assert response["usage"] == {
        "input_tokens": 100, "input_tokens_details": {"cached_tokens": 64, "cache_write_tokens": 0},
        "output_tokens": 40, "output_tokens_details": {"reasoning_tokens": 30}, "total_tokens": 140}
    assert "usage" not in from_chat(completion({"content": "x"}, "stop"), bridged())


def test_items_reasoning_message_refusal_and_calls() -> None:
    response = from_chat(completion({"content": "", "reasoning_content": "hmm", "refusal": "no", "tool_calls": [
        {"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"type": "function", "function": {"name": "g", "arguments": "{\"a\":1}"}}]}, "tool_calls"), bridged())
    parsed = strict_response(response)
    assert [item["type"] for item in response["output"]] == ["reasoning", "message", "function_call", "function_call"]
    assert response["output"][1]["content"] == [{"type": "refusal", "refusal": "no"}]
    assert [(c.call_id, c.name) for c in parsed.output[2:]] == [("call_9", "f"), ("call_6", "g")]  # type: ignore
    assert response["model"] == "vendor-model"
    # an empty answer is still one (empty) message, as OpenAI gives
    empty = from_chat(completion({"content": ""}, "stop"), bridged())
    assert empty["output"][0]["content"][0]["text"] == ""


def test_parallel_calls_stream_one_after_the_other() -> None:
    chunks = [delta(role="assistant", content="Let me check."),
              delta(tool_calls=[{"index": 0, "id": "c1", "type": "function",
                                 "function": {"name": "f", "arguments": "{\"a\""}}]),
              delta(tool_calls=[{"index": 0, "function": {"arguments": ":1}"}}]),
              delta(tool_calls=[{"index": 1, "id": "c2", "type": "function",
                                 "function": {"name": "g", "arguments": ""}}]),
              delta(tool_calls=[{"index": 1, "function": {"arguments": "{}"}}], finish="tool_calls"),
              {"model": "vendor-model", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2,
                                                                "total_tokens": 3}}]
    events = bridge_stream(chunks, ResponseEvents(bridged()))
    final = strict_events(events)
    assert [summary(e) for e in events] == [
        (0, "created", "in_progress"), (1, "in_progress", "in_progress"),
        (2, "output_item.added", 0, "message", "in_progress", ""),
        (3, "content_part.added", 0, "output_text", ""),
        (4, "output_text.delta", 0, "Let me check."),
        (5, "output_text.done", 0, "Let me check."),
        (6, "content_part.done", 0, "output_text", "Let me check."),
        (7, "output_item.done", 0, "message", "completed", "Let me check."),
        (8, "output_item.added", 1, "function_call", "in_progress", "f()"),
        (9, "function_call_arguments.delta", 1, '{"a"'),
        (10, "function_call_arguments.delta", 1, ":1}"),
        (11, "function_call_arguments.done", 1, '{"a":1}'),
        (12, "output_item.done", 1, "function_call", "completed", 'f({"a":1})'),
        (13, "output_item.added", 2, "function_call", "in_progress", "g()"),
        (14, "function_call_arguments.delta", 2, "{}"),
        (15, "function_call_arguments.done", 2, "{}"),
        (16, "output_item.done", 2, "function_call", "completed", "g({})"),
        (17, "completed", "completed"),
    ]
    assert [(c.call_id, c.arguments) for c in final.output[1:]] == [("c1", "{\"a\":1}"), ("c2", "{}")]
    assert final.usage.total_tokens == 3
    late = ResponseEvents(bridged())
    bridge_stream(chunks[1:4], late)
    with pytest.raises(ValueError, match="tool call 0 continued"):
        late.feed(chunks[2])


def test_structured_output_parses_from_the_stream() -> None:
    class Weather(pydantic.BaseModel):
        city: str
        celsius: int

    events = bridge_stream([delta(content='{"city":"Paris",'), delta(content='"celsius":25}', finish="stop")],
                           ResponseEvents(bridged()))
    final = strict_events(events, text_format=Weather)
    assert final.output_parsed == Weather(city="Paris", celsius=25)


def test_empty_stream_and_failure() -> None:
    events = ResponseEvents(bridged()).close()
    strict_events(events)
    assert [e["type"] for e in events] == ["response.created", "response.in_progress", "response.completed"]
    broken = ResponseEvents(bridged())
    events = broken.feed(delta(content="partial")) + broken.fail("upstream cut the stream")
    strict_events(events)
    failed = events[-1]
    assert failed["type"] == "response.failed"
    assert failed["response"]["error"] == {"code": "server_error", "message": "upstream cut the stream"}
    strict_response(failed["response"])
