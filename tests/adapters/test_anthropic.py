"""The native Anthropic Messages adapter, its catalog preset and its mock protocol (PROTOCOLS.md §14).

Every request body built here is validated against Anthropic's published OpenAPI spec
(``/work/shared/specs/anthropic-stainless-2024-11.json``). Two request features post-date that
spec — URL image sources and ``tool_choice: none`` — and are validated against the spec plus
exactly those two documented additions (``types/url_image_source_param.py``,
``types/tool_choice_none_param.py`` in the anthropic SDK).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

import httpx2
import jsonschema
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

import llmswitch
from llmswitch import errors
from llmswitch._secret import Secret
from llmswitch.adapters import adapter_class
from llmswitch.adapters.anthropic import AnthropicAdapter
from llmswitch.adapters.base import Provider, WireRequest
from llmswitch.catalog import Preset, get_preset
from llmswitch.streaming import SSEDecoder
from llmswitch.testing import MockServer
from llmswitch.testing.protocols import mock_protocol
from llmswitch.testing.protocols.anthropic import AnthropicProtocol, event
from llmswitch.testing.protocols.base import MockRequest
from llmswitch.testing.scenario import MockCall, Reply, reply_for
from support import SPECS

SPEC_PATH = SPECS / "anthropic-stainless-2024-11.json"
BASE = "https://api.anthropic.com/v1"
KEY = "sk-ant-test-key"
HAIKU = "claude-3-5-haiku-latest"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}


# -- spec validation ----------------------------------------------------------------------------
def _spec() -> dict[str, Any]:
    doc = json.loads(SPEC_PATH.read_text())
    doc["components"]["schemas"]["Model"].pop("type", None)  # "type": null is not valid JSON Schema
    return doc


_SPEC = _spec()


def _extended(doc: dict[str, Any]) -> dict[str, Any]:
    """The spec plus the two request features Anthropic added after it (see module docstring)."""
    doc = copy.deepcopy(doc)
    schemas = doc["components"]["schemas"]
    schemas["URLImageSource"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "url"],
        "properties": {"type": {"const": "url"}, "url": {"type": "string"}},
    }
    schemas["RequestImageBlock"]["properties"]["source"]["oneOf"].append(
        {"$ref": "#/components/schemas/URLImageSource"}
    )
    schemas["ToolChoiceNone"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type"],
        "properties": {"type": {"const": "none"}},
    }
    schemas["ToolChoice"]["oneOf"].append({"$ref": "#/components/schemas/ToolChoiceNone"})
    return doc


_EXTENDED = _extended(_SPEC)


def _validator(schema_name: str, doc: dict[str, Any] = _SPEC) -> jsonschema.Draft202012Validator:
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": doc["components"]}
    return jsonschema.Draft202012Validator(root)


REQUEST = _validator("CreateMessageParams")
REQUEST_EXTENDED = _validator("CreateMessageParams", _EXTENDED)
MESSAGE = _validator("Message")
STREAM_EVENT = _validator("MessageStreamEvent")
ERROR_RESPONSE = _validator("ErrorResponse")


def assert_valid(validator: jsonschema.Draft202012Validator, body: Any) -> None:
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not problems, problems


# -- helpers ------------------------------------------------------------------------------------
def make_adapter(
    *,
    strict: bool = False,
    options: dict[str, Any] | None = None,
    base_url: str = BASE,
    preset: Preset | None = None,
) -> AnthropicAdapter:
    preset = preset or get_preset("anthropic")
    assert preset is not None
    provider = Provider(
        name="claude",
        preset=preset,
        base_url=base_url,
        credentials={"api_key": Secret(KEY)},
        options=options or {},
        strict=strict,
    )
    return AnthropicAdapter(provider)


def build(params: dict[str, Any], *, stream: bool = False, **kw: Any) -> WireRequest:
    wire = make_adapter(**kw).chat_request({"model": HAIKU, **params}, stream=stream)
    assert_valid(REQUEST, wire.json)
    return wire


def response(
    status: int, body: Any = None, *, content: bytes | None = None, headers: dict[str, str] | None = None
) -> httpx2.Response:
    request = httpx2.Request("POST", f"{BASE}/messages")
    if content is not None:
        return httpx2.Response(status, content=content, headers=headers, request=request)
    return httpx2.Response(status, json=body, headers=headers, request=request)


def parse(body: dict[str, Any]) -> dict[str, Any]:
    out = make_adapter().parse_chat(response(200, body), HAIKU)
    ChatCompletion.model_validate(out)
    return out


def random_splits(data: bytes, rng: random.Random) -> Iterator[bytes]:
    i = 0
    while i < len(data):
        step = rng.randint(1, 23)
        yield data[i : i + step]
        i += step


def run_stream(parts: list[bytes], seed: int = 0) -> tuple[list[dict[str, Any]], bool]:
    """Decode the bytes in random splits and translate; (chunks, translator.complete)."""
    adapter = make_adapter()
    translator = adapter.stream_translator(response(200, content=b""), HAIKU)
    decoder = SSEDecoder()
    chunks: list[dict[str, Any]] = []
    for piece in random_splits(b"".join(parts), random.Random(seed)):
        for ev in decoder.feed(piece):
            chunks += translator.feed(ev)
    for ev in decoder.close():
        chunks += translator.feed(ev)
    chunks += translator.close()
    for c in chunks:
        ChatCompletionChunk.model_validate(c)
    return chunks, translator.complete


def joined(chunks: list[dict[str, Any]], field: str) -> str:
    return "".join(c["choices"][0]["delta"].get(field) or "" for c in chunks if c["choices"])


def tool_arguments(chunks: list[dict[str, Any]]) -> dict[int, dict[str, str]]:
    calls: dict[int, dict[str, str]] = {}
    for c in chunks:
        for tc in (c["choices"][0]["delta"].get("tool_calls") or []) if c["choices"] else []:
            slot = calls.setdefault(tc["index"], {"id": "", "name": "", "arguments": ""})
            slot["id"] = tc.get("id") or slot["id"]
            slot["name"] = (tc.get("function") or {}).get("name") or slot["name"]
            slot["arguments"] += (tc.get("function") or {}).get("arguments") or ""
    return calls


def roundtrip(params: dict[str, Any]) -> tuple[MockCall, Reply, AnthropicProtocol]:
    """Our request, as the mock protocol understands it, and the mock's deterministic answer."""
    wire = build(params)
    protocol = AnthropicProtocol()
    request = MockRequest(
        "POST",
        "/v1/messages",
        {},
        {k.lower(): v for k, v in wire.headers.items()},
        json.dumps(wire.json).encode(),
    )
    call = protocol.parse(request)
    assert call is not None
    return call, reply_for(call, tag="claude"), protocol


