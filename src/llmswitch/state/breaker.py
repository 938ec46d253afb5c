"""A circuit breaker whose state lives in Redis, so a fleet opens, cools down and probes as one.

Admission is not done here on the hot path: the gate's one script per attempt (:mod:`.admission`)
runs this module's ``acquire`` Lua together with the provider's quotas, and hands the verdict to
:meth:`SharedBreaker.admitted`. Outcomes: a failure, a probe's result and a release are written at
once (one script each); a success while closed only clears the failure log, with the next write.
``available()`` (planning, per candidate) answers from the view the last reply brought back, so
planning costs no round trip. When Redis fails, :class:`~.redis.FailOpen` answers from this
process's own breaker (the base class), so an outage degrades to per-process breakers, never to a
failed call.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from ..config import BreakerConfig
from ..policies import ADMITTED, CircuitBreaker, Permit
from .redis import FailOpen

__all__ = ["SharedBreaker"]

NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# acquire(state hash, half_open_probes, cooldown_ms) → {verdict (0 refused, 1 admitted, 2 probe), wait_ms, gen};
# also run inside the gate's admission script (see .admission), which shares this text
ACQUIRE_FN = """
local function acquire(key, half_open_probes, cooldown)
  local h = redis.call('HMGET', key, 'until', 'probes', 'probe_at', 'gen')
  local gen = tonumber(h[4]) or 0
  local opened_until = tonumber(h[1])
  if not opened_until then return {1, 0, gen} end
  if now < opened_until then return {0, opened_until - now, gen} end
  local probes = tonumber(h[2]) or 0
  if probes >= half_open_probes then
    local since = now - (tonumber(h[3]) or 0)
    if since < cooldown then return {0, cooldown - since, gen} end
    probes = 0  -- probes silent for a whole cooldown were abandoned
  end
  redis.call('HSET', key, 'probes', probes + 1, 'probe_at', now)
  return {2, 0, gen}
end
"""

# KEYS: state hash. ARGV: half_open_probes, cooldown_ms
_ACQUIRE = NOW + ACQUIRE_FN + "return acquire(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))"

# KEYS: state hash, failure log. ARGV: probe, gen, hard, failures, window_ms, open_for_ms, member, clear
# (a success came since the last report: forget the failures before) → {opened (1/0), open_ms}
_FAILURE = NOW + """
local function open()
  redis.call('HSET', KEYS[1], 'until', now + tonumber(ARGV[6]), 'probes', 0)
  redis.call('HINCRBY', KEYS[1], 'gen', 1)
  redis.call('DEL', KEYS[2])
  return {1, tonumber(ARGV[6])}
end
local h = redis.call('HMGET', KEYS[1], 'until', 'gen')
local opened_until = tonumber(h[1])
if opened_until then
  if ARGV[1] == '1' and tonumber(ARGV[2]) == (tonumber(h[2]) or 0) then
    local was_half_open = now >= opened_until
    local reply = open()
    if not was_half_open then reply[1] = 0 end
    return reply
  end
  return {0, math.max(opened_until - now, 0)}
end
if ARGV[8] == '1' then redis.call('DEL', KEYS[2]) end
redis.call('ZADD', KEYS[2], now, ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[5]))
redis.call('PEXPIRE', KEYS[2], ARGV[5])
if ARGV[3] == '1' or redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return open() end
return {0, 0}
"""

# KEYS: state hash, failure log. ARGV: probe → 1 when this closed the breaker
_SUCCESS = NOW + """
redis.call('DEL', KEYS[2])
local opened_until = tonumber(redis.call('HGET', KEYS[1], 'until'))
if not opened_until then return 0 end
if ARGV[1] ~= '1' and now < opened_until then return 0 end
redis.call('HDEL', KEYS[1], 'until', 'probes', 'probe_at')
return 1
"""

# KEYS: state hash. ARGV: gen
_RELEASE = """
local h = redis.call('HMGET', KEYS[1], 'gen', 'probes')
if (tonumber(h[1]) or 0) == tonumber(ARGV[1]) and (tonumber(h[2]) or 0) > 0 then
  redis.call('HINCRBY', KEYS[1], 'probes', -1)
