"""Baidu Qianfan v1 native: endpoints, odd alternation, token auth, 200 errors, streams, embeddings, e2e."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx2
import pytest

import llmswitch
from llmswitch import errors
from llmswitch._secret import Secret
from llmswitch.adapters import adapter_class
from llmswitch.adapters.base import Provider
from llmswitch.adapters.qianfan import QianfanAdapter
from llmswitch.catalog import get_preset
from llmswitch.streaming import SSEDecoder
from llmswitch.testing import MockServer
from support import VECTORS

VECTOR = json.loads((VECTORS / "qianfan.json").read_text())
AK, SK, TOKEN = VECTOR["inputs"]["api_key"], VECTOR["inputs"]["secret_key"], VECTOR["inputs"]["access_token"]
BASE = "https://aip.baidubce.com/rpc/2.0/ai_custom/v1/wenxinworkshop"
MODEL = "ERNIE-4.0-8K"
USER = [{"role": "user", "content": "你好"}]

# documented native payloads (cloud.baidu.com WENXINWORKSHOP examples; one-api baidu model.go; PROTOCOLS.md §3)
REPLY = {"id": "as-bcmt5ct4md", "object": "chat.completion", "created": 1680167072,
         "result": "您好，我是文心一言，有什么可以帮您？", "is_truncated": False, "need_clear_history": False,
         "usage": {"prompt_tokens": 1, "completion_tokens": 16, "total_tokens": 17}}
PIECES = ["您好，", "我是文心一言，", "有什么可以帮您？"]


def make(*, strict: bool = False, **options: Any) -> QianfanAdapter:
    spec = get_preset("qianfan")
    assert spec is not None and spec.base_url is not None
    creds = {"api_key": Secret(AK), "secret_key": Secret(SK)}
    adapter = adapter_class(spec.protocol)(Provider("qf", spec, spec.base_url, creds, options, strict=strict))
    assert isinstance(adapter, QianfanAdapter)
    return adapter


def reply(body: Any, status: int = 200, ctype: str = "application/json") -> httpx2.Response:
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return httpx2.Response(status, content=content, headers={"content-type": ctype},
                           request=httpx2.Request("POST", BASE + "/chat/completions_pro"))


def event(n: int, result: str, end: bool, done: int, **extra: Any) -> bytes:
    body = {"id": "as-vb0m37ti8y", "object": "chat.completion", "created": 1709089502, "sentence_id": n,
            "is_end": end, "is_truncated": False, "result": result, "need_clear_history": False,
            "finish_reason": "normal", "usage": {"prompt_tokens": 1, "completion_tokens": done,
                                                 "total_tokens": 1 + done}, **extra}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()


def stream_of(pieces: list[str], **last: Any) -> bytes:
    n = len(pieces)
    return b"".join(event(i, p, i == n - 1, 16 if i == n - 1 else i + 1, **(last if i == n - 1 else {}))
                    for i, p in enumerate(pieces))


def feed(adapter: QianfanAdapter, raw: bytes, seed: int) -> tuple[list[dict[str, Any]], Any]:
    rng = random.Random(seed)
    translator = adapter.stream_translator(reply(b"", ctype="text/event-stream"), MODEL)
    decoder = SSEDecoder()
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(raw):
        step = rng.randint(1, 7)
        for ev in decoder.feed(raw[i:i + step]):
            out += translator.feed(ev)
        i += step
    for ev in decoder.close():
        out += translator.feed(ev)
    return out + translator.close(), translator


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


# -- requests ----------------------------------------------------------------------------------
@pytest.mark.parametrize("model", sorted(VECTOR["chat_requests"]))
def test_signed_url_matches_the_vector(model: str) -> None:
    """The adapter's URL plus the auth flow's access_token give exactly the vector's URL."""
    adapter = make()
    wire = adapter.chat_request({"model": model, "messages": USER}, stream=False)

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/oauth/2.0/token":
            assert str(request.url) == VECTOR["token_request"]["url"]
            return httpx2.Response(200, json={"access_token": TOKEN, "expires_in": 2592000})
        return httpx2.Response(200, json=REPLY)

    with httpx2.Client(transport=httpx2.MockTransport(handler)) as client:
        response = client.post(wire.url, json=wire.json, auth=adapter.auth())
    assert str(response.request.url) == VECTOR["chat_requests"][model]["url"]
    assert response.request.method == VECTOR["chat_requests"][model]["method"]


