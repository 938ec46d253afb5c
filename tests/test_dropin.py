"""The drop-in promise: the same code against the same endpoint gives the same results and
exception classes with ``openai.OpenAI`` and with ``llmswitch.OpenAI``."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

import llmswitch
from llmswitch.testing import MockServer

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there friend"}]
_QUERY = {"type": "object", "properties": {"query": {"type": "string"}}}
TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "look up", "parameters": _QUERY}}]
CLIENTS = [openai.OpenAI, llmswitch.OpenAI]
ASYNC_CLIENTS = [openai.AsyncOpenAI, llmswitch.AsyncOpenAI]


def make(cls: Any, server: MockServer, **kw: Any) -> Any:
    return cls(api_key="sk-test-0123456789", base_url=server.base_url("primary"), **kw)


def both(server: MockServer, call: Any, **kw: Any) -> tuple[Any, Any]:
    results = []
    for cls in CLIENTS:
        with make(cls, server, **kw) as client:
            results.append(call(client))
    return results[0], results[1]


def test_plain(server: MockServer) -> None:
    ours_cls = llmswitch.OpenAI
    theirs, ours = both(server, lambda c: c.chat.completions.create(model="gpt-4o", messages=MESSAGES))
    assert type(ours) is type(theirs)
    assert ours.model_dump() == theirs.model_dump()
    assert ours.choices[0].message.content == "[primary:gpt-4o] hello there friend"
    assert ours_cls is llmswitch.OpenAI


def test_request_bodies_equal(server: MockServer) -> None:
    params = dict(model="gpt-4o", messages=MESSAGES, temperature=0.3, max_completion_tokens=50, seed=7,
                  tools=TOOLS, tool_choice="auto", user="u1")
    both(server, lambda c: c.chat.completions.create(**params))
    sent = [json.loads(r.body) for r in server.mount("primary").requests]
    assert sent[0] == sent[1]


def test_streaming(server: MockServer) -> None:
    def run(c: Any) -> list[dict[str, Any]]:
        with c.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                       stream_options={"include_usage": True}) as stream:
            return [chunk.model_dump() for chunk in stream]

    theirs, ours = both(server, run)
    assert ours == theirs
    assert ours[-1]["usage"]["total_tokens"] > 0
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in ours if c["choices"])
    assert text == "[primary:gpt-4o] hello there friend"


def test_tool_calling(server: MockServer) -> None:
    def run(c: Any) -> Any:
        first = c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "lookup cats"}],
                                          tools=TOOLS)
        call = first.choices[0].message.tool_calls[0]
        follow = [{"role": "user", "content": "lookup cats"}, first.choices[0].message.model_dump(exclude_none=True),
                  {"role": "tool", "tool_call_id": call.id, "content": "cats are great"}]
        second = c.chat.completions.create(model="gpt-4o", messages=follow, tools=TOOLS)
        return first.model_dump(), second.model_dump()

    theirs, ours = both(server, run)
    assert ours == theirs
    assert ours[0]["choices"][0]["finish_reason"] == "tool_calls"
    assert ours[1]["choices"][0]["message"]["content"] == "Tool results: cats are great"


def test_json_mode(server: MockServer) -> None:
    theirs, ours = both(server, lambda c: c.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, response_format={"type": "json_object"}))
    assert ours.model_dump() == theirs.model_dump()
    assert json.loads(ours.choices[0].message.content)["echo"] == "hello there friend"


def test_embeddings(server: MockServer) -> None:
    theirs, ours = both(server, lambda c: c.embeddings.create(model="text-embedding-3-small",
                                                             input=["a b", "c"], encoding_format="float"))
    assert ours.model_dump() == theirs.model_dump()
    assert len(ours.data) == 2


def _openai_class(exc: BaseException) -> type[BaseException]:
    """The most specific openai exception class an exception is an instance of."""
    return next(c for c in type(exc).__mro__ if c.__module__.startswith("openai"))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429, 500, 503])
def test_error_classes(server: MockServer, status: int) -> None:
    caught = []
    for cls in CLIENTS:
        with make(cls, server, max_retries=0) as client, pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES,
                                           extra_headers={"x-mock-fault": str(status)})
        caught.append(info.value)
    theirs, ours = caught
    assert _openai_class(ours) is type(theirs)
    assert ours.status_code == theirs.status_code == status
    assert ours.body == theirs.body
    assert "[openai/gpt-4o]" in str(ours)  # ours also names provider and model


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retries_like_openai(server: MockServer, status: int) -> None:
    """Both retry twice by default and then succeed when the third try works."""
    results = []
    for cls in CLIENTS:
        server.mount("primary").fail(f"{status}:retry-after=0*2")
        before = len(server.mount("primary").requests)
        with make(cls, server) as client:
            results.append(client.chat.completions.create(model="gpt-4o", messages=MESSAGES).model_dump())
        assert len(server.mount("primary").requests) - before == 3
    assert results[0] == results[1]


def test_timeout_class(server: MockServer) -> None:
    caught = []
    for cls in CLIENTS:
        with make(cls, server, max_retries=0, timeout=0.3) as client, \
                pytest.raises(openai.APITimeoutError) as info:
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES,
                                           extra_headers={"x-mock-fault": "stall:seconds=2"})
        caught.append(info.value)
    assert _openai_class(caught[1]) is type(caught[0])


def test_connection_error_class() -> None:
    caught = []
    for cls in CLIENTS:
        with cls(api_key="sk-x", base_url="http://127.0.0.1:9/v1", max_retries=0) as client, \
                pytest.raises(openai.APIConnectionError) as info:
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        caught.append(info.value)
    assert _openai_class(caught[1]) is type(caught[0])


def test_missing_key_like_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("LLMSWITCH_CONFIG", raising=False)
    for cls in CLIENTS:
        with pytest.raises(openai.OpenAIError, match="api_key"):
            cls()


def test_env_base_url(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url("backup"))
    monkeypatch.delenv("LLMSWITCH_CONFIG", raising=False)
    with llmswitch.OpenAI() as client:
        resp = client.chat.completions.create(model="m", messages=MESSAGES)
    assert resp.choices[0].message.content.startswith("[backup:m]")
    assert server.mount("backup").requests[-1].headers["authorization"] == "Bearer sk-env"


def test_with_options_and_not_given(server: MockServer) -> None:
    with make(llmswitch.OpenAI, server) as client:
        faster = client.with_options(timeout=5, max_retries=0)
        resp = faster.chat.completions.create(model="gpt-4o", messages=MESSAGES, temperature=openai.NOT_GIVEN)
        assert resp.choices[0].finish_reason == "stop"
        assert "temperature" not in json.loads(server.mount("primary").requests[-1].body)
        server.mount("primary").fail("500")
        with pytest.raises(llmswitch.InternalServerError):
            faster.chat.completions.create(model="gpt-4o", messages=MESSAGES)


def test_extra_body_headers_query(server: MockServer) -> None:
    with make(llmswitch.OpenAI, server, default_headers={"X-App": "demo"}, organization="org-1") as client:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_body={"top_k": 3},
                                       extra_headers={"X-Trace": "t1"}, extra_query={"q": "1"})
    request = server.mount("primary").requests[-1]
    assert json.loads(request.body)["top_k"] == 3
    assert request.headers["x-trace"] == "t1"
    assert request.headers["x-app"] == "demo"
    assert request.headers["openai-organization"] == "org-1"
    assert request.query["q"] == "1"


async def test_async_equal(server: MockServer) -> None:
    results = []
    for cls in ASYNC_CLIENTS:
        async with make(cls, server) as client:
            plain = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
            chunks = [c.model_dump() async for c in stream]
            emb = await client.embeddings.create(model="e", input="x")
            results.append((plain.model_dump(), chunks, emb.model_dump()))
    assert results[0] == results[1]


async def test_async_error_classes(server: MockServer) -> None:
    for status in (400, 429, 500):
        caught = []
        for cls in ASYNC_CLIENTS:
            async with make(cls, server, max_retries=0) as client:
                with pytest.raises(openai.APIStatusError) as info:
                    await client.chat.completions.create(model="gpt-4o", messages=MESSAGES,
                                                         extra_headers={"x-mock-fault": str(status)})
            caught.append(info.value)
        assert _openai_class(caught[1]) is type(caught[0])


def test_extra_body_merges_into_native_sections() -> None:
    """extra_body reaches vendor fields nested in native bodies without wiping the adapter's."""
    with MockServer({"ds": "dashscope"}) as srv:
        config = {"providers": {"q": {"type": "dashscope", "api_key": "k", "base_url": srv.base_url("ds")}}}
        with llmswitch.OpenAI(config=config) as client:
            client.chat.completions.create(model="q/qwen-plus", messages=MESSAGES, temperature=0.5,
                                           extra_body={"parameters": {"enable_search": True}})
        sent = json.loads(srv.mount("ds").requests[-1].body)
    assert sent["parameters"]["enable_search"] is True
    assert sent["parameters"]["temperature"] == 0.5 and sent["parameters"]["result_format"] == "message"
