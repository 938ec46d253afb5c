"""OpenTelemetry spans and metrics of real calls, against the loopback mock server."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx2
import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from otel_support import Otel, make_otel

import llmswitch
from llmswitch import telemetry
from llmswitch.router import Router
from llmswitch.telemetry.otel import continue_trace
from llmswitch.testing import MockServer

KEY_A = "sk-AaAaAaAa1111222233334444555566667777"
KEY_B = "sk-BbBbBbBb8888999900001111222233334444"
MESSAGES = [{"role": "user", "content": "a private question"}]


def config(server: MockServer, **extra: Any) -> dict[str, Any]:
    return {
        "providers": {"a": {"type": "openai", "api_key": KEY_A, "base_url": server.base_url("a")},
                      "b": {"type": "deepseek", "api_key": KEY_B, "base_url": server.base_url("b")}},
        "routes": {"chat": {"targets": ["a/gpt-4o", "b/deepseek-chat"]}},
        **extra,
    }


@pytest.fixture
def server() -> Any:
    with MockServer({"a": "openai", "b": "openai"}) as srv:
        yield srv


def split(otel: Otel) -> tuple[ReadableSpan, list[ReadableSpan]]:
    """The one call span and its attempt spans, in start order."""
    spans = otel.spans.get_finished_spans()
    calls = [s for s in spans if s.kind is SpanKind.INTERNAL]
    assert len(calls) == 1, [s.name for s in spans]
    attempts = sorted((s for s in spans if s.kind is SpanKind.CLIENT), key=lambda s: s.start_time or 0)
    assert len(attempts) == len(spans) - 1
    return calls[0], attempts


def points(otel: Otel, name: str) -> list[Any]:
    data = otel.metrics.get_metrics_data()
    assert data is not None
    return [p for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics if m.name == name
            for p in m.data.data_points]


def check_fallback(otel: Otel, server: MockServer, usage: Any) -> None:
    call, attempts = split(otel)
    assert call.name == "chat chat"
    assert len(attempts) == 2
    for span in attempts:
        assert span.parent is not None and span.parent.span_id == call.context.span_id
        assert span.context.trace_id == call.context.trace_id
        assert call.start_time is not None and span.start_time is not None and call.end_time is not None
        assert call.start_time <= span.start_time and span.end_time is not None and span.end_time <= call.end_time
    failed, served = attempts
    a = failed.attributes or {}
    assert failed.name == "chat gpt-4o" and failed.status.status_code is StatusCode.ERROR
    assert (a["gen_ai.provider.name"], a["gen_ai.request.model"], a["llmswitch.attempt"]) == ("openai", "gpt-4o", 1)
    assert (a["error.type"], a["llmswitch.error.kind"], a["http.response.status_code"]) == (
        "InternalServerError", "server_error", 500)
    assert (a["server.address"], a["server.port"]) == ("127.0.0.1", server.port)
    assert a["llmswitch.breaker.state"] == "closed"
    assert "gen_ai.usage.input_tokens" not in a and "llmswitch.fallback.reason" not in a
    b = served.attributes or {}
    assert served.name == "chat deepseek-chat" and served.status.status_code is StatusCode.UNSET
    assert (b["gen_ai.provider.name"], b["llmswitch.attempt"], b["llmswitch.fallback.reason"],
            b["llmswitch.fallback.from"]) == ("deepseek", 2, "server_error", "a/gpt-4o")
    assert (b["gen_ai.usage.input_tokens"], b["gen_ai.usage.output_tokens"]) == (usage.prompt_tokens,
                                                                                usage.completion_tokens)
    c = call.attributes or {}
    assert call.status.status_code is StatusCode.UNSET
    assert (c["gen_ai.operation.name"], c["gen_ai.request.model"], c["llmswitch.route"]) == ("chat", "chat", "chat")
    assert (c["llmswitch.target"], c["gen_ai.response.model"]) == ("b/deepseek-chat", "deepseek-chat")
    assert (c["llmswitch.attempts"], c["llmswitch.fallbacks"], c["llmswitch.retries"]) == (2, 1, 0)
    assert (c["gen_ai.usage.input_tokens"], c["gen_ai.usage.output_tokens"]) == (usage.prompt_tokens,
                                                                                usage.completion_tokens)
    assert float(c["llmswitch.cost.cny"]) > 0 and float(c["llmswitch.cost.usd"]) > 0
    assert c["gen_ai.request.temperature"] == 0.5
    assert "gen_ai.input.messages" not in c  # content is opt-in
    assert [e.name for e in call.events] == ["llmswitch.fallback"]
    (duration,) = points(otel, "gen_ai.client.operation.duration")
    assert duration.count == 1 and duration.attributes["gen_ai.provider.name"] == "deepseek"
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in points(otel, "gen_ai.client.token.usage")}
    assert tokens == {"input": usage.prompt_tokens, "output": usage.completion_tokens}


def test_a_fallback_call_is_one_call_span_with_two_attempt_spans(otel: Otel, server: MockServer,
                                                                 http: httpx2.Client) -> None:
    server.mount("a").fail("500")
    with llmswitch.OpenAI(config=config(server), http_client=http) as client:
        response = client.chat.completions.create(model="chat", messages=MESSAGES, temperature=0.5)
    assert response.usage is not None
    check_fallback(otel, server, response.usage)


async def test_async_fallback_is_traced_alike(otel: Otel, server: MockServer, ahttp: httpx2.AsyncClient) -> None:
    server.mount("a").fail("500")
    async with llmswitch.AsyncOpenAI(config=config(server), http_client=ahttp) as client:
        response = await client.chat.completions.create(model="chat", messages=MESSAGES, temperature=0.5)
    assert response.usage is not None
    check_fallback(otel, server, response.usage)


def test_a_streams_span_ends_when_it_is_closed(otel: Otel, server: MockServer, http: httpx2.Client) -> None:
    with llmswitch.OpenAI(config=config(server), http_client=http) as client:
        stream = client.chat.completions.create(model="chat", messages=MESSAGES, stream=True)
        chunks = iter(stream)
        next(chunks)
        assert otel.spans.get_finished_spans() == ()  # open while the caller reads
        stream.close()
    call, (attempt,) = split(otel)
    assert call.status.status_code is StatusCode.UNSET and (call.attributes or {})["gen_ai.request.stream"] is True
    assert attempt.end_time is not None and call.end_time is not None and attempt.end_time <= call.end_time
    assert len(points(otel, "gen_ai.client.operation.time_to_first_chunk")) == 1


async def test_a_completed_async_stream_carries_its_usage(otel: Otel, server: MockServer,
                                                          ahttp: httpx2.AsyncClient) -> None:
    async with llmswitch.AsyncOpenAI(config=config(server), http_client=ahttp) as client:
        stream = await client.chat.completions.create(model="b/deepseek-chat", messages=MESSAGES, stream=True,
                                                      stream_options={"include_usage": True})
        chunks = [chunk async for chunk in stream]
    usage = chunks[-1].usage
    assert usage is not None
    call, (attempt,) = split(otel)
    for span in (call, attempt):
        assert (span.attributes or {})["gen_ai.usage.output_tokens"] == usage.completion_tokens
    assert "llmswitch.route" not in (call.attributes or {})  # a direct provider/model call


def test_a_failed_call_has_an_error_status_and_no_secret_anywhere(otel: Otel, server: MockServer,
                                                                  http: httpx2.Client) -> None:
    server.mount("a").fail("429")
    server.mount("b").fail("503*3")
    with llmswitch.OpenAI(config=config(server), http_client=http, max_retries=0) as client:
        with pytest.raises(llmswitch.AllTargetsFailedError):
            client.chat.completions.create(model="chat", messages=MESSAGES)
    call, attempts = split(otel)
    assert [s.status.status_code for s in (call, *attempts)] == [StatusCode.ERROR] * 3
    assert (call.attributes or {})["error.type"] == "AllTargetsFailedError"
    assert [(s.attributes or {})["llmswitch.error.kind"] for s in attempts] == ["rate_limit", "server_error"]
    (duration,) = points(otel, "gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "AllTargetsFailedError"
    everything = json.dumps([json.loads(s.to_json()) for s in otel.spans.get_finished_spans()])
    everything += str(otel.metrics.get_metrics_data())
    assert KEY_A not in everything and KEY_B not in everything and "sk-" not in everything
    assert "private question" not in everything


def test_content_is_recorded_only_when_asked(server: MockServer, http: httpx2.Client) -> None:
    found = make_otel()
    telemetry.instrument(tracer_provider=found.tracer_provider, meter_provider=found.meter_provider,
                         capture_content=True)
    try:
        with llmswitch.OpenAI(config=config(server), http_client=http) as client:
            client.chat.completions.create(model="chat", messages=MESSAGES)
    finally:
        telemetry.uninstrument()
    call, _ = split(found)
    assert json.loads(str((call.attributes or {})["gen_ai.input.messages"])) == MESSAGES


def test_a_callers_traceparent_is_the_parent_of_the_call_span(otel: Otel, server: MockServer) -> None:
    """What the gateway does: plan the call inside continue_trace(request headers)."""
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    router = Router(llmswitch.load_config(config(server)))
    with continue_trace({"traceparent": f"00-{trace_id}-{parent_id}-01"}):
        plan = router.plan("chat", {"model": "chat", "messages": MESSAGES}, operation="chat")
    step = plan.next_step()
    plan.succeeded(step, 0.01)  # type: ignore[arg-type]
    response = {"id": "chatcmpl-1", "model": "gpt-4o-2024-08-06",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "x"}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}}
    plan.priced(response["usage"], response)  # type: ignore[arg-type]
    call, (attempt,) = split(otel)
    assert call.parent is not None and (call.parent.trace_id, call.parent.span_id) == (int(trace_id, 16),
                                                                                       int(parent_id, 16))
    assert call.parent.is_remote and attempt.context.trace_id == int(trace_id, 16)
    for span in (call, attempt):
        attrs = span.attributes or {}
        assert (attrs["gen_ai.response.model"], attrs["gen_ai.response.id"]) == ("gpt-4o-2024-08-06", "chatcmpl-1")
        assert tuple(attrs["gen_ai.response.finish_reasons"]) == ("stop",)  # type: ignore[arg-type]
        assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (3, 5)


def test_the_providers_file_turns_tracing_on_with_the_global_providers(server: MockServer,
                                                                       http: httpx2.Client) -> None:
    found = make_otel()
    trace.set_tracer_provider(found.tracer_provider)  # once per process, as an application does at start-up
    metrics.set_meter_provider(found.meter_provider)
    if trace.get_tracer_provider() is not found.tracer_provider:
        pytest.skip("another global tracer provider was set earlier in this process")
    assert not telemetry.instrumented()
    with llmswitch.OpenAI(config=config(server), http_client=http) as client:
        client.chat.completions.create(model="chat", messages=MESSAGES)
    assert found.spans.get_finished_spans() == ()  # the file does not ask for it: off
    with llmswitch.OpenAI(config=config(server, telemetry={"otel": True}), http_client=http) as client:
        client.chat.completions.create(model="chat", messages=MESSAGES)
    call, (attempt,) = split(found)
    assert (call.attributes or {})["llmswitch.target"] == (attempt.attributes or {})["llmswitch.target"] == "a/gpt-4o"
    assert len(points(found, "gen_ai.client.operation.duration")) == 1


def test_an_unknown_telemetry_key_is_a_config_error_naming_it(tmp_path: Any) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text("providers: {}\ntelemetry:\n  otel: true\n  exporter: zipkin\n")
    with pytest.raises(llmswitch.ConfigError, match=r"providers.yaml:4.*telemetry.exporter"):
        llmswitch.load_config(str(path))


def test_disabled_tracing_imports_nothing_from_opentelemetry(server: MockServer) -> None:
    code = (
        "import sys, llmswitch\n"
        f"c = llmswitch.OpenAI(config={config(server)!r})\n"
        "c.chat.completions.create(model='chat', messages=[{'role': 'user', 'content': 'hi'}])\n"
        "c.close()\n"
        "print([m for m in sys.modules if m.startswith('opentelemetry') or m == 'llmswitch.telemetry.otel'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_a_drivers_stream_summary_reaches_the_spans(otel: Otel, server: MockServer) -> None:
    """stream_completed(usage, response=…): how a driver passes a stream's model and finish reasons on."""
    router = Router(llmswitch.load_config(config(server)))
    plan = router.plan("b/deepseek-chat", {"model": "b/deepseek-chat", "messages": MESSAGES}, stream=True)
    plan.succeeded(plan.next_step(), 0.02, first_token=0.02)  # type: ignore[arg-type]
    assert otel.spans.get_finished_spans() == ()
    plan.stream_completed({"prompt_tokens": 2, "completion_tokens": 9},
                          {"model": "deepseek-chat", "choices": [{"index": 0, "finish_reason": "length"}]})
    call, (attempt,) = split(otel)
    for span in (call, attempt):
        assert tuple((span.attributes or {})["gen_ai.response.finish_reasons"]) == ("length",)  # type: ignore[arg-type]
    (first,) = points(otel, "gen_ai.client.operation.time_to_first_chunk")
    assert first.sum == pytest.approx(0.02)
