"""The Gemini adapter against documented native payloads (PROTOCOLS.md §15), and end to end."""

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
from llmswitch.adapters.gemini import GeminiAdapter, to_schema
from llmswitch.catalog import get_preset
from llmswitch.streaming import SSEDecoder
from llmswitch.testing import MockServer

BASE = "https://generativelanguage.googleapis.com/v1beta"
KEY = "AIza-test-key-0123456789"
MODEL = "gemini-2.5-flash"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}


def make_adapter(**options: Any) -> GeminiAdapter:
    preset = get_preset("gemini")
    assert preset is not None
    return GeminiAdapter(Provider("gem", preset, BASE, credentials={"api_key": Secret(KEY)}, options=options))


@pytest.fixture
def adapter() -> GeminiAdapter:
    return make_adapter()


def response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx2.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx2.Response(
        status,
        content=content,
        headers=headers or {"content-type": "application/json"},
        request=httpx2.Request("POST", f"{BASE}/models/{MODEL}:generateContent"),
    )


def candidate(parts: list[dict[str, Any]], finish: str | None = "STOP", index: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": index}
    if finish:
        out["finishReason"] = finish
    return out


def reply(*candidates: dict[str, Any], usage: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "candidates": list(candidates),
        "modelVersion": MODEL,
        "responseId": "resp-abc",
        "usageMetadata": usage or {"promptTokenCount": 8, "candidatesTokenCount": 5, "totalTokenCount": 13},
    }


def sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\r\n\r\n" for e in events)  # Google frames with CRLF


def split(raw: bytes, rng: random.Random) -> Iterator[bytes]:
    i = 0
    while i < len(raw):
        step = rng.randint(1, 17)
        yield raw[i : i + step]
        i += step


def run_stream(adapter: GeminiAdapter, raw: bytes, seed: int = 0) -> tuple[list[dict[str, Any]], bool]:
    translator = adapter.stream_translator(response(200, b""), MODEL)
    decoder = SSEDecoder()
    chunks: list[dict[str, Any]] = []
    for piece in split(raw, random.Random(seed)):
        for event in decoder.feed(piece):
            chunks += translator.feed(event)
    for event in decoder.close():
        chunks += translator.feed(event)
    chunks += translator.close()
    return chunks, translator.complete


def joined(chunks: list[dict[str, Any]], field: str = "content") -> str:
    return "".join(c["choices"][0]["delta"].get(field) or "" for c in chunks if c["choices"])


# -- requests -----------------------------------------------------------------------------------
def test_request_shape(adapter: GeminiAdapter) -> None:
    wire = adapter.chat_request(
        {
            "model": MODEL,
            "max_tokens": 64,
            "temperature": 0.2,
            "top_p": 0.9,
            "stop": "END",
            "n": 2,
            "seed": 7,
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "developer", "content": "use SI"},
                {"role": "user", "content": "hi"},
                {"role": "user", "content": [{"type": "text", "text": "again"}]},
                {"role": "assistant", "content": "hello"},
                {"role": "user", "content": "weather?"},
            ],
        },
        stream=False,
    )
    assert wire.method == "POST"
    assert wire.url == f"{BASE}/models/{MODEL}:generateContent"
    assert wire.headers["x-goog-api-key"] == KEY
    assert "Authorization" not in wire.headers
    assert not wire.stream
    assert wire.params is None
    body = wire.json
    assert body["systemInstruction"] == {"parts": [{"text": "be brief"}, {"text": "use SI"}]}
    assert body["contents"] == [  # consecutive user turns merged; assistant → model
        {"role": "user", "parts": [{"text": "hi"}, {"text": "again"}]},
        {"role": "model", "parts": [{"text": "hello"}]},
        {"role": "user", "parts": [{"text": "weather?"}]},
    ]
    assert body["generationConfig"] == {
        "maxOutputTokens": 64,
        "temperature": 0.2,
        "topP": 0.9,
        "stopSequences": ["END"],
        "candidateCount": 2,
        "seed": 7,
    }
    assert "tools" not in body
    assert "toolConfig" not in body


def test_stream_request_and_model_prefix(adapter: GeminiAdapter) -> None:
    wire = adapter.chat_request(
        {"model": f"models/{MODEL}", "max_completion_tokens": 9, "messages": [{"role": "user", "content": "x"}]},
        stream=True,
    )
    assert wire.url == f"{BASE}/models/{MODEL}:streamGenerateContent"
    assert wire.params == {"alt": "sse"}
    assert wire.stream
    assert wire.json["generationConfig"] == {"maxOutputTokens": 9}


