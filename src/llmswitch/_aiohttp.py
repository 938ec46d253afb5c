"""An httpx2 async transport that rides on aiohttp, for throughput at high concurrency.

httpx2's own pool spends most of its CPU in pure-Python connection bookkeeping; aiohttp's C
HTTP parser and simpler pool do the same work in a fraction of the time (see benchmarks/). This
transport keeps the httpx2 interface — requests, responses, auth, and above all the exception
types — so the rest of llmswitch cannot tell the difference.

With the ``aiohttp`` extra installed, ``llmswitch.AsyncOpenAI`` and the gateway use it by default and
send past httpx2's client layer. A caller's own client works too, at the cost of that layer
(auth, cookies, hooks: about 30% of a call's CPU at 64 in flight)::

    llmswitch.AsyncOpenAI(http_client=httpx2.AsyncClient(transport=AiohttpTransport()))

Only this module imports aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import httpx2

__all__ = ["AiohttpTransport"]

DEFAULT_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=5.0)

# most specific first: the first class that matches decides (aiohttp's tree is deep)
_ERRORS: tuple[tuple[type[BaseException], type[httpx2.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx2.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx2.ReadTimeout),  # SocketTimeoutError: sock_read between bytes
    (aiohttp.ClientProxyConnectionError, httpx2.ProxyError),
    (aiohttp.ClientHttpProxyError, httpx2.ProxyError),
    (aiohttp.ClientConnectorError, httpx2.ConnectError),  # refused, DNS, TLS handshake
    (aiohttp.ServerDisconnectedError, httpx2.RemoteProtocolError),  # closed before/while answering
    (aiohttp.ClientPayloadError, httpx2.RemoteProtocolError),  # body cut short (as httpcore says it)
    (aiohttp.ClientResponseError, httpx2.RemoteProtocolError),  # unparsable response head
    (aiohttp.InvalidURL, httpx2.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx2.UnsupportedProtocol),
    (aiohttp.ClientConnectionError, httpx2.ReadError),  # resets, OS errors on an open connection
    (asyncio.TimeoutError, httpx2.ReadTimeout),
    (aiohttp.ClientError, httpx2.TransportError),
)


def _mapped(exc: BaseException, request: httpx2.Request) -> httpx2.TransportError | None:
    for source, target in _ERRORS:
        if isinstance(exc, source):
            message = str(exc) or type(exc).__name__
            return target(message, request=request)
    return None


@contextlib.contextmanager
def _httpx_errors(request: httpx2.Request) -> Iterator[None]:
    """Re-raise aiohttp's exceptions as httpx2's, so callers catch one family only."""
    try:
        yield
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:  # noqa: UP041  # distinct on 3.10
        mapped = _mapped(exc, request)
        if mapped is None:  # pragma: no cover - the table ends with both catch-alls
            raise
        raise mapped from exc


class _Body(httpx2.AsyncByteStream):
    """The response body as aiohttp delivers it: each piece as soon as it arrives."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx2.Request, read_timeout: float | None) -> None:
        self._response = response
        self._request = request
        self._read_timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._follow_read_timeout()
        with _httpx_errors(self._request):
            async for piece in self._response.content.iter_any():
                yield piece

    def _follow_read_timeout(self) -> None:
        """httpx2 reads the timeout mapping when the body starts; a caller may have changed
        ``read`` after the head arrived (llmswitch does: first-token → idle limit). Apply it."""
        timeouts: Any = self._request.extensions.get("timeout")
        read = timeouts.get("read") if isinstance(timeouts, dict) else None
        if read == self._read_timeout:
            return
        connection = self._response.connection
        protocol = connection.protocol if connection is not None else None
        if protocol is None or self._response.content.is_eof():
            return  # body complete: no timer may be armed on a connection going back to the pool
        protocol.read_timeout = read
        protocol.start_timeout()  # re-arm from now with the new limit (aiohttp drops it at EOF)

    async def aclose(self) -> None:
        # release() returns the connection to the pool when the body was read to its end and
        # closes it otherwise, so an abandoned stream never leaves bytes behind for the next call
        self._response.release()


