"""The mock app behind an httpx2 transport: the ``mock`` provider type, in-process, no sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx2

from .app import MockApp, Planned
from .server import ENDLESS_BYTES

__all__ = ["MockTransport"]


class MockTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """Serves requests from a :class:`MockApp`; delays and faults behave as on the loopback server."""

    def __init__(self, app: MockApp) -> None:
        self.app = app

    def _plan(self, request: httpx2.Request, body: bytes) -> Planned:
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = dict(request.url.params.items())
        return self.app.handle(request.method, request.url.path, query, headers, body)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        planned = self._plan(request, request.read())
        if planned.delay_before:
            time.sleep(planned.delay_before)
        if planned.drop:
            raise httpx2.RemoteProtocolError("server disconnected without sending a response", request=request)
        return httpx2.Response(planned.status, headers=planned.headers, stream=_SyncBody(planned, request),
                               request=request)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        planned = self._plan(request, await request.aread())
        if planned.delay_before:
            await asyncio.sleep(planned.delay_before)
        if planned.drop:
            raise httpx2.RemoteProtocolError("server disconnected without sending a response", request=request)
        return httpx2.Response(planned.status, headers=planned.headers, stream=_AsyncBody(planned, request),
                               request=request)


def _parts(planned: Planned) -> Iterator[tuple[float, bytes | None]]:
    """(delay, part) pairs; part None means the connection drops there. (A trickled head or body
    arrives whole here: in-process there is no socket to be slow on.)"""
    if planned.endless:
        for _ in range(ENDLESS_BYTES // len(planned.parts[0])):
            yield 0.0, planned.parts[0]
        return
    for index, part in enumerate(planned.parts):
        if planned.cut_after is not None and index >= planned.cut_after:
            yield 0.0, None
            return
        delay = planned.between + (planned.stall_seconds if planned.stall_at == index else 0.0)
        yield delay, part


class _SyncBody(httpx2.SyncByteStream):
    def __init__(self, planned: Planned, request: httpx2.Request) -> None:
        self.planned, self.request = planned, request

    def __iter__(self) -> Iterator[bytes]:
        for delay, part in _parts(self.planned):
            if delay:
                time.sleep(delay)
            if part is None:
                raise httpx2.RemoteProtocolError("peer closed connection mid-body", request=self.request)
            yield part


class _AsyncBody(httpx2.AsyncByteStream):
    def __init__(self, planned: Planned, request: httpx2.Request) -> None:
        self.planned, self.request = planned, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for delay, part in _parts(self.planned):
            if delay:
                await asyncio.sleep(delay)
            if part is None:
                raise httpx2.RemoteProtocolError("peer closed connection mid-body", request=self.request)
            yield part
