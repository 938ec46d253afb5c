"""Every preset is well-formed, and every quirk is visible at the HTTP boundary."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

import llmswitch
from llmswitch.adapters import adapter_class
from llmswitch.catalog import CAPABILITIES, Range, get_preset, preset_names
from llmswitch.testing import MockServer

MESSAGES = [{"role": "user", "content": "hi there"}]
REQUIRED = {"openai", "azure", "deepseek", "moonshot", "doubao", "spark", "baichuan", "yi", "stepfun",
            "siliconflow", "openrouter", "groq", "mistral", "together", "vllm", "lmstudio", "mock"}


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer({"q": "openai"}) as srv:
        yield srv


def test_required_presets_exist() -> None:
    assert set(preset_names()) >= REQUIRED


@pytest.mark.parametrize("name", preset_names())
def test_preset_is_well_formed(name: str) -> None:
    preset = get_preset(name)
    assert preset is not None and preset.name == name
    adapter_class(preset.protocol)  # the protocol resolves to an importable adapter
    if preset.base_url is not None:
        url = urlsplit(preset.base_url)
        assert url.scheme in ("http", "https") and url.netloc, preset.base_url
    assert set(preset.required_credentials) <= set(preset.credentials)
    if preset.default_model is not None:
        assert preset.default_model in preset.models
    for model, info in preset.models.items():
        assert info.capabilities <= CAPABILITIES, (model, info.capabilities - CAPABILITIES)
        assert info.currency in ("CNY", "USD")
        for price in (info.input_price, info.output_price):
            assert price is None or price >= 0
        assert info.context_window is None or info.context_window > 0


def _send(server: MockServer, preset: str, *, strict: bool = False, stream: bool = False,
          **params: Any) -> dict[str, Any]:
    config = {"providers": {"p": {"type": preset, "base_url": server.base_url("q"), "api_key": "sk-q",
                                  "strict": strict}}}
    with llmswitch.OpenAI(config=config) as client:
        result = client.chat.completions.create(model="p/m", messages=MESSAGES, stream=stream, **params)
        if stream:
            list(result)  # type: ignore[call-overload]
    body: dict[str, Any] = json.loads(server.mount("q").requests[-1].body)
    return body


def test_max_completion_tokens_renamed(server: MockServer) -> None:
    assert _send(server, "deepseek", max_completion_tokens=10)["max_tokens"] == 10
    assert "max_tokens" not in _send(server, "openai", max_completion_tokens=10)


def test_unsupported_dropped_or_rejected(server: MockServer) -> None:
    body = _send(server, "groq", logit_bias={"1": 2}, temperature=0.2)
    assert "logit_bias" not in body and body["temperature"] == 0.2
    with pytest.raises(llmswitch.UnsupportedParameterError, match=r"\[p/m\].*logit_bias"):
        _send(server, "groq", strict=True, logit_bias={"1": 2})


def test_ranges_clamped_or_rejected(server: MockServer) -> None:
    assert _send(server, "moonshot", temperature=1.7)["temperature"] == 1.0
    assert _send(server, "spark", temperature=0)["temperature"] == pytest.approx(0.01)
    with pytest.raises(llmswitch.BadRequestError, match=r"temperature=1\.7 .* \[0, 1\]"):
        _send(server, "moonshot", strict=True, temperature=1.7)


def test_moonshot_tool_choice_required_dropped(server: MockServer) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    assert "tool_choice" not in _send(server, "moonshot", tools=tools, tool_choice="required")


def test_stream_options_only_where_supported(server: MockServer) -> None:
    opts = {"include_usage": True}
    assert _send(server, "openai", stream=True, stream_options=opts)["stream_options"] == opts
    assert "stream_options" not in _send(server, "mistral", stream=True, stream_options=opts)
    assert "stream_options" not in _send(server, "openai", stream_options=opts)  # non-stream call


def test_mistral_seed_renamed(server: MockServer) -> None:
    body = _send(server, "mistral", seed=3)
    assert body["random_seed"] == 3 and "seed" not in body


def test_reasoning_content_echoed_only_where_needed(server: MockServer) -> None:
    turn = [{"role": "user", "content": "q"},
            {"role": "assistant", "content": "", "reasoning_content": "because",
             "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "r"}]
    config = {"providers": {name: {"type": name, "base_url": server.base_url("q"), "api_key": "k"}
                            for name in ("deepseek", "groq")}}
    with llmswitch.OpenAI(config=config) as client:
        for name, kept in (("deepseek", True), ("groq", False)):
            client.chat.completions.create(model=f"{name}/m", messages=turn)
            sent = json.loads(server.mount("q").requests[-1].body)["messages"][1]
            assert ("reasoning_content" in sent) is kept, name


def test_range_helpers() -> None:
    top_p = Range(0, 1, low_open=True, high_open=True)
    assert not top_p.contains(0) and not top_p.contains(1) and top_p.contains(0.5)
    assert top_p.clamp(1) == pytest.approx(0.99) and top_p.clamp(-3) == pytest.approx(0.01)
    assert str(top_p) == "(0, 1)"


def test_azure_deployment_url_and_header() -> None:
    with MockServer({"az": "azure"}) as srv:
        root = srv.base_url("az").removesuffix("/v1")
        config = {"providers": {"az": {"type": "azure", "base_url": root, "api_key": "az-key",
                                       "api_version": "2024-06-01"}}}
        with llmswitch.OpenAI(config=config) as client:
            client.chat.completions.create(model="az/my-deploy", messages=MESSAGES)
        request = srv.mount("az").requests[-1]
    assert request.path == "/openai/deployments/my-deploy/chat/completions"
    assert request.query == {"api-version": "2024-06-01"}
    assert request.headers["api-key"] == "az-key" and "authorization" not in request.headers


def _stream_through(server_body: list[bytes], preset: str) -> list[Any]:
    """Feed a canned vendor stream through the real client via an httpx2 MockTransport."""
    import httpx2

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=b"".join(server_body))

    config = {"providers": {"p": {"type": preset, "api_key": "k", "base_url": "https://vendor.test/v1"}}}
    with llmswitch.OpenAI(config=config, http_client=httpx2.Client(transport=httpx2.MockTransport(handler))) as c:
        return list(c.chat.completions.create(model="p/m", messages=MESSAGES, stream=True))


def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def test_moonshot_usage_in_choice_lifted() -> None:
    base = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    body = [_sse({**base, "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}),
            _sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop",
                                       "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}]}),
            b"data: [DONE]\n\n"]
    chunks = _stream_through(body, "moonshot")
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 4


def test_deepseek_keepalive_comments_ignored() -> None:
    base = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    body = [b": keep-alive\n\n", _sse({**base, "choices": [{"index": 0, "delta": {"content": "a"},
                                                              "finish_reason": None}]}),
            b": keep-alive\n\n", _sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            _sse({**base, "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}),
            b"data: [DONE]\n\n"]
    chunks = _stream_through(body, "deepseek")
    assert next(c.choices[0].delta.content for c in chunks if c.choices) == "a"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 2


def test_azure_empty_first_chunk_passes() -> None:
    base = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    body = [_sse({**base, "id": "", "choices": [], "prompt_filter_results": [{"prompt_index": 0}]}),
            _sse({**base, "choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]}),
            b"data: [DONE]\n\n"]
    chunks = _stream_through(body, "openai")
    assert chunks[0].choices == [] and chunks[1].choices[0].delta.content == "ok"


def test_status_envelope_errors_inside_200() -> None:
    """minimax-compat: a base_resp failure in an HTTP 200 raises, classified by its code."""
    with MockServer({"mm": "minimax"}) as srv:
        config = {"providers": {"m": {"type": "minimax-compat", "api_key": "k", "base_url": srv.base_url("mm")}}}
        with llmswitch.OpenAI(config=config, max_retries=0) as client:
            srv.mount("mm").fail("error_in_body:status=429")
            with pytest.raises(llmswitch.RateLimitError) as info:
                client.chat.completions.create(model="m/MiniMax-Text-01", messages=MESSAGES)
            assert info.value.status_code == 429
            srv.mount("mm").fail("error_in_body:status=400:error=content_filter")
            with pytest.raises(llmswitch.ContentFilterError):
                client.chat.completions.create(model="m/MiniMax-Text-01", messages=MESSAGES)


@pytest.mark.parametrize("protocol", ["openai", "hunyuan", "dashscope"])
def test_stream_request_answered_with_error_in_200(protocol: str) -> None:
    """A vendor answering a stream request with a JSON error body (HTTP 200) raises that error, typed."""
    creds = {"hunyuan": {"secret_id": "AKIDx", "secret_key": "s"}}.get(protocol, {"api_key": "k"})
    with MockServer({"v": protocol}) as srv:
        config = {"providers": {"p": {"type": protocol, "base_url": srv.base_url("v"), **creds}}}
        srv.mount("v").fail("error_in_body:status=401:error=auth")
        with llmswitch.OpenAI(config=config, max_retries=0) as client, pytest.raises(llmswitch.AuthenticationError):
            client.chat.completions.create(model="p/m", messages=MESSAGES, stream=True)
        assert len(srv.mount("v").requests) == 1  # an auth failure is not retried
