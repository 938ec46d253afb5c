"""The routing transport: openai's client above, the router and the adapters below.

``llmswitch.OpenAI`` is an ``openai.OpenAI`` whose HTTP client sends through
:class:`RoutingTransport` (``AsyncRoutingTransport`` for the async twin). It receives the
OpenAI-shaped requests openai's code builds, runs them through the same call core as the direct
``create()`` path (:mod:`._call`, :mod:`._engine`) and answers with OpenAI-shaped responses —
JSON, or SSE re-encoded from the vendor's stream — so every openai helper (``parse``,
``with_raw_response``, ``stream``, pagination) works on every provider.

Failures are raised as llmswitch's typed errors: they subclass ``openai.OpenAIError``, which
openai's client propagates as they are, without retrying them again (the router already did).

What is routed: ``POST /chat/completions`` and ``/embeddings``; ``POST /responses`` and ``GET``/``DELETE
/responses/{id}`` (:mod:`.routing_responses`); ``GET /models`` and ``/models/{id}`` when a providers
file is in use. Everything else passes through unchanged to the
pass-through provider (the ``base_url`` one with no file; the file's ``passthrough:`` provider,
else its first ``openai``-type one), or is refused with openai's ``NotFoundError`` saying why.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx2

from . import errors
from ._call import Operation, prepare
from ._engine import AsyncEngine, Engine
from ._stream import AsyncStream, Stream
from .adapters.base import Provider, answer_json
from .router import RouteInfo, Router

__all__ = ["AsyncRoutingTransport", "AsyncSSE", "ClientLimits", "Routing", "RoutingTransport", "route_headers"]

EXTENSION = "llmswitch"  # request extension the client fills with ClientLimits
INFO = "llmswitch_route_info"  # response extension holding the RouteInfo
_HOP_HEADERS = frozenset({"host", "authorization", "content-length", "transfer-encoding", "connection",
                          "api-key", "x-api-key"})
_ROUTED: dict[tuple[str, str], Operation] = {("POST", "/chat/completions"): "chat",
                                             ("POST", "/embeddings"): "embeddings"}


@dataclass(frozen=True, slots=True)
class ClientLimits:
    """What the calling client adds to each request: its base path and explicit limits."""

    base_path: str = ""
    timeout: Mapping[str, float | None] | None = None
    max_retries: int | None = None
    body: Mapping[str, Any] | None = None  # the JSON body as openai built it, so it is not parsed again


def route_headers(info: RouteInfo) -> dict[str, str]:
    """Response headers saying who served a call (the gateway sends the same)."""
    headers = {"x-llmswitch-attempts": str(info.attempt_count)}
    if info.provider:
        headers["x-llmswitch-provider"] = info.provider
    if info.model:
        headers["x-llmswitch-model"] = info.model
    if info.route:
        headers["x-llmswitch-route"] = info.route
    return headers


class Routing:
    """The I/O-free half of the transports: which endpoint, which provider, what answer."""

    def __init__(self, router: Router, *, listed: bool, passthrough: str | None) -> None:
        self.router = router
        self.listed = listed  # models come from the providers file, not from the endpoint
        self.passthrough = passthrough

    @classmethod
    def for_router(cls, router: Router, *, has_config: bool) -> Routing:
        settings = router.settings
        name = settings.config.passthrough or router.default_provider
        if name is None:
            name = next((n for n, spec in settings.config.providers.items() if spec.type == "openai"), None)
        return cls(router, listed=has_config, passthrough=name)

    @staticmethod
    def relative(request: httpx2.Request, limits: ClientLimits) -> str:
        path = request.url.path
        base = limits.base_path.rstrip("/")
        return path[len(base):] if base and path.startswith(base) else path

    def operation(self, method: str, path: str) -> Operation | None:
        return _ROUTED.get((method, path.rstrip("/")))

    # -- models -----------------------------------------------------------------------------
    def models(self) -> list[dict[str, Any]]:
        """Every route alias, and each provider's configured (or catalog) models."""
        settings = self.router.settings
        seen: dict[str, dict[str, Any]] = {}
        for route in settings.config.routes:
            seen[route] = _model(route, "llmswitch")
        for name, provider in settings.providers.items():
            spec = settings.config.providers.get(name)
            listed = list(spec.models if spec is not None else ()) or list(provider.preset.models)
            for model in listed:
                seen[f"{name}/{model}"] = _model(f"{name}/{model}", name)
        return list(seen.values())

    def model(self, request: httpx2.Request, model_id: str) -> dict[str, Any]:
        for entry in self.models():
            if entry["id"] == model_id:
                return entry
        raise _not_found(request, f"model {model_id!r} is neither a route nor a configured provider/model")

    def listing(self, request: httpx2.Request, path: str) -> httpx2.Response | None:
        """The answer to ``GET /models[/{id}]`` from the file, or None when not ours to answer."""
        if not self.listed or request.method != "GET":
            return None
        if path.rstrip("/") == "/models":
            return _json(200, {"object": "list", "data": self.models()})
        if path.startswith("/models/"):
            return _json(200, self.model(request, unquote(path[len("/models/"):])))
        return None

    # -- pass-through --------------------------------------------------------------------------
    def forward(self, request: httpx2.Request, path: str, content: bytes) -> tuple[Provider, httpx2.Request]:
        """The request re-addressed to the pass-through provider, with its credentials."""
        if self.passthrough is None:
            raise _not_found(request, f"{request.method} {path} is not translated by llmswitch and no "
                                      f"OpenAI-protocol provider is configured to pass it through to "
                                      f"(set `passthrough:` in the providers file)")
        provider = self.router.settings.provider(self.passthrough)
        adapter = self.router.adapter(provider)
        if provider.preset.protocol != "openai":
            raise _not_found(request, f"{request.method} {path} cannot be passed through to provider "
                                      f"{provider.name!r}: it does not speak the OpenAI protocol")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        headers.update(adapter.bearer_headers())
        url = httpx2.URL(provider.base_url.rstrip("/") + path, query=request.url.query)
        return provider, httpx2.Request(request.method, url, headers=headers, content=content,
                                        extensions={"timeout": request.extensions.get("timeout")})