def test_unknown_models_use_their_lower_case_name_and_endpoints_can_be_configured() -> None:
    assert make().chat_request({"model": "Qianfan-Chinese-Llama-2-7B", "messages": USER}, stream=False).url == \
        BASE + "/chat/qianfan-chinese-llama-2-7b"
    custom = make(endpoints={"my-ernie": "abc123xyz"})
    assert custom.chat_request({"model": "my-ernie", "messages": USER}, stream=False).url == BASE + "/chat/abc123xyz"
    assert custom.chat_request({"model": "ERNIE-3.5-8K", "messages": USER}, stream=False).url == \
        BASE + "/chat/completions"


def test_body_has_top_level_system_and_odd_alternating_messages() -> None:
    wire = make().chat_request({"model": MODEL, "stream": True, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "assistant", "content": "Hi, ask me anything."},  # cannot open a v1 conversation
        {"role": "user", "content": "Weather?"},
        {"role": "user", "content": [{"type": "text", "text": "In Beijing."}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function",
                                                               "function": {"name": "w", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "sunny"},
        {"role": "developer", "content": "Answer in Chinese."},
        {"role": "assistant", "content": "晴。"},
        {"role": "user", "content": "Thanks"},
    ]}, stream=True)
    assert wire.stream
    assert wire.json == {
        "system": "Be brief.\n\nAnswer in Chinese.",
        "stream": True,
        "messages": [{"role": "user", "content": "Weather?\n\nIn Beijing.\n\nsunny"},
                     {"role": "assistant", "content": "晴。"},
                     {"role": "user", "content": "Thanks"}],
    }
    assert len(wire.json["messages"]) % 2 == 1


def test_a_conversation_that_ends_with_the_assistant_is_refused() -> None:
    with pytest.raises(errors.UnsupportedParameterError) as info:
        make().chat_request({"model": MODEL, "messages": [*USER, {"role": "assistant", "content": "x"}]},
                            stream=False)
    assert "[qf/ERNIE-4.0-8K]" in str(info.value)


def test_parameters_map_to_native_names() -> None:
    wire = make().chat_request({"model": MODEL, "messages": USER, "max_tokens": 100, "temperature": 0,
                                "top_p": 0.8, "stop": "。", "user": "u-1", "penalty_score": 1.2,
                                "tools": [{"type": "function", "function": {"name": "f"}}], "seed": 3,
                                "stream_options": {"include_usage": True}}, stream=False)
    assert wire.json == {"messages": USER, "max_output_tokens": 100, "temperature": 0.01, "top_p": 0.8,
                         "stop": ["。"], "user_id": "u-1", "penalty_score": 1.2}
    newer = make().chat_request({"model": MODEL, "messages": USER, "max_tokens": 100, "max_completion_tokens": 50},
                                stream=False)
    assert newer.json["max_output_tokens"] == 50


@pytest.mark.parametrize("extra", [
    {"tools": [{"type": "function", "function": {"name": "f"}}]},
    {"temperature": 1.5},
    {"messages": [{"role": "assistant", "content": "hi"}, *USER]},
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/1.png"}}]}]},
])
def test_strict_mode_refuses_what_v1_cannot_take(extra: dict[str, Any]) -> None:
    with pytest.raises(errors.UnsupportedParameterError):
        make(strict=True).chat_request({"model": MODEL, "messages": USER, **extra}, stream=False)


def test_missing_secret_key_is_a_config_error() -> None:
    spec = get_preset("qianfan")
    assert spec is not None
    with pytest.raises(errors.ConfigError) as info:
        QianfanAdapter(Provider("qf", spec, BASE, {"api_key": Secret(AK)})).auth()
    assert AK not in str(info.value)