# -- registry and catalog -----------------------------------------------------------------------
def test_registries_and_preset() -> None:
    assert adapter_class("anthropic") is AnthropicAdapter
    assert isinstance(mock_protocol("anthropic"), AnthropicProtocol)
    preset = get_preset("anthropic")
    assert preset is not None
    assert (preset.protocol, preset.base_url, preset.auth) == ("anthropic", BASE, "x-api-key")
    assert preset.env_key == "ANTHROPIC_API_KEY"
    assert preset.options == {"anthropic_version": "2023-06-01"}
    for name in (
        "claude-3-5-haiku-latest",
        "claude-3-5-sonnet-latest",
        "claude-3-7-sonnet-latest",
        "claude-sonnet-4-0",
        "claude-opus-4-0",
    ):
        info = preset.models[name]
        assert info.context_window == 200_000
        assert info.max_output
        assert info.currency == "USD"
        assert info.input_price
        assert info.output_price
        assert info.supports("tools")
        assert info.supports("vision")
    assert preset.default_model in preset.models


# -- requests -----------------------------------------------------------------------------------
def test_plain_request_headers_and_body() -> None:
    wire = build({"messages": [{"role": "user", "content": "Hello"}]})
    assert (wire.method, wire.url, wire.stream) == ("POST", f"{BASE}/messages", False)
    assert wire.headers["x-api-key"] == KEY
    assert wire.headers["anthropic-version"] == "2023-06-01"
    assert wire.headers["content-type"] == "application/json"
    assert "Authorization" not in wire.headers
    assert wire.json == {
        "model": HAIKU,
        "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 8192,
    }


def test_version_option_and_stream_flag() -> None:
    wire = build(
        {"messages": [{"role": "user", "content": "Hi"}]},
        stream=True,
        options={"anthropic_version": "2026-10-21"},
        base_url="http://proxy.local/anthropic/v1/",
    )
    assert wire.headers["anthropic-version"] == "2026-10-21"
    assert wire.url == "http://proxy.local/anthropic/v1/messages"
    assert wire.stream
    assert wire.json["stream"] is True


@pytest.mark.parametrize(
    ("extra", "model", "expected"),
    [
        ({"max_completion_tokens": 100, "max_tokens": 200}, HAIKU, 100),
        ({"max_tokens": 200}, HAIKU, 200),
        ({}, "claude-opus-4-0", 32_000),  # the catalog's max_output
        ({}, "claude-from-the-future", 4096),  # unknown model: the fallback
    ],
)
def test_max_tokens_is_always_sent(extra: dict[str, Any], model: str, expected: int) -> None:
    wire = build({"model": model, "messages": [{"role": "user", "content": "Hi"}], **extra})
    assert wire.json["max_tokens"] == expected


