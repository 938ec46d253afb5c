"""The one module that does network I/O: sends a WireRequest, maps transport failures.

httpx2 clients are created lazily (importing llmswitch opens nothing) and their own retries are
off — the router owns the one retry loop. Providers of the ``mock`` protocol are served
in-process by :class:`llmswitch.testing.MockTransport`, so the demo config needs no network.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx2

from . import errors
from .adapters.base import Provider, WireRequest, json_body

if TYPE_CHECKING:
    from .testing.app import MockApp

__all__ = ["AsyncTransport", "Deadline", "SyncTransport", "connection_error"]

DEFAULT_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)


@dataclass(frozen=True)
class Deadline:
    """Per-attempt timeouts in seconds (None = unbounded), already cut to the remaining total."""

    connect: float | None
    read: float | None  # waiting for the response head / a whole non-stream body
    idle: float | None = None  # between stream chunks

    def httpx(self) -> httpx2.Timeout:
        return httpx2.Timeout(connect=self.connect, read=self.read, write=self.read, pool=self.connect)


def connection_error(exc: Exception, request: httpx2.Request, provider: str, model: str) -> errors.APIConnectionError:
    """httpx2 transport exceptions → our connection/timeout errors (never the request headers)."""
    if isinstance(exc, httpx2.TimeoutException):
        kind = type(exc).__name__.replace("Timeout", " timeout").strip().lower()
        return errors.APITimeoutError(request, message=f"Request timed out ({kind}).", provider=provider, model=model)
    detail = str(exc).split("\n")[0][:200]
    return errors.APIConnectionError(message=f"Connection error: {type(exc).__name__}: {detail}",
                                     request=request, provider=provider, model=model)


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

    def build(self, client: httpx2.Client | httpx2.AsyncClient, wire: WireRequest, deadline: Deadline) -> httpx2.Request:
        content = None if wire.json is None else json_body(wire.json)
        headers = wire.headers
        if content is not None and "content-type" not in {k.lower() for k in headers}:
            headers = {**headers, "Content-Type": "application/json"}
        return client.build_request(wire.method, wire.url, params=wire.params, headers=headers, content=content,
                                    timeout=deadline.httpx())


class SyncTransport(_Base):
    def __init__(self, providers: Mapping[str, Provider], http_client: httpx2.Client | None = None) -> None:
        super().__init__(providers)
        self._client = http_client
        self._owns_client = http_client is None
        self._mock: httpx2.Client | None = None

    def client_for(self, provider: Provider) -> httpx2.Client:
        with self._lock:
            if provider.preset.protocol == "mock":
                if self._mock is None:
                    from .testing.transport import MockTransport

                    self._mock = httpx2.Client(transport=MockTransport(_mock_app(self._providers)))
                return self._mock
            if self._client is None:
                self._client = httpx2.Client(limits=DEFAULT_LIMITS, follow_redirects=True)
            return self._client

    def send(self, provider: Provider, wire: WireRequest, deadline: Deadline, auth: httpx2.Auth | None,
             model: str) -> httpx2.Response:
        client = self.client_for(provider)
        request = self.build(client, wire, deadline)
        try:
            response = client.send(request, auth=auth or httpx2.USE_CLIENT_DEFAULT, stream=wire.stream)
        except httpx2.TransportError as exc:
            raise connection_error(exc, request, provider.name, model) from exc
        if wire.stream and deadline.idle is not None:
            _set_body_read_timeout(response, deadline.idle)
        return response

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

    def client_for(self, provider: Provider) -> httpx2.AsyncClient:
        with self._lock:
            if provider.preset.protocol == "mock":
                if self._mock is None:
                    from .testing.transport import MockTransport

                    self._mock = httpx2.AsyncClient(transport=MockTransport(_mock_app(self._providers)))
                return self._mock
            if self._client is None:
                self._client = httpx2.AsyncClient(limits=DEFAULT_LIMITS, follow_redirects=True)
            return self._client

    async def send(self, provider: Provider, wire: WireRequest, deadline: Deadline, auth: httpx2.Auth | None,
                   model: str) -> httpx2.Response:
        client = self.client_for(provider)
        request = self.build(client, wire, deadline)
        try:
            response = await client.send(request, auth=auth or httpx2.USE_CLIENT_DEFAULT, stream=wire.stream)
        except httpx2.TransportError as exc:
            raise connection_error(exc, request, provider.name, model) from exc
        return response

    async def aclose(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
        if self._mock is not None:
            await self._mock.aclose()


def _set_body_read_timeout(response: httpx2.Response, seconds: float) -> None:
    """After the head of a stream arrived, body reads wait at most the idle timeout.

    The connection pool reads the timeout mapping when the body starts, so changing the shared
    mapping here makes the idle limit apply between chunks while the head waited for first_token.
    """
    timeouts: Any = response.request.extensions.get("timeout")
    if isinstance(timeouts, dict):
        timeouts["read"] = seconds