def test_reasoning_effort_sets_thinking_budget(adapter: GeminiAdapter) -> None:
    wire = adapter.chat_request(
        {"model": MODEL, "reasoning_effort": "low", "messages": [{"role": "user", "content": "x"}]}, stream=False
    )
    assert wire.json["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}


# -- plain responses ----------------------------------------------------------------------------
def test_plain_response(adapter: GeminiAdapter) -> None:
    out = adapter.parse_chat(response(200, reply(candidate([{"text": "Hello, "}, {"text": "world"}]))), MODEL)
    assert out["object"] == "chat.completion"
    assert out["id"] == "resp-abc"
    assert out["model"] == MODEL
    choice = out["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Hello, world"}
    assert choice["finish_reason"] == "stop"
    assert out["usage"] == {"prompt_tokens": 8, "completion_tokens": 5, "total_tokens": 13}


@pytest.mark.parametrize(
    ("native", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("OTHER", "stop"),
    ],
)
def test_finish_reasons(adapter: GeminiAdapter, native: str, expected: str) -> None:
    out = adapter.parse_chat(response(200, reply(candidate([{"text": "x"}], native))), MODEL)
    assert out["choices"][0]["finish_reason"] == expected


def test_thinking_parts_and_usage(adapter: GeminiAdapter) -> None:
    body = reply(
        candidate([{"text": "Let me think.", "thought": True}, {"text": "42"}]),
        usage={
            "promptTokenCount": 10,
            "candidatesTokenCount": 2,
            "thoughtsTokenCount": 30,
            "cachedContentTokenCount": 4,
            "totalTokenCount": 42,
        },
    )
    out = adapter.parse_chat(response(200, body), MODEL)
    message = out["choices"][0]["message"]
    assert message["content"] == "42"
    assert message["reasoning_content"] == "Let me think."
    usage = out["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (10, 32, 42)
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 30}
    assert usage["prompt_tokens_details"] == {"cached_tokens": 4}


def test_several_candidates(adapter: GeminiAdapter) -> None:
    out = adapter.parse_chat(
        response(200, reply(candidate([{"text": "a"}]), candidate([{"text": "b"}], "MAX_TOKENS", 1))), MODEL
    )
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in out["choices"]] == [
        (0, "a", "stop"),
        (1, "b", "length"),
    ]


def test_blocked_prompt_is_content_filter(adapter: GeminiAdapter) -> None:
    body = {
        "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
        "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5},
    }
    with pytest.raises(errors.ContentFilterError) as info:
        adapter.parse_chat(response(200, body), MODEL)
    assert "SAFETY" in str(info.value)
    assert info.value.status_code == 400
    assert "[gem/gemini-2.5-flash]" in str(info.value)


# -- streaming ----------------------------------------------------------------------------------
TEXT_EVENTS = [
    {
        "candidates": [candidate([{"text": "The sky"}], None)],
        "usageMetadata": {"promptTokenCount": 6, "totalTokenCount": 6},
        "responseId": "resp-s",
    },
    {
        "candidates": [candidate([{"text": " is blue"}], None)],
        "usageMetadata": {"promptTokenCount": 6, "totalTokenCount": 6},
    },
    {
        "candidates": [candidate([{"text": " today."}], "STOP")],
        "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 5, "totalTokenCount": 11},
    },
]


@pytest.mark.parametrize("seed", range(8))
def test_stream_random_splits_equal_plain_answer(adapter: GeminiAdapter, seed: int) -> None:
    plain = adapter.parse_chat(
        response(200, reply(candidate([{"text": "The sky is blue today."}]), usage=TEXT_EVENTS[-1]["usageMetadata"])),
        MODEL,
    )
    chunks, complete = run_stream(adapter, sse(TEXT_EVENTS), seed)
    assert complete
    assert joined(chunks) == plain["choices"][0]["message"]["content"]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert sum(1 for c in chunks if "role" in c["choices"][0]["delta"]) == 1
    assert {c["id"] for c in chunks} == {"resp-s"}
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["usage"] == plain["usage"]  # cumulative usage taken last, never summed
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)


def test_stream_without_finish_reason_is_incomplete(adapter: GeminiAdapter) -> None:
    chunks, complete = run_stream(adapter, sse(TEXT_EVENTS[:2]))
    assert not complete
    assert joined(chunks) == "The sky is blue"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)


