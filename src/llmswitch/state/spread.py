"""Round-robin positions and latency statistics shared by a fleet, at no round trip of their own.

Both ride on an admission's round trip as :class:`~.redis.Also` commands pipelined behind its script:

- :class:`SharedRotation`: each call on a ``round_robin`` route INCRs the route's fleet-wide counter,
  claiming the position the *next* call of this process starts at (calls made before the reply
  advance locally). A process's first call on the route waits for one INCR of its own, so fresh
  processes do not all start at the first target.
- :class:`SharedLatency`: this process's observations (an EWMA, as :class:`~llmswitch.policies.
  LatencyTracker`) are pushed, and the fleet's blended value read back, at most every ``every``
  seconds per target, when a ``least_latency`` route plans a call. So a process's view of the fleet
  is at most ``every`` seconds (plus the time since its last call on the route) behind.

Routes with other strategies never send either command.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..policies import LatencyTracker, RoundRobin
from .redis import Also, FailOpen, pack

__all__ = ["SharedLatency", "SharedRotation"]

# KEYS: target's latency hash. ARGV: field, observations, their mean, alpha → the fleet's value (or nil)
_BLEND = b"""
local v = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
local n, mean = tonumber(ARGV[2]), tonumber(ARGV[3])
if n > 0 then
  if v == nil then v = mean else
    local keep = (1 - tonumber(ARGV[4])) ^ n
    v = keep * v + (1 - keep) * mean
  end
  redis.call('HSET', KEYS[1], ARGV[1], v)
  redis.call('PEXPIRE', KEYS[1], 86400000)
end
if v == nil then return false end
return tostring(v)
"""


class SharedRotation(RoundRobin):
    def __init__(self, state: FailOpen, route: str) -> None:
        super().__init__()
        self.state = state
        self._key = state.remote.key(f"route:{route}#rr")
        self._incr = pack(b"INCR", self._key.encode())
        self._synced = False
        self._claimed = False  # this call's position came from its own INCR: no claim for the next

    def start(self, n: int) -> int:
        if not self._synced:  # a process's first call: claim a position of the fleet's, now
            self._synced = True
            self._claimed = self.state.run(self._claim, lambda: False)
        return super().start(n)

    def _claim(self) -> bool:
        self._set(self.state.remote.sync.incr(self._key))
        return True

    def also(self) -> Also | None:
        """The INCR that claims the next call's position (None when this call already sent one)."""
        if self._claimed:
            self._claimed = False
            return None
        return Also(self._incr, self._set)

    def _set(self, reply: Any) -> None:
        """The counter's new value: the position it claimed (0-based) is where the next start is."""
        with self._lock:
            self._next = int(reply) - 1


class SharedLatency(LatencyTracker):
    """A :class:`LatencyTracker` whose value is the fleet's, refreshed at most every ``every`` seconds."""

    def __init__(self, state: FailOpen, target: str, field: str, *, every: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        provider, _, model = target.partition("/")
        self._key = state.remote.key(f"{provider}#latency:{model}").encode()
        self._field = field.encode()
        self.every = every
        self._clock = clock
        self._due = 0.0
        self._count = 0
        self._sum = 0.0
        self._pending_lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        super().observe(seconds)
        with self._pending_lock:
            self._count += 1
            self._sum += seconds

    def also(self) -> Also | None:
        """The push-and-read command when one is due (taking the pending observations), else None."""
        now = self._clock()
        if now < self._due:
            return None
        with self._pending_lock:
            self._due = now + self.every
            count, total, self._count, self._sum = self._count, self._sum, 0, 0.0
        mean = total / count if count else 0.0
        command = pack(b"EVAL", _BLEND, b"1", self._key, self._field, b"%d" % count, repr(mean).encode(),
                       repr(self.alpha).encode())
        return Also(command, self._set)

    def _set(self, reply: Any) -> None:
        if reply is not None:
            self.value = float(reply)
