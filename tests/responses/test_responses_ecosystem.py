"""Real users' code, unchanged, on the Responses API over llmswitch: openai-agents' default model
(OpenAIResponsesModel) with a function tool, plain and streamed, and pydantic-ai's
OpenAIResponsesModel with structured output — over a route of a DeepSeek-preset mock and a native
Anthropic mock (and the Anthropic target alone), real HTTP on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pydantic
import pytest

import llmswitch
from llmswitch.testing import MockServer
from llmswitch.testing.instances import instance_of

agents = pytest.importorskip("agents")
pydantic_ai = pytest.importorskip("pydantic_ai")

TARGETS = ["chat", "claude/claude-3-5-haiku-latest"]


class Echo(pydantic.BaseModel):
    model: str
    echo: str


class Lookup(pydantic.BaseModel):
    query: str


@pytest.fixture
async def client() -> AsyncIterator[tuple[llmswitch.AsyncOpenAI, MockServer]]:
    with MockServer({"ds": "openai", "claude": "anthropic"}) as server:
        config = {
            "providers": {
                "deepseek": {"type": "deepseek", "base_url": server.base_url("ds"), "api_key": "sk-ds"},
                "claude": {"type": "anthropic", "base_url": server.base_url("claude"), "api_key": "sk-ant"},
            },
            "routes": {"chat": {"targets": ["deepseek/deepseek-chat", "claude/claude-3-5-haiku-latest"]}},
        }
        async with llmswitch.AsyncOpenAI(config=config) as c:
            yield c, server


@pytest.mark.parametrize("target", TARGETS)
async def test_openai_agents_runner_with_a_function_tool(client: tuple[Any, MockServer], target: str) -> None:
    openai_client, server = client
    agents.set_tracing_disabled(True)
    asked: list[str] = []

    @agents.function_tool
    def get_weather(query: str) -> str:
        """Weather for a city."""
        asked.append(query)
        return "sunny, 25C"

    model = agents.OpenAIResponsesModel(model=target, openai_client=openai_client)
    agent = agents.Agent(name="weather", instructions="Use the tool.", tools=[get_weather], model=model)
    result = await agents.Runner.run(agent, "Weather in Paris?")
    assert result.final_output == "Tool results: sunny, 25C"
    assert asked == ["Weather in Paris?"]

    streamed = agents.Runner.run_streamed(agent, "Weather in Rome?")
    kinds = [event.type async for event in streamed.stream_events()]
    assert streamed.final_output == "Tool results: sunny, 25C"
    assert asked == ["Weather in Paris?", "Weather in Rome?"]
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
    mount = server.mount("claude" if target.startswith("claude") else "ds")
    assert len(mount.requests) == 4  # two model turns per run: the tool call, then the answer


@pytest.mark.parametrize("target", TARGETS)
async def test_pydantic_ai_responses_model_structured_output(client: tuple[Any, MockServer], target: str) -> None:
    from pydantic_ai.models.openai import OpenAIResponsesModel
    from pydantic_ai.providers.openai import OpenAIProvider

    openai_client, _ = client
    model = OpenAIResponsesModel(target, provider=OpenAIProvider(openai_client=openai_client))
    native = await pydantic_ai.Agent(model, output_type=pydantic_ai.NativeOutput(Echo)).run("hello")
    assert native.output == Echo.model_validate(instance_of(Echo.model_json_schema()))  # the mock's instance
    tool = await pydantic_ai.Agent(model, output_type=Lookup).run("find cats")
    assert tool.output == Lookup(query="find cats")
    async with pydantic_ai.Agent(model, output_type=pydantic_ai.NativeOutput(Echo)).run_stream("streamed") as run:
        assert await run.get_output() == Echo.model_validate(instance_of(Echo.model_json_schema()))