def test_token_url_option_and_one_auth_per_provider() -> None:
    adapter = make(token_url="http://127.0.0.1:1/token")
    auth = adapter.auth()
    assert auth is adapter.auth()
    assert getattr(auth, "token_url", None) == "http://127.0.0.1:1/token"
    assert getattr(make().auth(), "token_url", None) == "https://aip.baidubce.com/oauth/2.0/token"


# -- responses ---------------------------------------------------------------------------------
def test_parse_chat_is_an_openai_completion() -> None:
    data = make().parse_chat(reply(REPLY), MODEL)
    assert (data["id"], data["created"], data["model"]) == ("as-bcmt5ct4md", 1680167072, MODEL)
    assert data["choices"][0]["message"] == {"role": "assistant", "content": REPLY["result"]}
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"] == {"prompt_tokens": 1, "completion_tokens": 16, "total_tokens": 17}


@pytest.mark.parametrize(("extra", "reason"), [
    ({"finish_reason": "normal"}, "stop"),
    ({"finish_reason": "length"}, "length"),
    ({"is_truncated": True}, "length"),
    ({"finish_reason": "content_filter"}, "content_filter"),
    ({"need_clear_history": True, "ban_round": -1}, "content_filter"),
])
def test_finish_reasons(extra: dict[str, Any], reason: str) -> None:
    assert make().parse_chat(reply({**REPLY, **extra}), MODEL)["choices"][0]["finish_reason"] == reason


def test_legacy_function_call_becomes_a_tool_call() -> None:
    body = {**REPLY, "result": "", "finish_reason": "function_call",
            "function_call": {"name": "get_weather", "arguments": "{\"city\":\"北京\"}", "thoughts": "查天气"}}
    data = make().parse_chat(reply(body), MODEL)
    message = data["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": "{\"city\":\"北京\"}"}
    assert message["tool_calls"][0]["id"]
    assert data["choices"][0]["finish_reason"] == "tool_calls"


ERRORS = [
    (18, errors.RateLimitError, 429), (336501, errors.RateLimitError, 429), (336502, errors.RateLimitError, 429),
    (4, errors.RateLimitError, 429), (17, errors.RateLimitError, 429),
    (110, errors.AuthenticationError, 401), (111, errors.AuthenticationError, 401),
    (13, errors.AuthenticationError, 401), (14, errors.AuthenticationError, 401),
    (6, errors.PermissionDeniedError, 403), (336005, errors.NotFoundError, 404),
    (336000, errors.InternalServerError, 500), (336100, errors.InternalServerError, 503),
    (2, errors.InternalServerError, 503), (1, errors.InternalServerError, 500),
    (336001, errors.BadRequestError, 400), (336006, errors.BadRequestError, 400),
    (336103, errors.ContextWindowExceededError, 400),
]


@pytest.mark.parametrize(("code", "cls", "status"), ERRORS)
def test_error_codes_in_http_200(code: int, cls: type[Exception], status: int) -> None:
    body = {"error_code": code, "error_msg": "something happened"}
    with pytest.raises(cls) as info:
        make().parse_chat(reply(body), MODEL)
    exc = info.value
    assert type(exc) is cls
    assert isinstance(exc, errors.APIStatusError)
    assert (exc.status_code, exc.code) == (status, str(code))
    assert f"error_code {code}" in str(exc)


def test_errors_classified_by_message_and_unknown_codes() -> None:
    adapter = make()
    with pytest.raises(errors.ContextWindowExceededError):
        adapter.parse_chat(reply({"error_code": 336003, "error_msg": "the max input characters is 20000"}), MODEL)
    with pytest.raises(errors.ContentFilterError):
        adapter.parse_chat(reply({"error_code": 336003, "error_msg": "input contains sensitive content"}), MODEL)
    with pytest.raises(errors.APIStatusError) as billing:
        adapter.parse_chat(reply({"error_code": 19, "error_msg": "total request limit reached"}), MODEL)
    assert (billing.value.kind, billing.value.status_code) == ("quota", 402)
    with pytest.raises(errors.APIStatusError) as unknown:
        adapter.parse_chat(reply({"error_code": 987654, "error_msg": "new"}), MODEL)
    assert unknown.value.kind == "other"