def test_stream_thoughts_become_reasoning(adapter: GeminiAdapter) -> None:
    events = [
        {"candidates": [candidate([{"text": "hmm", "thought": True}], None)]},
        {
            "candidates": [candidate([{"text": "ok"}], "STOP")],
            "usageMetadata": {
                "promptTokenCount": 1,
                "candidatesTokenCount": 1,
                "thoughtsTokenCount": 3,
                "totalTokenCount": 5,
            },
        },
    ]
    chunks, complete = run_stream(adapter, sse(events))
    assert complete
    assert joined(chunks, "reasoning_content") == "hmm"
    assert joined(chunks) == "ok"
    assert chunks[-1]["usage"]["completion_tokens"] == 4


def test_stream_late_usage_is_delivered(adapter: GeminiAdapter) -> None:
    events = [
        {"candidates": [candidate([{"text": "hi"}], "STOP")]},
        {"usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 1, "totalTokenCount": 3}},
    ]
    chunks, complete = run_stream(adapter, sse(events))
    assert complete
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] == 3


# -- tools: a full parallel tool loop -----------------------------------------------------------
@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ({"type": "function", "function": {"name": "get_time"}}, {"mode": "ANY", "allowedFunctionNames": ["get_time"]}),
    ],
)
def test_tool_choice(adapter: GeminiAdapter, choice: Any, config: dict[str, Any]) -> None:
    wire = adapter.chat_request(
        {
            "model": MODEL,
            "tools": [WEATHER, TIME],
            "tool_choice": choice,
            "messages": [{"role": "user", "content": "x"}],
        },
        stream=False,
    )
    assert wire.json["toolConfig"] == {"functionCallingConfig": config}


def test_parallel_tool_loop(adapter: GeminiAdapter) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Paris and Rome?"}]
    first = adapter.chat_request({"model": MODEL, "messages": messages, "tools": [WEATHER, TIME]}, stream=False)
    declarations = first.json["tools"][0]["functionDeclarations"]
    assert declarations[0] == {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }  # additionalProperties is not Schema
    assert declarations[1] == {"name": "get_time"}  # an empty OBJECT schema would be rejected

    native = reply(
        candidate(
            [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
            ]
        )
    )
    out = adapter.parse_chat(response(200, native), MODEL)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"  # although Gemini said STOP
    assert choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [{"city": "Paris"}, {"city": "Rome"}]
    assert all(c["type"] == "function" and c["id"].startswith("call_") for c in calls)
    assert len({c["id"] for c in calls}) == 2

    messages += [
        choice["message"],
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": '{"temp": 21}'},
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": "sunny, 25C"},
    ]
    second = adapter.chat_request({"model": MODEL, "messages": messages, "tools": [WEATHER]}, stream=False)
    assert second.json["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
            ],
        },
        {
            "role": "user",
            "parts": [  # both results in one turn, names recovered from the call ids
                {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
                {"functionResponse": {"name": "get_weather", "response": {"output": "sunny, 25C"}}},
            ],
        },
    ]
    final = adapter.parse_chat(response(200, reply(candidate([{"text": "Paris 21, Rome 25."}]))), MODEL)
    assert final["choices"][0]["message"]["content"] == "Paris 21, Rome 25."
    assert final["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("seed", range(4))
def test_streamed_function_calls_keep_their_arguments(adapter: GeminiAdapter, seed: int) -> None:
    events = [
        {"candidates": [candidate([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}], None)]},
        {
            "candidates": [
                candidate(
                    [
                        {"functionCall": {"name": "get_time", "args": {}}},
                        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
                    ],
                    "STOP",
                )
            ],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 12, "totalTokenCount": 21},
        },
    ]
    chunks, complete = run_stream(adapter, sse(events), seed)
    assert complete
    deltas = [d for c in chunks if c["choices"] for d in c["choices"][0]["delta"].get("tool_calls") or []]
    assert [d["index"] for d in deltas] == [0, 1, 2]
    assert [(d["function"]["name"], json.loads(d["function"]["arguments"])) for d in deltas] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {}),
        ("get_weather", {"city": "Rome"}),
    ]
    assert all(d["id"].startswith("call_") and d["type"] == "function" for d in deltas)
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"]["total_tokens"] == 21


