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
  attempt also carries the response attributes and ends with the call (a stream: at its end);
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
    from ..policies import CircuitBreaker
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
    """What the hooks gather for one call (on ``RouteInfo.telemetry``); spans are made from it at the end."""

    __slots__ = ("attempts", "attrs", "fallbacks", "parent", "pending", "span_attrs", "start_ns", "started")

    def __init__(self, attrs: dict[str, Any], span_attrs: dict[str, Any]) -> None:
        self.attrs = attrs  # the metric attributes
        self.span_attrs = span_attrs
        self.parent = context.get_current()  # the caller's context: an incoming traceparent, an app span
        self.start_ns = time.time_ns()
        self.started = time.perf_counter()
        self.fallbacks: list[tuple[int, dict[str, str]]] = []  # (time, event attributes)
        self.pending: dict[str, str] | None = None  # the fallback the next attempt follows
        self.attempts: list[tuple[Attempt, int, dict[str, Any]]] = []  # (attempt, end time, its attributes)


class OtelHooks:
    """The router hooks that emit spans and metrics; one instance per Router.

    The hooks during a call only note what happened; :meth:`on_end` makes every span at once, with
    its real start and end times. So each span is built with all its attributes in one go (the
    SDK's cost is per call, not per attribute set), and a call that never ends leaves no open span.
    """

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
        self._breakers: dict[tuple[str, str | None], CircuitBreaker | None] = {}

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
        info.telemetry = _Call(attrs, span_attrs)

    def on_attempt(self, info: RouteInfo, attempt: Attempt) -> None:
        call = info.telemetry
        if not isinstance(call, _Call):
            return
        attrs = dict(self._target(attempt.target))
        attrs["llmswitch.attempt"] = info.attempt_count
        breaker = self._breaker(attempt.target, info.route)
        if breaker is not None:
            attrs["llmswitch.breaker.state"] = breaker.state
        if call.pending is not None:  # the attempt after a fallback says why the previous target was left
            attrs["llmswitch.fallback.from"] = call.pending["llmswitch.fallback.from"]
            attrs["llmswitch.fallback.reason"] = call.pending["llmswitch.fallback.reason"]
            call.pending = None
        call.attempts.append((attempt, time.time_ns(), attrs))

    def on_fallback(self, info: RouteInfo, failed: Attempt, next_target: str) -> None:
        call = info.telemetry
        if isinstance(call, _Call):
            event = {"llmswitch.fallback.from": failed.target, "llmswitch.fallback.to": next_target,
                     "llmswitch.fallback.reason": failed.kind or "other"}
            call.fallbacks.append((time.time_ns(), event))
            call.pending = event

    def on_end(self, info: RouteInfo, error: BaseException | None, response: Mapping[str, Any] | None) -> None:
        call = info.telemetry
        if not isinstance(call, _Call):
            return
        info.telemetry = None
        end_ns = time.time_ns()
        result = self._result(info, response)
        span = self._call_span(call, info, error, result)
        parent = trace.set_span_in_context(span)
        operation = call.attrs["gen_ai.operation.name"]
        for attempt, ended, attrs in call.attempts:
            serving = attempt.error is None
            failure = error if serving else attempt.error
            attrs["gen_ai.operation.name"] = operation
            if serving:
                attrs.update(result)
            if failure is not None:
                attrs.update(_error_attrs(failure, None if serving else attempt.kind))
            child = self._tracer.start_span(f"{operation} {attrs['gen_ai.request.model']}", context=parent,
                                            kind=SpanKind.CLIENT, attributes=attrs,
                                            start_time=ended - int(attempt.elapsed * 1e9))
            if failure is not None:
                child.set_status(Status(StatusCode.ERROR, self._router.redact(str(failure))[:500]))
            child.end(end_ns if serving else ended)  # the serving attempt lasts as long as the call (a stream)
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, self._router.redact(str(error))[:500]))
        span.end(end_ns)
        self._record(info, call.attrs, time.perf_counter() - call.started)

    def _call_span(self, call: _Call, info: RouteInfo, error: BaseException | None,
                   result: dict[str, Any]) -> Span:
        """The call's span, started at the call's start with every attribute; the metric attributes too."""
        attrs = call.attrs
        span_attrs = {**call.span_attrs, **result, "llmswitch.attempts": info.attempt_count}
        if info.provider is not None:
            served = self._target(f"{info.provider}/{info.model}")
            attrs["gen_ai.provider.name"] = served["gen_ai.provider.name"]
            span_attrs["llmswitch.target"] = served["llmswitch.target"]
        if "gen_ai.response.model" in result:
            attrs["gen_ai.response.model"] = result["gen_ai.response.model"]
        if info.fallbacks or info.retries:  # each attribute costs the SDK a little: none that says nothing
            span_attrs["llmswitch.fallbacks"], span_attrs["llmswitch.retries"] = info.fallbacks, info.retries
        for currency, cost in (("usd", info.cost_usd), ("cny", info.cost_cny)):
            if cost is not None:
                span_attrs[f"llmswitch.cost.{currency}"] = cost
        if error is not None:
            attrs["error.type"] = span_attrs["error.type"] = type(error).__name__
        span = self._tracer.start_span(f"{attrs['gen_ai.operation.name']} {attrs['gen_ai.request.model']}",
                                       context=call.parent, kind=SpanKind.INTERNAL, attributes=span_attrs,
                                       start_time=call.start_ns)
        for when, event in call.fallbacks:
            span.add_event("llmswitch.fallback", event, when)
        return span

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

    def _breaker(self, target: str, route: str | None) -> CircuitBreaker | None:
        key = (target, route)
        if key not in self._breakers:
            try:
                self._breakers[key] = self._router.breaker(target, route)
            except Exception:  # a target the router cannot name (never expected): spans go out without it
                self._breakers[key] = None
        return self._breakers[key]


def _error_attrs(error: BaseException, kind: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"error.type": type(error).__name__}
    kind = kind or getattr(error, "kind", None)
    if kind:
        out["llmswitch.error.kind"] = kind
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        out["http.response.status_code"] = status
    return out


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