def test_system_prompts_lifted_and_same_role_turns_merged() -> None:
    wire = build(
        {
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "one"},
                {"role": "user", "content": [{"type": "text", "text": "two"}]},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                {"role": "assistant", "content": "un, deux"},
                {"role": "assistant", "content": "trois"},
                {"role": "user", "content": "next?", "name": "bob"},
            ]
        }
    )
    body = wire.json
    assert body["system"] == [
        {"type": "text", "text": "You are terse."},
        {"type": "text", "text": "Answer in French."},
    ]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "one"},
        {"type": "text", "text": "two"},
    ]
    assert body["messages"][1]["content"] == [
        {"type": "text", "text": "un, deux"},
        {"type": "text", "text": "trois"},
    ]
    assert body["messages"][2] == {"role": "user", "content": "next?"}


def test_single_system_prompt_is_a_string_and_prefill_is_trimmed() -> None:
    wire = build(
        {
            "messages": [
                {"role": "system", "content": "Be kind."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Sure thing: "},
            ]
        }
    )
    assert wire.json["system"] == "Be kind."
    assert wire.json["messages"][-1] == {"role": "assistant", "content": "Sure thing:"}


def test_stop_temperature_top_p_user() -> None:
    wire = build(
        {
            "messages": [{"role": "user", "content": "Hi"}],
            "stop": "END",
            "temperature": 0.3,
            "top_p": 0.9,
            "user": "user-42",
        }
    )
    assert wire.json["stop_sequences"] == ["END"]
    assert (wire.json["temperature"], wire.json["top_p"]) == (0.3, 0.9)
    assert wire.json["metadata"] == {"user_id": "user-42"}
    assert build({"messages": [{"role": "user", "content": "Hi"}], "stop": ["a", "b"]}).json[
        "stop_sequences"
    ] == ["a", "b"]


def test_out_of_range_and_unsupported_params_lenient_vs_strict() -> None:
    params = {
        "messages": [{"role": "user", "content": "Hi"}],
        "temperature": 1.7,
        "seed": 7,
        "presence_penalty": 0.5,
        "logprobs": True,
        "top_k": 5,
    }
    body = build(params).json
    assert body["temperature"] == 1  # OpenAI's [0, 2] clamped into Anthropic's [0, 1]
    assert body["top_k"] == 5  # a native parameter passed through (extra_body)
    assert not {"seed", "presence_penalty", "logprobs"} & body.keys()
    strict = make_adapter(strict=True)
    with pytest.raises(errors.UnsupportedParameterError, match="temperature"):
        strict.chat_request({"model": HAIKU, "messages": [], "temperature": 1.7}, stream=False)
    with pytest.raises(errors.UnsupportedParameterError, match="logprobs") as info:
        strict.chat_request({"model": HAIKU, **params, "temperature": 0.5}, stream=False)
    assert isinstance(info.value, openai.BadRequestError)
    assert KEY not in str(info.value)
    with pytest.raises(errors.UnsupportedParameterError, match="n > 1"):
        strict.chat_request({"model": HAIKU, "messages": [], "n": 2}, stream=False)


def test_tools_translate_to_input_schema() -> None:
    no_params = {"type": "function", "function": {"name": "ping"}}
    body = build({"messages": [{"role": "user", "content": "Hi"}], "tools": [WEATHER, no_params]}).json
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": WEATHER["function"]["parameters"],
        },
        {"name": "ping", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in body


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (None, True, None),
    ],
)
def test_tool_choice(choice: Any, parallel: bool | None, expected: dict[str, Any] | None) -> None:
    params: dict[str, Any] = {"messages": [{"role": "user", "content": "Hi"}], "tools": [WEATHER]}
    if choice is not None:
        params["tool_choice"] = choice
    if parallel is not None:
        params["parallel_tool_calls"] = parallel
    assert build(params).json.get("tool_choice") == expected


def test_tool_choice_none_postdates_the_spec() -> None:
    wire = make_adapter().chat_request(
        {
            "model": HAIKU,
            "messages": [{"role": "user", "content": "Hi"}],
            "tools": [WEATHER],
            "tool_choice": "none",
            "parallel_tool_calls": False,
        },
        stream=False,
    )
    assert wire.json["tool_choice"] == {"type": "none"}  # none takes no disable_parallel_tool_use
    assert_valid(REQUEST_EXTENDED, wire.json)


