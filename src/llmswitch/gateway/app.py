"""The gateway's HTTP handlers (aiohttp): check the caller, route the call, answer, account.

The Responses API (``/v1/responses``) is answered by the routing transport itself. Routed calls
(``POST /v1/chat/completions``, ``/v1/embeddings``) go through
:meth:`AsyncRoutingTransport.routed` — the same code that answers ``llmswitch.AsyncOpenAI`` — so
the JSON, the SSE bytes, the failover and the typed errors are those of the client. Everything
else under ``/v1/`` goes through :meth:`AsyncRoutingTransport.unrouted` (``/v1/models`` from the
file, or the pass-through provider with *its* credentials; the caller's are never forwarded).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from typing import Any

import httpx2
from aiohttp import web

from .. import errors
from .._call import Operation
from .._engine import AsyncEngine
from ..adapters.base import answer_json
from ..config import Settings
from ..router import RouteInfo, Router
from ..routing import INFO, AsyncRoutingTransport, AsyncSSE, Routing, route_headers
from ..transport import AsyncTransport
from .keys import Client, KeyRing, bearer
from .limits import Counters, Limiter, MemoryCounters, StateCounters
from .logs import ACCESS
from .metrics import CONTENT_TYPE, Metrics, targets
from .replies import Reply, from_exception, reply

__all__ = ["Gateway"]

log = logging.getLogger("llmswitch.gateway")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_CLIENT_ONLY = ("extra_headers", "extra_query", "extra_body", "timeout")  # python-client options, not wire fields
_DROP_UPSTREAM = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "server", "date"})
_JSON = "application/json"


class Gateway:
    """One process's gateway: router, engine, keys, limits, metrics; :meth:`app` builds the aiohttp app."""

    def __init__(self, settings: Settings, *, counters: Counters | None = None, access_log: bool = True) -> None:
        self.settings = settings
        self.config = settings.config.gateway
        self.metrics = Metrics()
        self.router = Router(settings, hooks=self.metrics.hooks())
        self.metrics.watch(self.router)
        self.routing = Routing.for_router(self.router, has_config=True)
        engine = AsyncEngine(self.router, AsyncTransport(settings.providers), asyncio.sleep)
        self.transport = AsyncRoutingTransport(self.routing, engine)
        self.keys = KeyRing(self.config.keys)
        shared = self.router.shared_state
        self.limiter = Limiter(counters or (StateCounters(shared) if shared is not None else MemoryCounters()))
        self.access_log = access_log
        self.draining = False  # set on SIGTERM (run.py): /ready answers 503 while in-flight calls finish

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_body_bytes)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/embeddings", self.embeddings)
        app.router.add_get("/health", self.health)
        app.router.add_get("/ready", self.ready)
        app.router.add_get("/metrics", self.scrape)
        app.router.add_route("*", "/v1/{tail:.*}", self.other)
        app.on_cleanup.append(self._close)
        return app

    # -- probes --------------------------------------------------------------------------------------
    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def ready(self, request: web.Request) -> web.Response:
        """Ready: not draining, and some target is not open-circuited (or no route to judge by)."""
        states = [self.router.breaker(target, route).state for route, target in targets(self.router)]
        up = not self.draining and (not states or any(s != "open" for s in states))
        return web.json_response({"status": "ready" if up else "unavailable", "draining": self.draining,
                                  "targets": len(states), "open": states.count("open")}, status=200 if up else 503)

    async def scrape(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.exposition(), headers={"content-type": CONTENT_TYPE})

    # -- routed calls --------------------------------------------------------------------------------
    async def chat(self, request: web.Request) -> web.StreamResponse:
        return await self._routed(request, "chat")

    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        return await self._routed(request, "embeddings")

    async def _routed(self, request: web.Request, operation: Operation) -> web.StreamResponse:
        ex = _Exchange(_request_id(request))
        try:
            client = self._authenticate(request, ex)
            if isinstance(client, web.Response):
                return client
            parsed = await self._admitted(request, ex)
            if isinstance(parsed, web.Response):
                return parsed
            try:
                ex.info, answer = await self.transport.answer(operation, parsed)
            except Exception as exc:
                return self._failed(ex, exc)
            headers = {"x-request-id": ex.rid, **route_headers(ex.info)}
            if isinstance(answer, AsyncSSE):
                return await self._stream(request, ex, answer, headers)
            ex.status = 200
            return web.Response(body=answer_json(answer), headers={"content-type": _JSON, **headers})
        except asyncio.CancelledError:
            ex.status, ex.kind = 499, "client_closed"  # the client went away (nginx's 499): no target failed
            raise
        finally:
            await self._account(request, ex)

    async def _stream(self, request: web.Request, ex: _Exchange, answer: AsyncSSE,
                      headers: dict[str, str]) -> web.StreamResponse:
        """Chunk by chunk, each written (and flushed) as it arrives; a failure after the first
        chunk becomes an SSE ``error`` event (openai's clients raise it) and no ``[DONE]``."""
        response = web.StreamResponse(headers={"content-type": "text/event-stream", "cache-control": "no-cache",
                                               "x-accel-buffering": "no", **headers})
        ex.status = 200
        return await _pour(request, ex, response, answer, answer.aclose, _cut_event)

    # -- everything else under /v1 -------------------------------------------------------------------
    async def other(self, request: web.Request) -> web.StreamResponse:
        """``/v1/models[/{id}]`` from the file; other paths to the pass-through provider."""
        ex = _Exchange(_request_id(request))
        try:
            client = self._authenticate(request, ex)
            if isinstance(client, web.Response):
                return client
            path = "/" + request.match_info["tail"]
            if ".." in path.split("/"):
                return self._refuse(ex, reply(400, "'..' is not allowed in the path", "invalid_path"))
            if path.rstrip("/") == "/responses" or path.startswith("/responses/"):
                return await self._responses(request, ex, path)
            listing = request.method == "GET" and (path.rstrip("/") == "/models" or path.startswith("/models/"))
            if not listing and not client.passthrough:
                return self._refuse(ex, reply(403, f"key {client.name!r} may not call {request.method} /v1{path} "
                                                   f"(pass-through not allowed)", "passthrough_not_allowed"))
            if request.content_length is not None and request.content_length > self.config.max_body_bytes:
                return self._refuse(ex, _too_large(self.config.max_body_bytes))
            content = await request.read()
            try:
                answer = await self.transport.unrouted(_outgoing(request, path, content), path, content)
            except Exception as exc:
                return self._failed(ex, exc)
            return await self._relay(request, ex, answer)
        except asyncio.CancelledError:
            ex.status, ex.kind = 499, "client_closed"
            raise
        finally:
            await self._account(request, ex)

    async def _responses(self, request: web.Request, ex: _Exchange, path: str) -> web.StreamResponse:
        """The Responses API, answered by the routing transport as for ``llmswitch.AsyncOpenAI``
        (a POST is checked like a chat call first: body caps, the key's models, its limits)."""
        assert ex.client is not None
        content = b""
        if request.method == "POST":
            parsed = await self._admitted(request, ex)
            if isinstance(parsed, web.Response):
                return parsed
            content = await request.read()  # aiohttp keeps the body read by _body
        try:
            answer = await self.transport.handle_async_request(_outgoing(request, path, content))
        except Exception as exc:
            return self._failed(ex, exc)
        ex.info = answer.extensions.get(INFO)
        return await self._relay(request, ex, answer)

    async def _relay(self, request: web.Request, ex: _Exchange, answer: httpx2.Response) -> web.StreamResponse:
        """An httpx2 answer (pass-through, listing, Responses API) written back as it streams in."""
        ex.status = answer.status_code
        response = web.StreamResponse(status=answer.status_code, headers={
            **{k: v for k, v in answer.headers.items() if k.lower() not in _DROP_UPSTREAM}, "x-request-id": ex.rid})
        # a cut Responses stream just stops (no response.completed event): clients see the cut
        return await _pour(request, ex, response, answer.stream, answer.aclose, None)  # type: ignore[arg-type]

    # -- helpers -------------------------------------------------------------------------------------
    def _authenticate(self, request: web.Request, ex: _Exchange) -> Client | web.Response:
        """Who is calling (also kept as ``ex.client``), or the 401 for a missing or unknown key."""
        ex.client = self.keys.authenticate(bearer(request.headers.get("authorization"),
                                                  request.headers.get("api-key")))
        if ex.client is None:
            return self._refuse(ex, reply(401, "missing or invalid API key for this gateway", "invalid_api_key"))
        return ex.client

    async def _body(self, request: web.Request) -> dict[str, Any] | Reply:
        limit = self.config.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return _too_large(limit)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _too_large(limit)
        try:
            body = json.loads(raw)
        except ValueError as exc:
            return reply(400, f"the request body is not JSON: {exc}", "invalid_json")
        if not isinstance(body, dict):
            return reply(400, "the request body must be a JSON object", "invalid_json")
        bad = [k for k in _CLIENT_ONLY if k in body]
        if bad:
            return reply(400, f"unknown parameter(s) {', '.join(bad)}: these are Python-client options, "
                              f"not part of the HTTP API", "unknown_parameter", param=bad[0])
        messages = body.get("messages")
        if isinstance(messages, list) and len(messages) > self.config.max_messages:
            return reply(400, f"too many messages: {len(messages)} (this gateway accepts at most "
                              f"{self.config.max_messages})", "too_many_messages", param="messages")
        return body

    async def _admitted(self, request: web.Request, ex: _Exchange) -> dict[str, Any] | web.Response:
        """A call's body once it passes the caps, the key's models and its limits; else the refusal."""
        assert ex.client is not None
        parsed = await self._body(request)
        if isinstance(parsed, Reply):
            return self._refuse(ex, parsed)
        ex.body = parsed
        model = parsed.get("model")
        if not isinstance(model, str) or not ex.client.allows(model):
            return self._refuse(ex, reply(403, f"key {ex.client.name!r} may not use model {model!r}",
                                          "model_not_allowed"))
        exceeded = await self.limiter.admit(ex.client)
        if exceeded is not None:
            return self._refuse(ex, reply(429, exceeded.message, "gateway_limit", retry_after=exceeded.retry_after))
        return parsed

    def _refuse(self, ex: _Exchange, answer: Reply) -> web.Response:
        ex.status, ex.kind = answer.status, str(answer.body["error"]["code"])
        return _error_response(ex.rid, answer, None)

    def _failed(self, ex: _Exchange, exc: Exception) -> web.Response:
        ex.info = getattr(exc, "route_info", None)
        answer = from_exception(exc)
        if answer is None:
            log.exception("unexpected error", extra={"fields": {"request_id": ex.rid}})
            answer = reply(500, f"internal error in the gateway (request id {ex.rid})", "internal_error")
            ex.kind = "internal"
        else:
            ex.kind = str(getattr(exc, "kind", None) or answer.body["error"]["code"])
        ex.status = answer.status
        return _error_response(ex.rid, answer, ex.info)

    async def _account(self, request: web.Request, ex: _Exchange) -> None:
        self.metrics.observe(ex.info, ex.status, ex.kind)
        if ex.client is not None:
            await self.limiter.record(ex.client, ex.info)
        if self.access_log:
            ACCESS.info("request", extra={"fields": _access_fields(request, ex, self.config.log_prompts)})

    async def _close(self, app: web.Application) -> None:
        await self.transport.aclose()  # the engine closes the router: pending usage, Redis connections


