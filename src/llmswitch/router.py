"""Picks targets, decides retries and fallbacks, enforces deadlines — without doing any I/O.

A :class:`CallPlan` is a small state machine: it proposes the next step (try a target, sleep,
or fail) and is told each outcome. The sync and async clients drive the same plan, so there is
one retry loop for both. Policy objects (breakers, budgets, strategies) come from
:mod:`llmswitch.policies`; providers and routes from :mod:`llmswitch.config`.

The rules, in order: a target whose breaker is open is skipped. A failure whose class is in
``fallback_on`` moves to the next target at once while one remains; the last target standing (or
every target, with ``retry.in_place``) is retried with backoff when the error is retryable,
within the retry budget. A Retry-After longer than the remaining deadline is never waited for.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .adapters import adapter_class
from .adapters.base import Adapter, Provider
from .catalog import ModelInfo
from .config import Policy, Settings
from .policies import Candidate, CircuitBreaker, LatencyTracker, RetryBudget, backoff_delay, order_targets
from .transport import Deadline

__all__ = ["CallPlan", "Fail", "RouteInfo", "Router", "Sleep", "Target", "Try"]

CNY_PER_USD = 7.2  # for ranking and reporting costs across currencies; override per model in the file
_RETRYABLE = frozenset({"rate_limit", "server_error", "timeout", "connection", "conflict"})
_HARD_BREAKER = frozenset({"auth", "permission"})  # open the breaker at once


@dataclass(frozen=True)
class Target:
    provider: Provider
    model: str
    adapter: Adapter

    @property
    def key(self) -> str:
        return f"{self.provider.name}/{self.model}"

    @property
    def info(self) -> ModelInfo | None:
        return self.provider.model_info(self.model)


@dataclass
class RouteInfo:
    """How a response was obtained; read it with :func:`llmswitch.route_info`."""

    route: str | None
    provider: str | None = None
    model: str | None = None
    attempts: list[errors.Attempt] = field(default_factory=list)
    fallbacks: int = 0
    latency: float | None = None
    first_token_latency: float | None = None
    usage: dict[str, int] | None = None
    cost_usd: float | None = None
    cost_cny: float | None = None

    @property
    def attempt_count(self) -> int:
        return len(self.attempts)

    def price(self, info: ModelInfo | None, usage: Mapping[str, Any] | None) -> None:
        if not usage:
            return
        self.usage = {k: v for k, v in usage.items() if isinstance(v, int)}
        if info is None or info.input_price is None:
            return
        amount = (usage.get("prompt_tokens", 0) * info.input_price
                  + usage.get("completion_tokens", 0) * (info.output_price or 0.0)) / 1e6
        if info.currency == "CNY":
            self.cost_cny, self.cost_usd = amount, amount / CNY_PER_USD
        else:
            self.cost_usd, self.cost_cny = amount, amount * CNY_PER_USD


@dataclass(frozen=True)
class Try:
    target: Target
    deadline: Deadline
    retry: int  # 0 for the first try of this target


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Fail:
    error: BaseException


Step = Try | Sleep | Fail
Hook = Callable[..., None]


class _TargetState:
    def __init__(self, policy: Policy) -> None:
        self.breaker = CircuitBreaker(policy.circuit_breaker)
        self.budget = RetryBudget(policy.retry.budget)
        self.latency = LatencyTracker()


class Router:
    """Long-lived routing state for one client: providers, adapters, breakers, budgets."""

    def __init__(self, settings: Settings, *, default_provider: str | None = None,
                 hooks: Mapping[str, Hook] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.default_provider = default_provider
        self.hooks = dict(hooks or {})
        self.clock = clock
        self._adapters: dict[str, Adapter] = {}
        self._states: dict[tuple[str, str], _TargetState] = {}
        self._lock = threading.Lock()

    # -- resolution -----------------------------------------------------------------------
    def adapter(self, provider: Provider) -> Adapter:
        adapter = self._adapters.get(provider.name)
        if adapter is None:
            with self._lock:
                adapter = self._adapters.get(provider.name)
                if adapter is None:
                    adapter = adapter_class(provider.preset.protocol)(provider)
                    self._adapters[provider.name] = adapter
        return adapter

    def target(self, provider_name: str, model: str) -> Target:
        provider = self.settings.provider(provider_name)
        return Target(provider, model, self.adapter(provider))

    def resolve(self, model: str) -> tuple[str | None, list[tuple[Target, float]]]:
        """``model`` → (route name or None, [(target, weight)]) with nested routes flattened."""
        routes = self.settings.config.routes
        if model in routes:
            return model, self._flatten(model, 1.0)
        provider, sep, rest = model.partition("/")
        if sep and provider in self.settings.config.providers and rest:
            return None, [(self.target(provider, rest), 1.0)]
        if self.default_provider is not None:
            return None, [(self.target(self.default_provider, model), 1.0)]
        default_route = self.settings.config.default_route
        if default_route is not None and model in ("", "default"):
            return default_route, self._flatten(default_route, 1.0)
        known_routes = ", ".join(sorted(routes)) or "none"
        known_providers = ", ".join(sorted(self.settings.config.providers)) or "none"
        raise errors.ConfigError(
            f"unknown model {model!r}: use a route ({known_routes}) or 'provider/model' with a configured "
            f"provider ({known_providers})"
        )

    def _flatten(self, route: str, weight: float) -> list[tuple[Target, float]]:
        out: list[tuple[Target, float]] = []
        for spec in self.settings.config.routes[route].targets:
            if spec.target in self.settings.config.routes:
                out += self._flatten(spec.target, spec.weight)
            else:
                provider, _, model = spec.target.partition("/")
                out.append((self.target(provider, model), spec.weight * weight))
        return out

    def state(self, target: Target, policy: Policy) -> _TargetState:
        key = (target.provider.name, target.model)
        state = self._states.get(key)
        if state is None:
            with self._lock:
                state = self._states.setdefault(key, _TargetState(policy))
        return state

    def plan(self, model: str, params: Mapping[str, Any], *, operation: str = "chat",
             timeout: float | None = None, max_retries: int | None = None) -> CallPlan:
        route, targets = self.resolve(model)
        policy = self.settings.policy_for(route)
        if max_retries is not None and route is None:
            policy = policy.model_copy(update={"retry": policy.retry.model_copy(
                update={"max_attempts": max_retries + 1})})
        strategy = self.settings.config.routes[route].strategy if route else "fallback"
        usable, skipped = _capable(targets, params, operation)
        candidates = [Candidate(t.key, w, self.state(t, policy).latency.value, _unit_price(t.info))
                      for t, w in usable]
        by_key = {t.key: t for t, _ in usable}
        ordered = [by_key[c.key] for c in order_targets(strategy, route or model, candidates)]
        return CallPlan(self, route or model, ordered, policy, skipped, timeout=timeout,
                        single=route is None)

    def emit(self, hook: str, *args: Any) -> None:
        fn = self.hooks.get(hook)
        if fn is not None:
            fn(*args)


class CallPlan:
    """One call's walk through its targets. Not thread-safe: one plan per call."""

    def __init__(self, router: Router, name: str, targets: list[Target], policy: Policy,
                 skipped: list[errors.Attempt], *, timeout: float | None, single: bool) -> None:
        self.router = router
        self.name = name
        self.targets = targets
        self.policy = policy
        self.single = single
        self.info = RouteInfo(route=None if single else name, attempts=list(skipped))
        self.started = router.clock()
        total = policy.timeouts.total
        self.total = min(total, timeout) if (timeout is not None and total is not None) else (timeout or total)
        self._index = 0
        self._retries = 0
        self._pending: Try | None = None
        self._failed: BaseException | None = None

    def remaining(self) -> float | None:
        if self.total is None:
            return None
        return self.total - (self.router.clock() - self.started)

    def deadline(self, *, stream: bool) -> Deadline:
        t = self.policy.timeouts
        left = self.remaining()

        def cut(value: float | None) -> float | None:
            if left is None:
                return value
            return max(min(value, left) if value is not None else left, 0.001)

        read = t.first_token if stream and t.first_token is not None else None
        return Deadline(connect=cut(t.connect), read=cut(read), idle=cut(t.idle) if stream else None)

    def next_step(self, *, stream: bool = False) -> Step:
        if self._failed is not None:
            return Fail(self._failed)
        left = self.remaining()
        if left is not None and left <= 0:
            return Fail(self._exhausted("the total deadline passed"))
        if self._pending is not None:
            step, self._pending = self._pending, None
            return Try(step.target, self.deadline(stream=stream), step.retry)
        while self._index < len(self.targets):
            target = self.targets[self._index]
            state = self.router.state(target, self.policy)
            if state.breaker.allow():
                state.budget.deposit()
                return Try(target, self.deadline(stream=stream), 0)
            self.info.attempts.append(errors.Attempt(target.key, None, 0.0, "circuit_open"))
            self._index += 1
        return Fail(self._exhausted("no target is available"))

    # -- outcomes ---------------------------------------------------------------------------
    def succeeded(self, step: Try, elapsed: float, *, first_token: float | None = None) -> None:
        state = self.router.state(step.target, self.policy)
        state.breaker.record_success()
        state.latency.observe(first_token if first_token is not None else elapsed)
        self.info.provider, self.info.model = step.target.provider.name, step.target.model
        self.info.attempts.append(errors.Attempt(step.target.key, None, elapsed, None))
        self.info.latency = self.router.clock() - self.started
        self.info.first_token_latency = first_token
        self.router.emit("on_success", self.info)

    def failed(self, step: Try, error: BaseException, elapsed: float) -> Sleep | None:
        """Record a failure; returns a Sleep when the same target should be retried after it."""
        kind = _kind_of(error)
        target = step.target
        state = self.router.state(target, self.policy)
        self.info.attempts.append(errors.Attempt(target.key, error, elapsed, kind))
        self.router.emit("on_attempt", self.info, error)
        retryable = _retryable(error, kind)
        retry_after = getattr(error, "retry_after", None)
        if retryable or kind in _HARD_BREAKER:
            state.breaker.record_failure(hard=kind in _HARD_BREAKER, retry_after=retry_after)
        falls_back = kind in self.policy.fallback_on
        if not falls_back and not retryable:
            self._failed = error
            return None
        more_targets = self._index + 1 < len(self.targets)
        retry = self.policy.retry
        may_retry = (retryable and step.retry + 1 < retry.max_attempts
                     and (retry.in_place or not more_targets or not falls_back))
        if may_retry:
            left = self.remaining()
            delay = retry_after if retry_after is not None else backoff_delay(retry.backoff, step.retry + 1)
            fits = left is None or delay < left
            if fits and state.budget.try_spend():
                self._pending = Try(target, Deadline(None, None), step.retry + 1)
                self._retries += 1
                return Sleep(delay) if delay > 0 else None
        if more_targets and falls_back:
            self._index += 1
            self.info.fallbacks += 1
            self.router.emit("on_fallback", self.info, error)
            return None
        self._failed = self._final(error)
        return None

    def _final(self, error: BaseException) -> BaseException:
        self.router.emit("on_failure", self.info, error)
        if self.single or (len([a for a in self.info.attempts if a.error is not None]) <= 1 \
                and len(self.targets) <= 1):
            _attach(error, self.info)
            return error
        failure = errors.AllTargetsFailedError(self.name, self.info.attempts)
        failure.__cause__ = error
        return failure

    def _exhausted(self, why: str) -> BaseException:
        last = next((a.error for a in reversed(self.info.attempts) if a.error is not None), None)
        if last is not None and (self.single or len(self.targets) <= 1):
            _attach(last, self.info)
            return last
        self.router.emit("on_failure", self.info, last)
        failure = errors.AllTargetsFailedError(self.name, self.info.attempts)
        failure.args = (f"{failure.args[0]}\n  ({why})",)
        failure.__cause__ = last
        return failure


