"""Tencent Hunyuan native: PascalCase mapping, TC3 on the wire, 200 errors, streams, embeddings, e2e."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import httpx2
import pytest

import llmswitch
from llmswitch import errors
from llmswitch._secret import Secret
from llmswitch.adapters import adapter_class
from llmswitch.adapters.base import Provider, json_body
from llmswitch.adapters.hunyuan import HunyuanAdapter
from llmswitch.auth import tc3_sign
from llmswitch.catalog import get_preset
from llmswitch.streaming import SSEDecoder
from llmswitch.testing import MockServer
from llmswitch.testing.protocols.base import MockRequest
from llmswitch.testing.protocols.hunyuan import HunyuanProtocol

BASE = "https://hunyuan.tencentcloudapi.com"
SECRET_ID, SECRET_KEY = "AKIDllmswitchEXAMPLEsecretid0000000", "llmswitchEXAMPLEsecretkey000000"
MODEL = "hunyuan-turbo"
NOTE = "以上内容为AI生成，不代表开发者立场，请勿删除或修改本标记"
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]

# documented native payloads (SDK models.py ChatCompletionsResponse / Choice / ToolCall; PROTOCOLS.md §4)
REPLY = {"Response": {
    "RequestId": "e2d2a2d9-3b1f-4e3c-9b9b-1c1d1e1f1a1b", "Note": NOTE,
    "Choices": [{"Message": {"Role": "assistant", "Content": "北京今天晴，气温 25 度。"}, "FinishReason": "stop"}],
    "Created": 1701236033, "Id": "e2d2a2d9-3b1f-4e3c-9b9b-1c1d1e1f1a1b",
    "Usage": {"PromptTokens": 6, "CompletionTokens": 17, "TotalTokens": 23},
}}
PIECES = ["北京", "今天晴，", "气温 ", "25 度。"]
TOOL_REPLY = {"Response": {
    "RequestId": "r-1", "Note": NOTE, "Created": 1701236033, "Id": "r-1",
    "Choices": [{"FinishReason": "tool_calls", "Message": {
        "Role": "assistant", "Content": "",
        "ToolCalls": [{"Id": "call_cn7bq1", "Type": "function", "Index": 0,
                       "Function": {"Name": "get_weather", "Arguments": "{\"city\":\"北京\"}"}}]}}],
    "Usage": {"PromptTokens": 80, "CompletionTokens": 12, "TotalTokens": 92},
}}


def make(*, strict: bool = False, preset: str = "hunyuan", **options: Any) -> HunyuanAdapter:
    spec = get_preset(preset)
    assert spec is not None and spec.base_url is not None
    creds = {"secret_id": Secret(SECRET_ID), "secret_key": Secret(SECRET_KEY)}
    adapter = adapter_class(spec.protocol)(Provider("hy", spec, spec.base_url, creds, options, strict=strict))
    assert isinstance(adapter, HunyuanAdapter)
    return adapter


def reply(body: Any, status: int = 200, ctype: str = "application/json") -> httpx2.Response:
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return httpx2.Response(status, content=content, headers={"content-type": ctype},
                           request=httpx2.Request("POST", BASE + "/"))


def packet(content: str, finish: str = "", done: int = 1, **delta: Any) -> bytes:
    body = {"Note": NOTE, "Choices": [{"Delta": {"Role": "assistant", "Content": content, **delta},
                                       "FinishReason": finish}],
            "Created": 1701236033, "Id": "e2d2a2d9", "Usage": {"PromptTokens": 6, "CompletionTokens": done,
                                                              "TotalTokens": 6 + done}}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()


def stream_of(pieces: list[str], finish: str = "stop") -> bytes:
    out = b"".join(packet(p, done=i + 1) for i, p in enumerate(pieces))
    return out + packet("", finish, done=17)


def feed(adapter: HunyuanAdapter, raw: bytes, seed: int) -> tuple[list[dict[str, Any]], Any]:
    """Decode ``raw`` in random byte splits (through multi-byte characters too) and translate."""
    rng = random.Random(seed)
    translator = adapter.stream_translator(reply(b"", ctype="text/event-stream"), MODEL)
    decoder = SSEDecoder()
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(raw):
        step = rng.randint(1, 7)
        for event in decoder.feed(raw[i:i + step]):
            out += translator.feed(event)
        i += step
    for event in decoder.close():
        out += translator.feed(event)
    return out + translator.close(), translator


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


# -- requests ----------------------------------------------------------------------------------
def test_chat_request_is_pascal_case_with_action_headers() -> None:
    wire = make().chat_request({
        "model": MODEL, "temperature": 0.5, "top_p": 0.9, "seed": 7, "stop": "\n\n",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Weather "},
                                         {"type": "text", "text": "in Beijing?"}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"北京\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "晴"},
        ],
    }, stream=False)
    assert (wire.method, wire.url, wire.stream) == ("POST", BASE + "/", False)
    assert wire.headers["X-TC-Action"] == "ChatCompletions"
    assert wire.headers["X-TC-Version"] == "2023-09-01"
    assert wire.json == {
        "Model": MODEL, "Stream": False, "Temperature": 0.5, "TopP": 0.9, "Seed": 7, "Stop": ["\n\n"],
        "Messages": [
            {"Role": "system", "Content": "Be brief."},
            {"Role": "user", "Content": "Weather in Beijing?"},
            {"Role": "assistant", "Content": "", "ToolCalls": [
                {"Id": "call_1", "Type": "function",
                 "Function": {"Name": "get_weather", "Arguments": "{\"city\":\"北京\"}"}}]},
            {"Role": "tool", "Content": "晴", "ToolCallId": "call_1"},
        ],
    }


def test_tools_carry_parameters_as_a_json_string_and_tool_choice_maps() -> None:
    adapter = make()
    base = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "tools": TOOLS}
    wire = adapter.chat_request({**base, "tool_choice": "auto"}, stream=True)
    tool = wire.json["Tools"][0]
    assert tool["Type"] == "function"
    assert tool["Function"]["Name"] == "get_weather"
    assert tool["Function"]["Description"] == "Weather of a city"
    assert isinstance(tool["Function"]["Parameters"], str)
    assert json.loads(tool["Function"]["Parameters"]) == TOOLS[0]["function"]["parameters"]
    assert (wire.json["ToolChoice"], wire.json["Stream"]) == ("auto", True)
    forced = adapter.chat_request({**base, "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
                                  stream=False)
    assert forced.json["ToolChoice"] == "custom"
    assert forced.json["CustomTool"] == tool
    assert "ToolChoice" not in adapter.chat_request({**base, "tool_choice": "required"}, stream=False).json
    with pytest.raises(errors.UnsupportedParameterError):
        make(strict=True).chat_request({**base, "tool_choice": "required"}, stream=False)


def test_max_tokens_is_dropped_and_unknown_openai_params_too() -> None:
    wire = make().chat_request({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 50,
                                "max_completion_tokens": 60, "presence_penalty": 0.5, "n": 1,
                                "stream_options": {"include_usage": True}, "EnableEnhancement": False}, stream=True)
    assert wire.json == {"Model": MODEL, "Messages": [{"Role": "user", "Content": "hi"}], "Stream": True,
                         "EnableEnhancement": False}


@pytest.mark.parametrize("param", [{"max_tokens": 50}, {"presence_penalty": 0.5}, {"n": 2}, {"temperature": 2.5}])
def test_strict_mode_rejects_what_hunyuan_cannot_take(param: dict[str, Any]) -> None:
    with pytest.raises(errors.UnsupportedParameterError) as info:
        make(strict=True).chat_request({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **param},
                                       stream=False)
    assert "[hy/hunyuan-turbo]" in str(info.value)


def test_out_of_range_sampling_is_clamped() -> None:
    wire = make().chat_request({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                                "temperature": 3.0, "top_p": 1.5}, stream=False)
    assert (wire.json["Temperature"], wire.json["TopP"]) == (2.0, 1.0)


def test_image_parts_become_contents() -> None:
    wire = make().chat_request({"model": "hunyuan-vision", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/1.png"}}]}]}, stream=False)
    assert wire.json["Messages"] == [{"Role": "user", "Contents": [
        {"Type": "text", "Text": "What is this?"},
        {"Type": "image_url", "ImageUrl": {"Url": "https://example.com/1.png"}}]}]


def test_auth_signs_the_exact_bytes_the_transport_sends() -> None:
    adapter = make(region="ap-guangzhou")
    wire = adapter.chat_request({"model": MODEL, "messages": [{"role": "user", "content": "你好"}]}, stream=False)
    content = json_body(wire.json)
    request = httpx2.Request(wire.method, wire.url, headers=wire.headers, content=content)
    auth = adapter.auth()
    assert auth is adapter.auth()  # one signer per provider
    assert auth is not None
    before = int(time.time())
    signed = next(auth.sync_auth_flow(request))
    ts = int(signed.headers["X-TC-Timestamp"])
    assert before <= ts <= int(time.time())
    expected = tc3_sign(SECRET_ID, SECRET_KEY, timestamp=ts, payload=content, host="hunyuan.tencentcloudapi.com")
    assert signed.headers["Authorization"] == expected.authorization
    assert signed.headers["X-TC-Region"] == "ap-guangzhou"


def test_missing_secret_is_a_config_error_without_secrets() -> None:
    spec = get_preset("hunyuan")
    assert spec is not None
    adapter = HunyuanAdapter(Provider("hy", spec, BASE, {"secret_id": Secret(SECRET_ID)}))
    with pytest.raises(errors.ConfigError) as info:
        adapter.auth()
    assert SECRET_ID not in str(info.value)


# -- responses ---------------------------------------------------------------------------------
def test_parse_chat_is_an_openai_completion() -> None:
    data = make().parse_chat(reply(REPLY), MODEL)
    assert data["id"] == REPLY["Response"]["Id"]
    assert data["created"] == 1701236033
    assert data["model"] == MODEL
    assert data["choices"][0]["message"] == {"role": "assistant", "content": "北京今天晴，气温 25 度。"}
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"] == {"prompt_tokens": 6, "completion_tokens": 17, "total_tokens": 23}


def test_parse_chat_tool_calls_keep_their_ids() -> None:
    data = make().parse_chat(reply(TOOL_REPLY), MODEL)
    message = data["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [{"id": "call_cn7bq1", "type": "function",
                                      "function": {"name": "get_weather", "arguments": "{\"city\":\"北京\"}"}}]
    assert data["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(("native", "openai_reason"), [("stop", "stop"), ("sensitive", "content_filter"),
                                                       ("tool_calls", "tool_calls"), ("", "stop")])
def test_finish_reasons(native: str, openai_reason: str) -> None:
    body = json.loads(json.dumps(REPLY))
    body["Response"]["Choices"][0]["FinishReason"] = native
    assert make().parse_chat(reply(body), MODEL)["choices"][0]["finish_reason"] == openai_reason


def test_reasoning_content_is_kept() -> None:
    body = json.loads(json.dumps(REPLY))
    body["Response"]["Choices"][0]["Message"]["ReasoningContent"] = "先想一想"
    assert make().parse_chat(reply(body), MODEL)["choices"][0]["message"]["reasoning_content"] == "先想一想"


ERRORS = [
    ("FailedOperation.EngineServerLimitExceeded", errors.RateLimitError, 429),
    ("RequestLimitExceeded", errors.RateLimitError, 429),
    ("LimitExceeded", errors.RateLimitError, 429),
    ("AuthFailure.SignatureFailure", errors.AuthenticationError, 401),
    ("AuthFailure.SecretIdNotFound", errors.AuthenticationError, 401),
    ("AuthFailure.SignatureExpire", errors.AuthenticationError, 401),
    ("UnauthorizedOperation", errors.PermissionDeniedError, 403),
    ("FailedOperation.ServiceNotActivated", errors.PermissionDeniedError, 403),
    ("OperationDenied.TextIllegalDetected", errors.ContentFilterError, 400),
    ("InvalidParameterValue.Model", errors.NotFoundError, 404),
    ("InvalidParameter", errors.BadRequestError, 400),
    ("UnknownParameter", errors.BadRequestError, 400),
    ("InternalError", errors.InternalServerError, 500),
    ("FailedOperation.EngineServerError", errors.InternalServerError, 500),
    ("FailedOperation.EngineRequestTimeout", errors.InternalServerError, 504),
]


@pytest.mark.parametrize(("code", "cls", "status"), ERRORS)
def test_errors_inside_http_200_are_classified(code: str, cls: type[Exception], status: int) -> None:
    body = {"Response": {"Error": {"Code": code, "Message": "something happened"}, "RequestId": "r"}}
    with pytest.raises(cls) as info:
        make().parse_chat(reply(body), MODEL)
    exc = info.value
    assert isinstance(exc, errors.APIStatusError)
    assert (exc.status_code, exc.code) == (status, code)
    assert type(exc) is cls
    assert "[hy/hunyuan-turbo]" in str(exc)


def test_billing_and_context_errors() -> None:
    arrears = {"Response": {"Error": {"Code": "ResourceUnavailable.InArrears", "Message": "欠费"}, "RequestId": "r"}}
    with pytest.raises(errors.APIStatusError) as info:
        make().parse_chat(reply(arrears), MODEL)
    assert (info.value.kind, info.value.status_code) == ("quota", 402)
    too_long = {"Response": {"Error": {"Code": "InvalidParameterValue", "Message": "input is too long"}}}
    with pytest.raises(errors.ContextWindowExceededError):
        make().parse_chat(reply(too_long), MODEL)


def test_gateway_errors_and_junk_bodies() -> None:
    adapter = make()
    gateway = adapter.parse_error(reply({"Response": {"Error": {"Code": "RequestLimitExceeded", "Message": "x"}}},
                                        status=429), MODEL)
    assert isinstance(gateway, errors.RateLimitError)
    assert isinstance(adapter.parse_error(reply(b"<html>502</html>", 502, "text/html"), MODEL),
                      errors.InternalServerError)
    with pytest.raises(errors.InternalServerError):
        adapter.parse_chat(reply(b"<html>oops</html>", ctype="text/html"), MODEL)
    with pytest.raises(errors.InternalServerError):
        adapter.parse_chat(reply({"Response": {"RequestId": "r"}}), MODEL)


# -- streams -----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_stream_in_random_splits_equals_the_plain_answer(seed: int) -> None:
    chunks, translator = feed(make(), stream_of(PIECES), seed)
    assert translator.complete
    assert text_of(chunks) == make().parse_chat(reply(REPLY), MODEL)["choices"][0]["message"]["content"]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == "e2d2a2d9" for c in chunks)
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["usage"] == {"prompt_tokens": 6, "completion_tokens": 17, "total_tokens": 23}  # the last wins
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None] * (len(chunks) - 1)


def test_stream_tool_call_fragments_merge_to_the_plain_call() -> None:
    args = "{\"city\":\"北京\"}"
    call = {"Id": "call_cn7bq1", "Type": "function", "Index": 0}
    raw = (packet("", ToolCalls=[{**call, "Function": {"Name": "get_weather", "Arguments": args[:6]}}])
           + packet("", ToolCalls=[{**call, "Function": {"Name": "get_weather", "Arguments": args[6:]}}])
           + packet("", "tool_calls", done=12))
    chunks, translator = feed(make(), raw, 3)
    assert translator.complete
    deltas = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls") or []]
    assert deltas[0] == {"index": 0, "id": "call_cn7bq1", "type": "function",
                         "function": {"name": "get_weather", "arguments": args[:6]}}
    assert all("id" not in d for d in deltas[1:])
    assert "".join(d["function"]["arguments"] for d in deltas) == args
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_tool_calls_without_index_are_keyed_by_id() -> None:
    raw = (packet("", ToolCalls=[{"Id": "a", "Type": "function", "Function": {"Name": "f", "Arguments": "{}"}}])
           + packet("", ToolCalls=[{"Id": "b", "Type": "function", "Function": {"Name": "g", "Arguments": "{}"}}])
           + packet("", "tool_calls"))
    chunks, _ = feed(make(), raw, 1)
    deltas = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls") or []]
    assert [(d["index"], d["id"], d["function"]["name"]) for d in deltas] == [(0, "a", "f"), (1, "b", "g")]


def test_stream_sensitive_finish_is_a_content_filter() -> None:
    chunks, translator = feed(make(), stream_of(PIECES[:2], "sensitive"), 0)
    assert translator.complete
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"


@pytest.mark.parametrize(("code", "status"), [(4000, 500), (4001, 504)])
def test_in_stream_error_msg(code: int, status: int) -> None:
    raw = packet(PIECES[0]) + f'data: {{"Note":"","Choices":[],"ErrorMsg":{{"Msg":"boom","Code":{code}}}}}\n\n'.encode()
    with pytest.raises(errors.InternalServerError) as info:
        feed(make(), raw, 0)
    assert info.value.status_code == status
    assert info.value.code == str(code)


def test_cut_stream_is_not_complete_and_done_is_tolerated() -> None:
    _, cut = feed(make(), b"".join(packet(p) for p in PIECES), 2)
    assert not cut.complete
    chunks, done = feed(make(), stream_of(PIECES) + b"data: [DONE]\n\n", 2)
    assert done.complete
    assert text_of(chunks) == "".join(PIECES)


def test_stream_request_answered_with_a_json_error_body() -> None:
    body = {"Response": {"Error": {"Code": "FailedOperation.EngineServerLimitExceeded", "Message": "busy"},
                         "RequestId": "r"}}
    response = reply(body)  # the auth flow reads non-event-stream replies, so the body is there
    translator = make().stream_translator(response, MODEL)
    for event in SSEDecoder().feed(response.content):
        assert translator.feed(event) == []
    with pytest.raises(errors.RateLimitError):
        translator.close()


# -- embeddings --------------------------------------------------------------------------------
def test_embeddings_request_uses_the_get_embedding_action() -> None:
    adapter = make()
    one = adapter.embeddings_request({"model": "hunyuan-embedding", "input": "你好"})
    assert (one.url, one.headers["X-TC-Action"], one.json) == (BASE + "/", "GetEmbedding", {"Input": "你好"})
    many = adapter.embeddings_request({"model": "hunyuan-embedding", "input": ["a", "b"]})
    assert many.json == {"InputList": ["a", "b"]}
    with pytest.raises(errors.UnsupportedParameterError):
        adapter.embeddings_request({"model": "hunyuan-embedding", "input": [[1, 2, 3]]})


def test_parse_embeddings() -> None:
    body = {"Response": {"Data": [{"Embedding": [0.1, -0.2], "Index": 0, "Object": "embedding"}],
                         "Usage": {"PromptTokens": 3, "TotalTokens": 3}, "RequestId": "r"}}
    data = make().parse_embeddings(reply(body), "hunyuan-embedding")
    assert data == {"object": "list", "model": "hunyuan-embedding",
                    "data": [{"object": "embedding", "index": 0, "embedding": [0.1, -0.2]}],
                    "usage": {"prompt_tokens": 3, "total_tokens": 3}}
    with pytest.raises(errors.RateLimitError):
        make().parse_embeddings(reply({"Response": {"Error": {"Code": "LimitExceeded", "Message": "x"}}}), "e")


def test_compat_preset_is_the_openai_protocol() -> None:
    spec = get_preset("hunyuan-compat")
    assert spec is not None
    assert (spec.protocol, spec.base_url, spec.auth) == ("openai", "https://api.hunyuan.cloud.tencent.com/v1",
                                                         "bearer")
    native = get_preset("hunyuan")
    assert native is not None
    assert native.required_credentials == ("secret_id", "secret_key")
    info = native.model_info("hunyuan-lite")
    assert info is not None and info.currency == "CNY" and info.context_window


# -- the mock checks the TC3 header ------------------------------------------------------------
def _mock_request(**override: str) -> MockRequest:
    ts = 1_700_000_000
    auth = tc3_sign(SECRET_ID, SECRET_KEY, timestamp=ts, payload=b"{}", host="h").authorization
    headers = {"authorization": auth, "x-tc-timestamp": str(ts), "x-tc-action": "ChatCompletions",
               "x-tc-version": "2023-09-01", **override}
    return MockRequest("POST", "/", {}, headers, b"{}")


def test_mock_verifies_the_authorization_format() -> None:
    proto = HunyuanProtocol()
    assert proto.authorized(_mock_request(), None)
    assert proto.authorized(_mock_request(), SECRET_ID)
    assert not proto.authorized(_mock_request(), "AKIDother")
    assert not proto.authorized(_mock_request(authorization="Bearer sk-123"), None)
    assert not proto.authorized(_mock_request(**{"x-tc-timestamp": str(1_700_000_000 + 86_400)}), None)
    assert not proto.authorized(_mock_request(**{"x-tc-version": ""}), None)


# -- end to end over the loopback mock ---------------------------------------------------------
@pytest.fixture
def hy() -> Any:
    with MockServer({"hy": "hunyuan"}) as server:
        server.mount("hy").api_key = SECRET_ID
        yield server


def config(server: MockServer, secret_id: str = SECRET_ID) -> dict[str, Any]:
    return {"providers": {"hy": {"type": "hunyuan", "secret_id": secret_id, "secret_key": SECRET_KEY,
                                 "base_url": server.base_url("hy")}}}


MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}]


def test_e2e_plain_stream_and_errors(hy: MockServer) -> None:
    with llmswitch.OpenAI(config=config(hy), max_retries=0) as client:
        plain = client.chat.completions.create(model="hy/hunyuan-lite", messages=MESSAGES, max_tokens=1)
        assert plain.choices[0].message.content == "[hy:hunyuan-lite] hello there"  # max_tokens was dropped
        assert plain.choices[0].finish_reason == "stop"
        assert plain.usage is not None and plain.usage.total_tokens == plain.usage.prompt_tokens + 3
        sent = hy.mount("hy").requests[0]
        assert sent.headers["authorization"].startswith(f"TC3-HMAC-SHA256 Credential={SECRET_ID}/")
        assert json.loads(sent.body)["Messages"][0] == {"Role": "system", "Content": "Be brief."}

        with client.chat.completions.create(model="hy/hunyuan-lite", messages=MESSAGES, stream=True) as stream:
            chunks = list(stream)
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == plain.choices[0].message.content
        assert chunks[-1].choices[0].finish_reason == "stop"
        assert chunks[-1].usage == plain.usage

        hy.mount("hy").fail("429:retry-after=0", "error_in_body:error=content_filter")
        with pytest.raises(llmswitch.RateLimitError) as info:
            client.chat.completions.create(model="hy/hunyuan-lite", messages=MESSAGES, stream=True)
        assert info.value.code == "FailedOperation.EngineServerLimitExceeded"
        with pytest.raises(llmswitch.ContentFilterError):
            client.chat.completions.create(model="hy/hunyuan-lite", messages=MESSAGES)

        hy.mount("hy").fail("stream_error:after=2")
        with pytest.raises(llmswitch.StreamInterruptedError) as cut:
            for _ in client.chat.completions.create(model="hy/hunyuan-lite", messages=MESSAGES, stream=True):
                pass
        assert isinstance(cut.value.__cause__, llmswitch.InternalServerError)
        assert cut.value.partial_text == "[hy:hunyuan-lite] hello "


def test_e2e_tools_embeddings_and_wrong_secret_id(hy: MockServer) -> None:
    with llmswitch.OpenAI(config=config(hy), max_retries=0) as client:
        called = client.chat.completions.create(model="hy/hunyuan-functioncall", tools=TOOLS,
                                                messages=[{"role": "user", "content": "get_weather Beijing"}])
        calls = called.choices[0].message.tool_calls
        assert calls is not None and calls[0].id == "call_0_get_weather"
        assert called.choices[0].finish_reason == "tool_calls"
        streamed = list(client.chat.completions.create(model="hy/hunyuan-functioncall", tools=TOOLS,
                                                       messages=[{"role": "user", "content": "get_weather Beijing"}],
                                                       stream=True))
        args = "".join(tc.function.arguments or "" for c in streamed for tc in c.choices[0].delta.tool_calls or []
                       if tc.function)
        assert args == calls[0].function.arguments
        emb = client.embeddings.create(model="hy/hunyuan-embedding", input=["a b", "c"])
        assert [d.index for d in emb.data] == [0, 1]
        assert emb.usage.prompt_tokens == 3
    assert hy.mount("hy").requests[-1].headers["x-tc-action"] == "GetEmbedding"
    with llmswitch.OpenAI(config=config(hy, secret_id="AKIDsomeoneelse"), max_retries=0) as client, \
            pytest.raises(llmswitch.AuthenticationError):
        client.chat.completions.create(model="hy/hunyuan-lite", messages=MESSAGES)


async def test_e2e_async_client(hy: MockServer) -> None:
    async with llmswitch.AsyncOpenAI(config=config(hy), max_retries=0) as client:
        plain = await client.chat.completions.create(model="hy/hunyuan-lite", messages=MESSAGES)
        stream = await client.chat.completions.create(model="hy/hunyuan-lite", messages=MESSAGES, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == plain.choices[0].message.content == "[hy:hunyuan-lite] hello there"