def _model(model_id: str, owner: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": owner}


class _Answer(httpx2.Response):
    """A JSON answer that hands openai's parser the data it was encoded from (no second parse)."""

    def __init__(self, status: int, data: Any, headers: Mapping[str, str], info: RouteInfo | None) -> None:
        super().__init__(status, headers={"content-type": "application/json", **headers}, content=answer_json(data),
                         extensions={INFO: info} if info is not None else {})
        self._data = data

    def json(self, **kwargs: Any) -> Any:
        return self._data if not kwargs else super().json(**kwargs)


def _json(status: int, data: Any, headers: Mapping[str, str] | None = None,
          info: RouteInfo | None = None) -> httpx2.Response:
    return _Answer(status, data, headers or {}, info)


def _not_found(request: httpx2.Request, message: str) -> errors.NotFoundError:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": "unsupported_endpoint"}}
    return errors.NotFoundError(message, response=httpx2.Response(404, request=request, json=body), body=body)


def _body(request: httpx2.Request, content: bytes, limits: ClientLimits) -> dict[str, Any]:
    if limits.body is not None:
        return dict(limits.body)
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise errors.BadRequestError(f"the request body is not JSON: {exc}",
                                     response=httpx2.Response(400, request=request), body=None) from None
    if not isinstance(data, dict):
        raise errors.BadRequestError("the request body must be a JSON object",
                                     response=httpx2.Response(400, request=request), body=None)
    return data


def _sse_headers(info: RouteInfo) -> dict[str, str]:
    return {"content-type": "text/event-stream", "cache-control": "no-cache", **route_headers(info)}


class _SSE(httpx2.SyncByteStream):
    """A router stream re-encoded as OpenAI's SSE; interruptions raise out of the iteration."""

    def __init__(self, stream: Stream[dict[str, Any]]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            yield b"data: " + answer_json(chunk) + b"\n\n"
        yield b"data: [DONE]\n\n"

    def close(self) -> None:
        self._stream.close()


class AsyncSSE(httpx2.AsyncByteStream):
    """The async twin of :class:`_SSE`; the gateway writes these bytes to its clients as they come."""

    def __init__(self, stream: AsyncStream[dict[str, Any]]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield b"data: " + answer_json(chunk) + b"\n\n"
        yield b"data: [DONE]\n\n"

    async def aclose(self) -> None:
        await self._stream.close()


def _identity(chunk: dict[str, Any]) -> dict[str, Any]:
    return chunk


class RoutingTransport(httpx2.BaseTransport):
    """The sync routing transport (see the module docstring)."""

    def __init__(self, routing: Routing, engine: Engine) -> None:
        self.routing = routing
        self.engine = engine

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        routing = self.routing
        limits: ClientLimits = request.extensions.get(EXTENSION) or ClientLimits()
        path = routing.relative(request, limits)
        content = request.read()
        if path.startswith("/responses"):
            from .routing_responses import handle

            answered = handle(self, request, path, content, limits)
            if answered is not None:
                return answered
        operation = routing.operation(request.method, path)
        if operation is not None:
            return self.routed(operation, _body(request, content, limits), limits.timeout, limits.max_retries)
        return self.unrouted(request, path, content)

    def routed(self, operation: Operation, body: dict[str, Any], timeout: Mapping[str, float | None] | None = None,
               max_retries: int | None = None) -> httpx2.Response:
        """A chat or embeddings call, answered as JSON or as an SSE stream."""
        call = prepare(self.routing.router, operation, body, timeout=timeout, max_retries=max_retries)
        info = call.plan.info
        if call.stream:
            stream = Stream(self.engine.open(call), call.plan, _identity)
            return httpx2.Response(200, headers=_sse_headers(info), stream=_SSE(stream), extensions={INFO: info})
        return _json(200, self.engine.complete(call), route_headers(info), info)

    def unrouted(self, request: httpx2.Request, path: str, content: bytes) -> httpx2.Response:
        """``GET /models[/{id}]`` from the file, or the request passed through (streamed back)."""
        listed = self.routing.listing(request, path)
        if listed is not None:
            return listed
        provider, forward = self.routing.forward(request, path, content)
        client = self.engine.transport.client_for(provider)
        upstream = client.send(forward, stream=True)
        return httpx2.Response(upstream.status_code, headers=upstream.headers, stream=upstream.stream,
                               extensions=upstream.extensions)

    def close(self) -> None:
        self.engine.close()


class AsyncRoutingTransport(httpx2.AsyncBaseTransport):
    """The async routing transport: the same decisions, awaited."""

    def __init__(self, routing: Routing, engine: AsyncEngine) -> None:
        self.routing = routing
        self.engine = engine

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        routing = self.routing
        limits: ClientLimits = request.extensions.get(EXTENSION) or ClientLimits()
        path = routing.relative(request, limits)
        content = await request.aread()
        if path.startswith("/responses"):
            from .routing_responses import handle_async

            answered = await handle_async(self, request, path, content, limits)
            if answered is not None:
                return answered
        operation = routing.operation(request.method, path)
        if operation is not None:
            return await self.routed(operation, _body(request, content, limits), limits.timeout, limits.max_retries)
        return await self.unrouted(request, path, content)

    async def routed(self, operation: Operation, body: dict[str, Any],
                     timeout: Mapping[str, float | None] | None = None,
                     max_retries: int | None = None) -> httpx2.Response:
        """A chat or embeddings call, answered as JSON or as an SSE stream."""
        info, answer = await self.answer(operation, body, timeout, max_retries)
        if isinstance(answer, AsyncSSE):
            return httpx2.Response(200, headers=_sse_headers(info), stream=answer, extensions={INFO: info})
        return _json(200, answer, route_headers(info), info)

    async def answer(self, operation: Operation, body: dict[str, Any],
                     timeout: Mapping[str, float | None] | None = None,
                     max_retries: int | None = None) -> tuple[RouteInfo, dict[str, Any] | AsyncSSE]:
        """The call's wire JSON, or its stream opened past the commit point as SSE bytes (the
        gateway calls this directly: it answers over aiohttp, not with an httpx2.Response)."""
        call = prepare(self.routing.router, operation, body, timeout=timeout, max_retries=max_retries)
        if call.stream:
            return call.plan.info, AsyncSSE(AsyncStream(await self.engine.open(call), call.plan, _identity))
        return call.plan.info, await self.engine.complete(call)

    async def unrouted(self, request: httpx2.Request, path: str, content: bytes) -> httpx2.Response:
        """``GET /models[/{id}]`` from the file, or the request passed through (streamed back)."""
        listed = self.routing.listing(request, path)
        if listed is not None:
            return listed
        provider, forward = self.routing.forward(request, path, content)
        client = self.engine.transport.client_for(provider)
        upstream = await client.send(forward, stream=True)
        return httpx2.Response(upstream.status_code, headers=upstream.headers, stream=upstream.stream,
                               extensions=upstream.extensions)

    async def aclose(self) -> None:
        await self.engine.aclose()