def test_thought_signature_round_trip() -> None:
    native = reply(candidate([{"functionCall": {"name": "get_time", "args": {}}, "thoughtSignature": "c2lnbmF0dXJl"}]))
    adapter = make_adapter()
    call = adapter.parse_chat(response(200, native), MODEL)["choices"][0]["message"]["tool_calls"][0]
    assert call["id"].endswith("c2lnbmF0dXJl")
    messages = [
        {"role": "user", "content": "time?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "noon"},
    ]
    parts = adapter.chat_request({"model": MODEL, "messages": messages}, stream=False).json["contents"][1]["parts"]
    assert parts == [{"functionCall": {"name": "get_time", "args": {}}, "thoughtSignature": "c2lnbmF0dXJl"}]
    plain = make_adapter(thought_signatures=False)
    call = plain.parse_chat(response(200, native), MODEL)["choices"][0]["message"]["tool_calls"][0]
    assert "c2lnbmF0dXJl" not in call["id"]


def test_tool_result_without_its_call_is_rejected(adapter: GeminiAdapter) -> None:
    with pytest.raises(errors.BadRequestError, match="call_missing"):
        adapter.chat_request(
            {
                "model": MODEL,
                "messages": [
                    {"role": "user", "content": "x"},
                    {"role": "tool", "tool_call_id": "call_missing", "content": "1"},
                ],
            },
            stream=False,
        )


# -- images and JSON mode -----------------------------------------------------------------------
def test_images(adapter: GeminiAdapter) -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp?size=2"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
    ]
    wire = adapter.chat_request({"model": MODEL, "messages": [{"role": "user", "content": content}]}, stream=False)
    assert wire.json["contents"][0]["parts"] == [
        {"text": "What is this?"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp?size=2"}},
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
    ]


def test_unknown_content_part_is_rejected(adapter: GeminiAdapter) -> None:
    with pytest.raises(errors.UnsupportedParameterError, match="refusal"):
        adapter.chat_request(
            {"model": MODEL, "messages": [{"role": "user", "content": [{"type": "refusal"}]}]}, stream=False
        )


def test_json_object_mode(adapter: GeminiAdapter) -> None:
    wire = adapter.chat_request(
        {"model": MODEL, "response_format": {"type": "json_object"}, "messages": [{"role": "user", "content": "x"}]},
        stream=False,
    )
    assert wire.json["generationConfig"] == {"responseMimeType": "application/json"}
    out = adapter.parse_chat(response(200, reply(candidate([{"text": '{"a": 1}'}]))), MODEL)
    assert json.loads(out["choices"][0]["message"]["content"]) == {"a": 1}


def test_json_schema_mode(adapter: GeminiAdapter) -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "age": {"type": ["integer", "null"]},
            "pet": {"$ref": "#/$defs/Pet"},
            "kind": {"const": "person"},
            "tags": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
        },
        "required": ["name"],
        "$defs": {"Pet": {"type": "object", "properties": {"name": {"type": "string"}}}},
    }
    wire = adapter.chat_request(
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": schema, "strict": True}},
        },
        stream=False,
    )
    config = wire.json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"] == {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "nullable": True},
            "pet": {"type": "object", "properties": {"name": {"type": "string"}}},
            "kind": {"enum": ["person"]},
            "tags": {"type": "array", "items": {"type": "string", "nullable": True}},
        },
    }


def test_schema_ref_cycles_stop() -> None:
    schema = {
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
        "$ref": "#/$defs/Node",
    }
    out = to_schema(schema)
    depth = 0
    while "properties" in out:
        out, depth = out["properties"]["next"], depth + 1
    assert out == {"type": "object"}
    assert depth > 3


# -- errors -------------------------------------------------------------------------------------
def google_error(code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, "details": details or []}}


