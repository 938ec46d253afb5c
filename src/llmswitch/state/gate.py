"""Admitting one attempt — the provider's rpm and tpm, then the target's breaker — and counting usage.

The router asks a gate one question per attempt (:meth:`LocalGate.admit`) and reports what a served
call used (:meth:`LocalGate.record`); it never talks to a store itself. :class:`LocalGate` answers
from this process; :class:`~.admission.SharedGate` answers for the fleet in one Redis round trip.

- rpm: a sliding window, exact: at most ``rpm`` admissions in any 60 s.
- tpm: a token bucket of ``tpm`` tokens refilled at ``tpm`` per minute. An attempt is admitted while
  the bucket holds at least one token; the tokens a call used are taken afterwards (they are only
  known then), so the bucket may go into debt, which the refill pays back before the next admission.
- usage: calls, tokens and spend per provider per UTC day and month.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..policies import ADMITTED, CircuitBreaker, Permit
from .memory import MemoryState
from .windows import Window, window

__all__ = ["Limits", "LocalGate", "TokenBucket", "Usage", "Verdict", "periods"]


@dataclass(frozen=True, slots=True)
class Limits:
    """A provider's quotas from the providers file (None: no limit)."""

    rpm: int | None = None
    tpm: int | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """An attempt's admission: a breaker permit, or the reason it was refused and how long to wait."""

    permit: Permit | None
    limit: str | None = None  # 'rpm' or 'tpm' when a provider quota refused it (else the breaker did)
    wait: float = 0.0


ADMIT = Verdict(ADMITTED)


@dataclass(slots=True)
class Usage:
    """What served calls used, per provider and period."""

    calls: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    cost_cny: float = 0.0

    def add(self, other: Usage) -> None:
        self.calls += other.calls
        self.tokens += other.tokens
        self.cost_usd += other.cost_usd
        self.cost_cny += other.cost_cny


_periods: tuple[float, Window, Window] = (0.0, Window("", 0.0), Window("", 0.0))


def periods(now: float) -> tuple[Window, Window]:
    """The UTC day and month ``now`` falls in (the usage counters' windows), computed once a day."""
    global _periods
    start, day, month = _periods
    if not start <= now < day.ends:
        day, month = window("day", now), window("month", now)
        _periods = (day.ends - 86_400.0, day, month)
    return day, month


class TokenBucket:
    """``per_minute`` tokens banked at most, refilled continuously; see the module's note on debt."""

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.capacity = float(per_minute)
        self._clock = clock
        self._level = self.capacity
        self._at = clock()

    def _refill(self) -> float:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._at) * self.capacity / 60.0)
        self._at = now
        return self._level

    def wait(self) -> float:
        """0 when an attempt may go now, else seconds until the bucket holds one token."""
        level = self._refill()
        return 0.0 if level >= 1 else (1 - level) * 60.0 / self.capacity

    def take(self, tokens: float) -> None:
        self._refill()
        self._level -= tokens


class LocalGate:
    """This process's quotas, breakers and usage (the default, and the fallback while Redis is out)."""

    def __init__(self, limits: dict[str, Limits], clock: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self.clock = clock
        self._rpm = MemoryState(clock)
        self._buckets: dict[str, TokenBucket] = {}
        self._usage: dict[tuple[str, str], Usage] = {}  # (provider, window key) → totals
        self._lock = threading.Lock()

    def admit(self, provider: str, breaker: CircuitBreaker, force: bool, also: Sequence[object] = ()) -> Verdict:
        """``force``: the call has no other target, so an open breaker admits it anyway. (``also``:
        shared statistics commands, which only :class:`~.admission.SharedGate` sends.)"""
        limits = self.limits.get(provider)
        if limits is not None and limits.tpm is not None:
            with self._lock:
                wait = self._bucket(provider, limits.tpm).wait()
            if wait:
                return Verdict(None, "tpm", wait)
        permit = CircuitBreaker.acquire(breaker)
        if permit is None:
            if not force:
                return Verdict(None, None, CircuitBreaker.retry_in(breaker))
            permit = CircuitBreaker.force(breaker)
        if limits is not None and limits.rpm is not None:
            rpm_wait = self._rpm.admit(f"{provider}#rpm", limits.rpm, 60.0)
            if rpm_wait is not None:
                CircuitBreaker.release(breaker, permit)
                return Verdict(None, "rpm", rpm_wait)
        return ADMIT if permit is ADMITTED else Verdict(permit)

    def record(self, provider: str, used: Usage) -> None:
        """Count a served call's usage (and take its tokens from the provider's tpm bucket)."""
        limits = self.limits.get(provider)
        day, month = periods(self.clock())
        with self._lock:
            if limits is not None and limits.tpm is not None:
                self._bucket(provider, limits.tpm).take(used.tokens)
            for period in (day, month):
                self._usage.setdefault((provider, period.key), Usage()).add(used)
            if len(self._usage) > 64:  # periods that ended
                for key in [k for k in self._usage if k[1] not in (day.key, month.key)]:
                    del self._usage[key]

    def usage(self, provider: str) -> dict[str, Usage]:
        """{'day': …, 'month': …}: this process's totals for ``provider`` in the current periods."""
        day, month = periods(self.clock())
        with self._lock:
            return {name: dataclasses.replace(self._usage.get((provider, period.key), Usage()))
                    for name, period in (("day", day), ("month", month))}

    def flush(self) -> None:
        """Nothing is pending here (the shared gate's writes are)."""

    def _bucket(self, provider: str, tpm: int) -> TokenBucket:
        bucket = self._buckets.get(provider)
        if bucket is None:
            bucket = self._buckets[provider] = TokenBucket(tpm, self.clock)
        return bucket