class _Exchange:
    """What one request became, for the metrics, the limits and the access log."""

    __slots__ = ("body", "client", "info", "kind", "rid", "started", "status")

    def __init__(self, rid: str) -> None:
        self.rid = rid
        self.started = time.perf_counter()
        self.client: Client | None = None
        self.body: dict[str, Any] | None = None
        self.info: RouteInfo | None = None
        self.status = 500
        self.kind: str | None = None


async def _pour(request: web.Request, ex: _Exchange, response: web.StreamResponse, pieces: AsyncIterable[bytes],
                close: Callable[[], Awaitable[None]], cut: Callable[[Exception], bytes] | None) -> web.StreamResponse:
    """Write ``pieces`` back as they arrive, each flushed at once. A client that went away is a 499.
    An upstream stream cut after its commit point ends with ``cut``'s event and end-of-stream, or
    (``cut`` None) just stops."""
    try:
        await response.prepare(request)
        async for piece in pieces:
            await response.write(piece)
    except errors.StreamInterruptedError as exc:
        ex.kind = "stream_interrupted"
        if cut is None:
            return response
        await response.write(cut(exc))
    except (ConnectionResetError, ConnectionError):
        ex.status, ex.kind = 499, "client_closed"
        return response
    finally:
        await close()
    await response.write_eof()
    return response


