"""DashScope native adapter: request mapping, responses, incremental/cumulative streams, errors, embeddings."""

from __future__ import annotations

import json
import random
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
from llmswitch.adapters.dashscope import DashScopeAdapter
from llmswitch.adapters.structured import JSON_INSTRUCTION
from llmswitch.catalog import get_preset
from llmswitch.streaming import SSEDecoder
from llmswitch.testing import MockServer

BASE = "https://dashscope.aliyuncs.com/api/v1"
TEXT_URL = BASE + "/services/aigc/text-generation/generation"
MM_URL = BASE + "/services/aigc/multimodal-generation/generation"
MODEL = "qwen-plus"


def make(strict: bool = False, base_url: str = BASE, key: str = "sk-ds-test") -> DashScopeAdapter:
    preset = get_preset("dashscope")
    assert preset is not None
    return DashScopeAdapter(Provider("qwen", preset, base_url, {"api_key": Secret(key)}, strict=strict))


def reply(status: int, body: Any, *, request_body: Any = None, url: str = TEXT_URL) -> httpx2.Response:
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    sent = json.dumps(request_body).encode() if request_body is not None else b""
    return httpx2.Response(status, content=content, headers={"content-type": "application/json"},
                           request=httpx2.Request("POST", url, content=sent))


def run_stream(raw: bytes, seed: int, *, incremental: bool | None = True) -> tuple[list[dict[str, Any]], bool]:
    """Feed ``raw`` in random byte splits through SSEDecoder and the translator of a stream that asked
    for ``incremental_output=incremental`` (None: the request is unknown)."""
    adapter = make()
    sent = None if incremental is None else {"model": MODEL, "parameters": {"incremental_output": incremental}}
    translator = adapter.stream_translator(reply(200, b"", request_body=sent), MODEL)
    decoder = SSEDecoder()
    rng = random.Random(seed)
    chunks: list[dict[str, Any]] = []
    pos = 0
    while pos < len(raw):
        step = rng.randint(1, 11)
        for event in decoder.feed(raw[pos : pos + step]):
            chunks += translator.feed(event)
        pos += step
    for event in decoder.close():
        chunks += translator.feed(event)
    chunks += translator.close()
    for c in chunks:
        ChatCompletionChunk.model_validate(c)
    return chunks, translator.complete


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def tool_args(chunks: list[dict[str, Any]]) -> dict[int, dict[str, str]]:
    calls: dict[int, dict[str, str]] = {}
    for c in chunks:
        for t in c["choices"][0]["delta"].get("tool_calls") or []:
            slot = calls.setdefault(t["index"], {"id": "", "name": "", "arguments": ""})
            slot["id"] = t.get("id") or slot["id"]
            slot["name"] = (t.get("function") or {}).get("name") or slot["name"]
            slot["arguments"] += (t.get("function") or {}).get("arguments") or ""
    return calls


