"""instructor, pydantic-ai, langchain-openai, openai-agents and llm, each handed a client.

Every case runs on each backend of ``conftest.backend``: openai's own client (the reference),
llmswitch's client on the same endpoint, and llmswitch over native Anthropic and DashScope
adapters. On the shared endpoint the answers must equal openai's exactly; across a translation
they must have the same shape (the tool ran with the model's arguments, the output parsed).
"""

from __future__ import annotations

import json
from typing import Any

import instructor
import pytest
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_tracing_disabled
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from llm.default_plugins.openai_models import Chat as LlmChat
from pydantic import BaseModel
from pydantic_ai import Agent as PydanticAgent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from .conftest import Backend

set_tracing_disabled(True)


class City(BaseModel):
    name: str
    population: int
    tags: list[str]


class Lookup(BaseModel):
    query: str


def lookup(query: str) -> str:
    """Look something up."""
    return f"found {query}"


def expect_text(backend: Backend, text: str, prompt: str) -> None:
    """On the shared endpoint the exact mock answer openai's client gets; elsewhere, the prompt echoed."""
    if backend.name in ("openai", "llmswitch"):
        assert text == f"[oai:gpt-4o] {prompt}"
    else:
        assert prompt in text


# -- instructor ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", [instructor.Mode.TOOLS, instructor.Mode.JSON])
def test_instructor(backend: Backend, mode: instructor.Mode) -> None:
    client = instructor.from_openai(backend.sync, mode=mode)
    model = Lookup if mode is instructor.Mode.TOOLS else City
    result = client.chat.completions.create(model=backend.model, response_model=model, max_retries=0,
                                            messages=[{"role": "user", "content": "find the largest city"}])
    assert isinstance(result, model)
    if isinstance(result, Lookup):
        assert result.query  # the forced tool's arguments, generated from its schema by the mock


@pytest.mark.parametrize("mode", [instructor.Mode.TOOLS, instructor.Mode.JSON])
async def test_instructor_async(backend: Backend, mode: instructor.Mode) -> None:
    client = instructor.from_openai(backend.aio, mode=mode)
    model = Lookup if mode is instructor.Mode.TOOLS else City
    result = await client.chat.completions.create(model=backend.model, response_model=model, max_retries=0,
                                                  messages=[{"role": "user", "content": "find a city"}])
    assert isinstance(result, model)


# -- pydantic-ai --------------------------------------------------------------------------------

def _pydantic_model(backend: Backend) -> OpenAIChatModel:
    return OpenAIChatModel(backend.model, provider=OpenAIProvider(openai_client=backend.aio))


async def test_pydantic_ai_structured_output(backend: Backend) -> None:
    agent = PydanticAgent(_pydantic_model(backend), output_type=City)
    result = await agent.run("name a city")
    assert isinstance(result.output, City)


async def test_pydantic_ai_tool_call(backend: Backend) -> None:
    calls: list[str] = []
    agent = PydanticAgent(_pydantic_model(backend))

    @agent.tool_plain
    def search(query: str) -> str:
        calls.append(query)
        return f"found {query}"

    result = await agent.run("search for cats")
    assert calls == ["search for cats"]
    assert "found search for cats" in result.output


async def test_pydantic_ai_stream(backend: Backend) -> None:
    agent = PydanticAgent(_pydantic_model(backend))
    async with agent.run_stream("stream me a line") as run:
        pieces = [piece async for piece in run.stream_text(delta=True)]
    expect_text(backend, "".join(pieces), "stream me a line")


# -- langchain-openai -------------------------------------------------------------------------------

def _chat(backend: Backend) -> ChatOpenAI:
    return ChatOpenAI(model=backend.model, root_client=backend.sync, root_async_client=backend.aio,
                      client=backend.sync.chat.completions, async_client=backend.aio.chat.completions)


def test_langchain_invoke_and_stream(backend: Backend) -> None:
    chat = _chat(backend)
    expect_text(backend, str(chat.invoke("hello there").content), "hello there")
    streamed = "".join(str(chunk.content) for chunk in chat.stream("hello stream"))
    expect_text(backend, streamed, "hello stream")


def test_langchain_bind_tools(backend: Backend) -> None:
    chat = _chat(backend).bind_tools([lookup])
    asked = HumanMessage("lookup rivers")
    reply = chat.invoke([asked])
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [("lookup", {"query": "lookup rivers"})]
    call = reply.tool_calls[0]
    final = chat.invoke([asked, reply, ToolMessage(lookup(**call["args"]), tool_call_id=call["id"])])
    assert "found lookup rivers" in str(final.content)


def test_langchain_with_structured_output(backend: Backend) -> None:
    result = _chat(backend).with_structured_output(City).invoke("name a city")
    assert isinstance(result, City)


async def test_langchain_ainvoke(backend: Backend) -> None:
    reply = await _chat(backend).ainvoke("hello async")
    expect_text(backend, str(reply.content), "hello async")


def test_langchain_embeddings(backend: Backend) -> None:
    if backend.name == "llmswitch-anthropic":
        pytest.skip("Anthropic has no embeddings API")
    model = "text-embedding-3-small" if backend.name in ("openai", "llmswitch") else "qwen/text-embedding-v3"
    embeddings = OpenAIEmbeddings(model=model, client=backend.sync.embeddings, async_client=backend.aio.embeddings,
                                  check_embedding_ctx_length=False)
    vectors = embeddings.embed_documents(["one", "two"])
    assert len(vectors) == 2 and len(vectors[0]) > 0 and vectors[0] != vectors[1]


# -- openai-agents ------------------------------------------------------------------------------------

def _agent(backend: Backend) -> Agent[Any]:
    model = OpenAIChatCompletionsModel(model=backend.model, openai_client=backend.aio)
    return Agent(name="helper", instructions="be brief", tools=[function_tool(lookup)], model=model)


async def test_openai_agents_run(backend: Backend) -> None:
    result = await Runner.run(_agent(backend), "lookup cats")
    assert "found lookup cats" in result.final_output


async def test_openai_agents_run_streamed(backend: Backend) -> None:
    run = Runner.run_streamed(_agent(backend), "lookup dogs")
    kinds = {event.type async for event in run.stream_events()}
    assert "run_item_stream_event" in kinds
    assert "found lookup dogs" in run.final_output


# -- llm --------------------------------------------------------------------------------------------

class _ClientChat(LlmChat):  # type: ignore[misc]
    """How an llm plugin hands its own client to llm's OpenAI model class."""

    def __init__(self, client: Any, model: str) -> None:
        super().__init__("llmswitch-test", model_name=model, key="unused", supports_schema=True)
        self._client = client

    def get_client(self, key: Any, *, async_: bool = False) -> Any:
        return self._client


def test_llm_prompt_with_schema(backend: Backend) -> None:
    model = _ClientChat(backend.sync, backend.model)
    response = model.prompt("describe a city", schema=City)
    City.model_validate(json.loads(response.text()))