def test_tool_loop_history_becomes_tool_use_and_grouped_tool_results() -> None:
    wire = build(
        {
            "tools": [WEATHER, TIME],
            "messages": [
                {"role": "user", "content": "weather and time in Paris?"},
                {
                    "role": "assistant",
                    "content": None,
                    "reasoning_content": "two calls",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"query": "Paris"}'},
                        },
                        {
                            "id": "call.2:x",
                            "type": "function",
                            "function": {"name": "get_time", "arguments": ""},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
                {"role": "tool", "tool_call_id": "call.2:x", "content": [{"type": "text", "text": "14:05"}]},
                {"role": "user", "content": "thanks, summarise"},
            ],
        }
    )
    messages = wire.json["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"query": "Paris"}},
        {"type": "tool_use", "id": "call_2_x", "name": "get_time", "input": {}},  # id made API-safe
    ]
    assert messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny, 21C"},
        {"type": "tool_result", "tool_use_id": "call_2_x", "content": [{"type": "text", "text": "14:05"}]},
        {"type": "text", "text": "thanks, summarise"},
    ]


def test_tool_results_lead_their_user_turn() -> None:
    call = {"id": "toolu_9", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
    wire = build(
        {
            "tools": [TIME],
            "messages": [
                {"role": "user", "content": "time?"},
                {"role": "assistant", "content": "Checking.", "tool_calls": [call]},
                {"role": "user", "content": "(be quick)"},
                {"role": "tool", "tool_call_id": "toolu_9", "content": ""},
            ],
        }
    )
    last = wire.json["messages"][-1]["content"]
    assert [b["type"] for b in last] == ["tool_result", "text"]  # the API rejects text before results
    assert last[0] == {"type": "tool_result", "tool_use_id": "toolu_9"}  # empty output: no content


def test_pdf_file_part_becomes_a_document_block() -> None:
    part = {
        "type": "file",
        "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"},
    }
    wire = make_adapter().chat_request(
        {"model": HAIKU, "messages": [{"role": "user", "content": [part]}]}, stream=False
    )
    assert wire.json["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
        }
    ]
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    with pytest.raises(errors.UnsupportedParameterError, match="input_audio"):
        make_adapter().chat_request(
            {"model": HAIKU, "messages": [{"role": "user", "content": [audio]}]}, stream=False
        )


def test_tool_call_arguments_must_be_a_json_object() -> None:
    bad = {
        "role": "assistant",
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "[1, 2"}}],
    }
    with pytest.raises(errors.UnsupportedParameterError, match="JSON object"):
        make_adapter().chat_request({"model": HAIKU, "messages": [bad]}, stream=False)


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def test_data_url_image_becomes_base64_source() -> None:
    wire = build(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {
                            "type": "image_url",
                            "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "low"},
                        },
                        {"type": "image_url", "image_url": {"url": f"data:image/jpg;base64,{PNG}"}},
                    ],
                }
            ]
        }
    )
    blocks = wire.json["messages"][0]["content"]
    assert blocks[1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
    }
    assert blocks[2]["source"]["media_type"] == "image/jpeg"


def test_http_image_becomes_url_source() -> None:
    url = "https://example.com/cat.jpg"
    wire = make_adapter().chat_request(
        {
            "model": HAIKU,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": url}},
                        {"type": "text", "text": "Describe."},
                    ],
                }
            ],
        },
        stream=False,
    )
    assert wire.json["messages"][0]["content"][0] == {"type": "image", "source": {"type": "url", "url": url}}
    assert_valid(REQUEST_EXTENDED, wire.json)
    assert not REQUEST.is_valid(wire.json)  # URL sources are newer than the 2024-11 spec


def test_image_urls_that_cannot_be_sent_are_refused() -> None:
    for url in ("ftp://example.com/a.png", "data:image/png,rawbytes"):
        with pytest.raises(errors.UnsupportedParameterError, match="data: URL"):
            make_adapter().chat_request(
                {
                    "model": HAIKU,
                    "messages": [
                        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
                    ],
                },
                stream=False,
            )


def test_json_object_mode_is_a_forced_object_tool() -> None:
    wire = build(
        {
            "messages": [
                {"role": "system", "content": "You are a parser."},
                {"role": "user", "content": "List two colours."},
            ],
            "response_format": {"type": "json_object"},
        }
    )
    assert wire.json["system"] == "You are a parser."
    assert wire.json["tools"] == [{"name": "structured_output__response", "description": ANY_TEXT,
                                   "input_schema": {"type": "object"}}]
    assert wire.json["tool_choice"] == {"type": "tool", "name": "structured_output__response"}
    assert "response_format" not in wire.json


