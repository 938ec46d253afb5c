"""Shared state in Redis, and :class:`FailOpen`, which makes a Redis failure cost no call.

Keys: a logical key ``"<tag>#<name>"`` (for instance ``"openai#rpm"``) is stored as
``{<prefix>:<tag>}#<name>``, so everything about one provider (or one client key, one route) hashes
to one Redis Cluster slot and a script may touch it atomically. Each read-modify-write is one Lua
script (one round trip); time inside scripts is Redis's ``TIME``, so replicas with skewed clocks
still agree. :class:`Script` is the hot path's own lean way of calling one (see there).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from .memory import State

__all__ = ["Also", "FailOpen", "RedisState", "Script", "pack"]

log = logging.getLogger("llmswitch.state")
T = TypeVar("T")

_ADD = """
local total = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return total
"""

# sliding-window log: one sorted-set member per admitted event, scored by Redis's clock in ms
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return -1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(tonumber(oldest[2]) + window - now, 1)
"""


class RedisState:
    """redis-py's sync and asyncio clients (each with its pool), every command bounded by ``timeout``
    and never retried by the client: :class:`FailOpen` decides what a failure means."""

    def __init__(self, url: str, *, prefix: str = "llmswitch", timeout: float = 0.05,
                 max_connections: int = 64) -> None:
        self.prefix = prefix
        self.timeout = timeout
        # a full pool makes a caller wait for a connection (up to ``timeout``), never open a 65th
        options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout,
                                   "max_connections": max_connections, "timeout": timeout}
        self.sync = redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(url, **options),
                                retry=Retry(NoBackoff(), 0))
        self._url, self._options = url, options
        self._async: dict[asyncio.AbstractEventLoop, redis.asyncio.Redis] = {}  # a pool is per event loop
        self._add = self.sync.register_script(_ADD)
        self._admit = self.sync.register_script(_ADMIT)

        self.kept = self._keep()  # connections :class:`Script` keeps for itself
        self._async_kept: dict[asyncio.AbstractEventLoop, Kept] = {}  # the same per event loop
        self._pid = os.getpid()

    def key(self, key: str) -> str:
        tag, _, name = key.partition("#")
        return f"{{{self.prefix}:{tag}}}#{name}"

    def script(self, text: str) -> Script:
        return Script(self, text)

    def _keep(self, pool: Any = None) -> Kept:
        pool = pool or self.sync.connection_pool
        return Kept(lambda: pool.connection_class(**pool.connection_kwargs), pool, pool.max_connections)

    def _sync_kept(self) -> Kept:
        if self._pid != os.getpid():  # a forked child must not share its parent's sockets
            self.kept, self._pid = self._keep(), os.getpid()
        return self.kept

    def _aclient(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            pool = redis.asyncio.BlockingConnectionPool.from_url(self._url, **self._options)
            client = self._async[loop] = redis.asyncio.Redis(connection_pool=pool, retry=AsyncRetry(NoBackoff(), 0))
        return client

    def _loop_kept(self) -> Kept:
        loop = asyncio.get_running_loop()
        kept = self._async_kept.get(loop)
        if kept is None:
            kept = self._async_kept[loop] = self._keep(self._aclient().connection_pool)
        return kept

    def add(self, key: str, amount: float, expires_at: float) -> float:
        return float(self._add(keys=[self.key(key)], args=[amount, int(expires_at * 1000)]))

    def get(self, key: str) -> float:
        return float(self.sync.get(self.key(key)) or 0.0)

    def admit(self, key: str, limit: int, window: float) -> float | None:
        wait = int(self._admit(keys=[self.key(key)], args=[limit, int(window * 1000), uuid.uuid4().hex]))
        return None if wait < 0 else wait / 1000

    def put(self, key: str, value: str, ttl: float) -> None:
        self.sync.set(self.key(key), value, px=max(int(ttl * 1000), 1))

    def fetch(self, key: str) -> str | None:
        value = self.sync.get(self.key(key))
        return value.decode() if isinstance(value, bytes) else value

    def delete(self, key: str) -> bool:
        return bool(self.sync.delete(self.key(key)))

    async def aadd(self, key: str, amount: float, expires_at: float) -> float:
        client = self._aclient()
        return float(await client.eval(_ADD, 1, self.key(key), amount, int(expires_at * 1000)))

    async def aget(self, key: str) -> float:
        return float(await self._aclient().get(self.key(key)) or 0.0)

    async def aadmit(self, key: str, limit: int, window: float) -> float | None:
        wait = int(await self._aclient().eval(_ADMIT, 1, self.key(key), limit, int(window * 1000),
                                              uuid.uuid4().hex))
        return None if wait < 0 else wait / 1000

    def close(self) -> None:
        while self.kept.idle:
            self.kept.idle.pop().disconnect()
        self.sync.close()
        self.sync.connection_pool.disconnect()  # a pool handed to the client is not closed with it

    async def aclose(self) -> None:
        """Close the asyncio client of the running loop (call from each loop that used this state)."""
        client = self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            kept = self._async_kept.pop(asyncio.get_running_loop(), None)
            for connection in kept.idle if kept is not None else []:
                await connection.disconnect()
            await client.aclose()
            await client.connection_pool.disconnect()


class Kept:
    """Connections :class:`Script` keeps out of the pool (up to ``limit``), skipping the pool's
    per-checkout work. Past ``limit`` it borrows from the pool and gives back at once, so no caller
    waits on the pool for a connection idling here. (A disconnected one reconnects on next use.)"""

    def __init__(self, make: Callable[[], Any], pool: Any, limit: int) -> None:
        self.make = make
        self.pool = pool
        self.limit = limit
        self.idle: list[Any] = []
        self._made = 0
        self._lock = threading.Lock()

    def take(self) -> Any:
        """A kept connection, or None when ``limit`` are in use (then borrow from the pool)."""
        try:
            return self.idle.pop()
        except IndexError:
            pass
        with self._lock:
            if self._made >= self.limit:
                return None
            self._made += 1
        return self.make()


def pack(*parts: bytes) -> bytes:
    """One command in RESP, ready to write."""
    return b"".join([b"*%d\r\n" % len(parts), *map(_bulk, parts)])


def _bulk(part: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(part), part)


@dataclass(frozen=True, slots=True)
class Also:
    """A command written in the same round trip as a :class:`Script` call; ``then`` gets its reply
    (not called when it failed: these are best-effort, like the statistics they carry)."""

    command: bytes  # packed (see :func:`pack`)
    then: Callable[[Any], None]


class Script:
    """A Lua script sent as pre-encoded bytes on a connection :class:`RedisState` keeps checked out.

    This is the hot path (one call per routed attempt): redis-py's command layer (argument encoding,
    the pool's checks on every checkout) costs about as much as the loopback round trip itself, so
    the request is packed here (RESP) and sent directly, with any :class:`Also` commands pipelined
    behind it. Arguments go as one comma-joined string (the script splits it). Errors propagate for
    :class:`FailOpen`; the connection is then dropped.
    """

    def __init__(self, state: RedisState, text: str) -> None:
        self.state = state
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest().encode()
        self._heads: dict[tuple[bytes, ...], bytes] = {}  # keys → the packed command up to its argument

    def _packed(self, keys: Sequence[bytes], args: Sequence[object]) -> bytes:
        fixed = tuple(keys)
        head = self._heads.get(fixed)
        if head is None:
            if len(self._heads) > 4096:
                self._heads.clear()
            parts = (b"EVALSHA", self.sha, str(len(keys)).encode(), *keys)
            head = self._heads[fixed] = b"*%d\r\n" % (len(parts) + 1) + b"".join(_bulk(p) for p in parts)
        return head + _bulk(",".join(map(str, args)).encode())

    @staticmethod
    def _answer(replies: list[Any], also: Sequence[Also]) -> Any:
        for extra, reply in zip(also, replies[1:], strict=True):
            if not isinstance(reply, Exception):
                extra.then(reply)
        if isinstance(replies[0], Exception):
            raise replies[0]
        return replies[0]

    def __call__(self, keys: Sequence[bytes], args: Sequence[object], also: Sequence[Also] = ()) -> Any:
        packed = self._packed(keys, args)
        replies = self._send([packed, *(a.command for a in also)])
        if isinstance(replies[0], NoScriptError):  # a restarted (or flushed) server: load it, once
            self.state.sync.script_load(self.text)
            replies[0] = self._send([packed])[0]
        return self._answer(replies, also)

    async def acall(self, keys: Sequence[bytes], args: Sequence[object], also: Sequence[Also] = ()) -> Any:
        """The same on the running loop's asyncio connections (bound by :class:`FailOpen`'s timeout)."""
        packed = self._packed(keys, args)
        replies = await self._asend([packed, *(a.command for a in also)])
        if isinstance(replies[0], NoScriptError):
            await self.state._aclient().script_load(self.text)
            replies[0] = (await self._asend([packed]))[0]
        return self._answer(replies, also)

    async def _asend(self, commands: list[bytes]) -> list[Any]:
        kept = self.state._loop_kept()
        connection = kept.take()
        own = connection is not None
        if connection is None:
            connection = await kept.pool.get_connection()
        healthy = False
        replies: list[Any] = []
        try:
            await connection.send_packed_command([b"".join(commands)], check_health=False)
            for _ in commands:
                try:
                    replies.append(await connection.read_response())
                except redis.ResponseError as exc:
                    replies.append(exc)
            healthy = True
        finally:
            if not healthy:  # cancelled (timeout) or failed mid-reply: never reuse the socket
                with contextlib.suppress(Exception):
                    await connection.disconnect()
            if own:
                kept.idle.append(connection)
            else:
                await kept.pool.release(connection)
        return replies

    def _send(self, commands: list[bytes]) -> list[Any]:
        kept = self.state._sync_kept()
        connection = kept.take()
        own = connection is not None
        if connection is None:
            connection = kept.pool.get_connection()  # it waits up to ``timeout`` when all are busy
        healthy = False
        replies: list[Any] = []
        try:
            connection.send_packed_command([b"".join(commands)], check_health=False)
            for _ in commands:
                try:
                    replies.append(connection.read_response())
                except redis.ResponseError as exc:  # the server answered with an error: still in step
                    replies.append(exc)
            healthy = True
        finally:
            if not healthy:  # a reply may still be on its way: never reuse the socket
                connection.disconnect()
            if own:
                kept.idle.append(connection)
            else:
                kept.pool.release(connection)
        return replies


_FAILURES = (redis.RedisError, OSError, asyncio.TimeoutError)


class FailOpen:
    """Redis when it answers, this process's memory when it does not.

    A failure (error, refused connection, or no answer within ``timeout``) switches to the local
    state for ``retry_after`` seconds, during which no call waits on Redis at all; then the next
    call tries Redis again (bounded by ``timeout``) and, when it answers, shared state resumes.
    So a call waits at most ``timeout`` on Redis per outage it discovers. One warning per outage;
    :attr:`fallbacks` counts the operations answered locally.
    """

    def __init__(self, remote: RedisState, local: State, *, retry_after: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.remote = remote
        self.local = local
        self.retry_after = retry_after
        self.fallbacks = 0
        self._clock = clock
        self._down_until: float | None = None
        self._lock = threading.Lock()

    @property
    def shared(self) -> bool:
        """Is Redis in use right now (not in an outage)?"""
        return self._down_until is None

    def _skip(self) -> bool:
        down = self._down_until
        return down is not None and self._clock() < down

    def _count_fallback(self) -> None:
        with self._lock:
            self.fallbacks += 1

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self.fallbacks += 1
            first = self._down_until is None
            self._down_until = self._clock() + self.retry_after
        if first:
            log.warning("shared state unavailable (%s: %s); using this process's state until Redis answers",
                        type(exc).__name__, exc)

    def _answered(self) -> None:
        if self._down_until is not None:
            with self._lock:
                self._down_until = None
            log.warning("shared state answering again; using Redis")

    def run(self, remote: Callable[[], T], local: Callable[[], T]) -> T:
        """``remote()`` unless Redis is in an outage or fails now; then ``local()``."""
        if self._skip():
            self._count_fallback()
            return local()
        try:
            value = remote()
        except _FAILURES as exc:
            self._failed(exc)
            return local()
        self._answered()
        return value

    async def arun(self, remote: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]) -> T:
        """:meth:`run` on the event loop; the whole round trip (connecting included) within ``timeout``."""
        if self._skip():
            self._count_fallback()
            return await local()
        try:
            async with asyncio.timeout(self.remote.timeout):  # the whole round trip, connecting included
                value = await remote()
        except _FAILURES as exc:
            self._failed(exc)
            return await local()
        self._answered()
        return value

    def add(self, key: str, amount: float, expires_at: float) -> float:
        return self.run(lambda: self.remote.add(key, amount, expires_at),
                         lambda: self.local.add(key, amount, expires_at))

    def get(self, key: str) -> float:
        return self.run(lambda: self.remote.get(key), lambda: self.local.get(key))

    def admit(self, key: str, limit: int, window: float) -> float | None:
        return self.run(lambda: self.remote.admit(key, limit, window),
                         lambda: self.local.admit(key, limit, window))

    def put(self, key: str, value: str, ttl: float) -> None:
        self.run(lambda: self.remote.put(key, value, ttl), lambda: self.local.put(key, value, ttl))

    def fetch(self, key: str) -> str | None:
        return self.run(lambda: self.remote.fetch(key), lambda: self.local.fetch(key))

    def delete(self, key: str) -> bool:
        return self.run(lambda: self.remote.delete(key), lambda: self.local.delete(key))

    async def aadd(self, key: str, amount: float, expires_at: float) -> float:
        return await self.arun(lambda: self.remote.aadd(key, amount, expires_at),
                                lambda: self.local.aadd(key, amount, expires_at))

    async def aget(self, key: str) -> float:
        return await self.arun(lambda: self.remote.aget(key), lambda: self.local.aget(key))

    async def aadmit(self, key: str, limit: int, window: float) -> float | None:
        return await self.arun(lambda: self.remote.aadmit(key, limit, window),
                                lambda: self.local.aadmit(key, limit, window))

    def close(self) -> None:
        self.remote.close()
        self.local.close()

    async def aclose(self) -> None:
        await self.remote.aclose()
        await self.local.aclose()