def _attach(error: BaseException, info: RouteInfo) -> None:
    with contextlib.suppress(AttributeError):
        error.route_info = info  # type: ignore[attr-defined]


def _kind_of(error: BaseException) -> str:
    kind = getattr(error, "kind", None)
    return str(kind) if kind else "other"


def _retryable(error: BaseException, kind: str) -> bool:
    response = getattr(error, "response", None)
    if response is not None:
        should = response.headers.get("x-should-retry")
        if should == "true":
            return True
        if should == "false":
            return False
        if response.status_code in (408, 409, 429) or response.status_code >= 500:
            return True
    return kind in _RETRYABLE


def _unit_price(info: ModelInfo | None) -> float | None:
    if info is None or info.input_price is None:
        return None
    price = info.input_price + (info.output_price or 0.0)
    return price / CNY_PER_USD if info.currency == "CNY" else price


# -- capability filtering -------------------------------------------------------------------------

def needs(params: Mapping[str, Any], operation: str) -> tuple[set[str], int]:
    """Capabilities a request needs, and a rough token estimate (4 characters a token)."""
    if operation == "embeddings":
        return {"embeddings"}, 0
    required: set[str] = set()
    if params.get("tools") or params.get("functions"):
        required.add("tools")
    fmt = params.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") in ("json_object", "json_schema"):
        required.add("json_mode")
    chars = 0
    for message in params.get("messages") or ():
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping):
                    if part.get("type") in ("image_url", "input_image", "image"):
                        required.add("vision")
                    chars += len(str(part.get("text", "")))
    output = params.get("max_completion_tokens") or params.get("max_tokens") or 0
    return required, chars // 4 + int(output)


def _capable(targets: list[tuple[Target, float]], params: Mapping[str, Any],
             operation: str) -> tuple[list[tuple[Target, float]], list[errors.Attempt]]:
    if len(targets) < 2:
        return targets, []
    required, tokens = needs(params, operation)
    usable: list[tuple[Target, float]] = []
    skipped: list[errors.Attempt] = []
    for target, weight in targets:
        info = target.info
        if info is None:  # unknown model: nothing to go by, so it may try
            usable.append((target, weight))
            continue
        lacking = sorted(required - info.capabilities)
        too_long = info.context_window is not None and tokens > info.context_window
        if lacking or too_long:
            why = f"lacks {', '.join(lacking)}" if lacking else f"context window {info.context_window} < ~{tokens}"
            skipped.append(errors.Attempt(target.key, None, 0.0, f"skipped: {why}"))
        else:
            usable.append((target, weight))
    if not usable:
        lines = "; ".join(f"{a.target} ({a.kind})" for a in skipped)
        raise errors.ConfigError(f"no target can take this request: {lines}")
    return usable, skipped
