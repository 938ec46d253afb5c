"""OpenTelemetry for llmswitch calls: a span per call, a child span per attempt, GenAI metrics.

Built only from the router's hooks, so the client (sync, async, streams) and the gateway are
traced alike. Names and attributes follow the OpenTelemetry GenAI semantic conventions:

- the **call span** (INTERNAL, ``"{operation} {requested model}"``) is the logical operation:
  ``gen_ai.*`` request and response attributes, token usage, and ours — ``llmswitch.route``,
  attempt/fallback/retry counts, ``llmswitch.cost.usd``/``.cny``. It ends when the call's record
  is final: after the response, or when a stream completes, is closed or is interrupted;
- an **attempt span** (CLIENT, ``"{operation} {target model}"``) per request sent to a provider:
  ``gen_ai.provider.name``, ``gen_ai.request.model``, ``server.address``/``server.port``,
  ``llmswitch.attempt``, ``llmswitch.fallback.reason`` (why the previous target was left),
  ``llmswitch.breaker.state``, and on failure ``error.type`` with ERROR status. The serving
  attempt also carries the response attributes and ends with the call;
- metrics ``gen_ai.client.operation.duration``, ``gen_ai.client.operation.time_to_first_chunk``
  (streams) and ``gen_ai.client.token.usage``, with the conventions' advised buckets.

Prompts and completions (``gen_ai.input.messages`` / ``gen_ai.output.messages``) are recorded only
with ``capture_content``. No credential reaches an attribute: servers are named by host and port,
errors by class, kind and a message the router has already scrubbed.

The gateway continues a caller's trace by making its plan inside :func:`continue_trace`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import __version__

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

    from ..errors import Attempt
    from ..router import Hook, RouteInfo, Router

__all__ = ["OtelHooks", "continue_trace"]

# request parameters → GenAI request attributes
_REQUEST_ATTRS = {
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
    "n": "gen_ai.request.choice_count",
}
_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
_TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]


@contextmanager
def continue_trace(headers: Mapping[str, str]) -> Iterator[None]:
    """Make the trace named by ``headers`` (``traceparent``/``tracestate``) current: calls
    planned inside become children of the caller's span. For the gateway, around ``router.plan``."""
    token = context.attach(propagate.extract(headers))
    try:
        yield
    finally:
        context.detach(token)


class _Call:
    """What the hooks keep for one call (on ``RouteInfo.telemetry``)."""

    __slots__ = ("attrs", "fallback", "serving", "span", "started")

    def __init__(self, span: Span, attrs: dict[str, Any]) -> None:
        self.span = span
        self.attrs = attrs  # the metric attributes
        self.started = time.perf_counter()
        self.fallback: tuple[str, str] | None = None  # (failed target, its failure class)
        self.serving: Span | None = None


