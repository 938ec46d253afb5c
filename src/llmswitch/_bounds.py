"""What bounds a send in :mod:`.transport`: a socket layer cut to the attempt's deadline, and a
response body cut at its size limit.

httpx2's timeouts apply to one socket operation each, so a server sending a byte every half
second keeps any call alive. The clients llmswitch creates run on :class:`_DeadlineBackend`:
every socket wait (connect, TLS, write, read) is cut to what is left of the deadline the
current thread's send set in :data:`DUE`, and fails once it has passed. Thread-local, because a
sync send runs in its caller's thread from connect to the last byte.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpcore2
import httpx2

__all__ = ["BOUNDED", "DUE", "Capped", "TooLarge", "bounded_transport"]


class _Due(threading.local):
    """The monotonic instant the current thread's send must end by (None: unbounded)."""

    at: float | None = None


DUE = _Due()


def _cut(timeout: float | None, exc: type[Exception]) -> float | None:
    at = DUE.at
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise exc("the attempt's deadline passed")
    return left if timeout is None or timeout > left else timeout


class _DeadlineStream(httpcore2.NetworkStream):
    """A socket stream whose every wait ends by the current send's deadline."""

    __slots__ = ("_stream",)

    def __init__(self, stream: httpcore2.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _cut(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _cut(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore2.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, _cut(timeout, httpcore2.ConnectTimeout))
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore2.NetworkBackend):
    def __init__(self, backend: httpcore2.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore2.NetworkStream:
        stream = self._backend.connect_tcp(host, port, _cut(timeout, httpcore2.ConnectTimeout), local_address,
                                           socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore2.NetworkStream:
        stream = self._backend.connect_unix_socket(path, _cut(timeout, httpcore2.ConnectTimeout), socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


BOUNDED: weakref.WeakSet[httpx2.Client] = weakref.WeakSet()  # our clients on the deadline backend


def bounded_transport(limits: httpx2.Limits) -> tuple[httpx2.HTTPTransport, bool]:
    """httpx2's transport on the deadline backend; False when httpx2's internals moved (then the
    watchdog bounds the body only)."""
    transport = httpx2.HTTPTransport(limits=limits)
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(pool, httpcore2.ConnectionPool) or not isinstance(backend, httpcore2.NetworkBackend):
        return transport, False
    pool._network_backend = _DeadlineBackend(backend)
    return transport, True


# -- response size ---------------------------------------------------------------------------------

class TooLarge(Exception):
    """The body passed its limit (raised while reading it)."""


class Capped(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A response body that stops at ``limit`` bytes on the wire."""

    def __init__(self, stream: Any, limit: int) -> None:
        self._stream, self._limit, self._seen = stream, limit, 0

    def _count(self, piece: bytes) -> bytes:
        self._seen += len(piece)
        if self._seen > self._limit:
            raise TooLarge
        return piece

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._stream:
            yield self._count(piece)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for piece in self._stream:
            yield self._count(piece)

    def close(self) -> None:
        self._stream.close()

    async def aclose(self) -> None:
        await self._stream.aclose()
