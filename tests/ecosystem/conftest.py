"""Libraries built on openai, handed llmswitch's client: each case runs with openai's client too.

Three backends for every case: openai's own client on an OpenAI-protocol mock; llmswitch's client
on the same mock; and llmswitch's client over a route whose target is a *native* adapter (Anthropic
and DashScope mocks), so tools and structured output cross a translation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest

import llmswitch
from llmswitch.testing import MockServer

KEY = "sk-eco-0123456789"


@dataclass
class Backend:
    name: str
    sync: Any
    aio: Any
    model: str


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer({"oai": "openai", "claude": "anthropic", "qwen": "dashscope"}) as srv:
        yield srv


def _config(mock: MockServer) -> dict[str, Any]:
    return {
        "providers": {
            "claude": {"type": "anthropic", "base_url": mock.base_url("claude"), "api_key": "sk-ant-eco-123456"},
            "qwen": {"type": "dashscope", "base_url": mock.base_url("qwen"), "api_key": "sk-qwen-eco-123456"},
        },
        "routes": {"to-claude": {"targets": ["claude/claude-sonnet-4-5"]},
                   "to-qwen": {"targets": ["qwen/qwen-plus"]}},
    }


@pytest.fixture(params=["openai", "llmswitch", "llmswitch-anthropic", "llmswitch-dashscope"])
async def backend(request: pytest.FixtureRequest, mock: MockServer) -> AsyncIterator[Backend]:
    name: str = request.param
    if name == "openai":
        b = Backend(name, openai.OpenAI(api_key=KEY, base_url=mock.base_url("oai")),
                    openai.AsyncOpenAI(api_key=KEY, base_url=mock.base_url("oai")), "gpt-4o")
    elif name == "llmswitch":
        b = Backend(name, llmswitch.OpenAI(api_key=KEY, base_url=mock.base_url("oai")),
                    llmswitch.AsyncOpenAI(api_key=KEY, base_url=mock.base_url("oai")), "gpt-4o")
    else:
        route = "to-claude" if name.endswith("anthropic") else "to-qwen"
        b = Backend(name, llmswitch.OpenAI(config=_config(mock)), llmswitch.AsyncOpenAI(config=_config(mock)), route)
    yield b
    b.sync.close()
    await b.aio.close()
