"""The fleet-wide gate: one Lua script per attempt checks the provider's rpm and tpm and the target's
breaker, and writes the usage this process reported since — one round trip per attempt, no more.

Keys are tagged by provider (``{prefix:<provider>}#…``): the rpm log, the tpm bucket, the usage
counters *and* the breakers of the provider's models, so one script may touch them all atomically and
Redis Cluster still spreads providers over slots. (Tagging breakers per target would put a target's
breaker and its provider's quota in different slots, which no single script may touch.)

What is not written on its own: a success while the breaker is closed (it only clears the failure
log: the next admission or failure report does that), a call's tokens for the tpm bucket (taken by
the provider's next admission from this process) and its usage counters (calls, tokens, spend: carried
by the provider's next admission at most every ``FLUSH_EVERY`` seconds, and written by
:meth:`SharedGate.flush` at close and before :meth:`SharedGate.usage` reads). So a served call costs
one round trip; failures and probe outcomes are written at once (:class:`~.breaker.SharedBreaker`),
because the fleet's breaker depends on them.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..policies import CircuitBreaker
from .breaker import ACQUIRE_FN, NOW, SharedBreaker
from .gate import ADMIT, Limits, LocalGate, Usage, Verdict, periods
from .redis import Also, FailOpen

__all__ = ["SharedGate"]

_DAY_MS = 86_400_000
FLUSH_EVERY = 1.0  # seconds: a provider's usage counters are written at most this often per process

# KEYS: 1 rpm log, 2 tpm bucket, 3 usage of the day, 4 usage of the month
# A (ARGV[1] split at commas): 1 rpm, 2 tpm, 3 calls, 4 tokens, 5 usd, 6 cny, 7 day counters kept until (ms),
# 8 month's, 9 tokens to take from the tpm bucket
_COUNT = NOW + """
local A = {}
for v in string.gmatch(ARGV[1], '[^,]+') do A[#A + 1] = v end
local rpm, tpm = tonumber(A[1]), tonumber(A[2])
local function bucket(spend)  -- the tpm bucket's level now, after taking `spend` tokens
  local h = redis.call('HMGET', KEYS[2], 'level', 'at')
  local level = tonumber(h[1]) or tpm
  local at = tonumber(h[2]) or now
  level = math.min(tpm, level + (now - at) * tpm / 60000) - spend
  redis.call('HSET', KEYS[2], 'level', level, 'at', now)
  redis.call('PEXPIRE', KEYS[2], math.ceil((tpm - level) * 60000 / tpm) + 1000)  -- full again by then
  return level
end
local calls, tokens = tonumber(A[3]), tonumber(A[4])
if calls > 0 then
  for i = 3, 4 do
    redis.call('HINCRBY', KEYS[i], 'calls', calls)
    if tokens > 0 then redis.call('HINCRBY', KEYS[i], 'tokens', tokens) end
    if A[5] ~= '0' then redis.call('HINCRBYFLOAT', KEYS[i], 'cost_usd', A[5]) end
    if A[6] ~= '0' then redis.call('HINCRBYFLOAT', KEYS[i], 'cost_cny', A[6]) end
    redis.call('PEXPIREAT', KEYS[i], A[4 + i])
  end
end
"""

# _COUNT's keys and arguments, then KEYS: 5 breaker hash, 6 failure log
# A: 10 member, 11 breaker on, 12 half_open_probes, 13 cooldown_ms, 14 force, 15 clear failures
# → {verdict, wait_ms, gen}: 0 circuit open, 1 admitted, 2 probe, 3 forced, 4 rpm refused, 5 tpm refused
_ADMIT = _COUNT + ACQUIRE_FN + """
if tpm > 0 then
  local level = bucket(tonumber(A[9]))
  if level < 1 then return {5, math.ceil((1 - level) * 60000 / tpm), 0} end
end
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)
  if redis.call('ZCARD', KEYS[1]) >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {4, math.max(tonumber(oldest[2]) + 60000 - now, 1), 0}
  end