KEY_INVALID = [
    {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }
]


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (
            400,
            google_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", KEY_INVALID),
            errors.AuthenticationError,
        ),
        (
            400,
            google_error(
                400,
                "INVALID_ARGUMENT",
                "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            ),
            errors.ContextWindowExceededError,
        ),
        (
            400,
            google_error(400, "INVALID_ARGUMENT", "Invalid value at 'generation_config.temperature'"),
            errors.BadRequestError,
        ),
        (
            403,
            google_error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers."),
            errors.PermissionDeniedError,
        ),
        (
            404,
            google_error(404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta"),
            errors.NotFoundError,
        ),
        (429, google_error(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota."), errors.RateLimitError),
        (500, google_error(500, "INTERNAL", "An internal error has occurred."), errors.InternalServerError),
        (
            503,
            google_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
            errors.InternalServerError,
        ),
        (
            400,
            google_error(400, "INVALID_ARGUMENT", "Request had invalid credentials.", KEY_INVALID),
            errors.AuthenticationError,
        ),  # classified by details[].reason, whatever the text says
        (400, [google_error(400, "INVALID_ARGUMENT", "in an array", KEY_INVALID)], errors.AuthenticationError),
        (502, b"<html><body>Bad Gateway</body></html>", errors.InternalServerError),
    ],
)
def test_error_shapes(adapter: GeminiAdapter, status: int, body: Any, cls: type[Exception]) -> None:
    err = adapter.parse_error(response(status, body), MODEL)
    assert type(err) is cls
    assert err.status_code == status  # the auth error stays a 400, as Google sent it
    assert "[gem/gemini-2.5-flash]" in str(err)
    assert KEY not in str(err)


def test_rate_limit_retry_delay(adapter: GeminiAdapter) -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]
    body = google_error(429, "RESOURCE_EXHAUSTED", "quota", details)
    assert adapter.parse_error(response(429, body), MODEL).retry_after == 37.0
    headed = response(429, body, {"content-type": "application/json", "retry-after": "2"})
    assert adapter.parse_error(headed, MODEL).retry_after == 2.0


def test_error_inside_200_body(adapter: GeminiAdapter) -> None:
    with pytest.raises(errors.RateLimitError) as info:
        adapter.parse_chat(response(200, google_error(429, "RESOURCE_EXHAUSTED", "quota")), MODEL)
    assert info.value.status_code == 429


@pytest.mark.parametrize(
    ("event", "cls", "status"),
    [
        (google_error(503, "UNAVAILABLE", "overloaded"), errors.InternalServerError, 503),
        (google_error(429, "RESOURCE_EXHAUSTED", "quota"), errors.RateLimitError, 429),
        ({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}, errors.ContentFilterError, 400),
    ],
)
def test_mid_stream_errors(adapter: GeminiAdapter, event: dict[str, Any], cls: type[Exception], status: int) -> None:
    translator = adapter.stream_translator(response(200, b""), MODEL)
    decoder = SSEDecoder()
    events = decoder.feed(sse([TEXT_EVENTS[0], event]))
    assert translator.feed(events[0])
    with pytest.raises(cls) as info:
        translator.feed(events[1])
    assert getattr(info.value, "status_code", None) == status


def test_malformed_stream_event(adapter: GeminiAdapter) -> None:
    translator = adapter.stream_translator(response(200, b""), MODEL)
    with pytest.raises(errors.InternalServerError, match="malformed"):
        translator.feed(SSEDecoder().feed(b"data: {not json\r\n\r\n")[0])


def test_malformed_body(adapter: GeminiAdapter) -> None:
    with pytest.raises(errors.InternalServerError):
        adapter.parse_chat(response(200, b"<html>oops</html>"), MODEL)


# -- embeddings ---------------------------------------------------------------------------------
def test_embeddings(adapter: GeminiAdapter) -> None:
    wire = adapter.embeddings_request({"model": "text-embedding-004", "input": ["a", "b"], "dimensions": 8})
    assert wire.url == f"{BASE}/models/text-embedding-004:batchEmbedContents"
    assert wire.headers["x-goog-api-key"] == KEY
    assert wire.json == {
        "requests": [
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": t}]}, "outputDimensionality": 8}
            for t in ("a", "b")
        ]
    }
    out = adapter.parse_embeddings(
        response(200, {"embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3, 0.4]}]}), "text-embedding-004"
    )
    assert out["object"] == "list"
    assert out["model"] == "text-embedding-004"
    assert [(d["index"], d["embedding"]) for d in out["data"]] == [(0, [0.1, 0.2]), (1, [0.3, 0.4])]
    with pytest.raises(errors.BadRequestError):
        adapter.embeddings_request({"model": "text-embedding-004", "input": [[1, 2, 3]]})


def test_catalog() -> None:
    preset = get_preset("gemini")
    assert preset is not None
    assert preset.protocol == "gemini"
    assert preset.env_key == "GEMINI_API_KEY"
    flash = preset.model_info("gemini-2.5-flash")
    assert flash is not None
    assert flash.context_window == 1_048_576
    assert flash.currency == "USD"
    assert flash.input_price
    assert flash.output_price
    assert flash.supports("reasoning")
    embed = preset.model_info("text-embedding-004")
    assert embed is not None
    assert embed.supports("embeddings")
    assert not embed.supports("chat")
    compat = get_preset("gemini-compat")
    assert compat is not None
    assert compat.protocol == "openai"
    assert compat.base_url.endswith("/v1beta/openai")


# -- end to end over the loopback mock server ---------------------------------------------------
@pytest.fixture
def gemini_server() -> Iterator[MockServer]:
    with MockServer({"g": "gemini"}) as server:
        server.mount("g").api_key = KEY
        yield server


def client_for(server: MockServer, key: str = KEY) -> llmswitch.OpenAI:
    config = {"providers": {"gem": {"type": "gemini", "api_key": key, "base_url": server.base_url("g")}}}
    return llmswitch.OpenAI(config=config, max_retries=0)


def test_e2e_plain_and_stream(gemini_server: MockServer) -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]
    with client_for(gemini_server) as client:
        plain = client.chat.completions.create(model=f"gem/{MODEL}", messages=messages)
        assert plain.choices[0].message.content == f"[g:{MODEL}] hello there"
        assert plain.usage is not None
        assert plain.usage.total_tokens > 0
        chunks = list(client.chat.completions.create(model=f"gem/{MODEL}", messages=messages, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == plain.usage.total_tokens
    sent = gemini_server.mount("g").requests
    assert sent[0].path == f"/v1beta/models/{MODEL}:generateContent"
    assert sent[1].path == f"/v1beta/models/{MODEL}:streamGenerateContent"
    assert sent[1].query == {"alt": "sse"}


@pytest.mark.parametrize("stream", [False, True])
def test_e2e_tool_loop(gemini_server: MockServer, stream: bool) -> None:
    messages: list[Any] = [{"role": "user", "content": "get_weather and get_time please"}]
    tools: Any = [WEATHER, TIME]
    with client_for(gemini_server) as client:
        if stream:
            chunks = list(
                client.chat.completions.create(model=f"gem/{MODEL}", messages=messages, tools=tools, stream=True)
            )
            calls = [d.model_dump() for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or []]
            assert chunks[-1].choices[0].finish_reason == "tool_calls"
        else:
            first = client.chat.completions.create(model=f"gem/{MODEL}", messages=messages, tools=tools)
            assert first.choices[0].finish_reason == "tool_calls"
            calls = [c.model_dump() for c in first.choices[0].message.tool_calls or []]
        assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
        assert all(json.loads(c["function"]["arguments"]) == {"query": messages[0]["content"]} for c in calls)
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
        final = client.chat.completions.create(model=f"gem/{MODEL}", messages=messages, tools=tools)
    assert final.choices[0].message.content == "Tool results: rainy; noon"
    assert final.choices[0].finish_reason == "stop"


def test_e2e_errors(gemini_server: MockServer) -> None:
    with client_for(gemini_server, key="wrong-key") as client, pytest.raises(llmswitch.AuthenticationError) as info:
        client.chat.completions.create(model=f"gem/{MODEL}", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 400
    assert "wrong-key" not in str(info.value)
    gemini_server.mount("g").fail("429:retry-after=0", "400:error=context_window")
    with client_for(gemini_server) as client:
        with pytest.raises(llmswitch.RateLimitError):
            client.chat.completions.create(model=f"gem/{MODEL}", messages=[{"role": "user", "content": "x"}])
        with pytest.raises(llmswitch.ContextWindowExceededError):
            client.chat.completions.create(model=f"gem/{MODEL}", messages=[{"role": "user", "content": "x"}])


def test_e2e_embeddings(gemini_server: MockServer) -> None:
    with client_for(gemini_server) as client:
        out = client.embeddings.create(model="gem/text-embedding-004", input=["a", "b"])
    assert len(out.data) == 2
    assert len(out.data[0].embedding) == 8


async def test_e2e_async_stream(gemini_server: MockServer) -> None:
    config = {"providers": {"gem": {"type": "gemini", "api_key": KEY, "base_url": gemini_server.base_url("g")}}}
    async with llmswitch.AsyncOpenAI(config=config, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model=f"gem/{MODEL}", messages=[{"role": "user", "content": "async hello"}], stream=True
        )
        chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"[g:{MODEL}] async hello"
    assert chunks[-1].choices[0].finish_reason == "stop"
