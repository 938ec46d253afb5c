"""client.responses end to end: openai's own client code over llmswitch's routing transport,
real HTTP to the loopback mock server, a route whose targets are a DeepSeek-preset mock and a
native Anthropic mock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pydantic
import pytest

import llmswitch
from llmswitch.responses import ResponseStore
from llmswitch.testing import MockServer
from llmswitch.testing.instances import instance_of

TOOL = {"type": "function", "name": "get_weather", "description": "Weather for a city", "strict": True,
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"],
                       "additionalProperties": False}}


class Echo(pydantic.BaseModel):
    model: str
    echo: str


MOCK_ECHO = Echo.model_validate(instance_of(Echo.model_json_schema()))


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer({"ds": "openai", "claude": "anthropic"}) as srv:
        yield srv


def config(server: MockServer) -> dict[str, Any]:
    return {
        "providers": {
            "deepseek": {"type": "deepseek", "base_url": server.base_url("ds"), "api_key": "sk-ds"},
            "claude": {"type": "anthropic", "base_url": server.base_url("claude"), "api_key": "sk-ant"},
        },
        "routes": {"chat": {"targets": ["deepseek/deepseek-chat", "claude/claude-3-5-haiku-latest"],
                            "retry": {"max_attempts": 1}}},
    }


@pytest.fixture
def client(server: MockServer) -> Iterator[llmswitch.OpenAI]:
    with llmswitch.OpenAI(config=config(server)) as c:
        yield c


def test_create_plain_and_route_info(client: llmswitch.OpenAI, server: MockServer) -> None:
    response = client.responses.create(model="chat", input="Hello there", instructions="Be brief.",
                                       metadata={"trace": "t-1"})
    assert isinstance(response, openai.types.responses.Response)
    assert response.status == "completed"
    assert response.output_text == "[ds:deepseek-chat] Hello there"
    assert response.metadata == {"trace": "t-1"}
    assert response.usage is not None and response.usage.total_tokens > 0
    info = llmswitch.route_info(response)
    assert (info.route, info.provider, info.model) == ("chat", "deepseek", "deepseek-chat")
    sent = server.mount("ds").requests[-1].json()
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
    assert "metadata" not in sent and "store" not in sent


def test_failover_to_the_native_anthropic_target(client: llmswitch.OpenAI, server: MockServer) -> None:
    server.mount("ds").fail("500")
    response = client.responses.create(model="chat", input="Hi Claude")
    assert response.output_text == "[claude:claude-3-5-haiku-latest] Hi Claude"
    info = llmswitch.route_info(response)
    assert info.provider == "claude"
    assert [a.target for a in info.attempts] == ["deepseek/deepseek-chat", "claude/claude-3-5-haiku-latest"]
    assert info.fallbacks == 1


def test_parse_into_a_model(client: llmswitch.OpenAI, server: MockServer) -> None:
    for target in ("chat", "claude/claude-3-5-haiku-latest"):
        parsed = client.responses.parse(model=target, input="weather?", text_format=Echo)
        assert isinstance(parsed.output_parsed, Echo)
        assert parsed.output_parsed == MOCK_ECHO  # the mock answers an instance of the schema it was sent
    sent = server.mount("ds").requests[-1].json()
    assert sent["response_format"]["type"] == "json_object"  # DeepSeek: JSON mode plus the schema in the prompt
    assert '"echo"' in sent["messages"][0]["content"]


def test_stream_events_and_stream_helper(client: llmswitch.OpenAI) -> None:
    events = list(client.responses.create(model="chat", input="one two three", stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    types = [e.type for e in events]
    assert types[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert types[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "[ds:deepseek-chat] one two three"
    with client.responses.stream(model="claude/claude-3-5-haiku-latest", input="streamed", text_format=Echo) as s:
        final = s.get_final_response()
    assert final.output_parsed == MOCK_ECHO


def test_three_turns_with_a_tool_call_retrieve_and_delete(client: llmswitch.OpenAI, server: MockServer) -> None:
    first = client.responses.create(model="chat", input="get_weather Paris", tools=[TOOL])  # type: ignore[list-item]
    call = first.output[0]
    assert call.type == "function_call"
    assert call.name == "get_weather"
    second = client.responses.create(model="chat", previous_response_id=first.id, tools=[TOOL],  # type: ignore[list-item]
                                     input=[{"type": "function_call_output", "call_id": call.call_id,
                                             "output": "sunny"}])
    assert second.output_text == "Tool results: sunny"
    sent = server.mount("ds").requests[-1].json()
    assert sent["messages"][1]["tool_calls"][0]["id"] == call.call_id
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": call.call_id, "content": "sunny"}
    with client.responses.stream(model="chat", input="thanks", previous_response_id=second.id) as s:
        third = s.get_final_response()
    assert [m["role"] for m in server.mount("ds").requests[-1].json()["messages"]] == [
        "user", "assistant", "tool", "assistant", "user"]
    assert client.responses.retrieve(third.id).output_text == third.output_text
    client.responses.delete(third.id)
    with pytest.raises(openai.NotFoundError, match="deleted"):
        client.responses.retrieve(third.id)
    with pytest.raises(openai.NotFoundError, match="resp_unknown"):
        client.responses.create(model="chat", input="x", previous_response_id="resp_unknown")


def test_builtin_tools_are_refused_before_sending(client: llmswitch.OpenAI, server: MockServer) -> None:
    before = len(server.mount("ds").requests) + len(server.mount("claude").requests)
    with pytest.raises(openai.BadRequestError, match="'web_search'"):
        client.responses.create(model="chat", input="news?", tools=[{"type": "web_search"}])
    assert len(server.mount("ds").requests) + len(server.mount("claude").requests) == before


def test_stream_cut_after_the_commit_point_raises_interrupted(client: llmswitch.OpenAI, server: MockServer) -> None:
    server.mount("ds").fail("cut_stream:after=3")
    seen: list[str] = []

    def consume() -> None:
        for event in client.responses.create(model="deepseek/deepseek-chat", input="a b c d e f g", stream=True):
            seen.append(event.type)

    with pytest.raises(llmswitch.StreamInterruptedError) as info:
        consume()
    assert info.value.partial_text
    assert seen[-1] == "response.failed"


def test_stream_cut_before_the_commit_point_falls_back(client: llmswitch.OpenAI, server: MockServer) -> None:
    server.mount("ds").fail("cut_stream:after=0")
    with client.responses.stream(model="chat", input="still here") as s:
        final = s.get_final_response()
    assert final.output_text == "[claude:claude-3-5-haiku-latest] still here"


async def test_async_create_and_stream(server: MockServer) -> None:
    async with llmswitch.AsyncOpenAI(config=config(server)) as client:
        response = await client.responses.create(model="chat", input="async hello")
        assert response.output_text == "[ds:deepseek-chat] async hello"
        stream = await client.responses.create(model="claude/claude-3-5-haiku-latest", input="async stream",
                                               stream=True)
        events = [event async for event in stream]
        assert events[-1].type == "response.completed"
        assert events[-1].response.output_text == "[claude:claude-3-5-haiku-latest] async stream"
        follow = await client.responses.create(model="chat", input="more", previous_response_id=response.id)
        assert follow.previous_response_id == response.id


def test_store_is_bounded_per_process() -> None:
    from llmswitch.routing_responses import default_store

    store = default_store()
    assert isinstance(store, ResponseStore)
    assert store is default_store()
    assert (store.max_entries, store.ttl) == (1000, 3600.0)
