"""The Ollama adapter against documented native payloads (PROTOCOLS.md §17), and end to end."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

import llmswitch
from llmswitch import errors
from llmswitch._secret import Secret
from llmswitch.adapters.base import Provider
from llmswitch.adapters.ollama import OllamaAdapter
from llmswitch.catalog import get_preset
from llmswitch.streaming import NDJSONDecoder
from llmswitch.testing import MockServer

BASE = "http://localhost:11434"
MODEL = "llama3.2"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def make_adapter(key: str | None = None, strict: bool = False) -> OllamaAdapter:
    preset = get_preset("ollama")
    assert preset is not None
    credentials = {"api_key": Secret(key)} if key else {}
    return OllamaAdapter(Provider("local", preset, BASE, credentials=credentials, strict=strict))


@pytest.fixture
def adapter() -> OllamaAdapter:
    return make_adapter()


def response(status: int, body: Any) -> httpx2.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx2.Response(
        status,
        content=content,
        headers={"content-type": "application/json"},
        request=httpx2.Request("POST", f"{BASE}/api/chat"),
    )


def done(message: dict[str, Any], reason: str = "stop", prompt: int = 26, completion: int = 7) -> dict[str, Any]:
    """A final ChatResponse as ollama-python's ``_types.py`` documents it."""
    return {
        "model": MODEL,
        "created_at": "2024-07-22T20:33:28.123648Z",
        "message": message,
        "done": True,
        "done_reason": reason,
        "total_duration": 5191566416,
        "load_duration": 2154458,
        "prompt_eval_count": prompt,
        "prompt_eval_duration": 383809000,
        "eval_count": completion,
        "eval_duration": 4799921000,
    }


def part(message: dict[str, Any]) -> dict[str, Any]:
    return {"model": MODEL, "created_at": "2024-07-22T20:33:28.1Z", "message": message, "done": False}


def ndjson(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def run_stream(adapter: OllamaAdapter, raw: bytes, seed: int = 0) -> tuple[list[dict[str, Any]], bool]:
    translator = adapter.stream_translator(response(200, b""), MODEL)
    decoder = NDJSONDecoder()
    rng = random.Random(seed)
    chunks: list[dict[str, Any]] = []
    i = 0
    while i < len(raw):
        step = rng.randint(1, 13)
        for event in decoder.feed(raw[i : i + step]):
            chunks += translator.feed(event)
        i += step
    for event in decoder.close():
        chunks += translator.feed(event)
    chunks += translator.close()
    return chunks, translator.complete


def joined(chunks: list[dict[str, Any]], field: str = "content") -> str:
    return "".join(c["choices"][0]["delta"].get(field) or "" for c in chunks if c["choices"])


# -- requests -----------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True])
def test_request_shape(adapter: OllamaAdapter, stream: bool) -> None:
    wire = adapter.chat_request(
        {
            "model": MODEL,
            "temperature": 0.3,
            "top_p": 0.8,
            "seed": 42,
            "stop": "END",
            "max_tokens": 50,
            "messages": [
                {"role": "developer", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "there"}]},
            ],
        },
        stream=stream,
    )
    assert wire.method == "POST" and wire.url == f"{BASE}/api/chat"
    assert wire.stream is stream
    assert "Authorization" not in wire.headers
    assert wire.json == {
        "model": MODEL,
        "stream": stream,  # always explicit: Ollama streams by default
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi\nthere"}],
        "options": {"temperature": 0.3, "top_p": 0.8, "seed": 42, "stop": ["END"], "num_predict": 50},
    }


def test_max_completion_tokens_and_bearer() -> None:
    adapter = make_adapter(key="remote-key-123")
    wire = adapter.chat_request(
        {
            "model": MODEL,
            "max_completion_tokens": 5,
            "reasoning_effort": "high",
            "messages": [{"role": "user", "content": "x"}],
        },
        stream=False,
    )
    assert wire.headers["Authorization"] == "Bearer remote-key-123"
    assert wire.json["options"] == {"num_predict": 5}
    assert wire.json["think"] is True


# -- plain responses ----------------------------------------------------------------------------
def test_plain_response(adapter: OllamaAdapter) -> None:
    out = adapter.parse_chat(response(200, done({"role": "assistant", "content": "The sky is blue."})), MODEL)
    assert out["object"] == "chat.completion" and out["model"] == MODEL
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "The sky is blue."}
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"] == {"prompt_tokens": 26, "completion_tokens": 7, "total_tokens": 33}


