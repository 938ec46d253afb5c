"""Prometheus metrics, labelled by route, provider, model and status.

Attempts and fallbacks come from the router's hooks (``on_attempt``, ``on_fallback``); everything
about a finished request (status, latency, time to first token, tokens, cost, retries) is observed
once, when the gateway has sent its answer. Breaker states are read at scrape time. Label children
are cached per label tuple: ``labels()`` costs more than the increment itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ..errors import Attempt
from ..router import RouteInfo, Router

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LABELS = ("route", "provider", "model")
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_BREAKER = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


class _Breakers(Collector):
    """llmswitch_circuit_state per route target: 0 closed, 1 half-open, 2 open."""

    def __init__(self, router: Router) -> None:
        self.router = router

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("llmswitch_circuit_state", "Circuit breaker state per route target "
                                   "(0 closed, 1 half-open, 2 open)", labels=list(_LABELS))
        for route, target in targets(self.router):
            provider, _, model = target.partition("/")
            family.add_metric([route, provider, model], _BREAKER[self.router.breaker(target, route).state])
        yield family


class _StateFallbacks(Collector):
    """llmswitch_state_fallbacks_total: shared-state operations answered from this process's memory
    because Redis failed or was in an outage (always 0 with memory state)."""

    def __init__(self, router: Router) -> None:
        self.router = router

    def collect(self) -> Iterator[CounterMetricFamily]:
        shared = self.router.shared_state
        yield CounterMetricFamily("llmswitch_state_fallbacks", "Shared-state operations answered locally because "
                                  "Redis failed or was out", value=shared.fallbacks if shared is not None else 0)


def targets(router: Router) -> list[tuple[str, str]]:
    """(route, 'provider/model') for every target of every route, nested routes flattened."""
    out: list[tuple[str, str]] = []
    for route in router.settings.config.routes:
        out += [(route, t.key) for t, _ in router.resolve(route)[1]]
    return out


class Metrics:
    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series double the scrape for nothing an operator reads
        self.registry = registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter("llmswitch_requests", "Requests answered, by final status",
                                [*_LABELS, "status"], registry=registry)
        self.errors = Counter("llmswitch_errors", "Requests that failed, by failure class",
                              [*_LABELS, "kind"], registry=registry)
        self.attempts = Counter("llmswitch_attempts", "Upstream attempts by outcome (ok or failure class)",
                                ["provider", "model", "outcome"], registry=registry)
        self.fallbacks = Counter("llmswitch_fallbacks", "Moves to the next target after a failure",
                                 [*_LABELS], registry=registry)
        self.retries = Counter("llmswitch_retries", "Retries of the same target", [*_LABELS], registry=registry)
        self.latency = Histogram("llmswitch_request_duration_seconds", "Time to the whole answer (routing "
                                 "included)", [*_LABELS], buckets=_BUCKETS, registry=registry)
        self.first_token = Histogram("llmswitch_time_to_first_token_seconds", "Streams: time to the first "
                                     "chunk", [*_LABELS], buckets=_BUCKETS, registry=registry)
        self.tokens = Counter("llmswitch_tokens", "Tokens by direction (in: prompt, out: completion)",
                              [*_LABELS, "direction"], registry=registry)
        self.cost = Counter("llmswitch_cost", "Spend by currency (catalog or file prices)",
                            [*_LABELS, "currency"], registry=registry)
        self._children: dict[tuple[Any, ...], Any] = {}

    def watch(self, router: Router) -> None:
        """Report ``router``'s breaker states and shared-state fallbacks (the router is built with this
        object's hooks)."""
        self.registry.register(_Breakers(router))
        self.registry.register(_StateFallbacks(router))

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # -- router hooks ------------------------------------------------------------------------------
    def hooks(self) -> dict[str, Any]:
        return {"on_attempt": self.on_attempt, "on_fallback": self.on_fallback}

    def on_attempt(self, info: RouteInfo, attempt: Attempt) -> None:
        provider, _, model = attempt.target.partition("/")
        self._child(self.attempts, provider, model, attempt.kind or "ok").inc()

    def on_fallback(self, info: RouteInfo, failed: Attempt, next_target: str) -> None:
        provider, _, model = failed.target.partition("/")
        self._child(self.fallbacks, info.route or "-", provider, model).inc()

    # -- one finished request ----------------------------------------------------------------------
    def observe(self, info: RouteInfo | None, status: int, kind: str | None) -> None:
        labels = _labels(info)
        self._child(self.requests, *labels, str(status)).inc()
        if kind is not None:
            self._child(self.errors, *labels, kind).inc()
        if info is None:
            return
        if info.retries:
            self._child(self.retries, *labels).inc(info.retries)
        if status < 400 and info.latency is not None:
            self._child(self.latency, *labels).observe(info.latency)
        if info.first_token_latency is not None:
            self._child(self.first_token, *labels).observe(info.first_token_latency)
        usage = info.usage
        if usage:
            self._child(self.tokens, *labels, "in").inc(usage.get("prompt_tokens", 0))
            self._child(self.tokens, *labels, "out").inc(usage.get("completion_tokens", 0))
        if info.cost_usd is not None:
            self._child(self.cost, *labels, "USD").inc(info.cost_usd)
        if info.cost_cny is not None:
            self._child(self.cost, *labels, "CNY").inc(info.cost_cny)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _labels(info: RouteInfo | None) -> tuple[str, str, str]:
    """(route, provider, model): the target that served, else the last one tried."""
    if info is None:
        return "-", "-", "-"
    if info.provider is None and info.attempts:
        provider, _, model = info.attempts[-1].target.partition("/")
        return info.route or "-", provider, model
    return info.route or "-", info.provider or "-", info.model or "-"
