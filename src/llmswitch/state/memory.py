"""The state operations, and this process's implementation of them (the default, and Redis's fallback).

Three kinds of state: counters per fixed window (spend, tokens), sliding-window admissions (rpm: at most
``limit`` admitted in any ``window`` seconds, exactly) and small text records with a TTL (stored responses).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

__all__ = ["MemoryState", "State"]


class State(Protocol):
    """Every read-modify-write is atomic, so concurrent callers neither lose updates nor over-admit."""

    def add(self, key: str, amount: float, expires_at: float) -> float:
        """Add to a counter that lives until ``expires_at`` (epoch seconds); the new total."""
        ...

    def get(self, key: str) -> float: ...

    def admit(self, key: str, limit: int, window: float) -> float | None:
        """Admit one event if fewer than ``limit`` were admitted in the last ``window`` seconds
        (None), else refuse it: seconds until one slot frees up."""
        ...

    def put(self, key: str, value: str, ttl: float) -> None: ...

    def fetch(self, key: str) -> str | None: ...

    def delete(self, key: str) -> bool: ...

    async def aadd(self, key: str, amount: float, expires_at: float) -> float: ...

    async def aget(self, key: str) -> float: ...

    async def aadmit(self, key: str, limit: int, window: float) -> float | None: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


class MemoryState:
    """Plain dicts behind one lock (never held across I/O), so it serves threads and asyncio alike."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counters: dict[str, tuple[float, float]] = {}  # key → (total, expires_at)
        self._events: dict[str, deque[float]] = {}
        self._records: dict[str, tuple[str, float]] = {}
        self._next_sweep = 0.0

    def add(self, key: str, amount: float, expires_at: float) -> float:
        with self._lock:
            self._sweep()
            total = self._live(key) + amount
            self._counters[key] = (total, expires_at)
            return total

    def get(self, key: str) -> float:
        with self._lock:
            return self._live(key)

    def admit(self, key: str, limit: int, window: float) -> float | None:
        with self._lock:
            now = self._clock()
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - window:
                events.popleft()
            if len(events) < limit:
                events.append(now)
                return None
            return max(events[0] + window - now, 0.001)

    def put(self, key: str, value: str, ttl: float) -> None:
        with self._lock:
            self._records[key] = (value, self._clock() + ttl)

    def fetch(self, key: str) -> str | None:
        with self._lock:
            found = self._records.get(key)
            if found is None or found[1] <= self._clock():
                self._records.pop(key, None)
                return None
            return found[0]

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._records.pop(key, None) is not None

    async def aadd(self, key: str, amount: float, expires_at: float) -> float:
        return self.add(key, amount, expires_at)

    async def aget(self, key: str) -> float:
        return self.get(key)

    async def aadmit(self, key: str, limit: int, window: float) -> float | None:
        return self.admit(key, limit, window)

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    def _live(self, key: str) -> float:
        total, expires_at = self._counters.get(key, (0.0, 0.0))
        return total if expires_at > self._clock() else 0.0

    def _sweep(self) -> None:
        now = self._clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + 60.0
        for key in [k for k, (_, ends) in self._counters.items() if ends <= now]:
            del self._counters[key]
        for key in [k for k, (_, ends) in self._records.items() if ends <= now]:
            del self._records[key]
        for key in [k for k, events in self._events.items() if not events]:
            del self._events[key]
