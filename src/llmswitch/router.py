"""Picks targets, decides retries and fallbacks, enforces deadlines — without doing any I/O.

A :class:`CallPlan` is a small state machine. The driver (``OpenAI._drive`` / ``AsyncOpenAI._drive``)
asks :meth:`CallPlan.next_step` for a step — :class:`Try` a target, :class:`Sleep`, or
:class:`Fail` — runs it, and reports each attempt's outcome with exactly one of ``succeeded``,
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

import contextlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx2

from . import errors
from ._secret import redactor
from .adapters import adapter_class
from .adapters.base import Adapter, Provider
from .capabilities import capable
from .catalog import ModelInfo
from .config import Policy, RouteConfig, Settings, Timeouts
from .policies import (
    ADMITTED,
    Candidate,
    CircuitBreaker,
    LatencyTracker,
    Permit,
    RetryBudget,
    RoundRobin,
    order_targets,
    retry_wait,
)
from .state.gate import LocalGate, Usage
from .telemetry import hooks_for

if TYPE_CHECKING:
    from .responses import ResponseStore
    from .state.admission import SharedGate
    from .state.gate import Verdict
    from .state.redis import Also, FailOpen
from .transport import Deadline, abort

__all__ = ["CallPlan", "Fail", "Hook", "RouteInfo", "Router", "Sleep", "Slot", "Target", "Try"]

log = logging.getLogger("llmswitch")
log.addHandler(logging.NullHandler())  # a library: silent unless the application configures logging

_RETRYABLE = frozenset({"rate_limit", "server_error", "timeout", "connection", "conflict"})
_HARD_BREAKER = frozenset({"auth", "permission", "quota"})  # open the breaker at once
_CLASS_OF_KIND = {"permission": "auth", "conflict": "server_error"}  # error kind → fallback_on class
# a quota error is openai's RateLimitError: routes that fall back on rate limits fall back on it too
_ALSO_COVERS = {"quota": ("billing", "rate_limit")}
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


@dataclass
class _Retry:
    target: Target
    retry: int
    wait: float
    slept: bool = False


class CallPlan:
    """One call's walk through its targets. Used from one thread (or task) at a time."""

    def __init__(self, router: Router, name: str, route: str | None, targets: list[Target], policy: Policy,
                 skipped: list[errors.Attempt], *, overrides: Mapping[str, float | None], single: bool,
                 stream: bool = False, hedge_after: float | None = None, also: list[Also] | None = None) -> None:
        self.router = router
        self.name = name
        self.route = route
        self.targets = targets
        self.policy = policy
        self.single = single
        self.stream = stream
        self.hedge_after = hedge_after
        self.overrides = overrides
        self.info = RouteInfo(route=route, attempts=list(skipped))
        self.started = router.clock()
        self.total = overrides.get("total", policy.timeouts.total)  # the call's own timeout= wins
        self._next = 0  # index of the next target not yet tried
        self._retries: deque[_Retry] = deque()
        self._failed: BaseException | None = None
        self._fallback_from: errors.Attempt | None = None
        self._window_floor = 0
        self._rate_wait: tuple[Target, str, float] | None = None  # the shortest wait a provider quota asked for
        self._number = 0
        self.in_flight = 0
        self._served: Target | None = None
        self._permit: Permit = ADMITTED  # the serving attempt's breaker admission
        self._ended = False
        self._closed = False  # on_end was emitted
        self._also = also  # shared statistics commands, sent with the first admission
        # async drivers admit on the event loop first (see aprepare) when admission does I/O
        self.prefetch = router.shared_state is not None
        self._ready: dict[str, tuple[Target, Verdict]] = {}  # target key → its admission, made by aprepare

    # -- time ---------------------------------------------------------------------------------
    def remaining(self) -> float | None:
        if self.total is None:
            return None
        return self.total - (self.router.clock() - self.started)

    def deadline(self, target: Target) -> Deadline:
        """This attempt's limits: defaults < provider < route < call, cut to what is left."""
        t: Timeouts = self.router.settings.attempt_timeouts(self.route, target.provider.name)
        o = self.overrides
        cap = self.remaining()
        own = self.router.settings.provider_total(target.provider.name)
        if own is not None:
            cap = own if cap is None else min(cap, own)

        def cut(name: str) -> float | None:
            value = o[name] if name in o else getattr(t, name)
            if cap is None:
                return value
            return max(min(value, cap) if value is not None else cap, 0.001)

        if self.stream:
            first = cut("first_token")
            return Deadline(cut("connect"), first, cut("idle"), first, cap)
        return Deadline(cut("connect"), cut("read"), None, None, cap)

    # -- steps ----------------------------------------------------------------------------------
    def next_step(self) -> Step:
        """What to do now: Try a target, Sleep (then ask again), or Fail with the final error."""
        if self._failed is not None:
            if not self._ended:
                self._finish(self._failed)
            return Fail(self._failed)
        left = self.remaining()
        if left is not None and left <= 0:
            return Fail(self._exhausted("the total deadline passed"))
        while self._retries:
            retry = self._retries[0]
            if not retry.slept and retry.wait > 0:
                retry.slept = True
                return Sleep(retry.wait if left is None else min(retry.wait, left))
            self._retries.popleft()
            permit = self._admit_or_skip(retry.target)
            if permit is not None:
                return self._try(retry.target, retry.retry, permit)
        found = self._take()
        if found is not None:
            target, permit = found
            if self._fallback_from is not None:
                self.info.fallbacks += 1
                log.info("%s: %s failed (%s), falling back to %s", self.name, self._fallback_from.target,
                         self._fallback_from.kind, target.key)
                self.router.emit("on_fallback", self.info, self._fallback_from, target.key)
                self._fallback_from = None
            return self._try(target, 0, permit)
        return Fail(self._exhausted("no target is left"))

    def hedge_step(self) -> Try | None:
        """The next untried target, to race against the attempts in flight (hedging)."""
        if self._failed is not None or self.router.clock() - self.started >= (self.total or float("inf")):
            return None
        found = self._take()
        if found is None:
            return None
        self.info.hedges += 1
        log.debug("%s: no first byte after %ss, hedging with %s", self.name, self.hedge_after, found[0].key)
        return self._try(found[0], 0, found[1], hedge=True)

    def _take(self) -> tuple[Target, Permit] | None:
        while self._next < len(self.targets):
            target = self.targets[self._next]
            self._next += 1
            why = self._excluded(target)
            if why:
                self._skip(target, why)
                continue
            permit = self._admit_or_skip(target)
            if permit is not None:
                return target, permit
        return None

    async def aprepare(self) -> None:
        """For async drivers, before :meth:`next_step`: admit the targets it is about to try on the
        event loop (until one is admitted), so shared state's round trips do not block the loop.
        ``next_step`` then uses these verdicts; one it does not use gives its probe slot back."""
        self._drop_ready()
        for target in self._upcoming():
            also, self._also = self._also, None
            verdict = await self.router.aadmit(target, self.policy, force=self.single, also=also)
            self._ready[target.key] = (target, verdict)
            if verdict.permit is not None:
                return

    def _upcoming(self) -> list[Target]:
        """The targets next_step would admit now, in order (none when a deadline, a sleep or a
        failure comes first; only the first when it is a retry)."""
        left = self.remaining()
        if self._failed is not None or (left is not None and left <= 0):
            return []
        if self._retries:
            retry = self._retries[0]
            return [retry.target] if retry.slept or retry.wait <= 0 else []
        return [t for t in self.targets[self._next:] if not self._excluded(t)]

    def _drop_ready(self) -> None:
        for target, verdict in self._ready.values():
            if verdict.permit is not None:  # admitted for a try that did not come
                self.router.state(target, self.policy).breaker.release(verdict.permit)
        self._ready.clear()

    def _admit_or_skip(self, target: Target) -> Permit | None:
        """The provider's quotas, then the breaker (a single-target call has nothing else to try, so
        an open breaker admits it anyway)."""
        ready = self._ready.pop(target.key, None) if self._ready else None
        if ready is not None:
            verdict = ready[1]
        else:
            also, self._also = self._also, None
            verdict = self.router.admit(target, self.policy, force=self.single, also=also)
        if verdict.permit is not None:
            return verdict.permit
        if verdict.limit is not None:
            if self._rate_wait is None or verdict.wait < self._rate_wait[2]:
                self._rate_wait = (target, verdict.limit, verdict.wait)
            self._skip(target, f"skipped: {target.provider.name} {verdict.limit} limit reached")
        else:
            self._skip(target, "circuit_open")
        return None

    def _excluded(self, target: Target) -> str | None:
        if self._window_floor:
            info = target.info
            window = info.context_window if info is not None else None
            if window is not None and window <= self._window_floor:
                return f"skipped: context window {window} is not larger than {self._window_floor}"
        return None

    def _try(self, target: Target, retry: int, permit: Permit, *, hedge: bool = False) -> Try:
        if retry == 0:
            self.router.state(target, self.policy).budget.deposit()
        self._number += 1
        self.in_flight += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: attempt %d -> %s%s", self.name, self._number, target.key,
                      f" (retry {retry})" if retry else "")
        return Try(target, self.deadline(target), retry, self._number, permit, hedge)

    def _skip(self, target: Target, why: str) -> None:
        self.info.attempts.append(errors.Attempt(target.key, None, 0.0, why))
        log.debug("%s: skipping %s (%s)", self.name, target.key, why)

    def _more(self) -> bool:
        """Is another target left that could be tried now?"""
        for target in self.targets[self._next:]:
            if not self._excluded(target) and self.router.state(target, self.policy).breaker.available():
                return True
        return False

    # -- outcomes ---------------------------------------------------------------------------
    def succeeded(self, step: Try, elapsed: float, *, first_token: float | None = None) -> None:
        """The attempt produced a response (a stream: its first output — the commit point)."""
        self.in_flight -= 1
        state = self.router.state(step.target, self.policy)
        self._permit = step.permit
        if not self.stream:  # a stream's verdict waits for its end (see stream_completed/_interrupted)
            self._healthy(state, step.target)
        state.tracker(self.stream).observe(first_token if first_token is not None else elapsed)
        attempt = errors.Attempt(step.target.key, None, elapsed, None)
        self.info.provider, self.info.model = step.target.provider.name, step.target.model
        self.info.attempts.append(attempt)
        self.info.first_token_latency = first_token
        self._served = step.target
        self.router.emit("on_attempt", self.info, attempt)
        if not self.stream:
            self._succeed()

    def _healthy(self, state: _TargetState, target: Target) -> None:
        if state.breaker.record_success(self._permit):
            log.info("circuit for %s closed", target.key)

    def _succeed(self) -> None:
        self.info.latency = self.router.clock() - self.started
        self._ended = True
        self.router.emit("on_success", self.info)

    def failed(self, step: Try, error: BaseException, elapsed: float) -> None:
        """Record a failed attempt and decide what the next step will be."""
        self.in_flight -= 1
        self.router.scrub(error)
        target = step.target
        kind = _kind_of(error)
        attempt = errors.Attempt(target.key, error, elapsed, kind)
        self.info.attempts.append(attempt)
        self.router.emit("on_attempt", self.info, attempt)
        state = self.router.state(target, self.policy)
        unsupported = isinstance(error, errors.UnsupportedParameterError)  # refused before sending
        retryable = not unsupported and _retryable(error, kind)
        retry_after: float | None = getattr(error, "retry_after", None)
        if retryable or kind in _HARD_BREAKER:
            state.tracker(self.stream).penalize(elapsed)
            if state.breaker.record_failure(step.permit, hard=kind in _HARD_BREAKER, retry_after=retry_after):
                log.warning("circuit for %s opened for %.3gs after %s", target.key, state.breaker.retry_in(), kind)
        elif isinstance(error, errors.APIStatusError) and not unsupported:
            state.breaker.record_success(step.permit)  # it answered: the target is up, the request is not
        else:
            state.breaker.release(step.permit)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: %s failed after %.3fs (%s): %s", self.name, target.key, elapsed, kind,
                      self.router.redact(str(error))[:300])

        falls_back = unsupported or _falls_back(kind, self.policy.fallback_on)
        if not retryable and not falls_back:
            self._fail_now(error)
            return
        if kind == "context_window" and target.info is not None and target.info.context_window:
            self._window_floor = max(self._window_floor, target.info.context_window)
        retry = self.policy.retry
        more = falls_back and self._more()
        if retryable and step.retry + 1 < retry.max_attempts and (retry.in_place or not more):
            delay = retry_wait(retry_after, retry, step.retry + 1, self.router.rng)
            left = self.remaining()
            cap = retry.max_wait if left is None else min(left, retry.max_wait)
            if delay >= cap:
                log.debug("%s: %s asks to wait %.3gs, more than the %.3gs this call may wait", self.name,
                          target.key, delay, cap)
            elif state.budget.try_spend():
                self._retries.append(_Retry(target, step.retry + 1, delay))
                self.info.retries += 1
                log.debug("%s: retrying %s in %.2fs (%s)", self.name, target.key, delay, kind)
                return
            else:
                log.info("%s: retry budget of %s is spent; not retrying (%s)", self.name, target.key, kind)
        if falls_back:
            self._fallback_from = attempt  # next_step moves on, or fails when nothing is left
            return
        self._fail_now(error)

    def released(self, step: Try, elapsed: float = 0.0, why: str = "cancelled") -> None:
        """The attempt ended with no verdict (a hedge that lost, a cancelled call)."""
        self.in_flight -= 1
        self.router.state(step.target, self.policy).breaker.release(step.permit)
        self.info.attempts.append(errors.Attempt(step.target.key, None, elapsed, why))

    # -- streams after the commit point -------------------------------------------------------
    def stream_completed(self, usage: Mapping[str, Any] | None, response: Mapping[str, Any] | None = None) -> None:
        """``response``: what observers may read of the stream as a whole (``model``, ``id``,
        ``choices[].finish_reason``), passed on to ``on_end``."""
        if self._served is not None:
            self.info.price(self._served.info, usage, self.router.settings.config.cny_per_usd)
            self.router.record_usage(self._served, self.info)
            if not self._ended:
                self._healthy(self.router.state(self._served, self.policy), self._served)
        if not self._ended:
            self._succeed()
        self._end(None, response)

    def stream_closed(self) -> None:
        """The caller closed the stream before its end: the target was delivering, so it is up."""
        if not self._ended and self._served is not None:
            self._ended = True
            self._healthy(self.router.state(self._served, self.policy), self._served)
        self._end(None)

    def stream_interrupted(self, error: BaseException) -> None:
        if self._ended:
            return
        self._ended = True
        self.info.latency = self.router.clock() - self.started
        self.router.scrub(error)
        if self._served is not None:
            state = self.router.state(self._served, self.policy)
            if not _counts_against(error):
                self._healthy(state, self._served)
            elif state.breaker.record_failure(self._permit):
                log.warning("circuit for %s opened after an interrupted stream", self._served.key)
        log.info("%s: stream from %s interrupted: %s", self.name, self._served.key if self._served else "?",
                 self.router.redact(str(error))[:300])
        _attach(error, self.info)
        self.router.emit("on_failure", self.info, error)
        self._end(error)

    def priced(self, usage: Mapping[str, Any] | None, response: Mapping[str, Any] | None = None) -> None:
        """A non-stream call's response arrived: price it; the call is over."""
        if self._served is not None:
            self.info.price(self._served.info, usage, self.router.settings.config.cny_per_usd)
            self.router.record_usage(self._served, self.info)
        self._end(None, response)

    def _end(self, error: BaseException | None, response: Mapping[str, Any] | None = None) -> None:
        if not self._closed:
            self._closed = True
            self.router.emit("on_end", self.info, error, response)

    # -- the final error ----------------------------------------------------------------------------
    def _fail_now(self, error: BaseException) -> None:
        """A failure no other target would fix (or one the route does not fall back on): the call
        fails with it — once no hedge in flight can still succeed (next_step reports it)."""
        self._failed = error

    def _exhausted(self, why: str) -> BaseException:
        last = next((a.error for a in reversed(self.info.attempts) if a.error is not None), None)
        error: BaseException
        if last is None and self._rate_wait is not None:  # only quotas stopped it: the caller should wait
            error = _rate_limited(*self._rate_wait)
        elif last is not None and self.single:
            error = last
        else:
            failure = errors.AllTargetsFailedError(self.name, self.info.attempts)
            failure.args = (self.router.redact(f"{failure.args[0]}\n  ({why})"),)
            failure.__cause__ = last
            error = failure
        self._failed = error
        self._finish(error)
        return error

    def _finish(self, error: BaseException) -> None:
        self.info.latency = self.router.clock() - self.started
        self._ended = True
        _attach(error, self.info)
        log.debug("%s: failed: %s", self.name, self.router.redact(str(error))[:300])
        self.router.emit("on_failure", self.info, error)
        self._end(error)


