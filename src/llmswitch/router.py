"""Picks targets, decides retries and fallbacks, enforces deadlines — without doing any I/O.

:class:`Router` keeps what outlives a call (targets, breakers, budgets, latency estimates, shared
state) and makes each call's :class:`~llmswitch.plan.CallPlan`, a small state machine. The drivers
(:mod:`llmswitch._engine`) ask it for a step — :class:`Try` a target, :class:`Sleep`, or
:class:`Fail` — run it, and report each attempt's outcome with exactly one of ``succeeded``,
``failed`` or ``released``. Sync and async share the plan, so there is one retry loop for both;
it needs no tenacity because backoff, Retry-After, deadlines, budgets and fallback are all
decisions about *which* step comes next, which this module makes in one place.

The rules, in order:

- Targets whose breaker is open are skipped (a call with a single target — a direct
  ``provider/model`` or a one-target route — has no alternative and is always tried; its outcome
  still feeds the breaker). Targets that cannot take the request were filtered out before.
- A failure whose class is not in ``fallback_on`` and is not retryable (a 400, say) is raised at
  once: it would fail everywhere.
- A retryable failure (connection, timeout, 408/409/429/5xx, or ``x-should-retry: true``) on
  the last target standing — or on any target with ``retry.in_place`` — is retried after the
  backoff or the server's Retry-After, within ``retry.max_attempts`` and the target's retry
  budget. A wait longer than the remaining deadline or ``retry.max_wait`` (60 s) is never taken
  (no retry then); a Retry-After of 0, in the past or not a number backs off instead. A
  ``quota`` failure (quota exhausted, account in arrears) is never retried: no wait refills it.
- Otherwise a failure in ``fallback_on`` moves on to the next target at once (``quota`` is an
  openai ``RateLimitError``: ``rate_limit`` in ``fallback_on`` covers it, as do ``quota`` and
  its former name ``billing``). After a
  ``context_window`` failure, targets whose window is not larger are skipped.
- When no target is left the call fails: with the error itself when only one target was
  involved, else with :class:`~llmswitch.errors.AllTargetsFailedError` listing every attempt.

Hooks (``OpenAI(hooks={...})``, plus those :func:`llmswitch.instrument` installs), each called
inline and never allowed to break a call:

- ``on_start(info: RouteInfo, model: str, operation: str, stream: bool, params: Mapping)`` — when
  the plan is made, in the caller's context (tracing notes the caller's trace here);
- ``on_attempt(info: RouteInfo, attempt: Attempt)`` — after every attempt, success or failure
  (``attempt.error`` is None on success; ``attempt.kind`` is the failure class);
- ``on_fallback(info: RouteInfo, failed: Attempt, next_target: str)`` — when moving on to
  another target after a failure;
- ``on_success(info: RouteInfo)`` — when the call succeeded (a stream: when it completed);
- ``on_failure(info: RouteInfo, error: BaseException)`` — with the exception the caller gets;
- ``on_end(info: RouteInfo, error: BaseException | None, response: Mapping | None)`` — once, when the
  record is final: after ``priced`` or ``stream_completed`` (whose ``response=`` is passed on), or
  when a stream was closed or interrupted, or the call failed.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import errors
from ._secret import redactor
from .adapters import adapter_class
from .adapters.base import Adapter, Provider
from .capabilities import capable
from .catalog import ModelInfo
from .config import Policy, RouteConfig, Settings
from .policies import (
    ADMITTED,
    Candidate,
    CircuitBreaker,
    LatencyTracker,
    Permit,
    RetryBudget,
    RoundRobin,
    order_targets,
)
from .state.gate import LocalGate, Usage
from .telemetry import hooks_for

if TYPE_CHECKING:
    from .plan import CallPlan
    from .responses import ResponseStore
    from .state.admission import SharedGate
    from .state.gate import Verdict
    from .state.redis import Also, FailOpen
from .transport import Deadline, abort

__all__ = ["Fail", "Hook", "RouteInfo", "Router", "Sleep", "Slot", "Target", "Try"]

log = logging.getLogger("llmswitch")
log.addHandler(logging.NullHandler())  # a library: silent unless the application configures logging

HOOKS = ("on_start", "on_attempt", "on_fallback", "on_success", "on_failure", "on_end")
Hook = Callable[..., None]


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
    """How a response was obtained; read it with :func:`llmswitch.route_info`.

    ``attempts`` lists every target considered, in order: tries that failed (with their error
    and failure class), targets skipped (``kind`` 'circuit_open' or 'skipped: …'), hedges that
    lost ('cancelled') and the try that served the call (``error`` None, ``kind`` None).
    """

    route: str | None
    provider: str | None = None
    model: str | None = None
    attempts: list[errors.Attempt] = field(default_factory=list)
    fallbacks: int = 0
    retries: int = 0
    hedges: int = 0
    latency: float | None = None
    first_token_latency: float | None = None
    usage: dict[str, int] | None = None
    cost_usd: float | None = None
    cost_cny: float | None = None
    telemetry: Any = field(default=None, repr=False, compare=False)  # what a tracer keeps for this call

    @property
    def attempt_count(self) -> int:
        """Requests actually sent (skipped targets not counted)."""
        return sum(1 for a in self.attempts if a.kind is None or not _not_sent(a.kind))

    @property
    def reasons(self) -> list[tuple[str, str]]:
        """(target, failure class) for each failed or skipped target, in order."""
        return [(a.target, a.kind) for a in self.attempts if a.kind is not None]

    def price(self, info: ModelInfo | None, usage: Mapping[str, Any] | None, cny_per_usd: float = 7.2) -> None:
        """Record usage and its cost (catalog prices, or the file's ``prices:``) in CNY and USD."""
        if not usage:
            return
        self.usage = {k: v for k, v in usage.items() if isinstance(v, int)}
        if info is None or info.input_price is None:
            return
        amount = (int(usage.get("prompt_tokens") or 0) * info.input_price
                  + int(usage.get("completion_tokens") or 0) * (info.output_price or 0.0)) / 1e6
        if info.currency == "CNY":
            self.cost_cny, self.cost_usd = amount, amount / cny_per_usd
        else:
            self.cost_usd, self.cost_cny = amount, amount * cny_per_usd


def _not_sent(kind: str) -> bool:
    return kind == "circuit_open" or kind.startswith("skipped")


class Slot:
    """What a driver needs to cancel one in-flight attempt (hedging): its response, once it has one."""

    __slots__ = ("cancelled", "response")

    def __init__(self) -> None:
        self.response: Any = None
        self.cancelled = False

    def attach(self, response: Any) -> None:
        self.response = response
        if self.cancelled:
            self.cancel()

    def cancel(self) -> None:
        """Abort the attempt's connection from any thread (sync); async drivers cancel the task."""
        self.cancelled = True
        if self.response is not None:
            abort(self.response)


@dataclass(frozen=True, slots=True)
class Try:
    target: Target
    deadline: Deadline
    retry: int = 0  # 0 for the first try of this target
    number: int = 1  # the attempt's number within the call
    permit: Permit = ADMITTED
    hedge: bool = False
    slot: Slot = field(default_factory=Slot, compare=False)


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Fail:
    error: BaseException


Step = Try | Sleep | Fail


class _TargetState:
    """Health shared by every call to one target: breaker, retry budget, latency estimates."""

    def __init__(self, policy: Policy, clock: Callable[[], float], breaker: CircuitBreaker | None = None,
                 trackers: tuple[LatencyTracker, LatencyTracker] | None = None) -> None:
        self.breaker = breaker or CircuitBreaker(policy.circuit_breaker, clock)
        self.budget = RetryBudget(policy.retry.budget)
        # non-streamed: whole response; streamed: time to first output
        self.latency, self.first_token = trackers or (LatencyTracker(), LatencyTracker())

    def tracker(self, stream: bool) -> LatencyTracker:
        return self.first_token if stream else self.latency


def _shared_state(settings: Settings) -> FailOpen | None:
    """Redis-backed state when the file's ``state:`` asks for it (imported only then)."""
    if settings.config.state.backend != "redis":
        return None
    from .state import open_state
    from .state.redis import FailOpen

    state = open_state(settings.config.state)
    assert isinstance(state, FailOpen)
    return state


def _gate(settings: Settings, shared: FailOpen | None) -> LocalGate | SharedGate:
    """Where attempts are admitted (provider quotas, breakers) and usage is counted."""
    from .state.gate import Limits

    limits = {name: Limits(p.rpm, p.tpm) for name, p in settings.config.providers.items() if p.rpm or p.tpm}
    local = LocalGate(limits)
    if shared is None:
        return local
    from .state.admission import SharedGate

    return SharedGate(shared, local)


class Router:
    """Long-lived routing state for one client: providers, adapters, breakers, budgets."""

    def __init__(self, settings: Settings, *, default_provider: str | None = None,
                 hooks: Mapping[str, Hook] | None = None, clock: Callable[[], float] = time.monotonic,
                 rng: Callable[[], float] = random.random) -> None:
        unknown = set(hooks or {}) - set(HOOKS)
        if unknown:
            raise ValueError(f"unknown hook(s) {', '.join(sorted(unknown))}; known: {', '.join(HOOKS)}")
        self.settings = settings
        self.default_provider = default_provider
        self.hooks = hooks_for(self, hooks or {})
        self.clock = clock
        self.rng = rng
        self._adapters: dict[str, Adapter] = {}
        self._states: dict[Any, _TargetState] = {}
        self._resolved: dict[str, tuple[str | None, list[tuple[Target, float]]]] = {}
        self._policies: dict[tuple[str | None, int | None], Policy] = {}
        self._rotation: dict[str, RoundRobin] = {}
        self._lock = threading.Lock()
        self._credentials = tuple(s for p in settings.providers.values() for s in p.credentials.values())
        self._redactor = redactor(self._credentials)
        self._redacting = tuple(s.get() for s in self._credentials)  # the values it was made for
        self.shared_state = _shared_state(settings)
        self.gate = _gate(settings, self.shared_state)
        self._response_store: ResponseStore | None = None

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
        found = self._resolved.get(model)
        if found is None:
            found = self._resolve(model)
            if len(self._resolved) < 4096:
                self._resolved[model] = found
        return found

    def _resolve(self, model: str) -> tuple[str | None, list[tuple[Target, float]]]:
        config = self.settings.config
        if model in config.routes:
            return model, self._flatten(model, 1.0, set())
        provider, sep, rest = model.partition("/")
        if sep and provider in config.providers and rest:
            return None, [(self.target(provider, rest), 1.0)]
        if self.default_provider is not None:
            return None, [(self.target(self.default_provider, model), 1.0)]
        if config.default_route is not None and model in ("", "default"):
            return config.default_route, self._flatten(config.default_route, 1.0, set())
        known_routes = ", ".join(sorted(config.routes)) or "none"
        known_providers = ", ".join(sorted(config.providers)) or "none"
        raise errors.ConfigError(
            f"unknown model {model!r}: use a route ({known_routes}) or 'provider/model' with a configured "
            f"provider ({known_providers})"
        )

    def _flatten(self, route: str, weight: float, seen: set[str]) -> list[tuple[Target, float]]:
        out: list[tuple[Target, float]] = []
        for spec in self.settings.config.routes[route].targets:
            if spec.target in self.settings.config.routes:
                out += self._flatten(spec.target, spec.weight * weight, seen)
            elif spec.target not in seen:  # a target reached twice through nested routes is tried once
                seen.add(spec.target)
                provider, _, model = spec.target.partition("/")
                out.append((self.target(provider, model), spec.weight * weight))
        return out

    def state(self, target: Target, policy: Policy) -> _TargetState:
        """One health record per target and breaker/budget configuration, shared across calls."""
        key = (target.provider.name, target.model, policy.circuit_breaker, policy.retry.budget)
        state = self._states.get(key)
        if state is None:
            with self._lock:
                state = self._states.get(key)
                if state is None:
                    state = self._states[key] = _TargetState(policy, self.clock, *self._shared_health(target, policy))
        return state

    def _shared_health(self, target: Target, policy: Policy) -> tuple[()] | tuple[
            CircuitBreaker, tuple[LatencyTracker, LatencyTracker]]:
        """A target's breaker and latency trackers in shared state (none: this process's own)."""
        if self.shared_state is None:
            return ()
        from .state.breaker import SharedBreaker
        from .state.spread import SharedLatency

        state, key = self.shared_state, target.key
        return (SharedBreaker(policy.circuit_breaker, state, key, self.clock),
                (SharedLatency(state, key, "latency"), SharedLatency(state, key, "first_token")))

    def admit(self, target: Target, policy: Policy, *, force: bool, also: list[Also] | None = None) -> Verdict:
        """Admit one attempt: the provider's rpm and tpm quotas (fleet-wide when state is shared), then
        the target's breaker; ``force`` (no other target) admits past an open breaker, not past a quota.
        ``also``: statistics commands (shared strategies) that ride on the same round trip."""
        return self.gate.admit(target.provider.name, self.state(target, policy).breaker, force, also or ())

    async def aadmit(self, target: Target, policy: Policy, *, force: bool, also: list[Also] | None = None) -> Verdict:
        """:meth:`admit` without blocking the event loop (shared state: redis-py's asyncio client)."""
        gate = self.gate
        breaker = self.state(target, policy).breaker
        if isinstance(gate, LocalGate):
            return gate.admit(target.provider.name, breaker, force)
        return await gate.aadmit(target.provider.name, breaker, force, also or ())

    def record_usage(self, target: Target, info: RouteInfo) -> None:
        """Count what a served call used against its provider (tpm, usage per day and month)."""
        tokens = info.usage.get("total_tokens") if info.usage else None
        if tokens is None and info.usage:
            tokens = info.usage.get("prompt_tokens", 0) + info.usage.get("completion_tokens", 0)
        self.gate.record(target.provider.name, Usage(1, tokens or 0, info.cost_usd or 0.0, info.cost_cny or 0.0))

    def usage(self, provider: str) -> dict[str, Usage]:
        """Calls, tokens and spend of ``provider`` this UTC day and month: the fleet's when state is
        shared (usage not yet written is written first), else this process's."""
        if provider not in self.settings.config.providers:
            known = ", ".join(sorted(self.settings.config.providers))
            raise ValueError(f"unknown provider {provider!r}; known: {known}")
        return self.gate.usage(provider)

    def response_store(self) -> ResponseStore | None:
        """The Responses store in shared state (None: use the process's own store)."""
        if self.shared_state is None:
            return None
        if self._response_store is None:
            from .state.responses import SharedResponseStore

            self._response_store = SharedResponseStore(self.shared_state)
        return self._response_store

    def close(self) -> None:
        """Write pending usage and close the connections to shared state (Redis), if any."""
        if self.shared_state is not None:
            self.gate.flush()
            self.shared_state.close()

    async def aclose(self) -> None:
        """:meth:`close`, and the running event loop's asyncio connections too."""
        if self.shared_state is not None:
            await self.shared_state.aclose()
        self.close()

    def breaker(self, target: str, route: str | None = None) -> CircuitBreaker:
        """The breaker of ``'provider/model'`` as ``route`` configures it (for inspection and tests)."""
        provider, _, model = target.partition("/")
        return self.state(self.target(provider, model), self.settings.policy_for(route)).breaker

    def _policy(self, route: str | None, max_retries: int | None) -> Policy:
        key = (route, max_retries)
        policy = self._policies.get(key)
        if policy is None:
            policy = self.settings.policy_for(route)
            spec = self.settings.config.routes.get(route) if route else None
            if max_retries is not None and (spec is None or spec.retry is None
                                            or "max_attempts" not in spec.retry.model_fields_set):
                retry = policy.retry.model_copy(update={"max_attempts": max_retries + 1})
                policy = policy.model_copy(update={"retry": retry})
            self._policies[key] = policy
        return policy

    def plan(self, model: str, params: Mapping[str, Any], *, operation: str = "chat", stream: bool = False,
             timeout: float | Mapping[str, float | None] | None = None,
             max_retries: int | None = None) -> CallPlan:
        """A plan for one call. ``timeout``: seconds for the whole call, or a mapping of
        :class:`~llmswitch.config.Timeouts` fields that override the configured limits."""
        route, targets = self.resolve(model)
        policy = self._policy(route, max_retries)
        spec: RouteConfig | None = self.settings.config.routes.get(route) if route else None
        usable, skipped = capable(targets, params, operation, stream)
        ordered = [t for t, _ in usable]
        also: list[Also] = []
        if spec is not None and spec.strategy != "fallback" and len(usable) > 1:
            ordered = self._order(route or model, spec.strategy, usable, policy, stream, also)
        overrides = {"total": timeout} if isinstance(timeout, (int, float)) else dict(timeout or {})
        from .plan import CallPlan  # plan.py builds on this module's types

        plan = CallPlan(self, route or model, route, ordered, policy, skipped, overrides=overrides,
                        single=len(targets) == 1, stream=stream,
                        hedge_after=spec.hedge_after if spec is not None else None, also=also)
        self.emit("on_start", plan.info, model, operation, stream, params)
        return plan

    def _order(self, route: str, strategy: str, usable: list[tuple[Target, float]], policy: Policy,
               stream: bool, also: list[Also]) -> list[Target]:
        """The strategy's order; with shared state, ``also`` gets the commands that keep its statistics
        fleet-wide (sent with the call's first admission; see :mod:`llmswitch.state.spread`)."""
        rate = self.settings.config.cny_per_usd
        trackers = [self.state(t, policy).tracker(stream) for t, _ in usable]
        if strategy == "least_latency" and self.shared_state is not None:
            from .state.spread import SharedLatency

            also += [a for a in (t.also() for t in trackers if isinstance(t, SharedLatency)) if a is not None]
        candidates = [Candidate(t.key, w, tracker.value, _unit_price(t.info, rate))
                      for (t, w), tracker in zip(usable, trackers, strict=True)]
        rotation = None
        if strategy == "round_robin":
            with self._lock:
                rotation = self._rotation.get(route) or self._rotation.setdefault(route, self._new_rotation(route))
        ordered = order_targets(strategy, candidates, rotation=rotation, rng=self.rng)
        if rotation is not None and self.shared_state is not None:
            from .state.spread import SharedRotation

            claim = rotation.also() if isinstance(rotation, SharedRotation) else None
            also += [claim] if claim is not None else []
        by_key = {t.key: t for t, _ in usable}
        return [by_key[c.key] for c in ordered]

    def _new_rotation(self, route: str) -> RoundRobin:
        if self.shared_state is None:
            return RoundRobin()
        from .state.spread import SharedRotation

        return SharedRotation(self.shared_state, route)

    # -- observability ---------------------------------------------------------------------------
    def emit(self, hook: str, *args: Any) -> None:
        fn = self.hooks.get(hook)
        if fn is not None:
            try:
                fn(*args)
            except Exception:  # a broken hook must never break a call
                log.exception("llmswitch hook %s raised", hook)

    def redact(self, text: str) -> str:
        """``text`` with every credential of this config (in any spelling) and every URL password
        masked: :func:`llmswitch._secret.redact`, compiled once per set of values (a live key's
        current value included)."""
        values = tuple(s.get() for s in self._credentials)
        if values != self._redacting:  # a live key changed
            self._redactor, self._redacting = redactor(values), values
        return self._redactor(text)

    def scrub(self, error: BaseException) -> None:
        """Mask credentials (and URL passwords) a vendor or a library echoed into an error's
        message or body."""
        text = str(error)
        clean = self.redact(text)
        if clean != text:
            error.args = (clean, *error.args[1:])
            if hasattr(error, "message"):
                error.message = self.redact(str(error.message))
        body = getattr(error, "body", None)
        if body is not None and self.redact(repr(body)) != repr(body):
            error.body = _redact_data(body, self.redact)  # type: ignore[attr-defined]


def _redact_data(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_data(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_data(v, redact) for v in value]
    return value


def _unit_price(info: ModelInfo | None, cny_per_usd: float) -> float | None:
    if info is None or info.input_price is None:
        return None
    price = info.input_price + (info.output_price or 0.0)
    return price / cny_per_usd if info.currency == "CNY" else price
