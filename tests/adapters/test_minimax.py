"""MiniMax v2: request mapping, base_resp errors in HTTP 200 and in streams, sensitivity, embeddings."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx2
import pytest
from openai.types.chat import ChatCompletion

import llmswitch
from llmswitch import errors
from llmswitch._secret import Secret
from llmswitch.adapters import adapter_class
from llmswitch.adapters.base import Provider
from llmswitch.adapters.minimax import MiniMaxAdapter
from llmswitch.adapters.openai import OpenAIAdapter
from llmswitch.adapters.structured import JSON_INSTRUCTION, StructuredOutputWarning
from llmswitch.catalog import get_preset
from llmswitch.streaming import SSEDecoder
from llmswitch.testing import MockServer

KEY = "mm-test-key-0123456789"
BASE = "https://api.minimaxi.com/v1"
MODEL = "MiniMax-M1"
MESSAGES = [{"role": "system", "name": "MiniMax AI", "content": "简洁"}, {"role": "user", "content": "hello"}]
OK = {"status_code": 0, "status_msg": ""}
SENSITIVITY = {"input_sensitive": False, "output_sensitive": False, "input_sensitive_type": 0,
               "output_sensitive_type": 0, "output_sensitive_int": 0}

# the documented v2 reply (platform.minimax.io api-reference text-post; PROTOCOLS.md §9)
REPLY = {
    "id": "04ecb5d9b1921ae0fb0e8da9017a5474",
    "choices": [{"finish_reason": "stop", "index": 0, "message": {
        "content": "Hello! How can I assist you?", "role": "assistant", "name": "MiniMax AI",
        "audio_content": "", "reasoning_content": "The user greets me."}}],
    "created": 1755153113,
    "model": MODEL,
    "object": "chat.completion",
    "usage": {"total_tokens": 249, "total_characters": 0, "prompt_tokens": 26, "completion_tokens": 223,
              "completion_tokens_details": {"reasoning_tokens": 214}},
    **SENSITIVITY,
    "base_resp": OK,
}
STREAM_ID = "02ff7eb7fe6fb505b9d5cb6945a1a98b"
PIECES = ["Hello! ", "How can ", "I assist ", "you?"]


def delta_chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta}
    if finish:
        choice["finish_reason"] = finish
    return {"id": STREAM_ID, "choices": [choice], "created": 1722829751, "model": MODEL,
            "object": "chat.completion.chunk", "output_sensitive": False, "input_sensitive_type": 0,
            "output_sensitive_type": 0, **extra}


def aggregate(text: str, usage: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    message = {"content": text, "role": "assistant"}
    return {"id": STREAM_ID, "choices": [{"finish_reason": finish, "index": 0, "message": message}],
            "created": 1722829751, "model": MODEL, "object": "chat.completion", "usage": usage,
            **SENSITIVITY, "base_resp": OK}


def sse(*objects: dict[str, Any]) -> bytes:
    return b"".join(f"data: {json.dumps(o, ensure_ascii=False)}\n\n".encode() for o in objects)


def stream_body(pieces: list[str] = PIECES, usage: dict[str, Any] | None = None) -> bytes:
    """Deltas, the last one carrying the finish reason, then the aggregate — as the doc's stream example."""
    text = "".join(pieces)
    chunks = [delta_chunk({"content": p, "role": "assistant"}) for p in pieces[:-1]]
    chunks.append(delta_chunk({"content": pieces[-1], "role": "assistant"}, "stop"))
    return sse(*chunks, aggregate(text, usage or {"total_tokens": 249, "prompt_tokens": 26,
                                                  "completion_tokens": 223}))


def make(*, preset: str = "minimax", strict: bool = False, **options: Any) -> Any:
    spec = get_preset(preset)
    assert spec is not None
    assert spec.base_url is not None
    provider = Provider("mm", spec, spec.base_url, {"api_key": Secret(KEY)}, options, strict=strict)
    return adapter_class(spec.protocol)(provider)


def response(status: int, body: Any, url: str = BASE + "/text/chatcompletion_v2") -> httpx2.Response:
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return httpx2.Response(status, content=content, request=httpx2.Request("POST", url))