end
local verdict = {1, 0, 0}
if A[11] == '1' then
  if A[15] == '1' and redis.call('HEXISTS', KEYS[5], 'until') == 0 then redis.call('DEL', KEYS[6]) end
  verdict = acquire(KEYS[5], tonumber(A[12]), tonumber(A[13]))
  if verdict[1] == 0 then
    if A[14] ~= '1' then return verdict end
    verdict[1] = 3
  end
end
if rpm > 0 then
  redis.call('ZADD', KEYS[1], now, A[10])
  redis.call('PEXPIRE', KEYS[1], 60000)
end
return verdict
"""

# _COUNT, then the totals: {day calls, tokens, usd, cny, month calls, tokens, usd, cny}
_USAGE = _COUNT + """
if tpm > 0 and A[9] ~= '0' then bucket(tonumber(A[9])) end
local out = {}
for i = 3, 4 do
  local h = redis.call('HMGET', KEYS[i], 'calls', 'tokens', 'cost_usd', 'cost_cny')
  for j = 1, 4 do out[#out + 1] = h[j] or '0' end
end
return out
"""


@dataclass(slots=True)
class _Request:
    """One admission's script arguments, and what its reply (or Redis's failure) means."""

    gate: SharedGate
    provider: str
    breaker: SharedBreaker
    force: bool
    pending: Usage | None
    keys: list[bytes]
    args: list[object]

    def verdict(self, reply: Any) -> Verdict:
        return self.gate._verdict(self.breaker, reply)

    def local(self) -> Verdict:
        if self.pending is not None:
            self.gate.local.record(self.provider, self.pending)
        return self.gate.local.admit(self.provider, self.breaker, self.force)


class SharedGate:
    """The gate of :mod:`.gate`, fleet-wide; while Redis is out, this process's :class:`LocalGate`."""

    def __init__(self, state: FailOpen, local: LocalGate) -> None:
        self.state = state
        self.local = local
        self.limits = local.limits
        self._admit = state.remote.script(_ADMIT)
        self._usage = state.remote.script(_USAGE)
        self._pending: dict[str, Usage] = {}  # provider → usage not written yet
        self._debts: dict[str, int] = {}  # provider → tokens not yet taken from its tpm bucket
        self._due: dict[str, float] = {}  # provider → when its pending usage is written next
        self._keys: dict[str, tuple[str, list[bytes]]] = {}  # provider → (day, its keys that day)
        self._quiet_args: dict[str, tuple[str, list[object]]] = {}  # (day, its arguments with nothing to write)
        self._lock = threading.Lock()
        self._member = f"{uuid.uuid4().hex[:16]}:"  # + a sequence number: unique rpm log members
        self._sequence = itertools.count()

    def admit(self, provider: str, breaker: CircuitBreaker, force: bool, also: Sequence[Also] = ()) -> Verdict:
        request = self._request(provider, breaker, force)
        return self.state.run(lambda: request.verdict(self._admit(request.keys, request.args, also)), request.local)

    async def aadmit(self, provider: str, breaker: CircuitBreaker, force: bool, also: Sequence[Also] = ()) -> Verdict:
        """:meth:`admit` on the running event loop's asyncio connections (the same script and verdict)."""
        request = self._request(provider, breaker, force)

        async def remote() -> Verdict:
            return request.verdict(await self._admit.acall(request.keys, request.args, also))

        async def local() -> Verdict:
            return request.local()

        return await self.state.arun(remote, local)

    def _request(self, provider: str, breaker: CircuitBreaker, force: bool) -> _Request:
        assert isinstance(breaker, SharedBreaker)
        now = time.monotonic()
        pending = None
        if now >= self._due.get(provider, 0.0):
            self._due[provider] = now + FLUSH_EVERY
            pending = self._take(provider)
        debt = self._take_debt(provider)
        cfg = breaker.config
        args = [*self._count_args(provider, pending, debt), f"{self._member}{next(self._sequence)}", int(cfg.enabled),
                cfg.half_open_probes, int(cfg.cooldown * 1000), int(force), int(breaker.take_clear())]
        return _Request(self, provider, breaker, force, pending, [*self._provider_keys(provider), *breaker.wire_keys],
                        args)

    def _verdict(self, breaker: SharedBreaker, reply: Any) -> Verdict:
        verdict, wait_ms, gen = (int(x) for x in reply)
        if verdict >= 4:
            return Verdict(None, "rpm" if verdict == 4 else "tpm", wait_ms / 1000)
        permit = breaker.admitted(verdict, wait_ms, gen)
        if permit is None:
            return Verdict(None, None, wait_ms / 1000)
        return ADMIT if verdict == 1 else Verdict(permit)

    def record(self, provider: str, used: Usage) -> None:
        """No I/O: the provider's next admission (or :meth:`flush`) writes it."""
        if not self.state.shared:
            self.local.record(provider, used)
            return
        with self._lock:
            self._pending.setdefault(provider, Usage()).add(used)
            limits = self.limits.get(provider)
            if limits is not None and limits.tpm is not None and used.tokens:
                self._debts[provider] = self._debts.get(provider, 0) + used.tokens

    def usage(self, provider: str) -> dict[str, Usage]:
        """The fleet's totals for ``provider`` this UTC day and month (this process's own during an outage)."""
        pending = self._take(provider)
        debt = self._take_debt(provider)

        def remote() -> dict[str, Usage]:
            raw = [float(x) for x in self._usage(self._provider_keys(provider),
                                                 self._count_args(provider, pending, debt))]
            return {name: Usage(int(raw[i]), int(raw[i + 1]), raw[i + 2], raw[i + 3])
                    for name, i in (("day", 0), ("month", 4))}

        def local() -> dict[str, Usage]:
            if pending is not None:
                self.local.record(provider, pending)
            return self.local.usage(provider)

        return self.state.run(remote, local)

    def flush(self) -> None:
        """Write every provider's pending usage (at close)."""
        for provider in list(self._pending):
            self.usage(provider)

    def _take(self, provider: str) -> Usage | None:
        if provider not in self._pending:
            return None
        with self._lock:
            return self._pending.pop(provider, None)

    def _take_debt(self, provider: str) -> int:
        if provider not in self._debts:
            return 0
        with self._lock:
            return self._debts.pop(provider, 0)

    def _provider_keys(self, provider: str) -> list[bytes]:
        day, month = periods(self.local.clock())
        found = self._keys.get(provider)
        if found is not None and found[0] == day.key:
            return found[1]
        key = self.state.remote.key
        keys = [key(f"{provider}#{name}").encode()
                for name in ("rpm", "tpm", f"usage:{day.key}", f"usage:{month.key}")]
        self._keys[provider] = (day.key, keys)
        return keys

    def _count_args(self, provider: str, pending: Usage | None, debt: int) -> list[object]:
        day, month = periods(self.local.clock())
        quiet = pending is None and not debt  # most admissions: the same arguments all day
        found = self._quiet_args.get(provider) if quiet else None
        if found is not None and found[0] == day.key:
            return found[1]
        limits = self.limits.get(provider) or Limits()
        used = pending or Usage()
        args: list[object] = [limits.rpm or 0, limits.tpm or 0, used.calls, used.tokens, _decimal(used.cost_usd),
                              _decimal(used.cost_cny), int(day.ends * 1000) + _DAY_MS,
                              int(month.ends * 1000) + _DAY_MS, debt]
        if quiet:
            self._quiet_args[provider] = (day.key, args)
        return args


def _decimal(amount: float) -> str:
    return f"{amount:.12f}" if amount else "0"
