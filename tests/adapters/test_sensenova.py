"""SenseNova native adapter: request mapping, responses, streams, errors, JWT auth, embeddings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
from typing import Any

import httpx2
import openai
import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

import llmswitch
from llmswitch import errors
from llmswitch._secret import Secret
from llmswitch.adapters.base import Provider
from llmswitch.adapters.sensenova import SenseNovaAdapter
from llmswitch.adapters.structured import StructuredOutputWarning
from llmswitch.auth import SenseNovaJWTAuth, sensenova_jwt
from llmswitch.catalog import get_preset
from llmswitch.streaming import SSEDecoder
from llmswitch.testing import MockServer
from support import VECTORS

BASE = "https://api.sensenova.cn/v1"
VECTOR = json.loads((VECTORS / "sensenova.json").read_text())
AK, SK = VECTOR["inputs"]["access_key_id"], VECTOR["inputs"]["secret_access_key"]
MODEL = "SenseNova-V6-Turbo"


def make(strict: bool = False, base_url: str = BASE, **creds: str) -> SenseNovaAdapter:
    creds = creds or {"api_key": "sk-sensenova-test"}
    preset = get_preset("sensenova")
    assert preset is not None
    provider = Provider("sn", preset, base_url, {k: Secret(v) for k, v in creds.items()}, strict=strict)
    return SenseNovaAdapter(provider)


def reply(status: int, body: Any, *, url: str = BASE + "/llm/chat-completions") -> httpx2.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx2.Response(status, content=content, headers={"content-type": "application/json"},
                           request=httpx2.Request("POST", url))


def run_stream(adapter: SenseNovaAdapter, raw: bytes, seed: int) -> tuple[list[dict[str, Any]], bool]:
    """Feed ``raw`` in random byte splits through the SSE decoder and the translator."""
    translator = adapter.stream_translator(reply(200, b""), MODEL)
    decoder = SSEDecoder()
    rng = random.Random(seed)
    chunks: list[dict[str, Any]] = []
    pos = 0
    while pos < len(raw):
        step = rng.randint(1, 9)
        for event in decoder.feed(raw[pos : pos + step]):
            chunks += translator.feed(event)
        pos += step
    for event in decoder.close():
        chunks += translator.feed(event)
    chunks += translator.close()
    return chunks, translator.complete


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


# -- requests -----------------------------------------------------------------------------------------
def test_request_maps_openai_params_to_native_fields() -> None:
    wire = make().chat_request({
        "model": MODEL,
        "messages": [{"role": "developer", "content": "be brief"},
                     {"role": "user", "content": [{"type": "text", "text": "hi"},
                                                  {"type": "text", "text": "there"}]}],
        "max_tokens": 64, "temperature": 0.7, "top_p": 0.5, "n": 1, "user": "u1", "stop": ["\n\n"],
        "repetition_penalty": 1.05, "stream_options": {"include_usage": True},
    }, stream=False)
    assert (wire.method, wire.url, wire.stream) == ("POST", BASE + "/llm/chat-completions", False)
    assert wire.headers["Authorization"] == "Bearer sk-sensenova-test"
    assert wire.json == {
        "model": MODEL,
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi\nthere"}],
        "max_new_tokens": 64, "temperature": 0.7, "top_p": 0.5, "n": 1, "user": "u1", "stop": "\n\n",
        "repetition_penalty": 1.05,
    }


def test_stream_request_and_max_completion_tokens() -> None:
    wire = make().chat_request({"model": MODEL, "messages": [{"role": "user", "content": "x"}],
                                "max_completion_tokens": 9, "stream": True}, stream=True)
    assert wire.stream
    assert wire.json["stream"] is True
    assert wire.json["max_new_tokens"] == 9
    assert "max_completion_tokens" not in wire.json


def test_tools_tool_messages_and_images() -> None:
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                     {"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
                                     {"type": "image_url",
                                      "image_url": {"url": "data:image/png;base64,QUJD"}}]},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    body = make().chat_request({"model": MODEL, "messages": messages, "tools": tools,
                                "tool_choice": {"type": "function", "function": {"name": "weather"}}},
                               stream=False).json
    assert body["tools"] == tools
    assert body["tool_choice"] == {"type": "function", "function": {"name": "weather"}}
    assert body["messages"][0]["content"] == [{"type": "text", "text": "what is this?"},
                                              {"type": "image_url", "image_url": "https://x/cat.png"},
                                              {"type": "image_base64", "image_base64": "QUJD"}]
    assert body["messages"][1] == {"role": "assistant", "content": "",
                                   "tool_calls": messages[1]["tool_calls"]}
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    none = make().chat_request({"model": MODEL, "messages": messages, "tools": tools, "tool_choice": "none"},
                               stream=False).json
    assert "tools" not in none
    assert "tool_choice" not in none


@pytest.mark.parametrize(("name", "value", "sent"), [
    ("temperature", 0, 0.01), ("temperature", 2.5, 2), ("temperature", 2, 2), ("temperature", 0.8, 0.8),
    ("top_p", 1.0, 0.99), ("top_p", 0, 0.01), ("top_p", 0.7, 0.7),
])
def test_lenient_mode_clamps_into_the_open_ranges(name: str, value: float, sent: float) -> None:
    body = make().chat_request({"model": MODEL, "messages": [], name: value}, stream=False).json
    assert body[name] == pytest.approx(sent)


@pytest.mark.parametrize(("name", "value", "range_text"), [
    ("temperature", 0, "(0, 2]"), ("temperature", 3, "(0, 2]"),
    ("top_p", 1, "(0, 1)"), ("top_p", 0.0, "(0, 1)"),
])
def test_strict_mode_rejects_out_of_range_values_naming_param_and_range(name: str, value: float,
                                                                        range_text: str) -> None:
    with pytest.raises(errors.UnsupportedParameterError) as info:
        make(strict=True).chat_request({"model": MODEL, "messages": [], name: value}, stream=False)
    assert name in str(info.value)
    assert range_text in str(info.value)
    assert isinstance(info.value, openai.BadRequestError)
    assert "[sn/SenseNova-V6-Turbo]" in str(info.value)


def test_params_without_a_native_field_are_dropped_or_refused() -> None:
    params = {"model": MODEL, "messages": [], "frequency_penalty": 0.5, "seed": 7,
              "response_format": {"type": "json_object"}}
    with pytest.warns(StructuredOutputWarning, match="json_object is not supported"):  # one, for the format
        body = make().chat_request(params, stream=False).json
    assert not {"frequency_penalty", "seed", "response_format"} & body.keys()
    with pytest.raises(errors.UnsupportedParameterError, match="frequency_penalty"):
        make(strict=True).chat_request({**params, "response_format": None}, stream=False)
    with pytest.raises(errors.UnsupportedParameterError, match="response_format json_object"):
        make(strict=True).chat_request(params, stream=False)


# -- credentials and the JWT on the wire ---------------------------------------------------------------
def test_credentials_need_a_complete_pair_or_an_api_key() -> None:
    with pytest.raises(errors.ConfigError, match="needs access_key_id"):
        make(other="x")
    with pytest.raises(errors.ConfigError, match="secret_access_key"):
        make(access_key_id=AK, api_key="sk-1")
    assert make(api_key="sk-1").auth() is None


def test_vector_reproduced_by_the_signer_the_adapter_uses() -> None:
    inputs = VECTOR["inputs"]
    assert sensenova_jwt(AK, SK, now=inputs["now"]) == VECTOR["jwt"]
    signer = SenseNovaJWTAuth(Secret(AK), Secret(SK), clock=lambda: inputs["now"])
    assert f"Bearer {signer.token()}" == VECTOR["authorization_header"]


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_key_pair_puts_a_valid_jwt_on_the_wire() -> None:
    adapter = make(access_key_id=AK, secret_access_key=SK)
    params = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    wire = adapter.chat_request(params, stream=False)
    assert "Authorization" not in wire.headers
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"data": {"choices": [{"message": "ok", "finish_reason": "stop"}]}})

    with httpx2.Client(transport=httpx2.MockTransport(handler)) as client:
        response = client.request(wire.method, wire.url, json=wire.json, headers=wire.headers,
                                  auth=adapter.auth())
    assert adapter.parse_chat(response, MODEL)["choices"][0]["message"]["content"] == "ok"
    scheme, token = seen[0].headers["authorization"].split(" ")
    head, payload, signature = token.split(".")
    assert scheme == "Bearer"
    assert _b64(signature) == hmac.new(SK.encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest()
    claims = json.loads(_b64(payload))
    assert json.loads(_b64(head)) == {"alg": "HS256", "typ": "JWT"}
    assert claims["iss"] == AK
    assert claims["exp"] - claims["nbf"] == 1805
    assert claims["nbf"] <= time.time() < claims["exp"]
    assert token == sensenova_jwt(AK, SK, now=claims["nbf"] + 5)  # byte-for-byte the vector's algorithm


# -- responses ----------------------------------------------------------------------------------------
DOC_REPLY = {"data": {"id": "4b44cc6c-2f7b", "choices": [
    {"index": 0, "role": "assistant", "message": "Hello! How can I help?", "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 7, "knowledge_tokens": 3, "total_tokens": 20}}}


def test_parse_chat_unwraps_data_and_folds_knowledge_tokens() -> None:
    out = make().parse_chat(reply(200, DOC_REPLY), MODEL)
    ChatCompletion.model_validate(out)
    assert out["id"] == "4b44cc6c-2f7b"
    assert out["model"] == MODEL
    assert out["object"] == "chat.completion"
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "Hello! How can I help?"}
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"] == {"prompt_tokens": 13, "completion_tokens": 7, "total_tokens": 20}


@pytest.mark.parametrize(("native", "expected"), [
    ("stop", "stop"), ("length", "length"), ("sensitive", "content_filter"), ("tool_calls", "tool_calls"),
    ("something-new", "stop"),
])
def test_finish_reasons_map_to_openai_values(native: str, expected: str) -> None:
    body = {"data": {"choices": [{"message": "x", "finish_reason": native}],
                     "usage": {"prompt_tokens": 1, "completion_tokens": 1}}}
    out = make().parse_chat(reply(200, body), MODEL)
    assert out["choices"][0]["finish_reason"] == expected
    assert out["usage"]["total_tokens"] == 2


def test_tool_calls_get_ids_and_json_arguments() -> None:
    body = {"data": {"id": "r1", "choices": [{"index": 0, "role": "assistant", "message": "",
                                             "finish_reason": "stop",
                                             "tool_calls": [{"type": "function", "function": {
                                                 "name": "weather", "arguments": {"city": "上海"}}}]}]}}
    out = make().parse_chat(reply(200, body), MODEL)
    ChatCompletion.model_validate(out)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    call = choice["message"]["tool_calls"][0]
    assert call["id"].startswith("call_")
    assert len(call["id"]) > 8
    assert call["type"] == "function"
    assert call["function"] == {"name": "weather", "arguments": '{"city": "上海"}'}


# -- streams ------------------------------------------------------------------------------------------
def _event(choice: dict[str, Any], usage: dict[str, int] | None = None) -> bytes:
    data: dict[str, Any] = {"id": "s1", "choices": [{"index": 0, "role": "assistant", **choice}]}
    if usage:
        data["usage"] = usage
    return f"data:{json.dumps({'data': data}, ensure_ascii=False)}\n\n".encode()


USAGE = {"prompt_tokens": 10, "completion_tokens": 7, "knowledge_tokens": 3, "total_tokens": 20}
PIECES = ["Hello", "! ", "How can ", "I help?"]
DOC_STREAM = (b"".join(_event({"delta": p, "finish_reason": ""}) for p in PIECES)
              + _event({"delta": "", "finish_reason": "stop"}, USAGE) + b"data:[DONE]\n\n")


@pytest.mark.parametrize("seed", range(6))
def test_stream_in_random_splits_equals_the_plain_answer(seed: int) -> None:
    adapter = make()
    chunks, complete = run_stream(adapter, DOC_STREAM, seed)
    for c in chunks:
        ChatCompletionChunk.model_validate(c)
    plain = adapter.parse_chat(reply(200, DOC_REPLY), MODEL)["choices"][0]["message"]["content"]
    assert complete
    assert text_of(chunks) == plain
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert {c["id"] for c in chunks} == {"s1"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == {"prompt_tokens": 13, "completion_tokens": 7, "total_tokens": 20}


def test_usage_after_the_finish_event_is_waited_for() -> None:
    raw = (_event({"delta": "Hi", "finish_reason": ""}) + _event({"delta": "", "finish_reason": "length"})
           + f"data:{json.dumps({'data': {'usage': USAGE}})}\n\n".encode() + b"data:[DONE]\n\n")
    chunks, complete = run_stream(make(), raw, 1)
    assert complete
    assert text_of(chunks) == "Hi"
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["prompt_tokens"] == 13


def test_stream_without_done_or_finish_is_incomplete() -> None:
    raw = b"".join(_event({"delta": p, "finish_reason": ""}) for p in PIECES)
    chunks, complete = run_stream(make(), raw, 2)
    assert text_of(chunks) == "".join(PIECES)
    assert not complete
    no_done, complete = run_stream(make(), raw + _event({"delta": "", "finish_reason": "stop"}), 3)
    assert complete
    assert no_done[-1]["choices"][0]["finish_reason"] == "stop"


def test_stream_tool_calls_are_sent_once_with_ids() -> None:
    call = {"type": "function", "function": {"name": "weather", "arguments": '{"city":"SH"}'}}
    raw = (_event({"delta": "", "finish_reason": "", "tool_calls": [call]})
           + _event({"delta": "", "finish_reason": "stop", "tool_calls": [call]}, USAGE) + b"data:[DONE]\n\n")
    chunks, complete = run_stream(make(), raw, 4)
    calls = [t for c in chunks for t in c["choices"][0]["delta"].get("tool_calls") or []]
    assert complete
    assert len(calls) == 1
    assert calls[0]["id"].startswith("call_")
    assert calls[0]["index"] == 0
    assert calls[0]["function"] == call["function"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_error_event_in_stream_raises_the_right_class() -> None:
    error = b'data:{"error":{"code":8,"message":"too fast","details":[]}}\n\n'
    raw = _event({"delta": "Hi", "finish_reason": ""}) + error
    with pytest.raises(errors.RateLimitError) as info:
        run_stream(make(), raw, 5)
    assert info.value.status_code == 429
    assert info.value.code == "8"


# -- errors -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "code", "message", "cls", "kind"), [
    (429, 8, "rate limit exceeded", errors.RateLimitError, "rate_limit"),
    (401, 16, "invalid token", errors.AuthenticationError, "auth"),
    (403, 7, "Forbidden", errors.PermissionDeniedError, "permission"),
    (404, 5, "model not found", errors.NotFoundError, "not_found"),
    (400, 3, "input tokens exceed the model's maximum context length", errors.ContextWindowExceededError,
     "context_window"),
    (400, 3, "input contains sensitive content", errors.ContentFilterError, "content_filter"),
    (400, 3, "invalid argument: messages", errors.BadRequestError, "bad_request"),
    (500, 2, "unknown", errors.InternalServerError, "server_error"),
    (409, 10, "aborted, try again", errors.InternalServerError, "server_error"),
    (504, 4, "deadline exceeded", errors.InternalServerError, "server_error"),
])
def test_error_bodies_map_to_kinds(status: int, code: int, message: str, cls: type[Exception],
                                   kind: str) -> None:
    body = {"error": {"code": code, "message": message, "details": []}}
    exc = make().parse_error(reply(status, body), MODEL)
    assert type(exc) is cls
    assert exc.kind == kind
    assert exc.status_code == status
    assert exc.code == str(code)
    assert message in str(exc)
    assert "[sn/SenseNova-V6-Turbo]" in str(exc)


def test_error_page_that_is_not_json() -> None:
    exc = make().parse_error(reply(503, b"<html>Service Unavailable</html>"), MODEL)
    assert isinstance(exc, errors.InternalServerError)
    assert "Service Unavailable" in str(exc)


@pytest.mark.parametrize(("body", "cls", "status"), [
    ({"error": {"code": 8, "message": "slow down", "details": []}}, errors.RateLimitError, 429),
    ({"error": {"code": 16, "message": "unauthenticated"}}, errors.AuthenticationError, 401),
    ({"data": {"choices": []}, "status": {"code": 3, "message": "context length exceeded"}},
     errors.ContextWindowExceededError, 400),
])
def test_errors_inside_http_200(body: dict[str, Any], cls: type[Exception], status: int) -> None:
    with pytest.raises(cls) as info:
        make().parse_chat(reply(200, body), MODEL)
    assert info.value.status_code == status  # type: ignore[attr-defined]


def test_success_status_object_is_not_an_error() -> None:
    body = {**DOC_REPLY, "status": {"code": 0, "message": "ok"}}
    assert make().parse_chat(reply(200, body), MODEL)["choices"][0]["message"]["content"].startswith("Hello")


def test_unexpected_200_body_is_a_server_error() -> None:
    with pytest.raises(errors.InternalServerError, match="unexpected response body"):
        make().parse_chat(reply(200, {"hello": "world"}), MODEL)


# -- embeddings ---------------------------------------------------------------------------------------
def test_embeddings_request_and_response() -> None:
    adapter = make()
    wire = adapter.embeddings_request({"model": "nova-embedding-stable", "input": "hello"})
    assert wire.url == BASE + "/llm/embeddings"
    assert wire.json == {"model": "nova-embedding-stable", "input": ["hello"]}
    body = {"embeddings": [{"index": 1, "embedding": [0.3, 0.4], "status": "success"},
                           {"index": 0, "embedding": [0.1, 0.2], "status": "success"}],
            "usage": {"prompt_tokens": 4, "total_tokens": 4}}
    out = adapter.parse_embeddings(reply(200, body, url=wire.url), "nova-embedding-stable")
    CreateEmbeddingResponse.model_validate(out)
    assert [d["embedding"] for d in out["data"]] == [[0.1, 0.2], [0.3, 0.4]]
    assert [d["index"] for d in out["data"]] == [0, 1]
    assert out["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    with pytest.raises(errors.UnsupportedParameterError):
        adapter.embeddings_request({"model": "nova-embedding-stable", "input": [[1, 2, 3]]})


# -- end to end over the loopback mock server -----------------------------------------------------------
@pytest.fixture
def server() -> Any:
    with MockServer({"sn": "sensenova"}) as srv:
        srv.mount("sn").api_key = f"{AK}:{SK}"  # the mock then demands a valid JWT from this pair
        yield srv


@pytest.fixture
def client(server: MockServer) -> Any:
    cfg = {"providers": {"sn": {"type": "sensenova", "access_key_id": AK, "secret_access_key": SK,
                                "base_url": server.base_url("sn")}}}
    with llmswitch.OpenAI(config=cfg, max_retries=0) as c:
        yield c


def test_end_to_end_plain_and_stream_with_jwt(server: MockServer, client: llmswitch.OpenAI) -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]
    # temperature 0 / top_p 1 are outside SenseNova's ranges: the mock 400s unless they were clamped
    plain = client.chat.completions.create(model=f"sn/{MODEL}", messages=messages, temperature=0, top_p=1,
                                           max_tokens=50)
    assert plain.choices[0].message.content == f"[sn:{MODEL}] hello there"
    assert plain.choices[0].finish_reason == "stop"
    assert plain.usage is not None
    assert plain.usage.total_tokens == 7
    chunks = list(client.chat.completions.create(model=f"sn/{MODEL}", messages=messages, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == plain.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None
    sent = json.loads(server.mount("sn").requests[0].body)
    assert sent["messages"][0] == {"role": "system", "content": "be brief"}
    assert sent["max_new_tokens"] == 50
    assert server.mount("sn").requests[0].headers["authorization"].count(".") == 2


def test_end_to_end_errors(server: MockServer, client: llmswitch.OpenAI) -> None:
    server.mount("sn").fail("429")
    with pytest.raises(llmswitch.RateLimitError):
        client.chat.completions.create(model=f"sn/{MODEL}", messages=[{"role": "user", "content": "x"}])
    server.mount("sn").api_key = f"{AK}:wrong-secret"
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model=f"sn/{MODEL}", messages=[{"role": "user", "content": "x"}])


def test_end_to_end_embeddings(client: llmswitch.OpenAI) -> None:
    out = client.embeddings.create(model="sn/nova-embedding-stable", input=["a", "b"])
    assert [d.index for d in out.data] == [0, 1]
    assert len(out.data[0].embedding) == 8