# -- requests -----------------------------------------------------------------------------------------
def test_request_nests_messages_in_input_and_sampling_in_parameters() -> None:
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    wire = make().chat_request({
        "model": MODEL,
        "messages": [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "max_completion_tokens": 128, "temperature": 0.5, "top_p": 0.8, "seed": 42, "stop": ["END"],
        "tools": tools, "tool_choice": "auto", "response_format": {"type": "json_object"},
        "presence_penalty": 0.2, "enable_search": True, "stream_options": {"include_usage": True},
    }, stream=False)
    assert (wire.method, wire.url, wire.stream) == ("POST", TEXT_URL, False)
    assert wire.headers == {"Authorization": "Bearer sk-ds-test"}
    assert wire.json == {
        "model": MODEL,
        "input": {"messages": [{"role": "system", "content": f"be brief\n\n{JSON_INSTRUCTION}"},
                               {"role": "user", "content": "hi"}]},
        "parameters": {"result_format": "message", "max_tokens": 128, "temperature": 0.5, "top_p": 0.8,
                       "seed": 42, "stop": ["END"], "tools": tools, "tool_choice": "auto",
                       "response_format": {"type": "json_object"}, "presence_penalty": 0.2,
                       "enable_search": True},
    }


def test_stream_request_sets_the_sse_header_and_incremental_output() -> None:
    wire = make().chat_request({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "stream": True},
                               stream=True)
    assert wire.stream
    assert wire.headers["X-DashScope-SSE"] == "enable"
    assert wire.json["parameters"]["incremental_output"] is True
    assert "stream" not in wire.json
    assert "stream" not in wire.json["parameters"]
    cumulative = make().chat_request({"model": MODEL, "messages": [], "incremental_output": False}, stream=True)
    assert cumulative.json["parameters"]["incremental_output"] is False
    plain = make().chat_request({"model": MODEL, "messages": [], "incremental_output": True}, stream=False)
    assert "incremental_output" not in plain.json["parameters"]
    assert "X-DashScope-SSE" not in plain.headers


def test_tool_turns_pass_through_in_openai_shape() -> None:
    calls = [{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]
    messages = [{"role": "user", "content": [{"type": "text", "text": "weather"}, {"type": "text", "text": "SH?"}]},
                {"role": "assistant", "content": None, "tool_calls": calls, "reasoning_content": "think"},
                {"role": "tool", "tool_call_id": "call_1", "name": "weather", "content": "sunny"}]
    sent = make().chat_request({"model": MODEL, "messages": messages}, stream=False).json["input"]["messages"]
    assert sent == [{"role": "user", "content": "weather\nSH?"},
                    {"role": "assistant", "content": "", "tool_calls": calls},
                    {"role": "tool", "tool_call_id": "call_1", "name": "weather", "content": "sunny"}]


@pytest.mark.parametrize("model", ["qwen-vl-max", "qvq-max", "qwen2.5-vl-72b-instruct"])
def test_vision_models_use_the_multimodal_path_and_item_lists(model: str) -> None:
    messages = [{"role": "system", "content": "describe"},
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/dog.jpg"}},
                                             {"type": "text", "text": "what is it?"}]}]
    wire = make().chat_request({"model": model, "messages": messages}, stream=False)
    assert wire.url == MM_URL
    assert wire.json["input"]["messages"] == [
        {"role": "system", "content": [{"text": "describe"}]},
        {"role": "user", "content": [{"image": "https://x/dog.jpg"}, {"text": "what is it?"}]}]


def test_images_sent_to_an_unknown_model_also_go_multimodal() -> None:
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}]
    wire = make().chat_request({"model": "my-finetune", "messages": messages}, stream=False)
    assert wire.url == MM_URL
    assert wire.json["input"]["messages"][0]["content"] == [{"image": "data:image/png;base64,AA"}]
    assert make().chat_request({"model": "my-finetune", "messages": []}, stream=False).url == TEXT_URL


@pytest.mark.parametrize(("name", "value", "sent"), [
    ("temperature", 2.0, 1.99), ("temperature", 0, 0), ("temperature", -1, 0), ("top_p", 0, 0.01),
    ("top_p", 1.0, 1.0), ("top_p", 1.5, 1.0),
])
def test_lenient_mode_clamps_ranges(name: str, value: float, sent: float) -> None:
    body = make().chat_request({"model": MODEL, "messages": [], name: value}, stream=False).json
    assert body["parameters"][name] == pytest.approx(sent)


def test_strict_mode_rejects_range_and_unsupported_params_by_name() -> None:
    with pytest.raises(errors.UnsupportedParameterError, match=r"temperature=2\.0 .*\[0, 2\)"):
        make(strict=True).chat_request({"model": MODEL, "messages": [], "temperature": 2.0}, stream=False)
    with pytest.raises(errors.UnsupportedParameterError, match="frequency_penalty"):
        make(strict=True).chat_request({"model": MODEL, "messages": [], "frequency_penalty": 1}, stream=False)
    lenient = make().chat_request({"model": MODEL, "messages": [], "frequency_penalty": 1, "user": "u"},
                                  stream=False).json["parameters"]
    assert "frequency_penalty" not in lenient
    assert "user" not in lenient


# -- responses ----------------------------------------------------------------------------------------
DOC_REPLY = {
    "output": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant",
                                                                "content": "我是通义千问，很高兴见到你。"}}]},
    "usage": {"input_tokens": 22, "output_tokens": 9, "total_tokens": 31,
              "prompt_tokens_details": {"cached_tokens": 16}},
    "request_id": "902fee3b-f7f0-9a8c-96a1-6b4ea25af114",
}


def test_parse_chat_reads_output_choices_and_usage() -> None:
    out = make().parse_chat(reply(200, DOC_REPLY), MODEL)
    ChatCompletion.model_validate(out)
    assert out["id"] == DOC_REPLY["request_id"]
    assert out["model"] == MODEL
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "我是通义千问，很高兴见到你。"}
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"] == {"prompt_tokens": 22, "completion_tokens": 9, "total_tokens": 31,
                            "prompt_tokens_details": {"cached_tokens": 16}}


