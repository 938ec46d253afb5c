"""Small policy objects the router composes: backoff timing, circuit breakers, retry budgets,
latency estimates and target-ordering strategies.

Each takes its clock and randomness as parameters so tests inject them. All are thread-safe (a
lock around a few field updates, never held across I/O) and therefore safe under asyncio too:
nothing here awaits.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .config import Backoff, BreakerConfig, RetryConfig

__all__ = [
    "ADMITTED",
    "Candidate",
    "CircuitBreaker",
    "LatencyTracker",
    "Permit",
    "RetryBudget",
    "RoundRobin",
    "backoff_delay",
    "order_targets",
    "retry_wait",
]

Clock = Callable[[], float]


def backoff_delay(backoff: Backoff, retry_number: int, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with openai's jitter: nominal × (1 − jitter × U[0,1)).

    ``retry_number`` counts from 1 (the first retry waits about ``initial``).
    """
    nominal = min(backoff.initial * backoff.multiplier ** max(retry_number - 1, 0), backoff.max)
    return nominal * (1 - backoff.jitter * rng())


def retry_wait(retry_after: float | None, retry: RetryConfig, retry_number: int,
               rng: Callable[[], float] = random.random) -> float:
    """How long to wait before retry number ``retry_number``: the server's Retry-After when it is
    positive (a past date or 0 backs off, as openai does), else the backoff. The caller refuses
    waits past ``retry.max_wait`` or the remaining deadline."""
    if retry_after is not None and retry_after > 0:
        return retry_after
    return backoff_delay(retry.backoff, retry_number, rng)


@dataclass(frozen=True, slots=True)
class Permit:
    """A breaker's admission of one attempt. A probe permit must be settled exactly once:
    ``record_success``, ``record_failure`` or ``release``."""

    probe: bool = False
    generation: int = 0
    counted: bool = True  # holds one of the half-open probe slots


ADMITTED = Permit()  # the closed-state admission; shared, so the hot path allocates nothing