def test_length_and_thinking(adapter: OllamaAdapter) -> None:
    body = done({"role": "assistant", "content": "Partial", "thinking": "Let me see"}, reason="length")
    out = adapter.parse_chat(response(200, body), MODEL)
    assert out["choices"][0]["finish_reason"] == "length"
    assert out["choices"][0]["message"]["reasoning_content"] == "Let me see"


# -- streaming ----------------------------------------------------------------------------------
TEXT_LINES = [
    part({"role": "assistant", "content": "The"}),
    part({"role": "assistant", "content": " sky"}),
    part({"role": "assistant", "content": " is blue."}),
    done({"role": "assistant", "content": ""}),
]


@pytest.mark.parametrize("seed", range(8))
def test_stream_random_splits_equal_plain_answer(adapter: OllamaAdapter, seed: int) -> None:
    plain = adapter.parse_chat(response(200, done({"role": "assistant", "content": "The sky is blue."})), MODEL)
    chunks, complete = run_stream(adapter, ndjson(TEXT_LINES), seed)
    assert complete
    assert joined(chunks) == plain["choices"][0]["message"]["content"]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert sum(1 for c in chunks if "role" in c["choices"][0]["delta"]) == 1
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == plain["usage"]  # counts arrive only on the done line
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


def test_stream_without_done_line_is_incomplete(adapter: OllamaAdapter) -> None:
    chunks, complete = run_stream(adapter, ndjson(TEXT_LINES[:-1]))
    assert not complete
    assert joined(chunks) == "The sky is blue."


def test_stream_thinking(adapter: OllamaAdapter) -> None:
    lines = [
        part({"role": "assistant", "content": "", "thinking": "hmm"}),
        part({"role": "assistant", "content": "ok"}),
        done({"role": "assistant", "content": ""}),
    ]
    chunks, complete = run_stream(adapter, ndjson(lines))
    assert complete and joined(chunks, "reasoning_content") == "hmm" and joined(chunks) == "ok"


# -- tools: a full parallel tool loop -----------------------------------------------------------
def test_parallel_tool_loop(adapter: OllamaAdapter) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Paris and Rome?"}]
    first = adapter.chat_request({"model": MODEL, "messages": messages, "tools": [WEATHER]}, stream=False)
    assert first.json["tools"] == [WEATHER]

    native = done(
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"function": {"name": "get_weather", "arguments": {"city": "Rome"}}},
            ],
        }
    )
    out = adapter.parse_chat(response(200, native), MODEL)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"  # although Ollama said "stop"
    assert choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [{"city": "Paris"}, {"city": "Rome"}]
    assert all(c["type"] == "function" and c["id"].startswith("call_") for c in calls)
    assert len({c["id"] for c in calls}) == 2

    messages += [
        choice["message"],
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "21C"},
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": "25C"},
    ]
    second = adapter.chat_request({"model": MODEL, "messages": messages, "tools": [WEATHER]}, stream=False)
    assert second.json["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"function": {"name": "get_weather", "arguments": {"city": "Rome"}}},
            ],
        },
        {"role": "tool", "content": "21C", "tool_name": "get_weather"},
        {"role": "tool", "content": "25C", "tool_name": "get_weather"},
    ]
    final = adapter.parse_chat(response(200, done({"role": "assistant", "content": "Paris 21C, Rome 25C."})), MODEL)
    assert final["choices"][0]["message"]["content"] == "Paris 21C, Rome 25C."
    assert final["choices"][0]["finish_reason"] == "stop"


def test_server_given_call_ids_are_kept(adapter: OllamaAdapter) -> None:
    native = done(
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "call_srv1", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}],
        }
    )
    calls = adapter.parse_chat(response(200, native), MODEL)["choices"][0]["message"]["tool_calls"]
    assert calls[0]["id"] == "call_srv1"


@pytest.mark.parametrize("seed", range(4))
def test_streamed_tool_calls(adapter: OllamaAdapter, seed: int) -> None:
    lines = [
        part(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                    {"function": {"name": "get_weather", "arguments": {"city": "Rome"}}},
                ],
            }
        ),
        part({"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_time", "arguments": {}}}]}),
        done({"role": "assistant", "content": ""}, prompt=10, completion=20),
    ]
    chunks, complete = run_stream(adapter, ndjson(lines), seed)
    assert complete
    deltas = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls") or []]
    assert [d["index"] for d in deltas] == [0, 1, 2]
    assert [(d["function"]["name"], json.loads(d["function"]["arguments"])) for d in deltas] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Rome"}),
        ("get_time", {}),
    ]
    assert len({d["id"] for d in deltas}) == 3
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"]["total_tokens"] == 30