@pytest.mark.parametrize(("native", "expected"), [("stop", "stop"), ("length", "length"),
                                                  ("tool_calls", "tool_calls"), ("weird", "stop")])
def test_finish_reasons(native: str, expected: str) -> None:
    body = {"output": {"choices": [{"finish_reason": native, "message": {"role": "assistant", "content": "x"}}]},
            "usage": {"input_tokens": 1, "output_tokens": 1}}
    out = make().parse_chat(reply(200, body), MODEL)
    assert out["choices"][0]["finish_reason"] == expected
    assert out["usage"]["total_tokens"] == 2


def test_tool_calls_with_and_without_ids() -> None:
    body = {"output": {"choices": [{"finish_reason": "tool_calls", "message": {"role": "assistant", "content": "",
            "tool_calls": [{"index": 0, "id": "call_abc", "type": "function",
                            "function": {"name": "weather", "arguments": "{\"city\":\"北京\"}"}},
                           {"index": 1, "type": "function", "function": {"name": "time", "arguments": {}}}]}}]},
            "usage": {"input_tokens": 5, "output_tokens": 4, "total_tokens": 9}, "request_id": "r"}
    out = make().parse_chat(reply(200, body), MODEL)
    ChatCompletion.model_validate(out)
    message = out["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"][0] == {"id": "call_abc", "type": "function",
                                        "function": {"name": "weather", "arguments": "{\"city\":\"北京\"}"}}
    assert message["tool_calls"][1]["id"].startswith("call_")
    assert message["tool_calls"][1]["function"] == {"name": "time", "arguments": "{}"}
    assert out["choices"][0]["finish_reason"] == "tool_calls"


def test_multimodal_and_text_format_replies() -> None:
    vl = {"output": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant",
                                                                      "content": [{"text": "A dog."}]}}]},
          "usage": {"input_tokens": 92, "output_tokens": 3}, "request_id": "v"}
    out = make().parse_chat(reply(200, vl, url=MM_URL), "qwen-vl-max")
    assert out["choices"][0]["message"]["content"] == "A dog."
    assert out["usage"]["total_tokens"] == 95
    text = {"output": {"text": "plain text", "finish_reason": "stop"},
            "usage": {"input_tokens": 2, "output_tokens": 2, "total_tokens": 4}, "request_id": "t"}
    assert make().parse_chat(reply(200, text), MODEL)["choices"][0]["message"]["content"] == "plain text"
    thinking = {"output": {"choices": [{"finish_reason": "stop", "message": {
        "role": "assistant", "content": "42", "reasoning_content": "6*7"}}]}, "request_id": "q"}
    assert make().parse_chat(reply(200, thinking), "qwq-plus")["choices"][0]["message"]["reasoning_content"] == "6*7"


# -- streams ------------------------------------------------------------------------------------------
PIECES = ["我是", "通义千问", "，很高兴", "见到你。"]
ANSWER = "".join(PIECES)


def _event(seq: int, output: dict[str, Any], output_tokens: int, *, comment: bool = True) -> bytes:
    body = {"output": output, "usage": {"input_tokens": 22, "output_tokens": output_tokens,
                                        "total_tokens": 22 + output_tokens}, "request_id": "rid-1"}
    status = ":HTTP_STATUS/200\n" if comment else ""
    return f"id:{seq}\nevent:result\n{status}data:{json.dumps(body, ensure_ascii=False)}\n\n".encode()


def _choice(content: Any, finish: str = "null", **message: Any) -> dict[str, Any]:
    return {"choices": [{"finish_reason": finish, "message": {"role": "assistant", "content": content, **message}}]}


def _text_stream(incremental: bool, *, multimodal: bool = False) -> bytes:
    events, running = [], ""
    for i, piece in enumerate(PIECES, 1):
        running += piece
        value = piece if incremental else running
        events.append(_event(i, _choice([{"text": value}] if multimodal else value), i, comment=i % 2 == 0))
    last = "" if incremental else running
    events.append(_event(len(PIECES) + 1, _choice([{"text": last}] if multimodal else last, "stop"), 9))
    return b"".join(events)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("incremental", "asked"), [(True, True), (False, False), (False, True), (False, None),
                                                    (True, None)])