def test_json_schema_mode_is_a_forced_tool_beside_the_callers_tools() -> None:
    schema = {"type": "object", "properties": {"colours": {"type": "array", "items": {"type": "string"}}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "palette", "schema": schema, "strict": True}}
    alone = build({"messages": [{"role": "user", "content": "List two colours."}], "response_format": fmt})
    assert alone.json["tools"][0]["input_schema"] == schema
    assert alone.json["tool_choice"] == {"type": "tool", "name": "structured_output__palette"}
    both = build({"messages": [{"role": "user", "content": "Weather?"}], "response_format": fmt,
                  "tools": [WEATHER], "parallel_tool_calls": False})
    assert [t["name"] for t in both.json["tools"]] == ["get_weather", "structured_output__palette"]
    assert both.json["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


ANY_TEXT = "Give your final answer by calling this tool: its input is the answer."


# -- responses ----------------------------------------------------------------------------------
DOC_MESSAGE = {  # the Messages API example response, with usage incl. cache counts
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "type": "message",
    "role": "assistant",
    "model": "claude-3-5-haiku-20241022",
    "content": [{"type": "text", "text": "Hi! My name is Claude."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 2095,
        "output_tokens": 503,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 5,
    },
}


def test_plain_response_and_usage_with_cache_tokens() -> None:
    assert_valid(MESSAGE, DOC_MESSAGE)
    out = parse(DOC_MESSAGE)
    assert out["id"] == "msg_013Zva2CMHLNnXjNJJKqJ2EF"
    assert out["model"] == "claude-3-5-haiku-20241022"
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "Hi! My name is Claude."}
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"] == {
        "prompt_tokens": 3100,
        "completion_tokens": 503,
        "total_tokens": 3603,
        "prompt_tokens_details": {"cached_tokens": 1000},
    }


def test_usage_without_cache_fields() -> None:
    out = parse({**DOC_MESSAGE, "usage": {"input_tokens": 10, "output_tokens": 3}})
    assert out["usage"] == {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}


def test_parallel_tool_use_response() -> None:
    body = {
        **DOC_MESSAGE,
        "stop_reason": "tool_use",
        "content": [
            {"type": "text", "text": "Let me check."},
            {
                "type": "tool_use",
                "id": "toolu_01",
                "name": "get_weather",
                "input": {"query": "Paris", "days": 2},
            },
            {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}},
        ],
    }
    assert_valid(MESSAGE, body)
    message = parse(body)["choices"][0]["message"]
    assert message["content"] == "Let me check."
    assert [(c["id"], c["function"]["name"]) for c in message["tool_calls"]] == [
        ("toolu_01", "get_weather"),
        ("toolu_02", "get_time"),
    ]
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"query": "Paris", "days": 2}
    assert json.loads(message["tool_calls"][1]["function"]["arguments"]) == {}
    assert parse(body)["choices"][0]["finish_reason"] == "tool_calls"
    only_tools = parse({**body, "content": body["content"][1:]})
    assert only_tools["choices"][0]["message"]["content"] is None


def test_thinking_blocks_become_reasoning_content() -> None:
    body = {
        **DOC_MESSAGE,
        "content": [
            {"type": "thinking", "thinking": "The user greets me.", "signature": "EqoBCkgIARAB"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Hello!"},
        ],
    }
    message = parse(body)["choices"][0]["message"]
    assert message["reasoning_content"] == "The user greets me."
    assert message["content"] == "Hello!"


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
    ],
)
def test_stop_reasons(stop_reason: str, finish: str) -> None:
    assert parse({**DOC_MESSAGE, "stop_reason": stop_reason})["choices"][0]["finish_reason"] == finish


def test_non_message_200_bodies_raise() -> None:
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(errors.InternalServerError) as info:
        make_adapter().parse_chat(response(200, overloaded), HAIKU)
    assert info.value.status_code == 529
    with pytest.raises(errors.InternalServerError, match="malformed"):
        make_adapter().parse_chat(response(200, content=b"<html>oops</html>"), HAIKU)


# -- streams ------------------------------------------------------------------------------------
def test_stream_matches_non_stream_answer_in_random_splits() -> None:
    call, reply, protocol = roundtrip(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "tell me about streams please"},
            ]
        }
    )
    expected = parse(json.loads(protocol.chat(call, reply).body))
    for seed in range(8):
        chunks, complete = run_stream(protocol.stream(call, reply), seed)
        assert complete
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        assert all("role" not in c["choices"][0]["delta"] for c in chunks[1:])
        assert joined(chunks, "content") == expected["choices"][0]["message"]["content"]
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        assert chunks[-1]["usage"] == expected["usage"]
        assert all(c["id"] == "msg_mock" for c in chunks)