def test_tool_choice(adapter: OllamaAdapter) -> None:
    params = {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "tools": [WEATHER]}
    assert "tools" not in adapter.chat_request({**params, "tool_choice": "none"}, stream=False).json
    assert adapter.chat_request({**params, "tool_choice": "required"}, stream=False).json["tools"] == [WEATHER]
    with pytest.raises(errors.UnsupportedParameterError, match="tool_choice"):
        make_adapter(strict=True).chat_request({**params, "tool_choice": "required"}, stream=False)


# -- images and JSON mode -----------------------------------------------------------------------
def test_images(adapter: OllamaAdapter) -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
    ]
    wire = adapter.chat_request({"model": "llava", "messages": [{"role": "user", "content": content}]}, stream=False)
    assert wire.json["messages"] == [
        {"role": "user", "content": "What is this?", "images": ["iVBORw0KGgo=", "/9j/4AAQ"]}
    ]
    with pytest.raises(errors.UnsupportedParameterError, match="data: URLs"):
        adapter.chat_request(
            {
                "model": "llava",
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}],
                    }
                ],
            },
            stream=False,
        )


def test_json_modes(adapter: OllamaAdapter) -> None:
    base = {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}
    wire = adapter.chat_request({**base, "response_format": {"type": "json_object"}}, stream=False)
    assert wire.json["format"] == "json"
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    wire = adapter.chat_request(
        {**base, "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}},
        stream=False,
    )
    assert wire.json["format"] == schema
    assert "format" not in adapter.chat_request({**base, "response_format": {"type": "text"}}, stream=False).json
    out = adapter.parse_chat(response(200, done({"role": "assistant", "content": '{"a": 1}'})), MODEL)
    assert json.loads(out["choices"][0]["message"]["content"]) == {"a": 1}


# -- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (404, {"error": 'model "llama9" not found, try pulling it first'}, errors.NotFoundError),
        (400, {"error": "invalid options: num_thread"}, errors.BadRequestError),
        (400, {"error": "the input length exceeds the context length"}, errors.ContextWindowExceededError),
        (401, {"error": "unauthorized"}, errors.AuthenticationError),
        (429, {"error": "too many requests"}, errors.RateLimitError),
        (
            500,
            {"error": "model requires more system memory (8.0 GiB) than is available (4.0 GiB)"},
            errors.InternalServerError,
        ),
        (502, b"<html>Bad Gateway</html>", errors.InternalServerError),
    ],
)
def test_error_shapes(adapter: OllamaAdapter, status: int, body: Any, cls: type[Exception]) -> None:
    err = adapter.parse_error(response(status, body), MODEL)
    assert type(err) is cls
    assert err.status_code == status
    assert "[local/llama3.2]" in str(err)
    if isinstance(body, dict):
        assert body["error"] in str(err)


def test_error_inside_200_body(adapter: OllamaAdapter) -> None:
    with pytest.raises(errors.InternalServerError) as info:
        adapter.parse_chat(response(200, {"error": "unexpected EOF"}), MODEL)
    assert info.value.status_code == 500


@pytest.mark.parametrize(
    ("line", "cls"),
    [
        ({"error": "an error was encountered while running the model: unexpected EOF"}, errors.InternalServerError),
        ({"error": "the input length exceeds the context length"}, errors.ContextWindowExceededError),
    ],
)
def test_mid_stream_error_line(adapter: OllamaAdapter, line: dict[str, Any], cls: type[Exception]) -> None:
    translator = adapter.stream_translator(response(200, b""), MODEL)
    events = NDJSONDecoder().feed(ndjson([TEXT_LINES[0], line]))
    assert joined(translator.feed(events[0])) == "The"
    with pytest.raises(cls, match=line["error"]):
        translator.feed(events[1])
    assert not translator.complete


def test_malformed_stream_line(adapter: OllamaAdapter) -> None:
    translator = adapter.stream_translator(response(200, b""), MODEL)
    with pytest.raises(errors.InternalServerError, match="malformed"):
        translator.feed(NDJSONDecoder().feed(b"{oops\n")[0])


# -- embeddings ---------------------------------------------------------------------------------
def test_embeddings(adapter: OllamaAdapter) -> None:
    wire = adapter.embeddings_request({"model": "nomic-embed-text", "input": "hello", "dimensions": 4})
    assert wire.url == f"{BASE}/api/embed"
    assert wire.json == {"model": "nomic-embed-text", "input": ["hello"], "dimensions": 4}
    body = {"model": "nomic-embed-text", "embeddings": [[0.1, 0.2], [0.3, 0.4]], "prompt_eval_count": 6}
    out = adapter.parse_embeddings(response(200, body), "nomic-embed-text")
    assert [(d["index"], d["embedding"]) for d in out["data"]] == [(0, [0.1, 0.2]), (1, [0.3, 0.4])]
    assert out["usage"] == {"prompt_tokens": 6, "total_tokens": 6}