def test_non_2xx_and_junk_bodies() -> None:
    adapter = make()
    assert isinstance(adapter.parse_error(reply({"error_code": 18, "error_msg": "qps"}, 429), MODEL),
                      errors.RateLimitError)
    assert isinstance(adapter.parse_error(reply(b"<html>bad gateway</html>", 502, "text/html"), MODEL),
                      errors.InternalServerError)
    with pytest.raises(errors.InternalServerError):
        adapter.parse_chat(reply(b"<html>oops</html>", ctype="text/html"), MODEL)
    with pytest.raises(errors.InternalServerError):
        adapter.parse_chat(reply({"id": "x"}), MODEL)


# -- streams -----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_stream_in_random_splits_equals_the_plain_answer(seed: int) -> None:
    chunks, translator = feed(make(), stream_of(PIECES), seed)
    assert translator.complete
    assert text_of(chunks) == make().parse_chat(reply(REPLY), MODEL)["choices"][0]["message"]["content"]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == {"prompt_tokens": 1, "completion_tokens": 16, "total_tokens": 17}
    assert {c["id"] for c in chunks} == {"as-vb0m37ti8y"}


def test_stream_blocked_turn_is_a_content_filter() -> None:
    chunks, translator = feed(make(), stream_of(PIECES[:1], need_clear_history=True, ban_round=-1), 0)
    assert translator.complete
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"


@pytest.mark.parametrize(("code", "cls"), [(336501, errors.RateLimitError), (336100, errors.InternalServerError)])
def test_in_stream_error_event(code: int, cls: type[Exception]) -> None:
    raw = event(0, PIECES[0], False, 1) + f'data: {{"error_code":{code},"error_msg":"oops"}}\n\n'.encode()
    with pytest.raises(cls):
        feed(make(), raw, 0)


def test_stream_without_is_end_is_incomplete() -> None:
    _, translator = feed(make(), b"".join(event(i, p, False, i + 1) for i, p in enumerate(PIECES)), 4)
    assert not translator.complete


def test_stream_request_answered_with_a_json_error_body() -> None:
    response = reply({"error_code": 336501, "error_msg": "Rpm limit reached"})  # read by the auth flow
    translator = make().stream_translator(response, MODEL)
    assert [e for e in SSEDecoder().feed(response.content) for e in translator.feed(e)] == []
    with pytest.raises(errors.RateLimitError):
        translator.close()


# -- embeddings --------------------------------------------------------------------------------
def test_embeddings_request_and_reply() -> None:
    adapter = make()
    wire = adapter.embeddings_request({"model": "Embedding-V1", "input": ["推荐一些美食", "hi"], "user": "u"})
    assert wire.url == BASE + "/embeddings/embedding-v1"
    assert wire.json == {"input": ["推荐一些美食", "hi"], "user_id": "u"}
    assert adapter.embeddings_request({"model": "bge-large-zh", "input": "x"}).url == \
        BASE + "/embeddings/bge_large_zh"
    with pytest.raises(errors.UnsupportedParameterError):
        adapter.embeddings_request({"model": "Embedding-V1", "input": [[1, 2]]})
    body = {"id": "as-gjs275mj6s", "object": "embedding_list", "created": 1687155816,
            "data": [{"object": "embedding", "embedding": [0.018, -0.02], "index": 0},
                     {"object": "embedding", "embedding": [0.1, 0.2], "index": 1}],
            "usage": {"prompt_tokens": 12, "total_tokens": 12}}
    data = adapter.parse_embeddings(reply(body), "Embedding-V1")
    assert data == {"object": "list", "model": "Embedding-V1",
                    "data": [{"object": "embedding", "index": 0, "embedding": [0.018, -0.02]},
                             {"object": "embedding", "index": 1, "embedding": [0.1, 0.2]}],
                    "usage": {"prompt_tokens": 12, "total_tokens": 12}}
    with pytest.raises(errors.RateLimitError):
        adapter.parse_embeddings(reply({"error_code": 18, "error_msg": "qps"}), "Embedding-V1")


