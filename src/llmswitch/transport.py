"""The one module that does network I/O: sends a WireRequest, maps transport failures.

httpx2 clients are created lazily (importing llmswitch opens nothing) and their own retries are
off — the router owns the one retry loop. Providers of the ``mock`` protocol are served
in-process by :class:`llmswitch.testing.MockTransport`, so the demo config needs no network.

Deadlines: httpx2's timeouts are per socket operation, so they bound ``connect`` and a single
wait exactly but cannot express "first output within 30 s" or "the whole call within 120 s"
across many reads: a server trickling one byte every half second would keep a call alive
forever. So every send is bounded as a whole, from connect to the last byte of a non-streamed
body (to the response head for a stream):

- sync: the clients we create run on a network backend that cuts every socket wait (connect,
  TLS, write, read) to what is left of the attempt's deadline and fails once it has passed; a
  caller's own ``http_client`` gets :class:`Watchdog` over the body, once there is a socket;
- async: one ``asyncio.timeout`` scope around the whole exchange.

After the head, stream readers enforce first_token, idle and total (in :mod:`._stream`): async
with asyncio timers, sync with :class:`Watchdog`, one daemon thread that shuts a stream's socket
down when its deadline passes, which wakes the blocked read at once.

A non-streamed body larger than the provider's ``max_response_bytes`` (32 MiB by default) is
refused and its connection closed. Redirects are never followed: no vendor API needs one, and
following one would carry credential headers (``api-key``, ``x-api-key``, signatures) to
whatever origin the ``Location`` names.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import heapq
import itertools
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx2

from . import errors
from ._bounds import BOUNDED, DUE, Capped, TooLarge, bounded_transport
from ._secret import install_log_filters
from .adapters.base import NonFiniteNumberError, Provider, WireRequest, json_body
from .auth import Signer

if TYPE_CHECKING:
    from .testing.app import MockApp

__all__ = ["AsyncTransport", "Deadline", "SyncTransport", "Watch", "Watchdog", "abort", "connection_error",
           "watchdog"]

DEFAULT_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)


@dataclass(frozen=True, slots=True)
class Deadline:
    """One attempt's limits in seconds (None = unbounded), already cut to what is left of the call.

    ``read`` is the socket-level wait for a response head (streams) or a whole response;
    ``first_token``, ``idle`` and ``total`` are enforced by the stream readers.
    """

    connect: float | None
    read: float | None
    idle: float | None = None
    first_token: float | None = None
    total: float | None = None

    def httpx(self) -> httpx2.Timeout:
        return httpx2.Timeout(connect=self.connect, read=self.read, write=self.read, pool=self.connect)

    def exchange_limit(self, stream: bool) -> float | None:
        """Seconds the send may take as a whole: to the head of a stream (first_token, already cut
        to total), to the last byte of anything else (total)."""
        if stream and self.first_token is not None:
            return self.first_token
        return self.total


def connection_error(exc: Exception, request: httpx2.Request, provider: str, model: str) -> errors.APIConnectionError:
    """httpx2 transport exceptions → our connection/timeout errors (never the request headers)."""
    if isinstance(exc, httpx2.TimeoutException):
        kind = type(exc).__name__.replace("Timeout", " timeout").strip().lower()
        return errors.APITimeoutError(request, message=f"Request timed out ({kind}).", provider=provider, model=model)
    detail = str(exc).split("\n")[0][:200]
    return errors.APIConnectionError(message=f"Connection error: {type(exc).__name__}: {detail}",
                                     request=request, provider=provider, model=model)


def abort(response: httpx2.Response) -> bool:
    """Shut the response's socket down from any thread, waking a read blocked on it.

    Returns False when the transport exposes no socket (in-process mocks, custom transports).
    """
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if not isinstance(sock, socket.socket):
        return False
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    return True


def _timed_out(request: httpx2.Request, provider: str, model: str, limit: float,
               stream: bool) -> errors.APITimeoutError:
    what = "the stream started" if stream else "the response was complete"
    return errors.APITimeoutError(request, provider=provider, model=model,
                                  message=f"Request timed out: the deadline ({limit:.3g}s) passed before {what}.")


def _too_large(response: httpx2.Response, provider: Provider, model: str) -> errors.APIStatusError:
    limit = provider.max_response_bytes
    size = f"{limit / 2**20:.3g} MiB" if limit >= 2**20 else f"{limit} bytes"
    return errors.error_for_kind("server_error", f"response body larger than {size} (the provider's "
                                 f"max_response_bytes); connection closed", response=response,
                                 provider=provider.name, model=model, status_code=502)


def _redirected(response: httpx2.Response, provider: Provider, model: str) -> errors.APIStatusError:
    location = response.request.url.join(response.headers.get("location", ""))
    port = f":{location.port}" if location.port else ""
    where = f"{location.scheme}://{location.host}{port}"
    return errors.error_for_kind("other", f"the server redirected to {where}; llmswitch follows no redirects "
                                 f"(is base_url {provider.base_url.split('@')[-1]!r} right?)",
                                 response=response, provider=provider.name, model=model)


def _refused(response: httpx2.Response) -> bool:
    """A stream request answered with an error or a plain JSON body: read it whole (capped)."""
    if response.status_code >= 300:
        return True
    return response.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"


# -- the sync deadline watchdog --------------------------------------------------------------------

class Watch:
    """One stream's deadline. Moving it later is a plain assignment (per chunk, lock-free);
    moving it earlier wakes the watchdog. ``fired`` names the deadline that passed, if one did.

    ``reading`` is False while the caller holds a chunk: an idle or first-token deadline that
    passes then waits for the next read (the caller's own time is not the server's silence).
    """

    __slots__ = ("_abort", "_dog", "active", "due", "fired", "queued_at", "reading", "reason")

    def __init__(self, dog: Watchdog, abort: Callable[[], object], due: float, reason: str) -> None:
        self._dog = dog
        self._abort = abort
        self.due = due
        self.reason = reason
        self.queued_at = due
        self.fired: str | None = None
        self.active = True
        self.reading = True

    def set(self, due: float, reason: str) -> None:
        self.reason = reason
        self.due = due
        if due < self.queued_at:
            self._dog.push(self)

    def cancel(self) -> None:
        self._dog.cancel(self)


_RECHECK = 0.05  # how often an expired watch is looked at again while its caller holds a chunk


class Watchdog:
    """A heap of stream deadlines served by one lazily started daemon thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, Watch]] = []
        self._cond = threading.Condition(threading.Lock())
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._dead = 0

    def watch(self, abort: Callable[[], object], due: float, reason: str) -> Watch:
        watch = Watch(self, abort, due, reason)
        self.push(watch)
        return watch

    def push(self, watch: Watch) -> None:
        with self._cond:
            watch.queued_at = watch.due
            heapq.heappush(self._heap, (watch.due, next(self._seq), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="llmswitch-watchdog", daemon=True)
                self._thread.start()
            if self._heap[0][2] is watch:
                self._cond.notify()

    def cancel(self, watch: Watch) -> None:
        with self._cond:
            if not watch.active:
                return
            watch.active = False
            self._dead += 1
            if self._dead > 64 and self._dead * 2 > len(self._heap):  # keep the heap small
                self._heap = [e for e in self._heap if e[2].active and e[0] == e[2].queued_at]
                heapq.heapify(self._heap)
                self._dead = 0

    def _run(self) -> None:
        if hasattr(signal, "pthread_sigmask"):  # Ctrl-C must reach the main thread, never this one
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        while True:
            fire: Watch | None = None
            with self._cond:
                while fire is None:
                    if not self._heap:
                        self._cond.wait()
                        continue
                    when, _, watch = self._heap[0]
                    if not watch.active or when != watch.queued_at:  # cancelled, or superseded
                        heapq.heappop(self._heap)
                        if not watch.active:
                            self._dead = max(self._dead - 1, 0)
                        continue
                    now = self.clock()
                    if when > now:
                        self._cond.wait(when - now)
                        continue
                    heapq.heappop(self._heap)
                    if watch.due > now or (not watch.reading and watch.reason != "total"):
                        # moved later since it was queued, or the caller holds a chunk: look again
                        watch.queued_at = watch.due if watch.due > now else now + _RECHECK
                        heapq.heappush(self._heap, (watch.queued_at, next(self._seq), watch))
                        continue
                    watch.active = False
                    watch.fired = watch.reason
                    fire = watch
            with contextlib.suppress(Exception):
                fire._abort()


_WATCHDOG: Watchdog | None = None
_WATCHDOG_LOCK = threading.Lock()


def watchdog() -> Watchdog:
    """The process-wide watchdog (its thread starts on the first watched stream)."""
    global _WATCHDOG
    if _WATCHDOG is None:
        with _WATCHDOG_LOCK:
            if _WATCHDOG is None:
                _WATCHDOG = Watchdog()
    return _WATCHDOG


# -- transports ---------------------------------------------------------------------------------------

def _mock_app(providers: Mapping[str, Provider]) -> MockApp:
    from .testing.app import MockApp

    mocks = {name: "openai" for name, p in providers.items() if p.preset.protocol == "mock"}
    app = MockApp(mocks)
    for name in mocks:
        provider, mount = providers[name], app.mount(name)
        mount.latency = float(provider.option("latency") or 0.0)
        mount.completion_tokens = provider.option("completion_tokens")
        mount.fail(*(provider.option("faults") or ()))
    return app


class _Base:
    def __init__(self, providers: Mapping[str, Provider]) -> None:
        self._providers = providers
        self._lock = threading.Lock()
        # parsing a URL costs ~50 µs and a provider uses a few: cache each with its userinfo's header
        self._urls: dict[str, tuple[httpx2.URL, str | None]] = {}
        self._defaults: dict[httpx2.Client | httpx2.AsyncClient, tuple[tuple[str, str, str], ...]] = {}

    def build(self, client: httpx2.Client | httpx2.AsyncClient, wire: WireRequest, deadline: Deadline,
              provider: Provider, model: str) -> httpx2.Request:
        try:
            content = None if wire.json is None else json_body(wire.json)
        except NonFiniteNumberError as exc:
            raise _invalid(str(exc), wire, provider, model) from None
        headers = wire.headers
        present = {k.lower() for k in headers}
        if content is not None and "content-type" not in present:
            headers = {**headers, "Content-Type": "application/json"}
        found = self._urls.get(wire.url)
        if found is None:
            found = _without_userinfo(httpx2.URL(wire.url))
            if len(self._urls) < 256:  # bounded: per-model URLs (Gemini, Azure deployments) stay few
                self._urls[wire.url] = found
        url, basic = found
        if basic is not None and "authorization" not in present:
            headers = {**headers, "Authorization": basic}
        defaults = self._defaults.get(client)
        if defaults is None:  # a caller's client: its base URL, headers, cookies and params apply
            return client.build_request(wire.method, url, params=wire.params, headers=headers, content=content,
                                        timeout=deadline.httpx())
        # a client we made has nothing to merge but its default headers; and the body is bytes
        # already, so the request is built as a transport receives it (httpx2's content
        # encoding would only work out the same Host and Content-Length, at 5x the cost)
        merged = dict(headers)
        for lowered, name, value in defaults:
            if lowered not in present:
                merged[name] = value
        if "host" not in present:
            merged["Host"] = url.netloc.decode("ascii")
        if content is not None:
            merged["Content-Length"] = str(len(content))
        request = httpx2.Request(wire.method, url, params=wire.params, headers=merged,
                                 stream=httpx2.ByteStream(content or b""),
                                 extensions={"timeout": deadline.httpx().as_dict()})
        request.read()
        return request

    def _made(self, client: httpx2.Client | httpx2.AsyncClient) -> None:
        """Remember a client this transport created, with the headers it adds to every request."""
        self._defaults[client] = tuple((k.decode().lower(), k.decode(), v.decode()) for k, v in client.headers.raw)


def _without_userinfo(url: httpx2.URL) -> tuple[httpx2.URL, str | None]:
    """``user:password@`` moves out of the URL into a Basic auth header: no URL we send or log
    carries a password, and aiohttp (which refuses both at once) sees only the header."""
    if not url.userinfo:
        return url, None
    token = base64.b64encode(f"{url.username}:{url.password}".encode()).decode()
    return url.copy_with(username=None, password=None), f"Basic {token}"


def _invalid(message: str, wire: WireRequest, provider: Provider, model: str) -> errors.BadRequestError:
    """A request refused before sending (nothing the server could accept): openai's 400 class."""
    request = httpx2.Request(wire.method, _without_userinfo(httpx2.URL(wire.url))[0])
    return errors.BadRequestError(message, response=httpx2.Response(400, request=request), body=None,
                                  provider=provider.name, model=model, code="invalid_value")


class SyncTransport(_Base):
    def __init__(self, providers: Mapping[str, Provider], http_client: httpx2.Client | None = None) -> None:
        super().__init__(providers)
        self._client = http_client
        self._owns_client = http_client is None
        # does the client cut every socket wait to the deadline? (ours do; a copy shares its parent's)
        self._bounded = http_client is not None and http_client in BOUNDED
        self._mock: httpx2.Client | None = None

    def client_for(self, provider: Provider) -> httpx2.Client:
        if self._client is not None and provider.preset.protocol != "mock":
            return self._client
        with self._lock:
            if provider.preset.protocol == "mock":
                if self._mock is None:
                    from .testing.transport import MockTransport

                    self._mock = httpx2.Client(transport=MockTransport(_mock_app(self._providers)))
                    self._made(self._mock)
                return self._mock
            return self.outgoing()

    def outgoing(self) -> httpx2.Client:
        """The client real providers are reached through (created on first use): its sockets are
        bounded by each send's deadline, and it follows no redirect."""
        if self._client is None:
            install_log_filters()
            transport, self._bounded = bounded_transport(DEFAULT_LIMITS)
            self._client = httpx2.Client(transport=transport, follow_redirects=False)
            self._made(self._client)
            if self._bounded:
                BOUNDED.add(self._client)
        return self._client

    def send(self, provider: Provider, wire: WireRequest, deadline: Deadline, auth: httpx2.Auth | None,
             model: str) -> httpx2.Response:
        """One exchange, bounded as a whole by the deadline: a non-streamed response comes back
        read (at most ``max_response_bytes``), a stream with its head only."""
        client = self.client_for(provider)
        request = self.build(client, wire, deadline, provider, model)
        if isinstance(auth, Signer):  # no I/O needed: sign here, skip httpx2's auth flow
            auth.sign(request)
            auth = None
        limit = deadline.exchange_limit(wire.stream)
        due = None if limit is None else time.monotonic() + limit
        bounded = self._bounded and client is self._client
        DUE.at = due if bounded else None
        response: httpx2.Response | None = None
        try:
            response = client.send(request, auth=auth or httpx2.USE_CLIENT_DEFAULT, stream=True,
                                   follow_redirects=False)
            if response.is_redirect:
                response.close()
                raise _redirected(response, provider, model)
            if wire.stream and not _refused(response):
                _set_body_read_timeout(response, deadline)
                return response
            self._read(response, provider, model, due if client is self._client and not bounded else None)
            return response
        except httpx2.TransportError as exc:
            if response is not None:
                response.close()
            # past the deadline, a cut wait or a watchdog-aborted socket is the deadline's doing;
            # a refused connection that merely arrived late (a starved process) stays a refusal
            if not isinstance(exc, httpx2.ConnectError) and due is not None and limit is not None \
                    and time.monotonic() >= due - 0.001:
                raise _timed_out(request, provider.name, model, limit, wire.stream) from exc
            raise connection_error(exc, request, provider.name, model) from exc
        finally:
            DUE.at = None

    @staticmethod
    def _read(response: httpx2.Response, provider: Provider, model: str, watched_until: float | None) -> None:
        """The body, capped; a caller's own client is bounded by the watchdog once it has a socket."""
        response.stream = Capped(response.stream, provider.max_response_bytes)
        watch = watchdog().watch(lambda: abort(response), watched_until, "total") \
            if watched_until is not None else None
        try:
            if len(response.read()) > provider.max_response_bytes:  # a transport that had it all in memory
                raise TooLarge
        except TooLarge:
            response.close()
            raise _too_large(response, provider, model) from None
        finally:
            if watch is not None:
                watch.cancel()

    def close(self) -> None:
        if self._client is not None and self._owns_client:
            self._client.close()
        if self._mock is not None:
            self._mock.close()


class AsyncTransport(_Base):
    def __init__(self, providers: Mapping[str, Provider], http_client: httpx2.AsyncClient | None = None) -> None:
        super().__init__(providers)
        self._client = http_client
        self._owns_client = http_client is None
        self._mock: httpx2.AsyncClient | None = None
        self._direct: httpx2.AsyncBaseTransport | None = None  # our own client's transport

    def client_for(self, provider: Provider) -> httpx2.AsyncClient:
        if self._client is not None and provider.preset.protocol != "mock":
            return self._client
        with self._lock:
            if provider.preset.protocol == "mock":
                if self._mock is None:
                    from .testing.transport import MockTransport

                    self._mock = httpx2.AsyncClient(transport=MockTransport(_mock_app(self._providers)))
                    self._made(self._mock)
                return self._mock
            return self.outgoing()

    def outgoing(self) -> httpx2.AsyncClient:
        """The client real providers are reached through (created on first use); it follows no redirect."""
        if self._client is None:
            install_log_filters()
            self._direct = _default_async_transport()
            self._client = httpx2.AsyncClient(follow_redirects=False, transport=self._direct)
            self._made(self._client)
            if any(k.lower() in ("http_proxy", "https_proxy", "all_proxy") for k in os.environ):
                self._direct = None  # proxied URLs go through httpx2's mounts: keep to client.send
        return self._client

    async def send(self, provider: Provider, wire: WireRequest, deadline: Deadline, auth: httpx2.Auth | None,
                   model: str) -> httpx2.Response:
        """As :meth:`SyncTransport.send`, bounded by one asyncio timeout scope."""
        client = self.client_for(provider)
        request = self.build(client, wire, deadline, provider, model)
        if isinstance(auth, Signer):  # no I/O needed: sign here, skip httpx2's auth flow
            auth.sign(request)
            auth = None
        limit = deadline.exchange_limit(wire.stream)
        try:
            if limit is None:
                return await self._exchange(client, request, auth, wire.stream, deadline, provider, model)
            async with asyncio.timeout(limit):
                return await self._exchange(client, request, auth, wire.stream, deadline, provider, model)
        except TimeoutError:
            raise _timed_out(request, provider.name, model, limit or 0.0, wire.stream) from None
        except httpx2.TransportError as exc:
            raise connection_error(exc, request, provider.name, model) from exc

    async def _exchange(self, client: httpx2.AsyncClient, request: httpx2.Request, auth: httpx2.Auth | None,
                        stream: bool, deadline: Deadline, provider: Provider, model: str) -> httpx2.Response:
        if auth is None and self._direct is not None and client is self._client:
            # our own client and no auth flow: skip httpx2's auth/redirect/cookie/hook layers
            # (~70 µs a call at 64 in flight)
            response = await self._direct.handle_async_request(request)
        else:
            response = await client.send(request, auth=auth or httpx2.USE_CLIENT_DEFAULT, stream=True,
                                         follow_redirects=False)
        try:
            if response.is_redirect:
                raise _redirected(response, provider, model)
            if stream and not _refused(response):
                _set_body_read_timeout(response, deadline)
                return response
            if response.is_closed:  # the whole body came with the head (aiohttp's small answers)
                if len(response.content) > provider.max_response_bytes:
                    raise _too_large(response, provider, model)
                return response
            response.stream = Capped(response.stream, provider.max_response_bytes)
            try:
                if len(await response.aread()) > provider.max_response_bytes:  # a transport that had it all
                    raise TooLarge
            except TooLarge:
                raise _too_large(response, provider, model) from None
        except BaseException:  # a deadline's cancellation included: never leave the connection open
            await response.aclose()
            raise
        return response

    async def aclose(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
        if self._mock is not None:
            await self._mock.aclose()


def _default_async_transport() -> httpx2.AsyncBaseTransport:
    """aiohttp's pool when the ``aiohttp`` extra is installed: at 64 calls in flight httpx2's own
    pool spends most of the CPU scanning its connections (see benchmarks/README.md)."""
    try:
        from ._aiohttp import AiohttpTransport
    except ImportError:
        return httpx2.AsyncHTTPTransport(limits=DEFAULT_LIMITS)
    return AiohttpTransport(limits=DEFAULT_LIMITS)


def _set_body_read_timeout(response: httpx2.Response, deadline: Deadline) -> None:
    """After a stream's head arrived, a single body read may wait for what is left of the call.

    The head waited at most ``first_token``; the connection pool reads the timeout mapping again
    when the body starts, so the body gets this looser socket backstop while the stream readers
    enforce first_token, idle and total precisely (a gap before the first token is not "idle").
    """
    timeouts: Any = response.request.extensions.get("timeout")
    if isinstance(timeouts, dict):
        timeouts["read"] = deadline.total