def test_stream_text_is_right_whether_incremental_or_cumulative(seed: int, incremental: bool,
                                                                asked: bool | None) -> None:
    """``asked`` is what our request said; the server may still send cumulative text (or we may not know)."""
    chunks, complete = run_stream(_text_stream(incremental), seed, incremental=asked)
    plain = make().parse_chat(reply(200, {**_choice_body(ANSWER), "request_id": "rid-1"}), MODEL)
    assert complete
    assert text_of(chunks) == plain["choices"][0]["message"]["content"] == ANSWER
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert {c["id"] for c in chunks} == {"rid-1"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == {"prompt_tokens": 22, "completion_tokens": 9, "total_tokens": 31}
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


def _choice_body(text: str) -> dict[str, Any]:
    return {"output": _choice(text, "stop"), "usage": {"input_tokens": 22, "output_tokens": 9}}


@pytest.mark.parametrize("incremental", [True, False])
def test_multimodal_and_text_format_streams(incremental: bool) -> None:
    chunks, complete = run_stream(_text_stream(incremental, multimodal=True), 7, incremental=incremental)
    assert complete
    assert text_of(chunks) == ANSWER
    events, running = [], ""
    for i, piece in enumerate(PIECES, 1):  # result_format "text": output.text / output.finish_reason
        running += piece
        events.append(_event(i, {"text": piece if incremental else running, "finish_reason": "null"}, i))
    events.append(_event(9, {"text": "" if incremental else running, "finish_reason": "length"}, 9))
    chunks, complete = run_stream(b"".join(events), 8, incremental=incremental)
    assert complete
    assert text_of(chunks) == ANSWER
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def _tool_stream(incremental: bool) -> bytes:
    args = '{"location": "杭州市"}'
    half = len(args) // 2
    first = {"index": 0, "id": "call_0bdc", "type": "function",
             "function": {"name": "get_current_weather", "arguments": args[:half]}}
    second = ({"index": 0, "id": "", "type": "function", "function": {"arguments": args[half:]}} if incremental
              else {**first, "function": {"name": "get_current_weather", "arguments": args}})
    return (_event(1, _choice("", tool_calls=[first]), 3) + _event(2, _choice("", tool_calls=[second]), 6)
            + _event(3, _choice("", "tool_calls"), 8))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("incremental", [True, False])
def test_stream_tool_calls_either_way(seed: int, incremental: bool) -> None:
    chunks, complete = run_stream(_tool_stream(incremental), seed, incremental=True)
    assert complete
    assert tool_args(chunks) == {0: {"id": "call_0bdc", "name": "get_current_weather",
                                     "arguments": '{"location": "杭州市"}'}}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_tool_call_without_id_gets_one() -> None:
    call = {"index": 0, "type": "function", "function": {"name": "f", "arguments": "{}"}}
    chunks, complete = run_stream(_event(1, _choice("", "stop", tool_calls=[call]), 2), 0)
    assert complete
    (only,) = tool_args(chunks).values()
    assert only["id"].startswith("call_")
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_without_a_finish_reason_is_incomplete() -> None:
    raw = b"".join(_event(i, _choice(p), i) for i, p in enumerate(PIECES, 1))
    chunks, complete = run_stream(raw, 1)
    assert text_of(chunks) == ANSWER
    assert not complete


@pytest.mark.parametrize(("body", "cls", "status"), [
    ({"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded", "request_id": "e"},
     errors.RateLimitError, 429),
    ({"code": "DataInspectionFailed", "message": "Output data may contain inappropriate content."},
     errors.ContentFilterError, 400),
    ({"code": "InternalError", "message": "internal"}, errors.InternalServerError, 500),
])
def test_error_events_mid_stream(body: dict[str, Any], cls: type[Exception], status: int) -> None:
    error = f"id:3\nevent:error\n:HTTP_STATUS/{status}\ndata:{json.dumps(body)}\n\n".encode()
    with pytest.raises(cls) as info:
        run_stream(_event(1, _choice("我是"), 1) + error, 2)
    assert info.value.status_code == status  # type: ignore[attr-defined]
    result_with_code = f"id:3\nevent:result\ndata:{json.dumps(body)}\n\n".encode()
    with pytest.raises(cls):
        run_stream(result_with_code, 3)


# -- errors -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "code", "message", "cls", "kind"), [
    (429, "Throttling.RateQuota", "Requests rate limit exceeded", errors.RateLimitError, "rate_limit"),
    (429, "Throttling.AllocationQuota", "Allocated quota exceeded", errors.RateLimitError, "rate_limit"),
    (401, "InvalidApiKey", "Invalid API-key provided.", errors.AuthenticationError, "auth"),
    (400, "InvalidParameter", "Range of input length should be [1, 6000]", errors.ContextWindowExceededError,
     "context_window"),
    (400, "InvalidParameter", "Role must be user or assistant", errors.BadRequestError, "bad_request"),
    (400, "DataInspectionFailed", "Input data may contain inappropriate content.", errors.ContentFilterError,
     "content_filter"),
    (403, "AccessDenied", "Access denied.", errors.PermissionDeniedError, "permission"),
    (404, "Model.NotExist", "Model not exist.", errors.NotFoundError, "not_found"),
    (500, "InternalError", "An internal error has occured", errors.InternalServerError, "server_error"),
    (503, "ServiceUnavailable", "busy", errors.InternalServerError, "server_error"),
    (400, "Arrearage", "Access denied, please make sure your account is in good standing.",
     errors.QuotaExceededError, "quota"),
])
def test_error_codes_map_to_kinds(status: int, code: str, message: str, cls: type[Exception], kind: str) -> None:
    exc = make().parse_error(reply(status, {"code": code, "message": message, "request_id": "e1"}), MODEL)
    assert type(exc) is cls
    assert exc.kind == kind
    assert exc.status_code == status
    assert exc.code == code
    assert message in str(exc)
    assert "[qwen/qwen-plus]" in str(exc)