class OtelHooks:
    """The router hooks that emit spans and metrics; one instance per Router."""

    def __init__(self, router: Router, *, tracer_provider: TracerProvider | None = None,
                 meter_provider: MeterProvider | None = None, capture_content: bool = False) -> None:
        self._router = router
        self._content = capture_content
        self._tracer = trace.get_tracer("llmswitch", __version__, tracer_provider)
        meter = metrics.get_meter("llmswitch", __version__, meter_provider)
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS)
        self._first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk", unit="s",
            description="Time to receive the first chunk of a streamed response",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS)
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Tokens used per call",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS)
        self._targets: dict[str, dict[str, Any]] = {}  # "provider/model" → its static attributes

    def hooks(self) -> dict[str, Hook]:
        return {"on_start": self.on_start, "on_attempt": self.on_attempt, "on_fallback": self.on_fallback,
                "on_end": self.on_end}

    # -- hooks -------------------------------------------------------------------------------------
    def on_start(self, info: RouteInfo, model: str, operation: str, stream: bool, params: Mapping[str, Any]) -> None:
        attrs: dict[str, Any] = {"gen_ai.operation.name": operation, "gen_ai.request.model": model}
        span_attrs = dict(attrs)
        if info.route is not None:
            span_attrs["llmswitch.route"] = info.route
        if stream:
            span_attrs["gen_ai.request.stream"] = True
        for key, name in _REQUEST_ATTRS.items():
            value = params.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                span_attrs[name] = value
        stop = params.get("stop")
        if stop:
            span_attrs["gen_ai.request.stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        if self._content and params.get("messages") is not None:
            span_attrs["gen_ai.input.messages"] = _json(params["messages"])
        span = self._tracer.start_span(f"{operation} {model}", kind=SpanKind.INTERNAL, attributes=span_attrs)
        info.telemetry = _Call(span, attrs)

    def on_attempt(self, info: RouteInfo, attempt: Attempt) -> None:
        call = info.telemetry
        if not isinstance(call, _Call):
            return
        now = time.time_ns()
        attrs = dict(self._target(attempt.target))
        attrs["gen_ai.operation.name"] = call.attrs["gen_ai.operation.name"]
        attrs["llmswitch.attempt"] = info.attempt_count
        attrs["llmswitch.breaker.state"] = self._breaker(attempt.target, info.route)
        if call.fallback is not None:
            attrs["llmswitch.fallback.from"], attrs["llmswitch.fallback.reason"] = call.fallback
            call.fallback = None
        span = self._tracer.start_span(f"{call.attrs['gen_ai.operation.name']} {attrs['gen_ai.request.model']}",
                                       context=trace.set_span_in_context(call.span), kind=SpanKind.CLIENT,
                                       attributes=attrs, start_time=now - int(attempt.elapsed * 1e9))
        if attempt.error is None:
            call.serving = span  # it ends with the call, once the response is known
            return
        _failed(span, attempt.error, attempt.kind, self._router.redact)
        span.end(now)

    def on_fallback(self, info: RouteInfo, failed: Attempt, next_target: str) -> None:
        call = info.telemetry
        if isinstance(call, _Call):
            call.fallback = (failed.target, failed.kind or "other")
            call.span.add_event("llmswitch.fallback", {"llmswitch.fallback.from": failed.target,
                                                       "llmswitch.fallback.to": next_target,
                                                       "llmswitch.fallback.reason": failed.kind or "other"})

    def on_end(self, info: RouteInfo, error: BaseException | None, response: Mapping[str, Any] | None) -> None:
        call = info.telemetry
        if not isinstance(call, _Call):
            return
        info.telemetry = None
        span, attrs = call.span, call.attrs
        result = self._result(info, response)
        if info.provider is not None:
            attrs["gen_ai.provider.name"] = self._target(f"{info.provider}/{info.model}")["gen_ai.provider.name"]
        if "gen_ai.response.model" in result:
            attrs["gen_ai.response.model"] = result["gen_ai.response.model"]
        span.set_attributes(result)
        span.set_attributes({"llmswitch.attempts": info.attempt_count, "llmswitch.fallbacks": info.fallbacks,
                             "llmswitch.retries": info.retries})
        if info.provider is not None:
            span.set_attribute("llmswitch.target", f"{info.provider}/{info.model}")
        for currency, cost in (("usd", info.cost_usd), ("cny", info.cost_cny)):
            if cost is not None:
                span.set_attribute(f"llmswitch.cost.{currency}", cost)
        if call.serving is not None:
            call.serving.set_attributes(result)
            if error is not None:
                _failed(call.serving, error, getattr(error, "kind", None), self._router.redact)
            call.serving.end()
        if error is not None:
            _failed(span, error, getattr(error, "kind", None), self._router.redact)
            attrs["error.type"] = type(error).__name__
        span.end()
        self._record(info, attrs, time.perf_counter() - call.started)

    # -- parts -------------------------------------------------------------------------------------
    def _result(self, info: RouteInfo, response: Mapping[str, Any] | None) -> dict[str, Any]:
        """The response attributes: model, id, finish reasons, usage (and the completion, if asked)."""
        out: dict[str, Any] = {}
        if info.model is not None:
            out["gen_ai.response.model"] = info.model
        if response:
            if isinstance(response.get("model"), str):
                out["gen_ai.response.model"] = response["model"]
            if isinstance(response.get("id"), str):
                out["gen_ai.response.id"] = response["id"]
            choices = [c for c in response.get("choices") or () if isinstance(c, Mapping)]
            reasons = [str(c["finish_reason"]) for c in choices if c.get("finish_reason")]
            if reasons:
                out["gen_ai.response.finish_reasons"] = reasons
            if self._content and choices:
                out["gen_ai.output.messages"] = _json([c.get("message") for c in choices])
        usage = info.usage or {}
        if "prompt_tokens" in usage:
            out["gen_ai.usage.input_tokens"] = usage["prompt_tokens"]
        if "completion_tokens" in usage:
            out["gen_ai.usage.output_tokens"] = usage["completion_tokens"]
        return out

    def _record(self, info: RouteInfo, attrs: dict[str, Any], seconds: float) -> None:
        self._duration.record(seconds, attrs)
        if info.first_token_latency is not None:
            self._first_chunk.record(info.first_token_latency, attrs)
        usage = info.usage or {}
        for token_type, key in (("input", "prompt_tokens"), ("output", "completion_tokens")):
            if key in usage:
                self._tokens.record(usage[key], {**attrs, "gen_ai.token.type": token_type})

    def _target(self, key: str) -> dict[str, Any]:
        """A target's static attributes: provider type, model, server host and port (never the URL)."""
        found = self._targets.get(key)
        if found is None:
            name, _, model = key.partition("/")
            found = {"gen_ai.request.model": model, "llmswitch.target": key}
            provider = self._router.settings.providers.get(name)
            if provider is not None:
                found["gen_ai.provider.name"] = provider.preset.name
                url = urlsplit(provider.base_url)
                if url.hostname:
                    found["server.address"] = url.hostname
                    found["server.port"] = url.port or (443 if url.scheme == "https" else 80)
            self._targets[key] = found
        return found

    def _breaker(self, target: str, route: str | None) -> str:
        try:
            return self._router.breaker(target, route).state
        except Exception:  # a target the router cannot name (never expected): the span still goes out
            return "unknown"


def _failed(span: Span, error: BaseException, kind: str | None, redact: Any) -> None:
    span.set_attribute("error.type", type(error).__name__)
    if kind:
        span.set_attribute("llmswitch.error.kind", kind)
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        span.set_attribute("http.response.status_code", status)
    span.set_status(Status(StatusCode.ERROR, redact(str(error))[:500]))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
