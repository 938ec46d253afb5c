"""to_chat: Responses create bodies → chat-completions params, and what it refuses before sending."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai.types.responses import response_create_params

from llmswitch.responses import BUILTIN_TOOLS, BuiltinToolError, ResponseStore, from_chat, to_chat
from llmswitch.responses import request as bridge_request

IMAGE = "data:image/png;base64,iVBORw0KGgo="
FN = {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}
FN2 = {"type": "function", "name": "other", "description": "d", "parameters": None, "strict": False}


def chat(body: dict[str, Any], store: ResponseStore | None = None) -> dict[str, Any]:
    params, _ = to_chat({"model": "m", **body}, store or ResponseStore())
    return params


def test_string_input_and_instructions() -> None:
    assert chat({"input": "hi", "instructions": "be brief"}) == {
        "model": "m", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}


def test_messages_with_text_image_and_file_parts() -> None:
    params = chat({"input": [
        {"role": "developer", "content": "rules"},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "what is this?"},
            {"type": "input_image", "image_url": IMAGE, "detail": "low"},
            {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "auto"},
            {"type": "input_file", "file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"},
        ]},
        {"role": "system", "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]},
    ]})
    assert params["messages"] == [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": IMAGE, "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}},
        ]},
        {"role": "system", "content": "ab"},
    ]


def test_output_items_from_a_previous_turn_become_one_assistant_turn() -> None:
    """What openai-agents sends back: reasoning, the message, two parallel calls, their outputs."""
    params = chat({"input": [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "two "},
                                                                          {"type": "reasoning_text", "text": "calls"}]},
        {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "Checking.", "annotations": []}]},
        {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "lookup", "arguments": '{"q":"Paris"}',
         "status": "completed"},
        {"type": "function_call", "id": "fc_2", "call_id": "c2", "name": "lookup", "arguments": '{"q":"Rome"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "rain"}]},
        {"type": "reasoning", "id": "rs_2", "summary": [{"type": "summary_text", "text": "summarised"}]},
        {"type": "function_call", "call_id": "c3", "name": "lookup", "arguments": ""},
        {"type": "function_call_output", "call_id": "c3", "output": "ok"},
    ]})
    assert params["messages"] == [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": "Checking.", "reasoning_content": "two calls", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"q":"Paris"}'}},
            {"id": "c2", "type": "function", "function": {"name": "lookup", "arguments": '{"q":"Rome"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c2", "content": "rain"},
        {"role": "assistant", "content": None, "reasoning_content": "summarised", "tool_calls": [
            {"id": "c3", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c3", "content": "ok"},
    ]


def test_tools_tool_choice_and_parallel_calls() -> None:
    params = chat({"input": "x", "tools": [{**FN, "strict": True}, FN2], "tool_choice": "required",
                   "parallel_tool_calls": False})
    assert params["tools"] == [
        {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}},
                                          "strict": True}},
        {"type": "function", "function": {"name": "other", "description": "d", "strict": False}}]
    assert (params["tool_choice"], params["parallel_tool_calls"]) == ("required", False)
    named = chat({"input": "x", "tools": [FN], "tool_choice": {"type": "function", "name": "lookup"}})
    assert named["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    allowed = chat({"input": "x", "tools": [FN, FN2], "tool_choice": {
        "type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "other"}]}})
    assert [t["function"]["name"] for t in allowed["tools"]] == ["other"]
    assert allowed["tool_choice"] == "required"
    # no tools: neither tool_choice nor parallel_tool_calls is sent (OpenAI rejects them alone)
    assert chat({"input": "x", "tool_choice": "none", "parallel_tool_calls": True}).keys() == {"model", "messages"}


def test_text_format_and_sampling_parameters() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    params = chat({"input": "x", "text": {"format": {"type": "json_schema", "name": "A", "schema": schema,
                                                     "strict": True}, "verbosity": "low"},
                   "max_output_tokens": 50, "temperature": 0.2, "top_p": 0.5, "user": "u", "top_logprobs": 2,
                   "reasoning": {"effort": "low", "summary": "auto"}, "metadata": {"k": "v"}, "store": True,
                   "truncation": "auto", "include": ["reasoning.encrypted_content"], "service_tier": "auto",
                   "safety_identifier": "s", "prompt_cache_key": "p"})
    assert params == {
        "model": "m", "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "A", "schema": schema, "strict": True}},
        "verbosity": "low", "max_completion_tokens": 50, "temperature": 0.2, "top_p": 0.5, "user": "u",
        "reasoning_effort": "low", "logprobs": True, "top_logprobs": 2, "service_tier": "auto",
        "safety_identifier": "s", "prompt_cache_key": "p"}
    assert chat({"input": "x", "text": {"format": {"type": "json_object"}}})["response_format"] == {
        "type": "json_object"}
    assert "response_format" not in chat({"input": "x", "text": {"format": {"type": "text"}}})


def test_stream_asks_for_usage_and_vendor_extras_pass_through() -> None:
    params = chat({"input": "x", "stream": True, "enable_thinking": False, "top_k": 3})
    assert params["stream"] is True
    assert params["stream_options"] == {"include_usage": True}
    assert (params["enable_thinking"], params["top_k"]) == (False, 3)


def test_every_openai_create_parameter_is_handled() -> None:
    """A parameter openai adds later must be classified here, not forwarded to vendors unseen."""
    known = bridge_request._OWNED | set(bridge_request._SAME_NAME) | set(bridge_request._SERVER_SIDE)
    assert set(response_create_params.ResponseCreateParamsBase.__annotations__) - known == set()


def test_response_echoes_the_request() -> None:
    body = {"model": "m", "input": "x", "instructions": "i", "metadata": {"k": "v"}, "tools": [FN],
            "tool_choice": "required", "temperature": 0.3, "max_output_tokens": 9, "user": "u"}
    _, ctx = to_chat(body, ResponseStore())
    completion = {"model": "m-2024", "choices": [{"index": 0, "finish_reason": "stop",
                                                  "message": {"role": "assistant", "content": "ok"}}]}
    response = from_chat(completion, ctx)
    assert {k: response[k] for k in ("instructions", "metadata", "tools", "tool_choice", "temperature",
                                     "max_output_tokens", "user", "model", "parallel_tool_calls")} == {
        "instructions": "i", "metadata": {"k": "v"}, "tools": [FN], "tool_choice": "required", "temperature": 0.3,
        "max_output_tokens": 9, "user": "u", "model": "m-2024", "parallel_tool_calls": True}


@pytest.mark.parametrize("tool", sorted(BUILTIN_TOOLS))
def test_builtin_tools_are_refused_naming_the_tool(tool: str) -> None:
    with pytest.raises(BuiltinToolError) as info:
        chat({"input": "x", "tools": [FN, {"type": tool}]})
    assert isinstance(info.value, openai.BadRequestError)
    assert info.value.tool == tool
    assert repr(tool) in str(info.value)
    assert info.value.status_code == 400


def test_builtin_tool_choice_is_refused() -> None:
    with pytest.raises(BuiltinToolError, match="'web_search_preview'"):
        chat({"input": "x", "tools": [FN], "tool_choice": {"type": "web_search_preview"}})
    with pytest.raises(BuiltinToolError, match="'file_search'"):
        chat({"input": "x", "tools": [FN], "tool_choice": {"type": "allowed_tools", "mode": "auto",
                                                           "tools": [{"type": "file_search"}]}})


@pytest.mark.parametrize(("body", "where"), [
    ({"input": "x", "model": ""}, "model"),
    ({"model": "m"}, "input"),
    ({"input": 3}, "input"),
    ({"input": ["hi"]}, "input[0]"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]"),
    ({"input": [{"role": "user", "content": "a"}, {"type": "computer_call_output", "call_id": "c"}]},
     "input[1].type"),
    ({"input": [{"role": "tool", "content": "a"}]}, "input[0].role"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]},
     "input[0].content[0].image_url"),
    ({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input[0].content[0].type"),
    ({"input": [{"role": "assistant", "content": [{"type": "input_image", "image_url": IMAGE}]}]},
     "input[0].content[0]"),
    ({"input": [{"type": "function_call", "name": "f"}]}, "input[0].call_id"),
    ({"input": [{"type": "function_call_output", "call_id": "c", "output": 5}]}, "input[0].output"),
    ({"input": "x", "tools": [{"type": "custom", "name": "c"}]}, "tools[0].type"),
    ({"input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
    ({"input": "x", "tool_choice": {"type": "custom", "name": "c"}}, "tool_choice"),
    ({"input": "x", "tools": [FN, {"type": "web_search"}]}, "tools[1]"),
    ({"input": "x", "tools": [FN], "tool_choice": {"type": "code_interpreter"}}, "tool_choice"),
    ({"input": "x", "text": {"format": {"type": "json_schema", "name": "A"}}}, "text.format"),
    ({"input": "x", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
    ({"input": "x", "conversation": "conv_1"}, "conversation"),
    ({"input": "x", "prompt": {"id": "pmpt_1"}}, "prompt"),
    ({"input": "x", "background": True}, "background"),
])
def test_bad_requests_name_the_field(body: dict[str, Any], where: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        to_chat({"model": "m", **body}, ResponseStore())
    assert str(info.value).split(" - ", 1)[1].startswith(f"{where}: "), str(info.value)
    assert info.value.param == where  # type: ignore[attr-defined]