@pytest.mark.parametrize(("code", "message", "cls", "status"), [
    ("Throttling", "Requests throttling triggered.", errors.RateLimitError, 429),
    ("InvalidApiKey", "Invalid API-key provided.", errors.AuthenticationError, 401),
    ("InvalidParameter", "Range of input length should be [1, 30720]", errors.ContextWindowExceededError, 400),
    ("DataInspectionFailed", "Input data may contain inappropriate content.", errors.ContentFilterError, 400),
])
def test_errors_inside_http_200(code: str, message: str, cls: type[Exception], status: int) -> None:
    """The gateway may answer 200 with the error in the body: never an empty completion."""
    with pytest.raises(cls) as info:
        make().parse_chat(reply(200, {"code": code, "message": message, "request_id": "e2"}), MODEL)
    assert info.value.status_code == status  # type: ignore[attr-defined]
    with pytest.raises(cls):
        make().parse_embeddings(reply(200, {"code": code, "message": message}), "text-embedding-v3")


def test_unexpected_or_non_json_bodies() -> None:
    with pytest.raises(errors.InternalServerError, match="unexpected response body"):
        make().parse_chat(reply(200, {"request_id": "x"}), MODEL)
    with pytest.raises(errors.InternalServerError, match="malformed response body"):
        make().parse_chat(reply(200, b"<html>oops</html>"), MODEL)
    exc = make().parse_error(reply(502, b"<html>Bad Gateway</html>"), MODEL)
    assert isinstance(exc, errors.InternalServerError)


# -- embeddings ---------------------------------------------------------------------------------------
def test_embeddings_request_and_response() -> None:
    adapter = make()
    wire = adapter.embeddings_request({"model": "text-embedding-v3", "input": ["风急天高", "渚清沙白"],
                                       "dimensions": 512, "encoding_format": "float"})
    assert wire.url == BASE + "/services/embeddings/text-embedding/text-embedding"
    assert wire.json == {"model": "text-embedding-v3", "input": {"texts": ["风急天高", "渚清沙白"]},
                         "parameters": {"dimension": 512}}
    assert adapter.embeddings_request({"model": "m", "input": "one"}).json == {"model": "m",
                                                                              "input": {"texts": ["one"]}}
    body = {"output": {"embeddings": [{"text_index": 1, "embedding": [0.5, 0.6]},
                                      {"text_index": 0, "embedding": [0.1, 0.2]}]},
            "usage": {"total_tokens": 12}, "request_id": "emb"}
    out = adapter.parse_embeddings(reply(200, body, url=wire.url), "text-embedding-v3")
    CreateEmbeddingResponse.model_validate(out)
    assert [d["embedding"] for d in out["data"]] == [[0.1, 0.2], [0.5, 0.6]]
    assert out["usage"] == {"prompt_tokens": 12, "total_tokens": 12}
    with pytest.raises(errors.UnsupportedParameterError):
        make(strict=True).embeddings_request({"model": "m", "input": "x", "encoding_format": "base64"})


