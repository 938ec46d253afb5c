"""One call's walk through its targets: :class:`CallPlan`, a small state machine without I/O.

The driver (:mod:`llmswitch._engine`) asks :meth:`CallPlan.next_step` for a step — :class:`Try` a
target, :class:`Sleep`, or :class:`Fail` — runs it, and reports each attempt's outcome with exactly
one of ``succeeded``, ``failed`` or ``released``. The rules it applies are listed in
:mod:`llmswitch.router`, which makes plans (:meth:`Router.plan`) and keeps what outlives a call.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx2

from . import errors
from .config import Policy, Timeouts
from .policies import ADMITTED, Permit, retry_wait
from .router import Fail, RouteInfo, Sleep, Step, Target, Try, _TargetState
from .transport import Deadline

if TYPE_CHECKING:
    from .router import Router
    from .state.gate import Verdict
    from .state.redis import Also

__all__ = ["CallPlan"]

log = logging.getLogger("llmswitch")

_RETRYABLE = frozenset({"rate_limit", "server_error", "timeout", "connection", "conflict"})
_HARD_BREAKER = frozenset({"auth", "permission", "quota"})  # open the breaker at once
_CLASS_OF_KIND = {"permission": "auth", "conflict": "server_error"}  # error kind → fallback_on class
# a quota error is openai's RateLimitError: routes that fall back on rate limits fall back on it too
_ALSO_COVERS = {"quota": ("billing", "rate_limit")}


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