def test_catalog() -> None:
    native = get_preset("ollama")
    assert native is not None and native.protocol == "ollama" and native.auth == "none"
    assert native.required_credentials == () and native.base_url == BASE
    compat = get_preset("ollama-compat")
    assert compat is not None and compat.protocol == "openai" and compat.required_credentials == ()
    assert compat.base_url == f"{BASE}/v1"


# -- end to end over the loopback mock server ---------------------------------------------------
@pytest.fixture
def ollama_server() -> Iterator[MockServer]:
    with MockServer({"o": "ollama"}) as server:
        yield server


def client_for(server: MockServer) -> llmswitch.OpenAI:
    config = {"providers": {"local": {"type": "ollama", "base_url": server.base_url("o")}}}  # no credentials
    return llmswitch.OpenAI(config=config, max_retries=0)


def test_e2e_plain_and_stream(ollama_server: MockServer) -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]
    with client_for(ollama_server) as client:
        plain = client.chat.completions.create(model=f"local/{MODEL}", messages=messages)
        assert plain.choices[0].message.content == f"[o:{MODEL}] hello there"
        chunks = list(client.chat.completions.create(model=f"local/{MODEL}", messages=messages, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == plain.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert plain.usage is not None and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == plain.usage.total_tokens > 0
    sent = [json.loads(r.body) for r in ollama_server.mount("o").requests]
    assert [s["stream"] for s in sent] == [False, True]


@pytest.mark.parametrize("stream", [False, True])
def test_e2e_tool_loop(ollama_server: MockServer, stream: bool) -> None:
    time_tool = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
    tools: Any = [WEATHER, time_tool]
    messages: list[Any] = [{"role": "user", "content": "get_weather and get_time please"}]
    with client_for(ollama_server) as client:
        if stream:
            chunks = list(
                client.chat.completions.create(model=f"local/{MODEL}", messages=messages, tools=tools, stream=True)
            )
            calls = [d.model_dump() for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or []]
            assert chunks[-1].choices[0].finish_reason == "tool_calls"
        else:
            first = client.chat.completions.create(model=f"local/{MODEL}", messages=messages, tools=tools)
            assert first.choices[0].finish_reason == "tool_calls"
            calls = [c.model_dump() for c in first.choices[0].message.tool_calls or []]
        assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": c["id"], "type": "function", "function": c["function"]} for c in calls],
            }
        )
        messages += [
            {"role": "tool", "tool_call_id": calls[0]["id"], "content": "rainy"},
            {"role": "tool", "tool_call_id": calls[1]["id"], "content": "noon"},
        ]
        final = client.chat.completions.create(model=f"local/{MODEL}", messages=messages, tools=tools)
    assert final.choices[0].message.content == "Tool results: rainy; noon"
    last = json.loads(ollama_server.mount("o").requests[-1].body)
    assert [m.get("tool_name") for m in last["messages"][-2:]] == ["get_weather", "get_time"]


def test_e2e_errors(ollama_server: MockServer) -> None:
    ollama_server.mount("o").fail("404", "stream_error:after=2")
    with client_for(ollama_server) as client:
        with pytest.raises(llmswitch.NotFoundError):
            client.chat.completions.create(model=f"local/{MODEL}", messages=[{"role": "user", "content": "x y z"}])
        stream = client.chat.completions.create(
            model=f"local/{MODEL}", messages=[{"role": "user", "content": "x y"}], stream=True
        )
        got: list[str] = []
        with pytest.raises(llmswitch.StreamInterruptedError) as info:
            got.extend(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert info.value.partial_text == "".join(got) != ""
    assert isinstance(info.value.__cause__, llmswitch.InternalServerError)


def test_e2e_embeddings(ollama_server: MockServer) -> None:
    with client_for(ollama_server) as client:
        out = client.embeddings.create(model="local/nomic-embed-text", input=["a", "b c"])
    assert len(out.data) == 2
    assert out.usage.prompt_tokens == 3


async def test_e2e_async_stream(ollama_server: MockServer) -> None:
    config = {"providers": {"local": {"type": "ollama", "base_url": ollama_server.base_url("o")}}}
    async with llmswitch.AsyncOpenAI(config=config, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model=f"local/{MODEL}", messages=[{"role": "user", "content": "async hello"}], stream=True
        )
        chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"[o:{MODEL}] async hello"
    assert chunks[-1].choices[0].finish_reason == "stop"