def _rate_limited(target: Target, limit: str, wait: float) -> errors.RateLimitError:
    """Our own 429: the provider's configured rpm or tpm is used up (fleet-wide when state is shared)."""
    seconds = max(int(wait + 0.999), 1)
    response = httpx2.Response(429, headers={"retry-after": str(seconds)},
                               request=httpx2.Request("POST", target.provider.base_url or "http://llmswitch.invalid"))
    return errors.RateLimitError(f"{target.provider.name}: its {limit} limit is reached; retry in {seconds}s",
                                 response=response, body=None, provider=target.provider.name, model=target.model,
                                 code=f"{limit}_limit", retry_after=wait)


def _attach(error: BaseException, info: RouteInfo) -> None:
    with contextlib.suppress(AttributeError):
        error.route_info = info  # type: ignore[attr-defined]


def _falls_back(kind: str, fallback_on: tuple[str, ...]) -> bool:
    if _CLASS_OF_KIND.get(kind, kind) in fallback_on:
        return True
    return any(also in fallback_on for also in _ALSO_COVERS.get(kind, ()))


def _kind_of(error: BaseException) -> str:
    kind = getattr(error, "kind", None)
    return str(kind) if kind else "other"


def _retryable(error: BaseException, kind: str) -> bool:
    """openai's rule: x-should-retry first, then 408/409/429/5xx, connection errors and timeouts."""
    response = getattr(error, "response", None)
    if response is not None:
        should = response.headers.get("x-should-retry")
        if should == "true":
            return True
        if should == "false":
            return False
    if kind == "quota":  # no retry refills a quota or pays a bill
        return False
    status = getattr(error, "status_code", None)
    if isinstance(status, int) and (status in (408, 409, 429) or status >= 500):
        return True
    return kind in _RETRYABLE


def _counts_against(error: BaseException) -> bool:
    cause = error.__cause__ if isinstance(error, errors.StreamInterruptedError) else error
    if cause is None:
        return True
    return _retryable(cause, _kind_of(cause))


def _unit_price(info: ModelInfo | None, cny_per_usd: float) -> float | None:
    if info is None or info.input_price is None:
        return None
    price = info.input_price + (info.output_price or 0.0)
    return price / cny_per_usd if info.currency == "CNY" else price
