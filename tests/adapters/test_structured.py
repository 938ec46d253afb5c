"""Structured outputs at the adapter level: native request shapes, the Anthropic answer tool coming
back as content (whole and streamed), and the mock's schema instances (valid by jsonschema)."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import jsonschema
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from llmswitch import errors
from llmswitch._secret import Secret
from llmswitch.adapters import adapter_class
from llmswitch.adapters.base import Adapter, Provider
from llmswitch.adapters.structured import StructuredOutputWarning, output_spec
from llmswitch.catalog import get_preset
from llmswitch.streaming import SSEDecoder
from llmswitch.testing.instances import instance_of, schema_in_text
from llmswitch.testing.protocols.anthropic import AnthropicProtocol
from llmswitch.testing.scenario import MockCall, reply_for

SCHEMA: dict[str, Any] = {
    "$defs": {
        "Item": {"type": "object", "properties": {"sku": {"type": "string", "minLength": 12},
                                                  "qty": {"type": "integer", "exclusiveMinimum": 0,
                                                          "maximum": 5}},
                 "required": ["sku", "qty"], "additionalProperties": False},
        "Kind": {"enum": ["retail", "trade"], "type": "string"},
    },
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "when": {"type": "string", "format": "date-time"},
        "kind": {"$ref": "#/$defs/Kind"},
        "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "minItems": 2},
        "note": {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]},
        "score": {"type": ["number", "null"], "minimum": 0, "exclusiveMaximum": 1},
        "paid": {"type": "boolean"},
        "version": {"const": 2},
        "meta": {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}]},
    },
    "required": ["id", "when", "kind", "items", "note", "score", "paid", "version", "meta"],
    "additionalProperties": False,
}
FORMAT = {"type": "json_schema", "json_schema": {"name": "order", "schema": SCHEMA, "strict": True}}
MESSAGES = [{"role": "user", "content": "order?"}]


def adapter(kind: str, *, strict: bool = False, **credentials: str) -> Adapter:
    preset = get_preset(kind)
    assert preset is not None and preset.base_url is not None
    creds = {name: Secret(value) for name, value in (credentials or {"api_key": "k"}).items()}
    return adapter_class(preset.protocol)(Provider("p", preset, preset.base_url, creds, strict=strict))


def response(body: Any) -> httpx2.Response:
    return httpx2.Response(200, json=body, request=httpx2.Request("POST", "https://vendor.invalid/"))


# -- the mock's instances -------------------------------------------------------------------------
def test_instance_is_valid_and_deterministic() -> None:
    value = instance_of(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(value)
    assert value == instance_of(SCHEMA)
    assert len(value["items"]) == 2 and value["kind"] == "retail" and value["version"] == 2


def test_instance_of_geminis_subset_and_a_recursive_model() -> None:
    gemini = {"type": "OBJECT", "properties": {"n": {"type": "INTEGER", "nullable": True},
                                                "xs": {"type": "ARRAY", "items": {"type": "NUMBER"}}}}
    assert instance_of(gemini) == {"n": 1, "xs": [1.5]}
    tree = {"$defs": {"Node": {"type": "object", "properties": {
        "label": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
        "required": ["label", "children"]}}, "$ref": "#/$defs/Node"}
    jsonschema.validate(instance_of(tree), tree)  # bounded depth, still valid


def test_schema_found_in_an_instruction() -> None:
    text = 'Be nice.\n\nRespond with JSON. The object must conform to this JSON Schema (order):\n{"type": "object"}'
    assert schema_in_text(text) == {"type": "object"}
    assert schema_in_text("Respond in JSON.") is None


# -- request shapes -------------------------------------------------------------------------------
def test_output_spec_reads_only_json_formats() -> None:
    assert output_spec({"type": "text"}) is None and output_spec(None) is None
    spec = output_spec(FORMAT)
    assert spec is not None and (spec.name, spec.schema) == ("order", SCHEMA)


@pytest.mark.parametrize(("kind", "native"), [
    ("openai", FORMAT), ("groq", FORMAT), ("deepseek", {"type": "json_object"}),
    ("moonshot", {"type": "json_object"}), ("zhipu-compat", {"type": "json_object"}),
    ("dashscope-compat", {"type": "json_object"}),
])
def test_openai_dialects_pass_through_or_fall_back_to_json_mode(kind: str, native: dict[str, Any]) -> None:
    body = adapter(kind).chat_request({"model": "m", "messages": MESSAGES, "response_format": FORMAT},
                                      stream=False).json
    assert body["response_format"] == native
    prompted = body["messages"][0]["content"] if native != FORMAT else ""
    assert (schema_in_text(prompted) == SCHEMA) is (native != FORMAT)


def test_a_dialect_without_response_format_warns_or_refuses() -> None:
    params = {"model": "SenseChat-5", "messages": MESSAGES, "response_format": FORMAT}
    with pytest.warns(StructuredOutputWarning, match="response_format json_schema is not supported"):
        body = adapter("sensenova-compat").chat_request(params, stream=False).json
    assert "response_format" not in body and schema_in_text(body["messages"][0]["content"]) == SCHEMA
    with pytest.raises(errors.UnsupportedParameterError, match="sensenova-compat"):
        adapter("sensenova-compat", strict=True).chat_request(params, stream=False)


def test_hunyuan_native_has_no_json_mode() -> None:
    creds = {"secret_id": "AKID", "secret_key": "s"}
    params = {"model": "hunyuan-turbo", "messages": MESSAGES, "response_format": FORMAT}
    with pytest.warns(StructuredOutputWarning):
        body = adapter("hunyuan", **creds).chat_request(params, stream=False).json
    assert body["Messages"][0]["Role"] == "system" and "ResponseFormat" not in body
    with pytest.raises(errors.UnsupportedParameterError, match="response_format json_schema"):
        adapter("hunyuan", strict=True, **creds).chat_request(params, stream=False)


def test_gemini_schema_is_converted_to_its_subset() -> None:
    body = adapter("gemini").chat_request({"model": "gemini-2.0-flash", "messages": MESSAGES,
                                           "response_format": FORMAT}, stream=False).json
    schema = body["generationConfig"]["responseSchema"]
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    assert schema["properties"]["kind"] == {"enum": ["retail", "trade"], "type": "string"}  # $ref inlined
    assert schema["properties"]["note"]["nullable"] is True and "additionalProperties" not in schema
    assert schema["properties"]["items"]["items"]["required"] == ["sku", "qty"]


def test_ollama_format_is_the_schema() -> None:
    body = adapter("ollama").chat_request({"model": "llama3.1", "messages": MESSAGES, "response_format": FORMAT},
                                          stream=False).json
    assert body["format"] == SCHEMA


def test_plain_requests_are_untouched() -> None:
    """No response_format: no instruction, no tool, no conversion (the hot path stays as it was)."""
    for kind in ("deepseek", "dashscope", "anthropic"):
        body = adapter(kind).chat_request({"model": "m", "messages": MESSAGES}, stream=False).json
        assert "JSON" not in json.dumps(body) and "tools" not in body


# -- Anthropic: the answer tool comes back as content ----------------------------------------------
def _anthropic_answer(stream: bool) -> tuple[AnthropicProtocol, MockCall]:
    wire = adapter("anthropic").chat_request({"model": "claude-3-5-haiku-latest", "messages": MESSAGES,
                                              "response_format": FORMAT}, stream=stream)
    protocol = AnthropicProtocol()
    from llmswitch.testing.protocols.base import MockRequest

    call = protocol.parse(MockRequest("POST", "/v1/messages", {}, {"anthropic-version": "2023-06-01"},
                                      json.dumps(wire.json).encode()))
    assert call is not None and call.forced_tool == "structured_output__order" and call.schema == SCHEMA
    return protocol, call


def test_anthropic_answer_tool_is_content_with_finish_stop() -> None:
    protocol, call = _anthropic_answer(stream=False)
    rendered = protocol.chat(call, reply_for(call))
    assert json.loads(rendered.body)["stop_reason"] == "tool_use"
    out = adapter("anthropic").parse_chat(response(json.loads(rendered.body)), "claude")
    ChatCompletion.model_validate(out)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "stop" and "tool_calls" not in choice["message"]
    jsonschema.validate(json.loads(choice["message"]["content"]), SCHEMA)


def test_anthropic_streamed_answer_tool_is_content_deltas() -> None:
    protocol, call = _anthropic_answer(stream=True)
    ad = adapter("anthropic")
    translator = ad.stream_translator(response({}), "claude")
    decoder = SSEDecoder()
    chunks = [c for part in protocol.stream(call, reply_for(call)) for ev in decoder.feed(part)
              for c in translator.feed(ev)]
    for c in chunks:
        ChatCompletionChunk.model_validate(c)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert not any("tool_calls" in d for d in deltas)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and translator.complete
    jsonschema.validate(json.loads("".join(d.get("content") or "" for d in deltas)), SCHEMA)


def test_anthropic_non_object_root_goes_in_the_prompt() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "xs", "schema": {"type": "array"}}}
    params = {"model": "claude-3-5-haiku-latest", "messages": MESSAGES, "response_format": fmt}
    with pytest.warns(StructuredOutputWarning):
        body = adapter("anthropic").chat_request(params, stream=False).json
    assert "tools" not in body and schema_in_text(body["system"]) == {"type": "array"}


LOOKUP = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}


@pytest.mark.parametrize(("extra", "choice"), [
    ({}, {"type": "tool", "name": "structured_output__order"}),
    ({"tools": [LOOKUP], "tool_choice": "none"}, {"type": "tool", "name": "structured_output__order"}),
    ({"tools": [LOOKUP], "tool_choice": "required"}, {"type": "any"}),
    ({"tools": [LOOKUP], "tool_choice": {"type": "function", "function": {"name": "lookup"}}},
     {"type": "tool", "name": "lookup"}),
    ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, {"type": "auto"}),
])
def test_anthropic_tool_choice_with_a_response_format(extra: dict[str, Any], choice: dict[str, Any]) -> None:
    body = adapter("anthropic").chat_request({"model": "claude-sonnet-4-0", "messages": MESSAGES,
                                              "response_format": FORMAT, **extra}, stream=False).json
    assert body["tool_choice"] == choice
    assert body["tools"][-1]["name"] == "structured_output__order"
    assert ("structured_output__order" in json.dumps(body.get("system"))) is ("thinking" in extra)