def test_compat_preset_is_v2_openai_with_context_codes() -> None:
    spec = get_preset("qianfan-compat")
    assert spec is not None and spec.base_url == "https://qianfan.baidubce.com/v2"
    assert (spec.protocol, spec.auth) == ("openai", "bearer")
    adapter = adapter_class("openai")(Provider("q2", spec, spec.base_url, {"api_key": Secret("bce-v3/x")}))
    for code in ("tokens_too_long", "characters_too_long"):
        body = {"error": {"code": code, "message": "Prompt tokens too long", "type": "invalid_request_error"},
                "id": "as-1"}
        assert isinstance(adapter.parse_error(reply(body, 400), "ernie-4.0-8k"), errors.ContextWindowExceededError)
    native = get_preset("qianfan")
    assert native is not None and native.required_credentials == ("api_key", "secret_key")
    info = native.model_info("ERNIE-4.0-8K")
    assert info is not None and (info.currency, info.context_window) == ("CNY", 8_192)


# -- the mock's own rules ----------------------------------------------------------------------
def test_mock_token_endpoint_and_v1_rules() -> None:
    with MockServer({"qf": "qianfan"}) as server, httpx2.Client() as http:
        base = server.base_url("qf")
        token_url = base.replace("/rpc/2.0/ai_custom/v1/wenxinworkshop", "/oauth/2.0/token")
        bad = http.post(token_url, params={"grant_type": "password", "client_id": AK, "client_secret": SK})
        assert bad.status_code == 400
        granted = http.post(token_url, params={"grant_type": "client_credentials", "client_id": AK,
                                               "client_secret": SK}).json()
        assert granted["expires_in"] == 2_592_000
        token = granted["access_token"]
        no_token = http.post(base + "/chat/completions", json={"messages": USER})
        assert (no_token.status_code, no_token.json()["error_code"]) == (200, 110)
        even = http.post(base + "/chat/completions", params={"access_token": token},
                         json={"messages": [*USER, {"role": "assistant", "content": "x"}]})
        assert even.json()["error_code"] == 336006
        ok = http.post(base + "/chat/completions", params={"access_token": token}, json={"messages": USER})
        assert ok.json()["result"] == "[qf:completions] 你好"
        server.mount("qf").protocol.revoke_tokens()  # type: ignore[attr-defined]
        expired = http.post(base + "/chat/completions", params={"access_token": token}, json={"messages": USER})
        assert expired.json()["error_code"] == 111


# -- end to end over the loopback mock ---------------------------------------------------------
@pytest.fixture
def qf() -> Any:
    with MockServer({"qf": "qianfan"}) as server:
        server.mount("qf").api_key = AK
        yield server


def config(server: MockServer, api_key: str = AK) -> dict[str, Any]:
    return {"providers": {"qf": {"type": "qianfan", "api_key": api_key, "secret_key": SK,
                                 "base_url": server.base_url("qf")}}}


def paths(server: MockServer) -> list[str]:
    return ["token" if r.path.endswith("/oauth/2.0/token") else r.path.rsplit("/", 1)[1]
            for r in server.mount("qf").requests]


MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"},
            {"role": "user", "content": "there"}]