class _Whole(httpx2.Response):
    """An answer whose whole, unencoded body came with its head (most JSON replies): it is the
    content as it is. httpx2's read would pass the bytes through its decoder and chunker
    pipeline first, about 45 µs a call for nothing when there is no Content-Encoding."""

    def __init__(self, status: int, headers: Any, body: bytes, request: httpx2.Request,
                 extensions: dict[str, Any]) -> None:
        super().__init__(status, headers=headers, stream=httpx2.ByteStream(body), request=request,
                         extensions=extensions)
        self._content = body  # what httpx2's own read() stores; tests/test_aiohttp_transport.py checks it holds
        self.is_stream_consumed = True
        self.is_closed = True


class AiohttpTransport(httpx2.AsyncBaseTransport):
    """An ``httpx2.AsyncBaseTransport`` over one lazily created ``aiohttp.ClientSession``.

    The session is made inside the running event loop on the first request (creating it earlier
    would bind it to no loop or the wrong one). aiohttp sets TCP_NODELAY on every connection.
    Timeouts come from each request's ``extensions["timeout"]``: ``connect`` bounds opening a
    connection, ``pool`` + ``connect`` bounds getting one, ``read`` bounds every wait for bytes.
    """

    def __init__(self, *, limits: httpx2.Limits = DEFAULT_LIMITS, verify: ssl.SSLContext | bool = True,
                 trust_env: bool = False) -> None:
        self._limits = limits
        self._verify = verify
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def _session_for(self, loop: asyncio.AbstractEventLoop) -> aiohttp.ClientSession:
        session = self._session
        if session is not None and self._loop is loop and not session.closed:
            return session
        if session is not None:
            _abandon(session)
        connector = aiohttp.TCPConnector(
            limit=self._limits.max_connections or 0,  # 0: no limit, like httpx2's None
            keepalive_timeout=self._limits.keepalive_expiry,
            ssl=self._verify,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,  # httpx2 decodes Content-Encoding itself
            cookie_jar=aiohttp.DummyCookieJar(),  # httpx2 keeps the cookies
            trust_env=self._trust_env,
            timeout=aiohttp.ClientTimeout(total=None),
        )
        self._loop = loop
        return self._session

    def _timeout(self, request: httpx2.Request) -> aiohttp.ClientTimeout:
        timeouts: Any = request.extensions.get("timeout") or {}
        connect, read, pool = timeouts.get("connect"), timeouts.get("read"), timeouts.get("pool")
        key = (connect, read, pool)
        cached = self._timeouts.get(key)
        if cached is None:
            acquire = None if pool is None or connect is None else pool + connect
            cached = aiohttp.ClientTimeout(total=None, connect=acquire, sock_connect=connect, sock_read=read)
            if len(self._timeouts) < 64:  # a handful of distinct deadlines in practice
                self._timeouts[key] = cached
        return cached

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        session = self._session_for(asyncio.get_running_loop())
        timeout = self._timeout(request)
        data: bytes | AsyncIterator[bytes] | None
        try:
            data = request.content or None
        except httpx2.RequestNotRead:
            data = _aiter(request.stream)
            request.headers.pop("transfer-encoding", None)  # aiohttp frames it itself
        with _httpx_errors(request):
            response = await session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=data,
                allow_redirects=False,  # httpx2 follows redirects itself, when asked to
                timeout=timeout,
                server_hostname=request.extensions.get("sni_hostname"),
            )
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("ascii", "replace")
        if response.content.is_eof() and "Content-Length" in response.headers:
            # the whole body came with the head (most JSON answers): hand it over as bytes, which
            # spares httpx2 its async read machinery; streams still arriving take the path below
            with _httpx_errors(request):
                body = response.content.read_nowait()
            response.release()
            if "Content-Encoding" not in response.headers:
                return _Whole(response.status, response.raw_headers, body, request, extensions)
            return httpx2.Response(response.status, headers=response.raw_headers, content=body, request=request,
                                   extensions=extensions)
        return httpx2.Response(
            response.status,
            headers=response.raw_headers,
            stream=_Body(response, request, timeout.sock_read),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            same_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            same_loop = False
        if same_loop:
            await session.close()
        else:
            _abandon(session)


async def _aiter(stream: Any) -> AsyncIterator[bytes]:
    async for piece in stream:
        yield piece


def _abandon(session: aiohttp.ClientSession) -> None:
    """Drop a session whose event loop is gone (e.g. a second ``asyncio.run``): close its
    sockets without awaiting on a loop that cannot run, and without a resource warning."""
    connector = session.connector
    session.detach()
    if connector is not None:
        with contextlib.suppress(Exception):
            connector._close()  # the synchronous half of close(); its awaitable needs the old loop
