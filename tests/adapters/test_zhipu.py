"""Zhipu GLM v4: request mapping, JWT on the wire, business codes, finish reasons, streams, embeddings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
from typing import Any

import httpx2
import pytest
from openai.types.chat import ChatCompletion

import llmswitch
from llmswitch import errors
from llmswitch._secret import Secret
from llmswitch.adapters import adapter_class
from llmswitch.adapters.base import Provider
from llmswitch.adapters.openai import OpenAIAdapter
from llmswitch.adapters.zhipu import ZhipuAdapter
from llmswitch.auth import zhipu_jwt
from llmswitch.catalog import get_preset
from llmswitch.streaming import SSEDecoder
from llmswitch.testing import MockServer
from llmswitch.testing.protocols.base import MockRequest
from llmswitch.testing.protocols.zhipu import ZhipuProtocol, decode_jwt

KEY = "6f1c2d3e4a5b4c6d8e9f0a1b2c3d4e5f.LLMSwitchExampleSecret01"  # shared/providers/vectors/zhipu.json
KEY_ID, SECRET = KEY.split(".")
BASE = "https://open.bigmodel.cn/api/paas/v4"
MODEL = "glm-4-plus"
MESSAGES = [{"role": "user", "content": "你好"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]

# documented native payloads (PyPI zhipuai 2.1.5 types/chat, PROTOCOLS.md §5)
REPLY = {
    "created": 1703487403,
    "id": "8239375684858666781",
    "model": MODEL,
    "request_id": "8239375684858666781",
    "choices": [{"finish_reason": "stop", "index": 0,
                 "message": {"content": "你好！我是智谱清言，有什么可以帮你？", "role": "assistant"}}],
    "usage": {"completion_tokens": 12, "prompt_tokens": 6, "total_tokens": 18},
}
PIECES = ["你好！", "我是智谱", "清言，", "有什么可以帮你？"]


def stream_events(pieces: list[str], finish: str = "stop", usage: dict[str, int] | None = None) -> bytes:
    def ev(delta: dict[str, Any], **extra: Any) -> bytes:
        body = {"id": "8313807536837492492", "created": 1706092316, "model": MODEL,
                "choices": [{"index": 0, "delta": delta, **extra}]}
        if "usage" in extra:
            body["usage"] = body["choices"][0].pop("usage")
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()

    out = b"".join(ev({"role": "assistant", "content": p}) for p in pieces)
    out += ev({"role": "assistant", "content": ""}, finish_reason=finish,
              usage=usage or {"prompt_tokens": 6, "completion_tokens": 12, "total_tokens": 18})
    return out + b"data: [DONE]\n\n"


def make(*, preset: str = "zhipu", key: str | None = KEY, strict: bool = False, **options: Any) -> Any:
    spec = get_preset(preset)
    assert spec is not None
    assert spec.base_url is not None
    creds = {"api_key": Secret(key)} if key else {}
    return adapter_class(spec.protocol)(Provider("glm", spec, spec.base_url, creds, options, strict=strict))


def response(status: int, body: Any, url: str = BASE + "/chat/completions") -> httpx2.Response:
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return httpx2.Response(status, content=content, request=httpx2.Request("POST", url))


def feed(adapter: Any, raw: bytes, seed: int) -> tuple[list[dict[str, Any]], Any]:
    """Decode ``raw`` in random byte splits (also through multi-byte characters) and translate."""
    rng = random.Random(seed)
    translator = adapter.stream_translator(response(200, b""), MODEL)
    decoder = SSEDecoder()
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(raw):
        step = rng.randint(1, 9)
        for event in decoder.feed(raw[i:i + step]):
            out += translator.feed(event)
        i += step
    for event in decoder.close():
        out += translator.feed(event)
    return out + translator.close(), translator


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def sign(adapter: Any) -> str:
    request = httpx2.Request("POST", BASE + "/chat/completions")
    flow = adapter.auth().auth_flow(request)
    signed = next(flow)
    header = str(signed.headers["Authorization"])
    assert header.startswith("Bearer ")
    return header[7:]


# -- requests ----------------------------------------------------------------------------------
def test_request_is_openai_shaped_and_signed_by_auth_not_headers() -> None:
    adapter = make()
    assert isinstance(adapter, ZhipuAdapter)
    params = {"model": MODEL, "messages": MESSAGES, "tools": TOOLS, "tool_choice": "auto", "max_tokens": 64,
              "stream_options": {"include_usage": True}}
    wire = adapter.chat_request(dict(params), stream=True)
    assert (wire.method, wire.url, wire.stream) == ("POST", BASE + "/chat/completions", True)
    assert wire.json == {**{k: v for k, v in params.items() if k != "stream_options"}, "stream": True}
    assert "Authorization" not in wire.headers  # the JWT signer adds it
    assert adapter.chat_request(dict(params), stream=False).json.get("stream") is None


@pytest.mark.parametrize(("name", "value", "sent"), [("temperature", 0, 0.01), ("temperature", 1.7, 1.0),
                                                     ("top_p", 1.0, 0.99), ("temperature", 0.6, 0.6)])
def test_sampling_ranges_clamped(name: str, value: float, sent: float) -> None:
    wire = make().chat_request({"model": MODEL, "messages": MESSAGES, name: value}, stream=False)
    assert wire.json[name] == pytest.approx(sent)


def test_strict_mode_rejects_out_of_range() -> None:
    with pytest.raises(errors.UnsupportedParameterError, match="temperature"):
        make(strict=True).chat_request({"model": MODEL, "messages": MESSAGES, "temperature": 1.5},
                                       stream=False)


# -- auth --------------------------------------------------------------------------------------
def test_jwt_on_the_wire_has_zhipu_claims() -> None:
    before = int(time.time() * 1000)
    token = sign(make())
    after = int(time.time() * 1000)
    decoded = decode_jwt(token)
    assert decoded is not None
    header, payload, signing_input, signature = decoded
    assert header == {"alg": "HS256", "sign_type": "SIGN", "typ": "JWT"}
    assert payload["api_key"] == KEY_ID
    assert before <= payload["timestamp"] <= after  # milliseconds, not seconds
    assert payload["exp"] - payload["timestamp"] == 210_000
    assert hmac.compare_digest(hmac.new(SECRET.encode(), signing_input, hashlib.sha256).digest(), signature)
    # byte for byte what the vector's algorithm yields for that instant
    assert token == zhipu_jwt(KEY, now_ms=payload["timestamp"])
    assert SECRET not in token
    assert SECRET not in base64.urlsafe_b64decode(token.split(".")[1] + "==").decode()


def test_jwt_is_reused_and_ttl_is_an_option() -> None:
    adapter = make(jwt_ttl_ms=60_000)
    first, second = sign(adapter), sign(adapter)
    assert first == second
    decoded = decode_jwt(first)
    assert decoded is not None
    assert decoded[1]["exp"] - decoded[1]["timestamp"] == 60_000


def test_bearer_mode_sends_the_raw_key() -> None:
    adapter = make(auth_mode="bearer")
    assert adapter.auth() is None
    wire = adapter.chat_request({"model": MODEL, "messages": MESSAGES}, stream=False)
    assert wire.headers["Authorization"] == f"Bearer {KEY}"


def test_unsignable_key_falls_back_to_bearer() -> None:
    adapter = make(key="sk-not-an-id-secret-key")
    assert adapter.auth() is None
    assert adapter.chat_request({"model": MODEL, "messages": MESSAGES}, stream=False).headers[
        "Authorization"] == "Bearer sk-not-an-id-secret-key"


def test_bad_auth_mode_is_a_config_error_without_the_key() -> None:
    with pytest.raises(errors.ConfigError, match="auth_mode") as info:
        make(auth_mode="hmac")
    assert SECRET not in str(info.value)


def test_compat_preset_is_plain_bearer_openai() -> None:
    adapter = make(preset="zhipu-compat")
    assert type(adapter) is OpenAIAdapter
    assert adapter.auth() is None
    wire = adapter.chat_request({"model": MODEL, "messages": MESSAGES}, stream=False)
    assert (wire.url, wire.headers["Authorization"]) == (BASE + "/chat/completions", f"Bearer {KEY}")


# -- responses ---------------------------------------------------------------------------------
def test_parse_chat_is_an_openai_completion() -> None:
    out = make().parse_chat(response(200, REPLY), MODEL)
    assert out["object"] == "chat.completion"
    assert out["id"] == "8239375684858666781"
    answer = REPLY["choices"][0]["message"]["content"]  # type: ignore[index]
    assert out["choices"][0]["message"] == {"content": answer, "role": "assistant"}
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"] == {"completion_tokens": 12, "prompt_tokens": 6, "total_tokens": 18}
    assert ChatCompletion.model_validate(out).choices[0].message.content == answer


def test_parse_chat_tool_calls_and_reasoning() -> None:
    call = {"id": "call_8231168139794583938", "index": 0, "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"北京\"}"}}
    body = {**REPLY, "choices": [{"finish_reason": "tool_calls", "index": 0, "message": {
        "role": "assistant", "content": None, "reasoning_content": "需要查天气", "tool_calls": [call]}}]}
    message = make().parse_chat(response(200, body), MODEL)["choices"][0]["message"]
    assert message["tool_calls"] == [{k: v for k, v in call.items() if k != "index"}]
    assert message["reasoning_content"] == "需要查天气"


def test_finish_reason_sensitive_is_content_filter() -> None:
    body = {**REPLY, "choices": [{**REPLY["choices"][0], "finish_reason": "sensitive"}]}
    assert make().parse_chat(response(200, body), MODEL)["choices"][0]["finish_reason"] == "content_filter"


def test_finish_reason_network_error_is_a_server_error() -> None:
    body = {**REPLY, "choices": [{**REPLY["choices"][0], "finish_reason": "network_error"}]}
    with pytest.raises(errors.InternalServerError) as info:
        make().parse_chat(response(200, body), MODEL)
    assert info.value.status_code == 500
    assert info.value.kind == "server_error"


ERROR_CASES = [
    ("1261", 400, errors.ContextWindowExceededError),
    ("1301", 400, errors.ContentFilterError),
    ("1302", 429, errors.RateLimitError),
    ("1305", 429, errors.RateLimitError),
    ("1113", 429, errors.QuotaExceededError),  # arrears: openai's RateLimitError, code insufficient_quota
    *[(str(code), 401, errors.AuthenticationError) for code in range(1000, 1005)],
    ("1214", 400, errors.BadRequestError),
    ("500", 500, errors.InternalServerError),
]


@pytest.mark.parametrize(("code", "status", "cls"), ERROR_CASES)
def test_http_errors_classified_by_business_code(code: str, status: int, cls: type[Exception]) -> None:
    body = {"error": {"code": code, "message": f"vendor says {code}"}}
    err = make().parse_error(response(status, body), MODEL)
    assert type(err) is cls
    assert (err.status_code, err.code, err.provider, err.model) == (status, code, "glm", MODEL)
    assert f"vendor says {code}" in str(err)


@pytest.mark.parametrize(("status", "code", "kind"), [(402, "1113", "quota"), (404, "1261", "not_found"),
                                                    (503, "1301", "server_error"), (400, "1113", "quota")])
def test_a_specific_http_status_wins_over_the_code(status: int, code: str, kind: str) -> None:
    err = make().parse_error(response(status, {"error": {"code": code, "message": "m"}}), MODEL)
    assert (err.kind, err.status_code) == (kind, status)


@pytest.mark.parametrize(("code", "status", "cls"), [c for c in ERROR_CASES if c[0] != "1214"])
def test_compat_preset_classifies_business_codes_too(code: str, status: int, cls: type[Exception]) -> None:
    err = make(preset="zhipu-compat").parse_error(response(status, {"error": {"code": code, "message": "m"}}),
                                                 MODEL)
    assert type(err) is cls


@pytest.mark.parametrize(("code", "cls", "status"), [("1261", errors.ContextWindowExceededError, 400),
                                                     ("1302", errors.RateLimitError, 429),
                                                     ("1113", errors.QuotaExceededError, 402),
                                                     ("1002", errors.AuthenticationError, 401),
                                                     ("9999", errors.InternalServerError, 500)])
def test_error_inside_http_200(code: str, cls: type[Exception], status: int) -> None:
    with pytest.raises(cls) as info:
        make().parse_chat(response(200, {"error": {"code": code, "message": "in a 200"}}), MODEL)
    assert info.value.status_code == status  # type: ignore[attr-defined]


def test_non_json_body_is_a_server_error() -> None:
    with pytest.raises(errors.InternalServerError, match="malformed"):
        make().parse_chat(response(200, b"<html>bad gateway</html>"), MODEL)


# -- streams -----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_stream_in_random_splits_equals_the_plain_answer(seed: int) -> None:
    adapter = make()
    chunks, translator = feed(adapter, stream_events(PIECES), seed)
    plain = adapter.parse_chat(response(200, REPLY), MODEL)
    assert text_of(chunks) == plain["choices"][0]["message"]["content"]
    assert translator.complete
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["usage"] == plain["usage"]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)


def test_stream_tool_call_and_reasoning() -> None:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"北京\"}"}}
    head = {"id": "x", "created": 1, "model": MODEL}
    events = [
        {**head, "choices": [{"index": 0, "delta": {"reasoning_content": "想一想"}}]},
        {**head, "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]},
        {**head, "choices": [{"index": 0, "finish_reason": "tool_calls", "delta": {}}],
         "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}},
    ]
    raw = b"".join(f"data: {json.dumps(e, ensure_ascii=False)}\n\n".encode() for e in events)
    raw += b"data: [DONE]\n\n"
    chunks, translator = feed(make(), raw, 1)
    assert chunks[0]["choices"][0]["delta"]["reasoning_content"] == "想一想"
    assert chunks[1]["choices"][0]["delta"]["tool_calls"] == [{**call, "index": 0}]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"]["total_tokens"] == 12
    assert translator.complete


def test_stream_sensitive_finish_is_content_filter() -> None:
    chunks, translator = feed(make(), stream_events(PIECES[:2], finish="sensitive"), 3)
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"
    assert translator.complete


def test_stream_network_error_finish_interrupts() -> None:
    with pytest.raises(errors.InternalServerError, match="network_error"):
        feed(make(), stream_events(PIECES, finish="network_error"), 4)


@pytest.mark.parametrize(("code", "cls"), [("1301", errors.ContentFilterError),
                                           ("1302", errors.RateLimitError),
                                           ("1261", errors.ContextWindowExceededError)])
def test_in_stream_error_event(code: str, cls: type[Exception]) -> None:
    raw = stream_events(PIECES).split(b"\n\n")
    error_event = json.dumps({"error": {"code": code, "message": "mid-stream"}}).encode()
    with pytest.raises(cls, match="mid-stream"):
        feed(make(), b"\n\n".join([*raw[:2], b"data: " + error_event]) + b"\n\n", 5)


def test_cut_stream_is_not_complete() -> None:
    events = stream_events(PIECES).split(b"\n\n")
    chunks, translator = feed(make(), b"\n\n".join(events[:len(PIECES)]) + b"\n\n", 6)  # no finish, no [DONE]
    assert chunks
    assert not translator.complete


# -- embeddings --------------------------------------------------------------------------------
def test_embeddings_request_and_reply() -> None:
    adapter = make()
    wire = adapter.embeddings_request({"model": "embedding-3", "input": ["a", "b"], "dimensions": 256,
                                       "encoding_format": "float"})
    assert wire.url == BASE + "/embeddings"
    assert wire.json == {"model": "embedding-3", "input": ["a", "b"], "dimensions": 256}
    reply = {"model": "embedding-3", "object": "list",
             "data": [{"embedding": [0.1, -0.2], "index": 0, "object": "embedding"},
                      {"embedding": [0.3, 0.4], "index": 1, "object": "embedding"}],
             "usage": {"completion_tokens": 0, "prompt_tokens": 2, "total_tokens": 2}}
    out = adapter.parse_embeddings(response(200, reply, BASE + "/embeddings"), "embedding-3")
    assert [d["embedding"] for d in out["data"]] == [[0.1, -0.2], [0.3, 0.4]]
    assert out["usage"]["prompt_tokens"] == 2


def test_embeddings_error_in_200() -> None:
    with pytest.raises(errors.RateLimitError):
        make().parse_embeddings(response(200, {"error": {"code": "1302", "message": "busy"}}), "embedding-2")


# -- the mock's auth check -----------------------------------------------------------------------
def _request(bearer: str) -> MockRequest:
    return MockRequest("POST", "/api/paas/v4/chat/completions", headers={"authorization": f"Bearer {bearer}"})


def test_mock_checks_the_jwt() -> None:
    proto = ZhipuProtocol()
    now = int(time.time() * 1000)
    good = zhipu_jwt(KEY, now_ms=now)
    seconds = zhipu_jwt(KEY, now_ms=now // 1000)  # a timestamp in seconds, as SenseNova's JWT has
    assert proto.authorized(_request(good), KEY)
    assert proto.authorized(_request(KEY), KEY)
    assert not proto.authorized(_request(seconds), None)  # malformed JWTs are refused even without a key
    assert not proto.authorized(_request(zhipu_jwt(KEY_ID + ".wrong", now_ms=now)), KEY)
    assert not proto.authorized(_request(zhipu_jwt(KEY, now_ms=now - 300_000)), KEY)  # expired


# -- end to end over the loopback mock ---------------------------------------------------------
@pytest.fixture
def glm() -> Any:
    with MockServer({"glm": "zhipu"}) as server:
        server.mount("glm").api_key = KEY
        yield server


def client_for(server: MockServer, **extra: Any) -> llmswitch.OpenAI:
    provider = {"type": "zhipu", "api_key": KEY, "base_url": server.base_url("glm"), **extra}
    return llmswitch.OpenAI(config={"providers": {"glm": provider}}, max_retries=0)


def test_e2e_plain_stream_and_errors(glm: MockServer) -> None:
    with client_for(glm) as client:
        plain = client.chat.completions.create(model="glm/glm-4-flash", messages=MESSAGES)
        assert plain.choices[0].message.content == "[glm:glm-4-flash] 你好"
        assert plain.choices[0].finish_reason == "stop"
        assert plain.usage is not None
        stream = client.chat.completions.create(model="glm/glm-4-flash", messages=MESSAGES, stream=True)
        with stream:
            chunks = list(stream)
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == plain.choices[0].message.content
        assert chunks[-1].choices[0].finish_reason == "stop"
        assert chunks[-1].usage == plain.usage
        sent = glm.mount("glm").requests[0].headers["authorization"][7:]
        decoded = decode_jwt(sent)
        assert decoded is not None
        assert decoded[1]["api_key"] == KEY_ID

        glm.mount("glm").fail("400:error=context_window", "error_in_body:error=content_filter")
        with pytest.raises(llmswitch.ContextWindowExceededError) as info:
            client.chat.completions.create(model="glm/glm-4-flash", messages=MESSAGES)
        assert (info.value.status_code, info.value.code) == (400, "1261")
        with pytest.raises(llmswitch.ContentFilterError):
            client.chat.completions.create(model="glm/glm-4-flash", messages=MESSAGES)

        glm.mount("glm").fail("stream_error:after=1:error=rate_limit")
        with pytest.raises(llmswitch.StreamInterruptedError) as interrupted:
            for _ in client.chat.completions.create(model="glm/glm-4-flash", messages=MESSAGES, stream=True):
                pass
        assert isinstance(interrupted.value.__cause__, llmswitch.RateLimitError)
        assert interrupted.value.partial_text == "[glm:glm-4-flash] "

        emb = client.embeddings.create(model="glm/embedding-3", input=["a b", "c"])
        assert len(emb.data) == 2
        assert emb.usage.prompt_tokens == 3


def test_e2e_bearer_mode_and_wrong_key(glm: MockServer) -> None:
    with client_for(glm, auth_mode="bearer") as client:
        reply = client.chat.completions.create(model="glm/glm-4-air", messages=MESSAGES)
        assert reply.choices[0].message.content == "[glm:glm-4-air] 你好"
    assert glm.mount("glm").requests[-1].headers["authorization"] == f"Bearer {KEY}"
    glm.mount("glm").api_key = KEY_ID + ".AnotherSecret"
    with client_for(glm) as client, pytest.raises(llmswitch.AuthenticationError):
        client.chat.completions.create(model="glm/glm-4-air", messages=MESSAGES)


async def test_e2e_async_client_signs_too(glm: MockServer) -> None:
    provider = {"type": "zhipu", "api_key": KEY, "base_url": glm.base_url("glm")}
    async with llmswitch.AsyncOpenAI(config={"providers": {"glm": provider}}, max_retries=0) as client:
        plain = await client.chat.completions.create(model="glm/glm-4-flash", messages=MESSAGES)
        stream = await client.chat.completions.create(model="glm/glm-4-flash", messages=MESSAGES, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == plain.choices[0].message.content == "[glm:glm-4-flash] 你好"
    decoded = decode_jwt(glm.mount("glm").requests[-1].headers["authorization"][7:])
    assert decoded is not None
    assert decoded[0]["sign_type"] == "SIGN"
