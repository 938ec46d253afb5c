"""Small policy objects the router composes: backoff timing, circuit breakers, retry budgets,
target-ordering strategies. Each takes its clock/randomness as a parameter so tests inject them.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .config import Backoff, BreakerConfig

__all__ = [
    "Candidate",
    "CircuitBreaker",
    "LatencyTracker",
    "RetryBudget",
    "backoff_delay",
    "order_targets",
]

Clock = Callable[[], float]


def backoff_delay(backoff: Backoff, retry_number: int, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with openai's jitter: nominal × (1 − jitter × U[0,1))."""
    nominal = min(backoff.initial * backoff.multiplier ** max(retry_number - 1, 0), backoff.max)
    return nominal * (1 - backoff.jitter * rng())


class CircuitBreaker:
    """closed → open after ``failures`` within ``window`` (or at once on auth failures);
    open → half-open after ``cooldown`` (or the server's Retry-After, if longer);
    half-open admits exactly ``half_open_probes`` concurrent callers; a success closes it."""

    def __init__(self, config: BreakerConfig, clock: Clock = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: deque[float] = deque()
        self._opened_at: float | None = None
        self._open_for = config.cooldown
        self._probes = 0

    @property
    def state(self) -> str:
        with self._lock:
            return self._state(self._clock())

    def _state(self, now: float) -> str:
        if self._opened_at is None:
            return "closed"
        if now - self._opened_at >= self._open_for:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """May a call go to this target now? Half-open admissions count as probes until released."""
        if not self.config.enabled:
            return True
        with self._lock:
            state = self._state(self._clock())
            if state == "closed":
                return True
            if state == "open":
                return False
            if self._probes < self.config.half_open_probes:
                self._probes += 1
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._failures.clear()
            self._opened_at = None
            self._probes = 0

    def record_failure(self, *, hard: bool = False, retry_after: float | None = None) -> None:
        if not self.config.enabled:
            return
        with self._lock:
            now = self._clock()
            if self._opened_at is not None:  # a failed probe reopens it
                self._open(now, retry_after)
                return
            self._failures.append(now)
            while self._failures and now - self._failures[0] > self.config.window:
                self._failures.popleft()
            if hard or len(self._failures) >= self.config.failures:
                self._open(now, retry_after)

    def _open(self, now: float, retry_after: float | None) -> None:
        self._opened_at = now
        self._open_for = max(self.config.cooldown, retry_after or 0.0)
        self._probes = 0
        self._failures.clear()


class RetryBudget:
    """A token bucket: each first attempt deposits ``ratio`` tokens, each retry spends one.

    With the default 0.2, retries add at most ~20% load to a target that is down, which stops
    retry storms; a small reserve lets isolated failures retry at once.
    """

    def __init__(self, ratio: float, reserve: float = 10.0) -> None:
        self.ratio = ratio
        self._cap = reserve
        self._tokens = reserve
        self._lock = threading.Lock()

    def deposit(self) -> None:
        with self._lock:
            self._tokens = min(self._cap, self._tokens + self.ratio)

    def try_spend(self) -> bool:
        with self._lock:
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class LatencyTracker:
    """An exponentially weighted moving average of latency (first-token latency for streams)."""

    def __init__(self, alpha: float = 0.3) -> None:
        self.alpha = alpha
        self.value: float | None = None
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        with self._lock:
            self.value = seconds if self.value is None else self.alpha * seconds + (1 - self.alpha) * self.value


@dataclass
class Candidate:
    """A target in the order a strategy proposes; ``key`` is 'provider/model'."""

    key: str
    weight: float = 1.0
    latency: float | None = None
    price: float | None = None  # input+output per million tokens, in a common currency


class _RoundRobin:
    def __init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()

    def start(self, n: int) -> int:
        with self._lock:
            value = self._next % n
            self._next += 1
            return value


_ROUND_ROBIN: dict[str, _RoundRobin] = {}
_RR_LOCK = threading.Lock()


def order_targets(strategy: str, route: str, candidates: Sequence[Candidate],
                  rng: Callable[[], float] = random.random) -> list[Candidate]:
    """The order to try targets in; every strategy still falls back through the rest."""
    items = list(candidates)
    if len(items) < 2 or strategy == "fallback":
        return items
    if strategy == "round_robin":
        with _RR_LOCK:
            rr = _ROUND_ROBIN.setdefault(route, _RoundRobin())
        start = rr.start(len(items))
        return items[start:] + items[:start]
    if strategy == "weighted":
        ordered: list[Candidate] = []
        pool = items[:]
        while pool:  # weighted sampling without replacement
            total = sum(c.weight for c in pool)
            pick, acc = rng() * total, 0.0
            for i, c in enumerate(pool):
                acc += c.weight
                if pick < acc or i == len(pool) - 1:
                    ordered.append(pool.pop(i))
                    break
        return ordered
    if strategy == "least_latency":
        # unmeasured targets first (so they get measured), then fastest
        return sorted(items, key=lambda c: (c.latency is not None, c.latency or 0.0))
    if strategy == "cheapest":
        return sorted(items, key=lambda c: (c.price is None, c.price or 0.0))
    return items