def feed(adapter: Any, raw: bytes, seed: int) -> tuple[list[dict[str, Any]], Any]:
    """Decode ``raw`` in random byte splits and translate every event."""
    rng = random.Random(seed)
    translator = adapter.stream_translator(response(200, b""), MODEL)
    decoder = SSEDecoder()
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(raw):
        step = rng.randint(1, 11)
        for event in decoder.feed(raw[i:i + step]):
            out += translator.feed(event)
        i += step
    for event in decoder.close():
        out += translator.feed(event)
    return out + translator.close(), translator


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def error_body(code: int, message: str = "failed") -> dict[str, Any]:
    return {"id": "", "choices": None, "created": 0, "model": "", "object": "", "usage": None, **SENSITIVITY,
            "base_resp": {"status_code": code, "status_msg": message}}


# -- requests ----------------------------------------------------------------------------------
def test_request_goes_to_the_v2_path_with_bearer() -> None:
    adapter = make()
    assert isinstance(adapter, MiniMaxAdapter)
    params = {"model": MODEL, "messages": MESSAGES, "max_completion_tokens": 100,
              "stream_options": {"include_usage": True}}
    wire = adapter.chat_request(dict(params), stream=True)
    assert (wire.method, wire.url, wire.stream) == ("POST", BASE + "/text/chatcompletion_v2", True)
    assert wire.json == {**params, "stream": True}
    assert wire.headers["Authorization"] == f"Bearer {KEY}"
    assert wire.params is None


def test_chat_path_and_group_id_are_options() -> None:
    wire = make(chat_path="/chat/completions", group_id="1782658868262748467").chat_request(
        {"model": MODEL, "messages": MESSAGES}, stream=False)
    assert wire.url == BASE + "/chat/completions"
    assert wire.params == {"GroupId": "1782658868262748467"}


@pytest.mark.parametrize(("name", "value", "sent"), [("temperature", 0, 0.01), ("temperature", 1.5, 1.0),
                                                     ("top_p", 0.0, 0.01), ("top_p", 1.0, 1.0),
                                                     ("temperature", 0.7, 0.7)])
def test_sampling_ranges_clamped_into_open_zero_one(name: str, value: float, sent: float) -> None:
    wire = make().chat_request({"model": MODEL, "messages": MESSAGES, name: value}, stream=False)
    assert wire.json[name] == pytest.approx(sent)


@pytest.mark.parametrize("extra", [{"temperature": 0}, {"top_p": 1.2}, {"tool_choice": "required"},
                                   {"tool_choice": {"type": "function", "function": {"name": "f"}}},
                                   {"response_format": {"type": "json_object"}}])
def test_strict_mode_rejects_what_minimax_cannot_take(extra: dict[str, Any]) -> None:
    with pytest.raises(errors.UnsupportedParameterError):
        make(strict=True).chat_request({"model": MODEL, "messages": MESSAGES, **extra}, stream=False)


def test_lenient_mode_drops_what_minimax_cannot_take() -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    with pytest.warns(StructuredOutputWarning, match="json_object is not supported"):
        body = make().chat_request({"model": MODEL, "messages": MESSAGES, "tool_choice": "required",
                                    "response_format": {"type": "json_object"}}, stream=False).json
    assert "tool_choice" not in body
    assert "response_format" not in body
    assert JSON_INSTRUCTION in body["messages"][0]["content"]  # asked for in the system prompt instead
    kept = make().chat_request({"model": MODEL, "messages": MESSAGES, "tool_choice": "auto",
                                "response_format": schema}, stream=False).json
    assert (kept["tool_choice"], kept["response_format"]) == ("auto", schema)


# -- responses ---------------------------------------------------------------------------------
def test_parse_chat_documented_reply() -> None:
    out = make().parse_chat(response(200, REPLY), MODEL)
    message = out["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "Hello! How can I assist you?",
                       "reasoning_content": "The user greets me."}
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"] == {"prompt_tokens": 26, "completion_tokens": 223, "total_tokens": 249,
                            "completion_tokens_details": {"reasoning_tokens": 214}}
    assert (out["id"], out["created"]) == ("04ecb5d9b1921ae0fb0e8da9017a5474", 1755153113)
    assert ChatCompletion.model_validate(out).usage.completion_tokens == 223  # type: ignore[union-attr]


def test_parse_chat_tool_calls() -> None:
    call = {"id": "call_function_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"上海\"}"}}
    body = {**REPLY, "choices": [{"finish_reason": "tool_calls", "index": 0,
                                  "message": {"content": "", "role": "assistant", "tool_calls": [call]}}]}
    out = make().parse_chat(response(200, body), MODEL)
    assert out["choices"][0]["message"]["tool_calls"] == [call]
    assert out["choices"][0]["finish_reason"] == "tool_calls"