def _cut_event(exc: Exception) -> bytes:
    """A chat stream cut after its first chunk: an SSE ``error`` event (openai's clients raise it), no [DONE]."""
    event = {"error": {"message": str(exc), "type": "api_error", "code": "stream_interrupted"}}
    return b"data: " + answer_json(event) + b"\n\n"


def _request_id(request: web.Request) -> str:
    given = request.headers.get("x-request-id")
    return given if given is not None and _REQUEST_ID.match(given) else uuid.uuid4().hex


def _outgoing(request: web.Request, path: str, content: bytes) -> httpx2.Request:
    """The request as the routing transport reads it (path relative to /v1; the caller's
    credentials are dropped there, never forwarded)."""
    return httpx2.Request(request.method, "http://gateway" + path, params=request.query_string or None,
                          headers=list(request.headers.items()), content=content)


def _too_large(limit: int) -> Reply:
    return reply(413, f"the request body is larger than this gateway accepts ({limit} bytes)", "body_too_large")


def _error_response(rid: str, answer: Reply, info: RouteInfo | None) -> web.Response:
    headers = {"content-type": _JSON, "x-request-id": rid, **answer.headers}
    if info is not None:
        headers.update(route_headers(info))
    return web.Response(status=answer.status, body=answer_json(answer.body), headers=headers)


def _access_fields(request: web.Request, ex: _Exchange, prompts: bool) -> Mapping[str, Any]:
    fields: dict[str, Any] = {"request_id": ex.rid, "key": ex.client.name if ex.client else None,
                              "method": request.method, "path": request.path, "status": ex.status,
                              "ms": round((time.perf_counter() - ex.started) * 1000, 2)}
    if ex.kind:
        fields["error"] = ex.kind
    info = ex.info
    if info is not None:
        fields.update(route=info.route, provider=info.provider, model=info.model, attempts=info.attempt_count,
                      fallbacks=info.fallbacks, retries=info.retries)
        if info.usage:
            fields["tokens"] = info.usage.get("total_tokens")
        if info.cost_usd is not None:
            fields["cost_usd"] = round(info.cost_usd, 8)
    if prompts and ex.body is not None:
        fields["body"] = ex.body
    return fields