end
return 0
"""


class SharedBreaker(CircuitBreaker):
    """:class:`CircuitBreaker`'s rules, kept in Redis under the provider's hash tag (so the gate's one
    admission script can check the provider's quotas and this breaker together)."""

    def __init__(self, config: BreakerConfig, state: FailOpen, target: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(config, clock)
        self.shared_state = state
        sync = state.remote.sync
        provider, _, model = target.partition("/")
        self.keys = [state.remote.key(f"{provider}#breaker:{model}"), state.remote.key(f"{provider}#failures:{model}")]
        self.wire_keys = [k.encode() for k in self.keys]
        self._acquire = sync.register_script(_ACQUIRE)
        self._failure = sync.register_script(_FAILURE)
        self._success = sync.register_script(_SUCCESS)
        self._release = sync.register_script(_RELEASE)
        self._closed_after = 0.0  # this process's view: refused until then (local clock)
        self._clear = False  # a success while closed, not yet written: the next write forgets the failures

    def saw(self, wait_ms: float) -> None:
        """What Redis answered: the breaker refuses callers for ``wait_ms`` more (0: it admits)."""
        self._closed_after = self._clock() + wait_ms / 1000

    def take_clear(self) -> bool:
        """Is a success pending (to be written with the next admission or failure)? Resets it."""
        clear, self._clear = self._clear, False
        return clear

    def admitted(self, verdict: int, wait_ms: int, gen: int) -> Permit | None:
        """The permit for a verdict of the acquire script (3: refused, but forced: no other target)."""
        self.saw(wait_ms)
        if verdict == 1:
            return ADMITTED
        if verdict == 2:
            return Permit(True, gen)
        if verdict == 3:
            return Permit(True, -1, counted=False)  # its outcome is reported without touching the probe slots
        return None

    def acquire(self) -> Permit | None:
        if not self.config.enabled:
            return ADMITTED
        return self.shared_state.run(self._remote_acquire, super().acquire)

    def _remote_acquire(self) -> Permit | None:
        verdict, wait_ms, gen = (int(x) for x in self._acquire(
            keys=self.keys[:1], args=[self.config.half_open_probes, int(self.config.cooldown * 1000)]))
        return self.admitted(verdict, wait_ms, gen)

    def force(self) -> Permit:
        if self._clock() < self._closed_after:
            return Permit(True, -1, counted=False)
        return super().force()

    def available(self) -> bool:
        if not self.config.enabled:
            return True
        if self.shared_state.shared:
            return self._clock() >= self._closed_after
        return super().available()

    def retry_in(self) -> float:
        if self.shared_state.shared:
            return max(self._closed_after - self._clock(), 0.0)
        return super().retry_in()

    def record_success(self, permit: Permit = ADMITTED) -> bool:
        """A success of an attempt admitted while the breaker was closed (as far as this process saw)
        is not written now: it only clears the failure log, which the next admission or failure
        report does in its own round trip. A probe's (or a forced call's) success is written: it closes."""
        if not permit.probe and self.shared_state.shared and self._clock() >= self._closed_after:
            self._clear = True
            return False

        def remote() -> bool:
            self._clear = False
            closed = bool(self._success(keys=self.keys, args=[int(permit.probe)]))
            if closed or permit.probe:
                self._closed_after = 0.0
            return closed

        return self.shared_state.run(remote, lambda: CircuitBreaker.record_success(self, permit))

    def record_failure(self, permit: Permit = ADMITTED, *, hard: bool = False,
                       retry_after: float | None = None) -> bool:
        if not self.config.enabled:
            return False
        cfg = self.config
        open_for = max(cfg.cooldown, min(retry_after or 0.0, cfg.max_cooldown))

        def remote() -> bool:
            opened, open_ms = (int(x) for x in self._failure(keys=self.keys, args=[
                int(permit.probe), permit.generation, int(hard), cfg.failures, int(cfg.window * 1000),
                int(open_for * 1000), uuid.uuid4().hex, int(self.take_clear())]))
            if open_ms:
                self.saw(open_ms)
            return bool(opened)

        return self.shared_state.run(
            remote, lambda: CircuitBreaker.record_failure(self, permit, hard=hard, retry_after=retry_after))

    def release(self, permit: Permit) -> None:
        if not (permit.probe and permit.counted):
            return
        self.shared_state.run(lambda: self._release(keys=self.keys[:1], args=[permit.generation]),
                              lambda: CircuitBreaker.release(self, permit))
