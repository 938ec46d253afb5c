"""Per-key limits: requests and tokens per minute, spend per day or month.

Counting goes through a :class:`Counters` store keyed by fixed windows (the minute, the UTC day or
month), so the in-process :class:`MemoryCounters` can be swapped for a shared one (Redis ``INCRBYFLOAT``
+ ``EXPIRE`` per window key) without touching the rules. The store is awaited for that reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..router import RouteInfo
from ..state.windows import Window, window
from .keys import Client

if TYPE_CHECKING:
    from ..state.memory import State

__all__ = ["Counters", "Exceeded", "Limiter", "MemoryCounters", "StateCounters", "Window", "window"]


class Counters(Protocol):
    """A store of numbers per (name, window); a shared store makes limits hold across replicas."""

    async def add(self, name: str, window: Window, amount: float) -> float:
        """Add ``amount`` and return the new total of the window."""
        ...

    async def get(self, name: str, window: Window) -> float: ...


class MemoryCounters:
    """This process's counters; windows that ended are dropped as new ones start."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._values: dict[tuple[str, str], tuple[float, float]] = {}  # → (total, window end)
        self._clock = clock
        self._next_sweep = 0.0

    async def add(self, name: str, window: Window, amount: float) -> float:
        self._sweep()
        total = self._values.get((name, window.key), (0.0, window.ends))[0] + amount
        self._values[(name, window.key)] = (total, window.ends)
        return total

    async def get(self, name: str, window: Window) -> float:
        return self._values.get((name, window.key), (0.0, 0.0))[0]

    def _sweep(self) -> None:
        now = self._clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + 60.0
        for key in [k for k, (_, ends) in self._values.items() if ends <= now]:
            del self._values[key]


class StateCounters:
    """Counters in the shared state (Redis: one atomic ``INCRBYFLOAT`` + ``PEXPIREAT`` per add), so
    every gateway replica counts against the same totals; each counter is hash-tagged on its own."""

    def __init__(self, state: State) -> None:
        self.state = state

    async def add(self, name: str, window: Window, amount: float) -> float:
        return await self.state.aadd(f"gw:{name}#{window.key}", amount, window.ends)

    async def get(self, name: str, window: Window) -> float:
        return await self.state.aget(f"gw:{name}#{window.key}")


@dataclass(frozen=True, slots=True)
class Exceeded:
    """Why a request was refused (429) and when to come back."""

    message: str
    retry_after: float


class Limiter:
    """Checks a client's limits before a call and counts what the call used after it."""

    def __init__(self, counters: Counters, clock: Callable[[], float] = time.time) -> None:
        self.counters = counters
        self.clock = clock

    async def admit(self, client: Client) -> Exceeded | None:
        spec = client.spec
        if spec is None:
            return None
        now = self.clock()
        if spec.rpm is not None:
            minute = window("minute", now)
            if await self.counters.add(f"{client.name}:requests", minute, 1) > spec.rpm:
                return Exceeded(f"key {client.name!r}: {spec.rpm} requests per minute reached", minute.ends - now)
        if spec.tpm is not None:
            minute = window("minute", now)
            if await self.counters.get(f"{client.name}:tokens", minute) >= spec.tpm:
                return Exceeded(f"key {client.name!r}: {spec.tpm} tokens per minute reached", minute.ends - now)
        if spec.budget is not None:
            budget = spec.budget
            period = window(budget.per, now)
            if await self.counters.get(f"{client.name}:spend:{budget.currency}", period) >= budget.amount:
                return Exceeded(f"key {client.name!r}: budget of {budget.amount:g} {budget.currency} per "
                                f"{budget.per} spent", period.ends - now)
        return None

    async def record(self, client: Client, info: RouteInfo | None) -> None:
        """Count the tokens and the cost of a finished call (a stream: when it ended)."""
        spec = client.spec
        if spec is None or info is None:
            return
        now = self.clock()
        usage = info.usage or {}
        if spec.tpm is not None:
            tokens = usage.get("total_tokens") or (usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0))
            if tokens:
                await self.counters.add(f"{client.name}:tokens", window("minute", now), tokens)
        if spec.budget is not None:
            cost = info.cost_usd if spec.budget.currency == "USD" else info.cost_cny
            if cost:
                await self.counters.add(f"{client.name}:spend:{spec.budget.currency}",
                                        window(spec.budget.per, now), cost)