def test_e2e_plain_stream_and_errors(qf: MockServer) -> None:
    with llmswitch.OpenAI(config=config(qf), max_retries=0) as client:
        plain = client.chat.completions.create(model="qf/ERNIE-4.0-8K", messages=MESSAGES)
        assert plain.choices[0].message.content == "[qf:completions_pro] hello\n\nthere"
        assert plain.choices[0].finish_reason == "stop"
        assert plain.usage is not None and plain.usage.completion_tokens == 3
        sent = json.loads(qf.mount("qf").requests[1].body)
        assert sent["system"] == "Be brief."

        with client.chat.completions.create(model="qf/ERNIE-4.0-8K", messages=MESSAGES, stream=True) as stream:
            chunks = list(stream)
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == plain.choices[0].message.content
        assert chunks[-1].choices[0].finish_reason == "stop"
        assert chunks[-1].usage == plain.usage

        short = client.chat.completions.create(model="qf/ERNIE-Speed-128K", messages=MESSAGES, max_tokens=1)
        assert (short.choices[0].message.content, short.choices[0].finish_reason) == \
            ("[qf:ernie-speed-128k] ", "length")
        assert json.loads(qf.mount("qf").requests[-1].body)["max_output_tokens"] == 1

        qf.mount("qf").fail("error_in_body:error=rate_limit", "429:error=context_window")
        with pytest.raises(llmswitch.RateLimitError) as info:
            client.chat.completions.create(model="qf/ERNIE-4.0-8K", messages=MESSAGES, stream=True)
        assert (info.value.code, info.value.status_code) == ("18", 429)
        with pytest.raises(llmswitch.ContextWindowExceededError):
            client.chat.completions.create(model="qf/ERNIE-4.0-8K", messages=MESSAGES)

        qf.mount("qf").fail("stream_error:after=1:error=server_error")
        with pytest.raises(llmswitch.StreamInterruptedError) as cut:
            for _ in client.chat.completions.create(model="qf/ERNIE-4.0-8K", messages=MESSAGES, stream=True):
                pass
        assert isinstance(cut.value.__cause__, llmswitch.InternalServerError)
        assert cut.value.partial_text == "[qf:completions_pro] "

        emb = client.embeddings.create(model="qf/Embedding-V1", input=["a b", "c"])
        assert [d.index for d in emb.data] == [0, 1] and emb.usage.prompt_tokens == 3
    assert paths(qf).count("token") == 1  # one exchange served every call
    assert all("access_token" in r.query for r in qf.mount("qf").requests if "/rpc/" in r.path)


def test_e2e_expired_token_is_refreshed_and_the_call_retried(qf: MockServer) -> None:
    with llmswitch.OpenAI(config=config(qf), max_retries=0) as client:
        client.chat.completions.create(model="qf/ERNIE-3.5-8K", messages=USER)
        qf.mount("qf").protocol.revoke_tokens()  # type: ignore[attr-defined]
        again = client.chat.completions.create(model="qf/ERNIE-3.5-8K", messages=USER)
        assert again.choices[0].message.content == "[qf:completions] 你好"
        qf.mount("qf").fail("error_in_body:error=token_invalid")
        client.chat.completions.create(model="qf/ERNIE-3.5-8K", messages=USER)
    assert paths(qf) == ["token", "completions", "completions", "token", "completions",
                         "completions", "token", "completions"]


def test_e2e_wrong_key_is_an_authentication_error(qf: MockServer) -> None:
    with llmswitch.OpenAI(config=config(qf, api_key="SomeoneElsesAK"), max_retries=0) as client, \
            pytest.raises(llmswitch.AuthenticationError) as info:
        client.chat.completions.create(model="qf/ERNIE-3.5-8K", messages=USER)
    assert info.value.code == "110"
    assert SK not in str(info.value)
    assert paths(qf) == ["token", "completions", "token", "completions"]  # one refresh, then it gives up


async def test_e2e_async_client(qf: MockServer) -> None:
    async with llmswitch.AsyncOpenAI(config=config(qf), max_retries=0) as client:
        plain = await client.chat.completions.create(model="qf/ERNIE-4.0-8K", messages=USER)
        stream = await client.chat.completions.create(model="qf/ERNIE-4.0-8K", messages=USER, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == plain.choices[0].message.content == "[qf:completions_pro] 你好"
    assert paths(qf).count("token") == 1