def test_stream_parallel_tool_calls_concatenate_to_json() -> None:
    call, reply, protocol = roundtrip(
        {"tools": [WEATHER, TIME], "messages": [{"role": "user", "content": "get_weather and get_time"}]}
    )
    assert len(reply.tool_calls) == 2
    expected = parse(json.loads(protocol.chat(call, reply).body))["choices"][0]["message"]["tool_calls"]
    for seed in range(5):
        chunks, complete = run_stream(protocol.stream(call, reply), seed)
        assert complete
        calls = tool_arguments(chunks)
        assert sorted(calls) == [0, 1]
        for index, want in enumerate(expected):
            got = calls[index]
            assert (got["id"], got["name"]) == (want["id"], want["function"]["name"])
            assert json.loads(got["arguments"]) == json.loads(want["function"]["arguments"])
        assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_documented_stream_with_ping_cache_usage_and_cumulative_output() -> None:
    start = {
        "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-3-5-haiku-20241022",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 25,
            "output_tokens": 1,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 0,
        },
    }
    parts = [
        event("message_start", {"type": "message_start", "message": start}),
        event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        event("ping", {"type": "ping"}),
        event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
        ),
        event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}},
        ),
        event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                    "name": "get_time",
                    "input": {},
                },
            },
        ),
        event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": ""},
            },
        ),
        event("content_block_stop", {"type": "content_block_stop", "index": 1}),
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 15},
            },
        ),
        event("message_stop", {"type": "message_stop"}),
    ]
    for part in parts:
        if b"event: ping" not in part:
            assert_valid(STREAM_EVENT, json.loads(part.split(b"data: ", 1)[1]))
    chunks, complete = run_stream(parts, seed=3)
    assert complete
    assert joined(chunks, "content") == "Hello!"
    assert tool_arguments(chunks) == {
        0: {"id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_time", "arguments": "{}"}
    }  # a tool with no input still gets JSON
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "tool_calls"
    assert final["usage"] == {
        "prompt_tokens": 125,
        "completion_tokens": 15,
        "total_tokens": 140,
        "prompt_tokens_details": {"cached_tokens": 100},
    }
    assert final["model"] == "claude-3-5-haiku-20241022"


def test_stream_thinking_deltas_become_reasoning_content() -> None:
    call = MockCall("chat", HAIKU, stream=True, messages=[{"role": "user", "content": "hi"}])
    reply = Reply(
        "Hello there", reasoning="The user says hi so I greet", prompt_tokens=3, completion_tokens=9
    )
    protocol = AnthropicProtocol()
    chunks, complete = run_stream(protocol.stream(call, reply), seed=1)
    assert complete
    assert joined(chunks, "reasoning_content") == "The user says hi so I greet"
    assert joined(chunks, "content") == "Hello there"
    assert parse(json.loads(protocol.chat(call, reply).body))["choices"][0]["message"][
        "reasoning_content"
    ] == ("The user says hi so I greet")


def test_stream_without_message_delta_is_not_complete() -> None:
    call = MockCall("chat", HAIKU, stream=True, messages=[{"role": "user", "content": "hi"}])
    chunks, complete = run_stream(AnthropicProtocol().stream(call, reply_for(call), finish=False))
    assert not complete
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)


@pytest.mark.parametrize(
    ("etype", "cls", "kind", "status"),
    [
        ("overloaded_error", errors.InternalServerError, "server_error", 529),
        ("rate_limit_error", errors.RateLimitError, "rate_limit", 429),
        ("api_error", errors.InternalServerError, "server_error", 500),
    ],
)
def test_mid_stream_error_event(etype: str, cls: type[errors.APIStatusError], kind: str, status: int) -> None:
    call = MockCall("chat", HAIKU, stream=True, messages=[{"role": "user", "content": "hi there friend"}])
    protocol = AnthropicProtocol()
    kind_in = "server_error" if etype != "rate_limit_error" else "rate_limit"
    error_event = protocol.stream_error(kind_in, status, "Overloaded" if status == 529 else "boom")
    assert_valid(ERROR_RESPONSE, json.loads(error_event.split(b"data: ", 1)[1]))
    assert json.loads(error_event.split(b"data: ", 1)[1])["error"]["type"] == etype
    parts = [*protocol.stream(call, reply_for(call))[:4], error_event]
    with pytest.raises(cls) as info:
        run_stream(parts)
    assert (info.value.kind, info.value.status_code, info.value.code) == (kind, status, etype)
    assert info.value.provider == "claude"
    assert info.value.model == HAIKU


def test_malformed_stream_event_is_a_server_error() -> None:
    translator = make_adapter().stream_translator(response(200, content=b""), HAIKU)
    decoder = SSEDecoder()
    (bad,) = decoder.feed(b"event: content_block_delta\ndata: {not json\n\n")
    with pytest.raises(errors.InternalServerError, match="malformed"):
        translator.feed(bad)


