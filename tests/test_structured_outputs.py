"""Structured outputs across providers: a ``response_format`` json_schema (as openai's ``parse()``
sends it) goes through each adapter over real HTTP to its vendor's mock protocol, and the content
that comes back parses into the caller's pydantic model — or, where the vendor has no JSON mode,
strict mode refuses before sending and lenient mode warns once."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from openai.lib._parsing._completions import type_to_response_format_param
from pydantic import BaseModel, ConfigDict, Field

import llmswitch
from llmswitch.testing import MockServer


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")
    city: str
    zip_code: str | None = None


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    age: int = Field(ge=18, le=99)
    height: float = Field(gt=0)
    active: bool
    favourite: Colour
    tags: list[str]
    address: Address
    previous: list[Address]


FORMAT = type_to_response_format_param(Person)  # exactly what chat.completions.parse() sends
MESSAGES = [{"role": "system", "content": "Extract the person."},
            {"role": "user", "content": "Ada, 36, lives in London."}]

Body = dict[str, Any]
# provider type → (mount protocol, credentials, model, what the native request must show)
CASES: dict[str, tuple[str, dict[str, str], str, Callable[[Body], bool]]] = {
    "openai": ("openai", {"api_key": "sk-x"}, "gpt-4o-mini",
               lambda b: b["response_format"] == FORMAT),
    "anthropic": ("anthropic", {"api_key": "sk-ant-x"}, "claude-3-5-haiku-latest",
                  lambda b: b["tool_choice"] == {"type": "tool", "name": "structured_output__Person"}
                  and b["tools"][0]["input_schema"] == FORMAT["json_schema"]["schema"]),
    "gemini": ("gemini", {"api_key": "AIza-x"}, "gemini-2.0-flash",
               lambda b: b["generationConfig"]["responseMimeType"] == "application/json"
               and "$defs" not in json.dumps(b["generationConfig"]["responseSchema"])),
    "ollama": ("ollama", {}, "llama3.1",
               lambda b: b["format"] == FORMAT["json_schema"]["schema"]),
    "dashscope": ("dashscope", {"api_key": "sk-ds"}, "qwen-plus",
                  lambda b: b["parameters"]["response_format"] == {"type": "json_object"}
                  and "JSON Schema" in b["input"]["messages"][0]["content"]),
    "zhipu": ("zhipu", {"api_key": "0123456789abcdef.secretpart"}, "glm-4-flash",
              lambda b: b["response_format"] == {"type": "json_object"}
              and "JSON Schema" in b["messages"][0]["content"]),
    "minimax": ("minimax", {"api_key": "mm-key"}, "MiniMax-M1",
                lambda b: b["response_format"] == FORMAT),
    "qianfan": ("qianfan", {"api_key": "ak", "secret_key": "sk"}, "ERNIE-4.0-8K",
                lambda b: b["response_format"] == "json_object" and "JSON Schema" in b["system"]),
    "deepseek": ("openai", {"api_key": "sk-ds"}, "deepseek-chat",  # a preset with json_object only
                 lambda b: b["response_format"] == {"type": "json_object"}
                 and "JSON Schema" in b["messages"][0]["content"]),
}
# vendors without a JSON mode: the schema can only be asked for in the system prompt
NO_JSON_MODE: dict[str, tuple[str, dict[str, str], str]] = {
    "hunyuan": ("hunyuan", {"secret_id": "AKIDexample", "secret_key": "example-secret"}, "hunyuan-turbo"),
    "sensenova": ("sensenova", {"access_key_id": "ak", "secret_access_key": "sk"}, "SenseChat-5"),
}
MOUNTS = {name: spec[0] for name, spec in {**CASES, **NO_JSON_MODE}.items()}


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(MOUNTS) as srv:
        yield srv


def _client(server: MockServer, kind: str, credentials: dict[str, str], *, strict: bool = False,
            **config: Any) -> llmswitch.OpenAI:
    spec = {"type": kind, "base_url": server.base_url(kind), "strict": strict, **credentials}
    return llmswitch.OpenAI(config={"providers": {"p": spec}, **config})


def _last_body(server: MockServer, mount: str) -> Body:
    chats = [r for r in server.mount(mount).requests if not r.path.endswith("/oauth/2.0/token")]
    body: Body = json.loads(chats[-1].body)
    return body


def _streamed(client: llmswitch.OpenAI, model: str) -> tuple[str, str | None]:
    text, finish = "", None
    for chunk in client.chat.completions.create(model=f"p/{model}", messages=MESSAGES, response_format=FORMAT,
                                                stream=True):
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
            assert not choice.delta.tool_calls  # the answer is content, never a tool call
    return text, finish


@pytest.mark.parametrize("kind", sorted(CASES))
def test_schema_answer_parses_into_the_model(server: MockServer, kind: str) -> None:
    _mount, credentials, model, native = CASES[kind]
    with _client(server, kind, credentials) as client:
        resp = client.chat.completions.create(model=f"p/{model}", messages=MESSAGES, response_format=FORMAT)
    choice = resp.choices[0]
    person = Person.model_validate_json(choice.message.content or "")
    assert person.address.city and person.previous and person.favourite is Colour.RED
    assert choice.finish_reason == "stop" and not choice.message.tool_calls
    assert native(_last_body(server, kind)), _last_body(server, kind)


@pytest.mark.parametrize("kind", ["anthropic", "gemini", "dashscope"])
def test_streamed_schema_answer_parses_into_the_model(server: MockServer, kind: str) -> None:
    _mount, credentials, model, _native = CASES[kind]
    with _client(server, kind, credentials) as client:
        text, finish = _streamed(client, model)
    assert Person.model_validate_json(text).tags
    assert finish == "stop"


def test_anthropic_answer_beside_the_callers_tools_is_content(server: MockServer) -> None:
    """With tools of its own the model must call one: a real tool stays a tool call."""
    _mount, credentials, model, _native = CASES["anthropic"]
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {
        "type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}
    with _client(server, "anthropic", credentials) as client:
        resp = client.chat.completions.create(model=f"p/{model}", messages=MESSAGES, response_format=FORMAT,
                                              tools=[tool])
    assert _last_body(server, "anthropic")["tool_choice"] == {"type": "any"}
    assert resp.choices[0].finish_reason == "tool_calls"
    assert resp.choices[0].message.tool_calls and resp.choices[0].message.tool_calls[0].function.name == "lookup"


@pytest.mark.parametrize("kind", sorted(NO_JSON_MODE))
def test_strict_mode_refuses_before_sending(server: MockServer, kind: str) -> None:
    _mount, credentials, model = NO_JSON_MODE[kind]
    before = len(server.mount(kind).requests)
    with _client(server, kind, credentials, strict=True) as client, \
            pytest.raises(llmswitch.UnsupportedParameterError, match="response_format json_schema") as info:
        client.chat.completions.create(model=f"p/{model}", messages=MESSAGES, response_format=FORMAT)
    assert f"p/{model}" in str(info.value) or model in str(info.value)
    assert len(server.mount(kind).requests) == before  # nothing was sent


@pytest.mark.parametrize("kind", sorted(NO_JSON_MODE))
def test_lenient_mode_warns_once_and_asks_in_the_prompt(server: MockServer, kind: str) -> None:
    _mount, credentials, model = NO_JSON_MODE[kind]
    with _client(server, kind, credentials) as client, \
            pytest.warns(llmswitch.StructuredOutputWarning, match=f"provider 'p' \\({kind}\\)") as caught:
        resp = client.chat.completions.create(model=f"p/{model}", messages=MESSAGES, response_format=FORMAT)
    assert len(caught) == 1
    assert Person.model_validate_json(resp.choices[0].message.content or "").name  # the mock obeyed the prompt


def test_route_skips_a_target_without_json_mode(server: MockServer) -> None:
    """SenseChat-5 has no JSON mode in the catalog: a route with another target never tries it."""
    _m, sn_creds, sn_model = NO_JSON_MODE["sensenova"]
    _m, ds_creds, ds_model, _n = CASES["dashscope"]
    config = {"providers": {
        "sn": {"type": "sensenova", "base_url": server.base_url("sensenova"), **sn_creds},
        "qw": {"type": "dashscope", "base_url": server.base_url("dashscope"), **ds_creds}},
        "routes": {"extract": {"targets": [f"sn/{sn_model}", f"qw/{ds_model}"]}}}
    before = len(server.mount("sensenova").requests)
    with llmswitch.OpenAI(config=config) as client:
        resp = client.chat.completions.create(model="extract", messages=MESSAGES, response_format=FORMAT)
    assert Person.model_validate_json(resp.choices[0].message.content or "").age >= 18
    assert len(server.mount("sensenova").requests) == before


@pytest.mark.parametrize("kind", ["anthropic", "gemini", "dashscope"])
def test_openai_parse_and_stream_helpers_give_the_model(server: MockServer, kind: str) -> None:
    """openai's own ``parse()`` and ``stream()`` helpers, run by llmswitch's client over native adapters."""
    _mount, credentials, model, _native = CASES[kind]
    spec = {"type": kind, "base_url": server.base_url(kind), **credentials}
    with llmswitch.OpenAI(config={"providers": {"p": spec}}, api_key="unused") as client:
        parsed = client.chat.completions.parse(model=f"p/{model}", messages=MESSAGES,
                                               response_format=Person).choices[0].message.parsed
        with client.chat.completions.stream(model=f"p/{model}", messages=MESSAGES,
                                            response_format=Person) as stream:
            streamed = stream.get_final_completion().choices[0].message.parsed
    assert isinstance(parsed, Person) and parsed.address.city
    assert streamed == parsed


async def test_async_parse_over_anthropic(server: MockServer) -> None:
    _mount, credentials, model, _native = CASES["anthropic"]
    spec = {"type": "anthropic", "base_url": server.base_url("anthropic"), **credentials}
    async with llmswitch.AsyncOpenAI(config={"providers": {"p": spec}}, api_key="unused") as client:
        resp = await client.chat.completions.parse(model=f"p/{model}", messages=MESSAGES,
                                                   response_format=Person)
    assert isinstance(resp.choices[0].message.parsed, Person)


@pytest.mark.parametrize("kind", ["anthropic", "gemini", "dashscope", "zhipu"])
@pytest.mark.parametrize("mode", ["JSON", "JSON_SCHEMA", "TOOLS", "MD_JSON"])
def test_instructor_modes_over_native_adapters(server: MockServer, kind: str, mode: str) -> None:
    """instructor's modes send a schema four ways (prompt + json_object, json_schema, a forced function,
    prompt only); each must cross the translation and come back as the caller's model."""
    instructor = pytest.importorskip("instructor")
    _mount, credentials, model, _native = CASES[kind]
    spec = {"type": kind, "base_url": server.base_url(kind), **credentials}
    with llmswitch.OpenAI(config={"providers": {"p": spec}}, api_key="unused") as client:
        patched = instructor.from_openai(client, mode=getattr(instructor.Mode, mode))
        person = patched.chat.completions.create(model=f"p/{model}", messages=MESSAGES, response_model=Person,
                                                 max_retries=0)
    assert isinstance(person, Person) and person.previous
