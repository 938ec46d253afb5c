"""Requests we send to OpenAI-compatible endpoints validate against the official OpenAPI spec."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

import llmswitch
from llmswitch.catalog import get_preset, preset_names
from llmswitch.testing import MockServer
from support import SHARED

SPEC = SHARED / "specs" / "openai-openapi.yaml"
IMAGE = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGA"
         "hKmMIQAAAABJRU5ErkJggg==")
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]

REQUESTS: dict[str, dict[str, Any]] = {
    "plain": {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}],
              "temperature": 0.5, "top_p": 0.9, "max_completion_tokens": 20, "stop": ["x"], "seed": 1},
    "stream": {"messages": [{"role": "user", "content": "hi"}], "stream": True,
               "stream_options": {"include_usage": True}},
    "tools": {"messages": [{"role": "user", "content": "lookup"}], "tools": TOOLS, "tool_choice": "auto"},
    "tool_turn": {"messages": [
        {"role": "user", "content": "lookup"},
        {"role": "assistant", "content": None, "reasoning_content": "thinking",
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "result"}], "tools": TOOLS},
    "json": {"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}},
    "json_schema": {"messages": [{"role": "user", "content": "hi"}], "response_format": {
        "type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": {
            "type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"],
            "additionalProperties": False}}}},
    "vision": {"messages": [{"role": "user", "content": [{"type": "text", "text": "what"},
                                                         {"type": "image_url", "image_url": {"url": IMAGE}}]}]},
}


@pytest.fixture(scope="module")
def validator() -> Any:
    if not SPEC.exists():
        pytest.skip(f"the OpenAI spec is not at {SPEC}")
    import yaml
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    spec = yaml.load(SPEC.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    registry = Registry().with_resource("urn:openai", Resource(spec, specification=DRAFT202012))

    def for_schema(name: str) -> Any:
        return Draft202012Validator({"$ref": f"urn:openai#/components/schemas/{name}"}, registry=registry)

    return for_schema


def _openai_presets() -> list[str]:
    return [name for name in preset_names() if (p := get_preset(name)) and p.protocol in ("openai", "azure")]


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer({"spec": "openai"}) as srv:
        yield srv


@pytest.mark.parametrize("preset", _openai_presets())
def test_chat_requests_validate(preset: str, server: MockServer, validator: Any) -> None:
    config = {"providers": {"p": {"type": preset, "base_url": server.base_url("spec"), "api_key": "sk-spec"}}}
    schema = validator("CreateChatCompletionRequest")
    mount = server.mount("spec")
    with llmswitch.OpenAI(config=config) as client:
        for name, params in REQUESTS.items():
            start = len(mount.requests)
            with _expected_warnings(preset, params):
                result = client.chat.completions.create(model="p/some-model", **params)
            if params.get("stream"):
                list(result)  # type: ignore[call-overload]
            body = json.loads(mount.requests[start].body)
            errors = sorted(schema.iter_errors(body), key=lambda e: list(e.path))
            assert not errors, f"{preset}/{name}: {errors[0].message} at {list(errors[0].path)}"


def _expected_warnings(preset: str, params: dict[str, Any]) -> Any:
    """A preset without response_format asks for JSON in the prompt and says so."""
    spec = get_preset(preset)
    if "response_format" in params and spec is not None and "response_format" in spec.quirks.unsupported:
        return pytest.warns(llmswitch.StructuredOutputWarning)
    return contextlib.nullcontext()


def test_embedding_request_validates(server: MockServer, validator: Any) -> None:
    with llmswitch.OpenAI(api_key="sk-spec", base_url=server.base_url("spec")) as client:
        client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], dimensions=8)
    body = json.loads(server.mount("spec").requests[-1].body)
    assert not list(validator("CreateEmbeddingRequest").iter_errors(body))


def test_validator_rejects_bad_bodies(validator: Any) -> None:
    """The check itself can fail: malformed bodies are caught."""
    schema = validator("CreateChatCompletionRequest")
    assert list(schema.iter_errors({"model": "m", "messages": []}))  # minItems 1
    assert list(schema.iter_errors({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}))
    assert list(schema.iter_errors({"model": "m", "messages": [{"role": "user", "content": "x"}],
                                    "temperature": 9}))