BASE_RESP_CASES = [
    (1002, errors.RateLimitError, "rate_limit", 429),
    (1004, errors.AuthenticationError, "auth", 401),
    (1008, errors.QuotaExceededError, "quota", 402),
    (1000, errors.InternalServerError, "server_error", 500),
    (1013, errors.InternalServerError, "server_error", 500),
    (1024, errors.InternalServerError, "server_error", 500),
    (1001, errors.APIStatusError, "timeout", 408),
    (1026, errors.ContentFilterError, "content_filter", 400),
    (1027, errors.ContentFilterError, "content_filter", 400),
    (1039, errors.ContextWindowExceededError, "context_window", 400),
    (2013, errors.BadRequestError, "bad_request", 400),
]


@pytest.mark.parametrize(("code", "cls", "kind", "status"), BASE_RESP_CASES)
def test_base_resp_error_inside_http_200(code: int, cls: type[errors.APIStatusError], kind: str,
                                         status: int) -> None:
    with pytest.raises(cls) as info:
        make().parse_chat(response(200, error_body(code, f"vendor says {code}")), MODEL)
    err = info.value
    assert type(err) is cls
    assert (err.kind, err.status_code, err.code, err.provider) == (kind, status, str(code), "mm")
    assert f"vendor says {code}" in str(err)


def test_base_resp_error_with_an_error_status() -> None:
    err = make().parse_error(response(429, error_body(1002, "rate limit exceeded(RPM)")), MODEL)
    assert type(err) is errors.RateLimitError
    assert err.status_code == 429


@pytest.mark.parametrize(("status", "code", "cls"), [(404, 1000, errors.NotFoundError),
                                                   (503, 1039, errors.InternalServerError),
                                                   (400, 1039, errors.ContextWindowExceededError),
                                                   (400, 1026, errors.ContentFilterError)])
def test_a_specific_http_status_wins_over_the_code(status: int, code: int, cls: type[Exception]) -> None:
    assert type(make().parse_error(response(status, error_body(code)), MODEL)) is cls


def test_openai_style_error_with_an_error_status() -> None:
    body = {"error": {"message": "invalid api key", "type": "authentication_error"}}
    assert type(make().parse_error(response(401, body), MODEL)) is errors.AuthenticationError


def test_unknown_code_falls_back_to_the_message() -> None:
    with pytest.raises(errors.ContextWindowExceededError):
        make().parse_chat(response(200, error_body(1999, "context window exceeded")), MODEL)
    with pytest.raises(errors.BadRequestError):
        make().parse_chat(response(200, error_body(2049, "something else")), MODEL)


def test_input_sensitive_is_a_content_filter_error() -> None:
    body = {**REPLY, "choices": None, "input_sensitive": True, "input_sensitive_type": 2}
    with pytest.raises(errors.ContentFilterError, match="type 2"):
        make().parse_chat(response(200, body), MODEL)


def test_output_sensitive_sets_content_filter_finish() -> None:
    body = {**REPLY, "output_sensitive": True, "output_sensitive_type": 7}
    assert make().parse_chat(response(200, body), MODEL)["choices"][0]["finish_reason"] == "content_filter"


def test_reply_without_choices_is_a_server_error() -> None:
    with pytest.raises(errors.InternalServerError, match="without choices"):
        make().parse_chat(response(200, {**REPLY, "choices": []}), MODEL)


# -- streams -----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_stream_in_random_splits_equals_the_plain_answer(seed: int) -> None:
    adapter = make()
    chunks, translator = feed(adapter, stream_body(), seed)
    same = {"finish_reason": "stop", "index": 0, "message": {"content": "".join(PIECES), "role": "assistant"}}
    plain = adapter.parse_chat(response(200, {**REPLY, "choices": [same]}), MODEL)
    assert text_of(chunks) == plain["choices"][0]["message"]["content"]  # the aggregate is not repeated
    assert translator.complete
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["usage"] == {"prompt_tokens": 26, "completion_tokens": 223, "total_tokens": 249}
    assert sum(1 for c in chunks if c["choices"][0]["finish_reason"]) == 1


