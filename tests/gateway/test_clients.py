"""Real clients, unchanged, against the gateway: each result equals the same call made directly
through llmswitch's own client on the same providers file."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from gw_harness import Gateway, env

import llmswitch

MESSAGES: list[Any] = [{"role": "user", "content": "hello gateway"}]
TOOLS: list[Any] = [{"type": "function", "function": {"name": "get_weather", "description": "weather",
                                                       "parameters": {"type": "object",
                                                                      "properties": {"city": {"type": "string"}}}}}]
NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="module")
def direct(config_path: Path, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[llmswitch.OpenAI]:
    for name, value in env().items():
        if name.startswith("GW_"):
            monkeypatch_module.setenv(name, value)
    with llmswitch.OpenAI(config=str(config_path), api_key="unused") as own:
        yield own


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _essentials(completion: Any) -> dict[str, Any]:
    message = completion.choices[0].message
    calls = [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]
    return {"content": message.content, "tool_calls": calls, "finish": completion.choices[0].finish_reason,
            "usage": completion.usage.model_dump() if completion.usage else None, "model": completion.model}


def test_openai_sync_plain_stream_and_tools(gateway: Gateway, direct: llmswitch.OpenAI, key: str) -> None:
    with openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0) as client:
        _sync_calls(client, direct)


def _sync_calls(client: openai.OpenAI, direct: llmswitch.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="chat", messages=MESSAGES)
    got = raw.parse()
    assert _essentials(got) == _essentials(direct.chat.completions.create(model="chat", messages=MESSAGES))
    assert raw.headers["x-llmswitch-provider"] == "primary"
    assert raw.headers["x-llmswitch-model"] == "gpt-test"
    assert raw.headers["x-llmswitch-attempts"] == "1"
    assert len(raw.headers["x-request-id"]) >= 16

    streamed = "".join(c.choices[0].delta.content or "" for c in
                       client.chat.completions.create(model="chat", messages=MESSAGES, stream=True) if c.choices)
    expected = "".join(c.choices[0].delta.content or "" for c in
                       direct.chat.completions.create(model="chat", messages=MESSAGES, stream=True) if c.choices)
    assert streamed == expected == got.choices[0].message.content

    tools = client.chat.completions.create(model="chat", messages=MESSAGES, tools=TOOLS)
    assert tools.choices[0].message.tool_calls
    assert _essentials(tools) == _essentials(direct.chat.completions.create(model="chat", messages=MESSAGES,
                                                                            tools=TOOLS))
    embedded = client.embeddings.create(model="primary/embed-test", input=["a", "b"])
    assert [e.embedding for e in embedded.data] == \
        [e.embedding for e in direct.embeddings.create(model="primary/embed-test", input=["a", "b"]).data]
    listed = {m.id for m in client.models.list()}
    assert {"chat", "failover-down", "metered"} <= listed
    assert client.models.retrieve("chat").id == "chat"


async def test_openai_async_plain_stream_and_tools(gateway: Gateway, direct: llmswitch.OpenAI, key: str) -> None:
    async with openai.AsyncOpenAI(base_url=gateway.base_url, api_key=key, max_retries=0) as client:
        got = await client.chat.completions.create(model="chat", messages=MESSAGES, tools=TOOLS)
        assert _essentials(got) == _essentials(direct.chat.completions.create(model="chat", messages=MESSAGES,
                                                                              tools=TOOLS))
        stream = await client.chat.completions.create(model="chat", messages=MESSAGES, stream=True,
                                                      stream_options={"include_usage": True})
        chunks = [c async for c in stream]
        assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == direct.chat.completions.create(model="chat", messages=MESSAGES).choices[0].message.content


def test_langchain_openai(gateway: Gateway, direct: llmswitch.OpenAI, key: str) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=gateway.base_url, api_key=key, model="chat", max_retries=0)  # type: ignore[arg-type]
    answer = llm.invoke("hello gateway")
    assert answer.content == direct.chat.completions.create(model="chat", messages=MESSAGES).choices[0].message.content
    assert "".join(str(c.content) for c in llm.stream("hello gateway")) == answer.content


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_openai_node_client(gateway: Gateway, direct: llmswitch.OpenAI, key: str) -> None:
    if not (NODE_DIR / "node_modules" / "openai").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, capture_output=True,
                       timeout=300)
    done = subprocess.run(["node", "client.mjs", gateway.base_url, key, "chat"], cwd=NODE_DIR, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    expected = direct.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hello from node"}])
    assert got["content"] == expected.choices[0].message.content
    assert got["usage"] == expected.usage.model_dump(exclude_none=True) if expected.usage else None
    assert got["streamed"] == got["content"]
    assert got["errorStatus"] == 404
    assert "chat" in got["models"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl(gateway: Gateway, direct: llmswitch.OpenAI, key: str) -> None:
    body = json.dumps({"model": "chat", "messages": MESSAGES})
    done = subprocess.run(["curl", "-sS", "--fail-with-body", gateway.base_url + "/chat/completions",
                           "-H", f"Authorization: Bearer {key}", "-H", "Content-Type: application/json", "-d", body],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    got = json.loads(done.stdout)
    expected = direct.chat.completions.create(model="chat", messages=MESSAGES)
    assert got["choices"][0]["message"]["content"] == expected.choices[0].message.content
    streamed = subprocess.run(["curl", "-sSN", gateway.base_url + "/chat/completions",
                               "-H", f"Authorization: Bearer {key}",
                               "-d", json.dumps({"model": "chat", "messages": MESSAGES, "stream": True})],
                              capture_output=True, text=True, timeout=30)
    events = [line[6:] for line in streamed.stdout.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1]
                   if json.loads(e)["choices"])
    assert text == expected.choices[0].message.content


def test_openai_responses_api(gateway: Gateway, direct: llmswitch.OpenAI, key: str) -> None:
    with openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0) as client:
        got = client.responses.create(model="chat", input="hello gateway")
        assert got.output_text == direct.responses.create(model="chat", input="hello gateway").output_text
        assert got.output_text
        events = list(client.responses.create(model="chat", input="hello gateway", stream=True))
        assert events[-1].type == "response.completed"
        assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == got.output_text