class CircuitBreaker:
    """closed → open after ``failures`` consecutive failures within ``window`` (or at once on a
    hard failure: 401/403); open → half-open after ``cooldown`` (or the server's Retry-After, if
    longer, up to ``max_cooldown``); half-open admits exactly ``half_open_probes`` callers at a
    time; a probe's success closes the breaker, its failure reopens it. A probe that reports
    nothing for a whole cooldown (its caller vanished) is forgotten, so a breaker never sticks.

    A success in the closed state clears the failure count, so a target that mostly works is
    never cut off by a few scattered errors.
    """

    def __init__(self, config: BreakerConfig, clock: Clock = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: deque[float] = deque()
        self._opened_at: float | None = None
        self._open_for = config.cooldown
        self._probes = 0
        self._probe_at = 0.0
        self._generation = 0

    @property
    def state(self) -> str:
        """'closed', 'open' or 'half_open'."""
        with self._lock:
            return self._state(self._clock())

    def _state(self, now: float) -> str:
        if self._opened_at is None:
            return "closed"
        if now - self._opened_at >= self._open_for:
            return "half_open"
        return "open"

    def retry_in(self) -> float:
        """Seconds until an open breaker admits a probe (0 when it would now)."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(self._open_for - (self._clock() - self._opened_at), 0.0)

    def acquire(self) -> Permit | None:
        """Admit an attempt now, or None. In half-open, each admission takes a probe slot."""
        if not self.config.enabled:
            return ADMITTED
        with self._lock:
            now = self._clock()
            state = self._state(now)
            if state == "closed":
                return ADMITTED
            if state == "open":
                return None
            if self._probes >= self.config.half_open_probes:
                if now - self._probe_at < self.config.cooldown:
                    return None
                self._probes = 0  # probes silent for a whole cooldown were lost (abandoned): forget them
            self._probes += 1
            self._probe_at = now
            return Permit(True, self._generation)

    def force(self) -> Permit:
        """Admit regardless of state (a call with no other target): its outcome still counts,
        as a probe's would, but it takes no probe slot."""
        with self._lock:
            if self._opened_at is None:
                return ADMITTED
            return Permit(True, self._generation, counted=False)

    def available(self) -> bool:
        """Would :meth:`acquire` admit a caller now? (No side effect; for planning.)"""
        if not self.config.enabled:
            return True
        with self._lock:
            now = self._clock()
            state = self._state(now)
            if state != "half_open":
                return state == "closed"
            return self._probes < self.config.half_open_probes or now - self._probe_at >= self.config.cooldown

    def record_success(self, permit: Permit = ADMITTED) -> bool:
        """The target answered; returns True when this closed an open/half-open breaker."""
        with self._lock:
            self._failures.clear()
            was_open = self._opened_at is not None
            if was_open and not permit.probe and self._state(self._clock()) == "open":
                return False  # a late answer to a call admitted before the breaker opened
            self._opened_at = None
            self._probes = 0
            return was_open

    def record_failure(self, permit: Permit = ADMITTED, *, hard: bool = False,
                       retry_after: float | None = None) -> bool:
        """A failure that counts against the target; returns True when this opened the breaker."""
        if not self.config.enabled:
            return False
        with self._lock:
            now = self._clock()
            if self._opened_at is not None:
                if permit.probe and permit.generation == self._generation:  # the probe failed: reopen
                    was = self._state(now)
                    self._open(now, retry_after)
                    return was == "half_open"  # (a forced call failing while open only extends it)
                return False  # a late failure of a call admitted before the breaker opened
            self._failures.append(now)
            while self._failures and now - self._failures[0] > self.config.window:
                self._failures.popleft()
            if hard or len(self._failures) >= self.config.failures:
                self._open(now, retry_after)
                return True
            return False

    def release(self, permit: Permit) -> None:
        """A probe ended with no verdict (cancelled, abandoned): free its slot."""
        if not (permit.probe and permit.counted):
            return
        with self._lock:
            if permit.generation == self._generation and self._probes > 0:
                self._probes -= 1

    def _open(self, now: float, retry_after: float | None) -> None:
        cfg = self.config
        self._opened_at = now
        self._open_for = max(cfg.cooldown, min(retry_after or 0.0, cfg.max_cooldown))
        self._probes = 0
        self._generation += 1
        self._failures.clear()


class RetryBudget:
    """A token bucket per target: each first attempt deposits ``ratio`` tokens, each retry spends one.

    With the default 0.2, retries add at most ~20% load to a target that is down, which stops
    retry storms; a small ``reserve`` lets isolated failures retry at once.
    """

    def __init__(self, ratio: float, reserve: float = 10.0) -> None:
        self.ratio = ratio
        self._cap = reserve
        self._tokens = reserve
        self._lock = threading.Lock()

    @property
    def tokens(self) -> float:
        return self._tokens

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
    """An exponentially weighted moving average of latency (first-token latency for streams).

    Failures count too (:meth:`penalize`), so ``least_latency`` stops preferring a target that
    fails fast.
    """

    def __init__(self, alpha: float = 0.3) -> None:
        self.alpha = alpha
        self.value: float | None = None
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        with self._lock:
            self.value = seconds if self.value is None else self.alpha * seconds + (1 - self.alpha) * self.value

    def penalize(self, seconds: float, floor: float = 1.0) -> None:
        """A failed attempt: observe at least twice the current estimate (``floor`` when unmeasured)."""
        self.observe(max(seconds, 2 * (self.value if self.value is not None else floor / 2), floor))


@dataclass
class Candidate:
    """A target in the order a strategy proposes; ``key`` is 'provider/model'."""

    key: str
    weight: float = 1.0
    latency: float | None = None
    price: float | None = None  # input+output per million tokens, in a common currency


class RoundRobin:
    """A rotating start index, one per route (thread-safe)."""

    def __init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()

    def start(self, n: int) -> int:
        with self._lock:
            value = self._next % n
            self._next += 1
            return value


def order_targets(strategy: str, candidates: Sequence[Candidate], *, rotation: RoundRobin | None = None,
                  rng: Callable[[], float] = random.random) -> list[Candidate]:
    """The order to try targets in; every strategy still falls back through the rest.

    - fallback: as listed;  - round_robin: rotate the start each call;
    - weighted: weighted sampling without replacement;
    - least_latency: unmeasured targets first (so they get measured), then fastest;
    - cheapest: by unit price, unknown prices last.
    """
    items = list(candidates)
    if len(items) < 2 or strategy == "fallback":
        return items
    if strategy == "round_robin":
        start = (rotation or RoundRobin()).start(len(items))
        return items[start:] + items[:start]
    if strategy == "weighted":
        ordered: list[Candidate] = []
        pool = items[:]
        while pool:
            total = sum(c.weight for c in pool)
            pick, acc = rng() * total, 0.0
            for i, c in enumerate(pool):
                acc += c.weight
                if pick < acc or i == len(pool) - 1:
                    ordered.append(pool.pop(i))
                    break
        return ordered
    if strategy == "least_latency":
        return sorted(items, key=lambda c: (c.latency is not None, c.latency or 0.0))
    if strategy == "cheapest":
        return sorted(items, key=lambda c: (c.price is None, c.price or 0.0))
    raise ValueError(f"unknown strategy {strategy!r}")