def test_stream_usage_with_only_total_tokens() -> None:
    chunks, _ = feed(make(), stream_body(usage={"total_tokens": 73}), 2)
    assert chunks[-1]["usage"] == {"prompt_tokens": 0, "completion_tokens": 73, "total_tokens": 73}


def test_stream_without_aggregate_flushes_the_finish_at_eof() -> None:
    raw = sse(delta_chunk({"content": "Hi", "role": "assistant"}),
              delta_chunk({"content": "!", "role": "assistant"}, "length",
                          usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}))
    chunks, translator = feed(make(), raw, 3)
    assert text_of(chunks) == "Hi!"
    assert translator.complete
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["total_tokens"] == 5


def test_stream_with_only_the_aggregate_delivers_it_once() -> None:
    chunks, translator = feed(make(), sse(aggregate("all at once", {"total_tokens": 9})), 4)
    assert text_of(chunks) == "all at once"
    assert translator.complete


def test_stream_tool_calls_and_reasoning() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    raw = sse(delta_chunk({"reasoning_content": "thinking", "role": "assistant"}),
              delta_chunk({"tool_calls": [call], "role": "assistant"}, "tool_calls"),
              {**aggregate("", {"total_tokens": 4}, "tool_calls"),
               "choices": [{"finish_reason": "tool_calls", "index": 0,
                            "message": {"content": "", "role": "assistant", "tool_calls": [call]}}]})
    chunks, translator = feed(make(), raw, 5)
    assert chunks[0]["choices"][0]["delta"]["reasoning_content"] == "thinking"
    deltas = [c["choices"][0]["delta"] for c in chunks]
    calls = [d["tool_calls"] for d in deltas if d.get("tool_calls")]
    assert calls == [[{**call, "index": 0}]]  # not repeated from the aggregate
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert translator.complete


def test_stream_output_sensitive_is_content_filter() -> None:
    raw = sse(delta_chunk({"content": "Part", "role": "assistant"}),
              {**delta_chunk({"content": "", "role": "assistant"}, "stop"), "output_sensitive": True})
    chunks, translator = feed(make(), raw, 6)
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"
    assert translator.complete


@pytest.mark.parametrize(("code", "cls"), [(1002, errors.RateLimitError), (1027, errors.ContentFilterError),
                                           (1039, errors.ContextWindowExceededError),
                                           (1024, errors.InternalServerError)])
def test_in_stream_base_resp_error(code: int, cls: type[Exception]) -> None:
    raw = sse(delta_chunk({"content": "Hel", "role": "assistant"}), error_body(code, "mid-stream"))
    with pytest.raises(cls, match="mid-stream"):
        feed(make(), raw, 7)


def test_cut_stream_is_not_complete_and_done_is_accepted() -> None:
    chunks, translator = feed(make(), sse(delta_chunk({"content": "Hel", "role": "assistant"})), 8)
    assert text_of(chunks) == "Hel"
    assert not translator.complete
    _, done = feed(make(), stream_body() + b"data: [DONE]\n\n", 9)
    assert done.complete


def test_malformed_stream_event_is_a_server_error() -> None:
    with pytest.raises(errors.InternalServerError, match="malformed"):
        feed(make(), b"data: {not json\n\n", 10)


# -- embeddings --------------------------------------------------------------------------------
def test_embeddings_request_takes_texts_and_type() -> None:
    wire = make(group_id="g-1").embeddings_request({"model": "embo-01", "input": ["a", "b"],
                                                    "encoding_format": "float"})
    assert (wire.url, wire.params) == (BASE + "/embeddings", {"GroupId": "g-1"})
    assert wire.json == {"model": "embo-01", "texts": ["a", "b"], "type": "db"}
    assert wire.headers["Authorization"] == f"Bearer {KEY}"
    assert make(embeddings_type="query").embeddings_request({"model": "embo-01", "input": "q"}).json == {
        "model": "embo-01", "texts": ["q"], "type": "query"}
    wire = make().embeddings_request({"model": "embo-01", "input": "q", "type": "query"})  # via extra_body
    assert wire.json["type"] == "query"


@pytest.mark.parametrize("params", [{"input": [[1, 2, 3]]}, {"input": []}, {"input": "q", "type": "search"}])
def test_embeddings_request_rejects_what_embo_cannot_take(params: dict[str, Any]) -> None:
    with pytest.raises(errors.UnsupportedParameterError):
        make().embeddings_request({"model": "embo-01", **params})