# -- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "etype", "message", "cls", "kind"),
    [
        (400, "invalid_request_error", "max_tokens: Field required", errors.BadRequestError, "bad_request"),
        (
            400,
            "invalid_request_error",
            "prompt is too long: 250001 tokens > 200000 maximum",
            errors.ContextWindowExceededError,
            "context_window",
        ),
        (401, "authentication_error", "invalid x-api-key", errors.AuthenticationError, "auth"),
        (402, "billing_error", "Your credit balance is too low", errors.QuotaExceededError, "quota"),
        (
            403,
            "permission_error",
            "Your API key does not have permission",
            errors.PermissionDeniedError,
            "permission",
        ),
        (404, "not_found_error", "model: claude-9", errors.NotFoundError, "not_found"),
        (
            413,
            "request_too_large",
            "Request exceeds the maximum size",
            errors.ContextWindowExceededError,
            "context_window",
        ),
        (
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your rate limit",
            errors.RateLimitError,
            "rate_limit",
        ),
        (500, "api_error", "Internal server error", errors.InternalServerError, "server_error"),
        (504, "timeout_error", "Request timed out", errors.APIStatusError, "timeout"),
        (529, "overloaded_error", "Overloaded", errors.InternalServerError, "server_error"),
    ],
)
def test_error_shapes(
    status: int, etype: str, message: str, cls: type[errors.APIStatusError], kind: str
) -> None:
    body = {"type": "error", "error": {"type": etype, "message": message}}
    exc = make_adapter().parse_error(response(status, body, headers={"retry-after": "3"}), HAIKU)
    assert type(exc) is cls
    assert (exc.kind, exc.status_code, exc.code) == (kind, status, etype)
    assert message in str(exc)
    assert "[claude/claude-3-5-haiku-latest]" in str(exc)
    assert exc.retry_after == 3.0
    assert KEY not in str(exc)
    assert KEY not in repr(exc)


def test_529_is_retryable_server_error_for_openai_callers() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    exc = make_adapter().parse_error(response(529, body), HAIKU)
    assert isinstance(exc, openai.InternalServerError)
    assert exc.kind == "server_error"


def test_non_json_error_body_uses_the_status() -> None:
    exc = make_adapter().parse_error(response(502, content=b"<html>Bad Gateway</html>"), HAIKU)
    assert isinstance(exc, errors.InternalServerError)
    assert "Bad Gateway" in str(exc)


# -- the mock protocol --------------------------------------------------------------------------
def test_mock_bodies_follow_the_spec() -> None:
    protocol = AnthropicProtocol()
    call, reply, _ = roundtrip({"messages": [{"role": "user", "content": "hello mock"}]})
    assert_valid(MESSAGE, json.loads(protocol.chat(call, reply).body))
    for part in protocol.stream(call, reply):
        name, data = part.decode().split("\n", 1)
        assert name.startswith("event: ")
        assert part.endswith(b"\n\n")
        if name != "event: ping":
            assert_valid(STREAM_EVENT, json.loads(data.removeprefix("data: ")))
    tool_call, tool_reply, _ = roundtrip(
        {"tools": [WEATHER], "messages": [{"role": "user", "content": "weather"}]}
    )
    assert_valid(MESSAGE, json.loads(protocol.chat(tool_call, tool_reply).body))
    for kind, status in [
        ("rate_limit", 429),
        ("auth", 401),
        ("context_window", 400),
        ("server_error", 529),
        ("server_error", 500),
        ("not_found", 404),
        ("permission", 403),
    ]:
        rendered = protocol.error(kind, status, "mock")
        assert rendered.status == status
        assert_valid(ERROR_RESPONSE, json.loads(rendered.body))
        exc = make_adapter().parse_error(response(status, json.loads(rendered.body)), HAIKU)
        assert exc.kind == kind


def test_mock_requires_version_header_and_key() -> None:
    from llmswitch.testing import MockApp

    app = MockApp({"claude": "anthropic"})
    app.mount("claude").api_key = KEY
    body = json.dumps(
        {"model": HAIKU, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    ).encode()
    ok = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    assert app.handle("POST", "/claude/v1/messages", {}, ok, body).status == 200
    no_version = app.handle("POST", "/claude/v1/messages", {}, {"x-api-key": KEY}, body)
    assert no_version.status == 400
    assert b"anthropic-version" in no_version.parts[0]
    wrong_key = app.handle("POST", "/claude/v1/messages", {}, {**ok, "x-api-key": "nope"}, body)
    assert wrong_key.status == 401
    assert json.loads(wrong_key.parts[0])["error"]["type"] == "authentication_error"


# -- end to end: the public client over the loopback mock server --------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer({"claude": "anthropic"}) as srv:
        srv.mount("claude").api_key = KEY
        yield srv


@pytest.fixture
def client(server: MockServer) -> Iterator[llmswitch.OpenAI]:
    server.mount("claude").script.clear()
    server.mount("claude").requests.clear()
    config = {
        "providers": {"claude": {"type": "anthropic", "api_key": KEY, "base_url": server.base_url("claude")}}
    }
    with llmswitch.OpenAI(config=config, max_retries=0) as c:
        yield c


def sent_bodies(server: MockServer) -> list[dict[str, Any]]:
    bodies = [json.loads(r.body) for r in server.mount("claude").requests]
    for body in bodies:
        assert_valid(REQUEST, body)
    return bodies


def test_e2e_plain_and_stream(client: llmswitch.OpenAI, server: MockServer) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello over http"}]
    resp = client.chat.completions.create(model=f"claude/{HAIKU}", messages=messages)
    assert isinstance(resp, ChatCompletion)
    assert resp.choices[0].message.content == f"[claude:{HAIKU}] hello over http"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None
    assert resp.usage.completion_tokens == 4
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + 4
    chunks = list(client.chat.completions.create(model=f"claude/{HAIKU}", messages=messages, stream=True))
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        == resp.choices[0].message.content
    )
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == resp.usage.completion_tokens
    bodies = sent_bodies(server)
    assert [b.get("stream", False) for b in bodies] == [False, True]
    assert all(b["system"] == "Be brief." for b in bodies)
    assert all(r.headers["anthropic-version"] == "2023-06-01" for r in server.mount("claude").requests)


