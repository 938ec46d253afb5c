"""Bridged requests validate against OpenAI's published OpenAPI spec, on every OpenAI-protocol preset.

The Responses bodies used here are themselves checked against the spec's ``CreateResponse`` first,
and the bridged Response against its ``Response`` schema.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from llmswitch._secret import Secret
from llmswitch.adapters import adapter_class
from llmswitch.adapters.base import Provider
from llmswitch.adapters.structured import StructuredOutputWarning
from llmswitch.catalog import get_preset, preset_names
from llmswitch.responses import ResponseStore, from_chat, to_chat
from support import SHARED

SPEC = SHARED / "specs" / "openai-openapi.yaml"
IMAGE = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGA"
         "hKmMIQAAAABJRU5ErkJggg==")
TOOL = {"type": "function", "name": "lookup", "description": "Look something up", "strict": True,
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"],
                       "additionalProperties": False}}
SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": False}

BODIES: dict[str, dict[str, Any]] = {
    "plain": {"input": "hi", "instructions": "be brief", "temperature": 0.5, "top_p": 0.9, "max_output_tokens": 20,
              "user": "u", "metadata": {"k": "v"}, "store": True},
    "stream": {"input": "hi", "stream": True},
    "tools": {"input": "lookup x", "tools": [TOOL], "tool_choice": {"type": "function", "name": "lookup"},
              "parallel_tool_calls": False},
    "tool_turn": {"tools": [TOOL], "input": [
        {"role": "user", "content": "lookup x"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "hmm"}]},
        {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": '{"q":"x"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "found"}]},
    "json_schema": {"input": "give a", "text": {"format": {"type": "json_schema", "name": "A", "schema": SCHEMA,
                                                           "strict": True}}},
    "json_object": {"input": "give json", "text": {"format": {"type": "json_object"}}},
    "vision": {"input": [{"role": "user", "content": [{"type": "input_text", "text": "what"},
                                                      {"type": "input_image", "image_url": IMAGE, "detail": "low"}]}]},
}


@pytest.fixture(scope="module")
def validator() -> Any:
    if not SPEC.exists():
        pytest.skip(f"the OpenAI spec is not at {SPEC}")
    import yaml
    from jsonschema import Draft202012Validator, _keywords, validators
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    spec = yaml.load(SPEC.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    registry = Registry().with_resource("urn:openai", Resource(spec, specification=DRAFT202012))

    # the spec's input-item unions are oneOf + discriminator, and a user message with content parts
    # matches two branches (EasyInputMessage and InputMessage); jsonschema ignores discriminators, so
    # for those unions "one of" is checked as "any of"
    lenient = validators.extend(Draft202012Validator, {"oneOf": _keywords.anyOf})

    def for_schema(name: str, *, discriminated: bool = False) -> Any:
        cls = lenient if discriminated else Draft202012Validator
        return cls({"$ref": f"urn:openai#/components/schemas/{name}"}, registry=registry)

    return for_schema


def _problems(schema: Any, body: Any) -> list[str]:
    return [f"{e.message} at {list(e.absolute_path)}" for e in schema.iter_errors(body)]


def _bridged_presets() -> list[str]:
    """OpenAI-protocol presets without a native Responses API: these get bridged requests."""
    return [name for name in preset_names()
            if (p := get_preset(name)) and p.protocol in ("openai", "azure") and p.responses is None]


def test_bodies_are_real_responses_requests(validator: Any) -> None:
    schema = validator("CreateResponse", discriminated=True)
    for name, body in BODIES.items():
        assert not _problems(schema, {"model": "gpt-4o", **body}), name


@pytest.mark.parametrize("preset", _bridged_presets())
def test_bridged_chat_requests_validate(preset: str, validator: Any) -> None:
    schema = validator("CreateChatCompletionRequest")
    spec = get_preset(preset)
    assert spec is not None
    adapter = adapter_class(spec.protocol)(Provider("p", spec, spec.base_url or "http://127.0.0.1:1/v1",
                                                    {"api_key": Secret("sk-spec")}))
    for name, body in BODIES.items():
        params, _ = to_chat({"model": "some-model", **body}, ResponseStore())
        with warnings.catch_warnings():  # the request's shape is checked here, not how a schema is honoured
            warnings.simplefilter("ignore", StructuredOutputWarning)
            wire = adapter.chat_request(params, stream=bool(body.get("stream")))
        problems = _problems(schema, wire.json)
        assert not problems, f"{preset}/{name}: {problems[0]}"


def test_bridged_response_validates(validator: Any) -> None:
    _, ctx = to_chat({"model": "m", **BODIES["tools"]}, ResponseStore())
    completion = {"model": "deepseek-chat", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "On it.", "reasoning_content": "think", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"q":"x"}'}}]}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
    assert not _problems(validator("Response"), from_chat(completion, ctx))


def test_bridged_stream_events_validate(validator: Any) -> None:
    from llmswitch.responses import ResponseEvents

    schema = validator("ResponseStreamEvent", discriminated=True)
    _, ctx = to_chat({"model": "m", **BODIES["tools"], "stream": True}, ResponseStore())
    bridge = ResponseEvents(ctx)
    chunks = [{"model": "m", "choices": [{"index": 0, "delta": {"reasoning_content": "think"}}]},
              {"model": "m", "choices": [{"index": 0, "delta": {"content": "On it."}}]},
              {"model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [
                  {"index": 0, "id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
                  "finish_reason": "length"}]}]
    events = [e for chunk in chunks for e in bridge.feed(chunk)] + bridge.close()
    assert events[-1]["type"] == "response.incomplete"
    for event in events:
        assert not _problems(schema, event), (event["type"], _problems(schema, event))