def test_embeddings_reply_and_error() -> None:
    reply = {"vectors": [[0.1, 0.2], [-0.3, 0.4]], "total_tokens": 6, "base_resp": {"status_code": 0,
                                                                                    "status_msg": "success"}}
    out = make().parse_embeddings(response(200, reply, BASE + "/embeddings"), "embo-01")
    assert [d["embedding"] for d in out["data"]] == [[0.1, 0.2], [-0.3, 0.4]]
    assert [d["index"] for d in out["data"]] == [0, 1]
    assert out["usage"] == {"prompt_tokens": 6, "total_tokens": 6}
    body = {"vectors": None, **error_body(1004, "invalid api key")}
    with pytest.raises(errors.AuthenticationError):
        make().parse_embeddings(response(200, body), "embo-01")


# -- the compat preset -------------------------------------------------------------------------
def test_compat_preset_is_openai_on_chat_completions_with_ranges() -> None:
    adapter = make(preset="minimax-compat")
    assert type(adapter) is OpenAIAdapter
    wire = adapter.chat_request({"model": MODEL, "messages": MESSAGES, "temperature": 0}, stream=False)
    assert wire.url == BASE + "/chat/completions"
    assert wire.json["temperature"] == pytest.approx(0.01)


# -- end to end over the loopback mock ---------------------------------------------------------
@pytest.fixture
def mm() -> Any:
    with MockServer({"mm": "minimax"}) as server:
        server.mount("mm").api_key = KEY
        yield server


TEXT01 = "mm/MiniMax-Text-01"


def client_for(server: MockServer) -> llmswitch.OpenAI:
    provider = {"type": "minimax", "api_key": KEY, "base_url": server.base_url("mm"), "group_id": "g-42"}
    return llmswitch.OpenAI(config={"providers": {"mm": provider}}, max_retries=0)


def test_e2e_plain_stream_embeddings(mm: MockServer) -> None:
    with client_for(mm) as client:
        plain = client.chat.completions.create(model="mm/MiniMax-Text-01", messages=MESSAGES, temperature=0)
        assert plain.choices[0].message.content == "[mm:MiniMax-Text-01] hello"
        assert plain.usage is not None
        sent = mm.mount("mm").requests[-1]
        assert sent.path == "/v1/text/chatcompletion_v2"
        assert sent.query == {"GroupId": "g-42"}
        assert json.loads(sent.body)["temperature"] == pytest.approx(0.01)  # the mock refuses 0
        stream = client.chat.completions.create(model="mm/MiniMax-Text-01", messages=MESSAGES, stream=True)
        with stream:
            chunks = list(stream)
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == plain.choices[0].message.content
        assert chunks[-1].choices[0].finish_reason == "stop"
        assert chunks[-1].usage == plain.usage
        emb = client.embeddings.create(model="mm/embo-01", input=["a b", "c"])
        assert [e.index for e in emb.data] == [0, 1]
        assert emb.usage.total_tokens == 3


def test_e2e_errors_in_200_and_in_stream(mm: MockServer) -> None:
    with client_for(mm) as client:
        mm.mount("mm").fail("error_in_body:error=rate_limit", "error_in_body:error=context_window",
                            "error_in_body:error=auth")
        with pytest.raises(llmswitch.RateLimitError) as info:
            client.chat.completions.create(model="mm/MiniMax-Text-01", messages=MESSAGES)
        assert (info.value.status_code, info.value.code) == (429, "1002")
        with pytest.raises(llmswitch.ContextWindowExceededError):
            client.chat.completions.create(model="mm/MiniMax-Text-01", messages=MESSAGES)
        with pytest.raises(llmswitch.AuthenticationError):
            client.embeddings.create(model="mm/embo-01", input="x")

        mm.mount("mm").fail("stream_error:after=1:error=content_filter")
        with pytest.raises(llmswitch.StreamInterruptedError) as interrupted:
            for _ in client.chat.completions.create(model=TEXT01, messages=MESSAGES, stream=True):
                pass
        assert isinstance(interrupted.value.__cause__, llmswitch.ContentFilterError)
        assert interrupted.value.partial_text == "[mm:MiniMax-Text-01] "

        mm.mount("mm").fail("cut_stream:after=2")
        with pytest.raises(llmswitch.StreamInterruptedError):
            for _ in client.chat.completions.create(model=TEXT01, messages=MESSAGES, stream=True):
                pass