def test_e2e_parallel_tool_loop(client: llmswitch.OpenAI, server: MockServer) -> None:
    history: list[dict[str, Any]] = [{"role": "user", "content": "use get_weather and get_time for Paris"}]
    first = client.chat.completions.create(model=f"claude/{HAIKU}", messages=history, tools=[WEATHER, TIME])
    calls = first.choices[0].message.tool_calls or []
    assert first.choices[0].finish_reason == "tool_calls"
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    history.append(first.choices[0].message.model_dump(exclude_none=True))
    for c in calls:
        history.append({"role": "tool", "tool_call_id": c.id, "content": f"{c.function.name} ok"})
    second = client.chat.completions.create(model=f"claude/{HAIKU}", messages=history, tools=[WEATHER, TIME])
    assert second.choices[0].message.content == "Tool results: get_weather ok; get_time ok"
    assert second.choices[0].finish_reason == "stop"
    bodies = sent_bodies(server)
    results = bodies[1]["messages"][-1]
    assert results["role"] == "user"
    assert [b["tool_use_id"] for b in results["content"]] == [c.id for c in calls]
    stream = client.chat.completions.create(
        model=f"claude/{HAIKU}", messages=history[:1], tools=[WEATHER, TIME], stream=True
    )
    streamed = tool_arguments([c.model_dump() for c in stream])
    assert [streamed[i]["name"] for i in sorted(streamed)] == ["get_weather", "get_time"]
    assert all(
        json.loads(streamed[i]["arguments"]) == json.loads(calls[i].function.arguments) for i in streamed
    )


def test_e2e_errors(client: llmswitch.OpenAI, server: MockServer) -> None:
    server.mount("claude").fail("429:retry-after=0")
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model=f"claude/{HAIKU}", messages=[{"role": "user", "content": "hi"}])
    assert isinstance(info.value, llmswitch.RateLimitError)
    # overloaded right after message_start: nothing was delivered yet, so it is a plain error
    server.mount("claude").fail("stream_error:status=529:after=1")
    with pytest.raises(openai.InternalServerError) as overloaded:
        client.chat.completions.create(
            model=f"claude/{HAIKU}", stream=True, messages=[{"role": "user", "content": "hi there"}]
        )
    assert overloaded.value.status_code == 529
    assert overloaded.value.code == "overloaded_error"
    # after text was delivered: an interruption that keeps the partial output
    server.mount("claude").fail("stream_error:status=529:after=4")
    received: list[str] = []
    stream = client.chat.completions.create(
        model=f"claude/{HAIKU}", stream=True, messages=[{"role": "user", "content": "hi there"}]
    )
    with pytest.raises(llmswitch.StreamInterruptedError) as cut:
        received.extend(c.choices[0].delta.content or "" for c in stream)
    assert cut.value.partial_text == "".join(received) == f"[claude:{HAIKU}] "
    assert isinstance(cut.value.__cause__, errors.InternalServerError)


async def test_e2e_async_stream(server: MockServer) -> None:
    config = {
        "providers": {"claude": {"type": "anthropic", "api_key": KEY, "base_url": server.base_url("claude")}}
    }
    async with llmswitch.AsyncOpenAI(config=config, max_retries=0) as aclient:
        stream = await aclient.chat.completions.create(
            model=f"claude/{HAIKU}", stream=True, messages=[{"role": "user", "content": "async hello"}]
        )
        chunks = [c async for c in stream]
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        == f"[claude:{HAIKU}] async hello"
    )
    assert chunks[-1].choices[0].finish_reason == "stop"