# -- end to end over the loopback mock server -----------------------------------------------------------
@pytest.fixture
def server() -> Any:
    with MockServer({"qwen": "dashscope"}) as srv:
        srv.mount("qwen").api_key = "sk-test"
        yield srv


@pytest.fixture
def client(server: MockServer) -> Any:
    cfg = {"providers": {"qwen": {"type": "dashscope", "api_key": "sk-test", "base_url": server.base_url("qwen")}}}
    with llmswitch.OpenAI(config=cfg, max_retries=0) as c:
        yield c


def test_end_to_end_plain_stream_and_embeddings(server: MockServer, client: llmswitch.OpenAI) -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]
    plain = client.chat.completions.create(model="qwen/qwen-plus", messages=messages, temperature=2, max_tokens=9)
    assert plain.choices[0].message.content == "[qwen:qwen-plus] hello there"
    assert plain.usage is not None
    assert plain.usage.prompt_tokens == 4
    chunks = list(client.chat.completions.create(model="qwen/qwen-plus", messages=messages, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == plain.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None
    first, second = server.mount("qwen").requests[:2]
    assert json.loads(first.body)["input"]["messages"][0] == {"role": "system", "content": "be brief"}
    assert json.loads(first.body)["parameters"]["temperature"] == pytest.approx(1.99)
    assert second.headers["x-dashscope-sse"] == "enable"
    emb = client.embeddings.create(model="qwen/text-embedding-v3", input=["a", "b"])
    assert [d.index for d in emb.data] == [0, 1]


def test_end_to_end_vision_model(server: MockServer, client: llmswitch.OpenAI) -> None:
    content = [{"type": "image_url", "image_url": {"url": "https://x/dog.jpg"}}, {"type": "text", "text": "what?"}]
    out = client.chat.completions.create(model="qwen/qwen-vl-max", messages=[{"role": "user", "content": content}])
    assert out.choices[0].message.content == "[qwen:qwen-vl-max] what?"
    assert server.mount("qwen").requests[0].path.endswith("/multimodal-generation/generation")


def test_end_to_end_errors(server: MockServer, client: llmswitch.OpenAI) -> None:
    server.mount("qwen").fail("error_in_body:status=429")
    with pytest.raises(llmswitch.RateLimitError):
        client.chat.completions.create(model="qwen/qwen-plus", messages=[{"role": "user", "content": "x"}])
    server.mount("qwen").fail("400:error=context_window")
    with pytest.raises(llmswitch.ContextWindowExceededError):
        client.chat.completions.create(model="qwen/qwen-plus", messages=[{"role": "user", "content": "x"}])
    server.mount("qwen").fail("stream_error:after=2:status=429")
    stream = client.chat.completions.create(model="qwen/qwen-plus", stream=True,
                                            messages=[{"role": "user", "content": "one two three four"}])
    with pytest.raises(llmswitch.StreamInterruptedError) as info:
        for _ in stream:
            pass
    assert info.value.partial_text == "[qwen:qwen-plus] one "
    assert isinstance(info.value.__cause__, openai.RateLimitError)


@pytest.mark.parametrize("incremental", [True, False])
def test_cumulative_and_incremental_over_real_http(server: MockServer, incremental: bool) -> None:
    """By hand (adapter + httpx2): a stream that asks for cumulative output must read the same."""
    adapter = make(base_url=server.base_url("qwen"), key="sk-test")
    wire = adapter.chat_request({"model": MODEL, "messages": [{"role": "user", "content": "one two three"}],
                                 "incremental_output": incremental}, stream=True)
    decoder, chunks = SSEDecoder(), []
    with httpx2.Client() as http, http.stream(wire.method, wire.url, json=wire.json, headers=wire.headers) as resp:
        assert resp.status_code == 200
        translator = adapter.stream_translator(resp, MODEL)
        for raw in resp.iter_bytes():
            for event in decoder.feed(raw):
                chunks += translator.feed(event)
    assert translator.complete
    assert text_of(chunks) == "[qwen:qwen-plus] one two three"
    assert chunks[-1]["usage"]["completion_tokens"] == 4  # one token per word in the mock
