"""The routing transport's ``/responses`` endpoints: bridged over the chat call core, or passed through.

``POST /responses`` runs as a chat call (same plan: retries, fallback, breakers, deadlines,
``route_info``) whose every attempt is translated by :mod:`llmswitch.responses`: targets that serve
OpenAI's Responses API themselves get the Responses body (non-streamed calls), the others get
the bridged chat request, and both answers come back as one Response. A streamed call is bridged
on every target, since chat streams are what the core's commit point and interruption rules
read, unless every target is native: then the vendor's own event stream is passed through (no
failover). Requests only a native target can serve (built-in tools, a ``previous_response_id``
this process does not hold) go to the route's native targets alone. ``GET``/``DELETE
/responses/{id}`` answer from the response store, else pass through.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx2

from . import errors
from ._call import Call, prepare
from ._stream import AsyncStream, Stream
from .adapters.base import WireRequest, answer_json, json_body
from .responses import BridgeContext, ResponseEvents, ResponseStore, from_chat, responses_url, to_chat

if TYPE_CHECKING:
    from .router import Router, Try
    from .routing import AsyncRoutingTransport, ClientLimits, RoutingTransport

__all__ = ["Passthrough", "ResponsesCall", "default_store", "handle", "handle_async", "plan", "stored"]

_store: ResponseStore | None = None
_store_lock = threading.Lock()


def default_store() -> ResponseStore:
    """The process's response store (1,000 responses, one hour), shared by every client."""
    global _store
    with _store_lock:
        if _store is None:
            _store = ResponseStore()
        return _store


@dataclass(slots=True)
class ResponsesCall(Call):
    """A chat :class:`~llmswitch._call.Call` whose attempts speak Responses at both ends."""

    ctx: BridgeContext | None = None  # None: only native targets can serve this request
    native: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # target key → (url, body)

    def wire(self, step: Try) -> WireRequest:
        native = self.native.get(step.target.key)
        if native is None:
            return Call.wire(self, step)
        url, body = native
        return WireRequest("POST", url, step.target.adapter.bearer_headers(), {**body, "model": step.target.model},
                           stream=self.stream)

    def parse(self, step: Try, response: httpx2.Response) -> dict[str, Any]:
        if step.target.key not in self.native:
            assert self.ctx is not None  # targets without a context were filtered out in plan()
            return from_chat(Call.parse(self, step, response), self.ctx)
        adapter, model = step.target.adapter, step.target.model
        if response.status_code >= 400:
            raise adapter.parse_error(response, model)
        data = adapter.read_json(response, model)
        if not isinstance(data, dict) or "output" not in data:
            raise adapter.error("server_error", f"not a Response: {response.text[:200]!r}", response, model,
                                status_code=502)
        if self.ctx is not None and self.ctx.store is not None and isinstance(data["output"], list):
            self.ctx.remember(data, data["output"])  # so a later bridged turn can continue it
        return data

    def finish(self, data: dict[str, Any]) -> dict[str, Any]:
        usage = data.get("usage")
        if usage:
            self.plan.priced({"prompt_tokens": usage.get("input_tokens", 0),
                              "completion_tokens": usage.get("output_tokens", 0),
                              "total_tokens": usage.get("total_tokens", 0)})
        return data


@dataclass(frozen=True, slots=True)
class Passthrough:
    """A streamed call every target of which serves /responses: the first one's stream, as it is."""

    call: ResponsesCall
    request: httpx2.Request


def _native_body(body: dict[str, Any], ctx: BridgeContext | None) -> dict[str, Any]:
    """The body for a native target: a previous_response_id this process holds becomes its items."""
    if ctx is None or body.get("previous_response_id") is None:
        return body
    out = {k: v for k, v in body.items() if k != "previous_response_id"}
    out["input"] = ctx.conversation
    return out


def plan(router: Router, store: ResponseStore, body: dict[str, Any], *,
         timeout: Any, max_retries: int | None) -> ResponsesCall | Passthrough:
    """Translate once, plan once: which targets are served natively, which bridged."""
    refusal: errors.APIStatusError | None = None
    try:
        params, ctx = to_chat(body, store)
    except (errors.UnsupportedParameterError, errors.NotFoundError) as exc:
        # built-in tools or a foreign previous_response_id: only a native target can take it
        refusal, ctx = exc, None
        params = {"model": body.get("model"), "messages": [], "stream": bool(body.get("stream"))}
    call = prepare(router, "chat", params, timeout=timeout, max_retries=max_retries)
    urls = {t.key: url for t in call.plan.targets if (url := responses_url(t.provider, t.model)) is not None}
    native_body = _native_body(body, ctx)
    every_native = len(urls) == len(call.plan.targets)
    result = ResponsesCall(call.operation, call.body, call.extras, call.stream, call.plan, ctx=ctx)
    if refusal is not None:
        kept = [t for t in call.plan.targets if t.key in urls]
        if not kept:
            raise refusal
        for target in call.plan.targets:
            if target.key not in urls:
                call.plan.info.attempts.append(errors.Attempt(target.key, None, 0.0, f"skipped: {refusal}"))
        call.plan.targets = kept
        every_native = True
    if call.stream and every_native:
        first = call.plan.targets[0]
        request = httpx2.Request("POST", urls[first.key], headers=first.adapter.bearer_headers(),
                                 content=json_body({**native_body, "model": first.model}))
        return Passthrough(result, request)
    if not call.stream:
        result.native = {key: (url, native_body) for key, url in urls.items()}
    return result


def stored(store: ResponseStore, method: str, path: str, *, forwardable: bool) -> httpx2.Response | None:
    """``GET``/``DELETE /responses/{id}`` from the store. An id not held here is passed on (None)
    when a provider with its own Responses API can be asked, else it is openai's NotFoundError."""
    response_id = path[len("/responses/"):].strip("/")
    if "/" in response_id or method not in ("GET", "DELETE"):
        return None
    try:
        data = store.retrieve(response_id) if method == "GET" else store.delete(response_id)
    except errors.NotFoundError:
        if forwardable:
            return None
        raise
    return httpx2.Response(200, headers={"content-type": "application/json"}, content=answer_json(data))


def _frame(event: dict[str, Any]) -> bytes:
    kind: str = event["type"]
    return b"event: " + kind.encode() + b"\ndata: " + answer_json(event) + b"\n\n"


def sse_bytes(stream: Stream[dict[str, Any]], events: ResponseEvents) -> Iterator[bytes]:
    """The chat stream as Responses SSE; an interruption sends ``response.failed``, then raises."""
    try:
        for chunk in stream:
            for event in events.feed(chunk):
                yield _frame(event)
    except errors.StreamInterruptedError as exc:
        for event in events.fail(str(exc)):
            yield _frame(event)
        raise
    for event in events.close():
        yield _frame(event)


async def sse_bytes_async(stream: AsyncStream[dict[str, Any]], events: ResponseEvents) -> AsyncIterator[bytes]:
    try:
        async for chunk in stream:
            for event in events.feed(chunk):
                yield _frame(event)
    except errors.StreamInterruptedError as exc:
        for event in events.fail(str(exc)):
            yield _frame(event)
        raise
    for event in events.close():
        yield _frame(event)


class _Events(httpx2.SyncByteStream):
    def __init__(self, stream: Stream[dict[str, Any]], events: ResponseEvents) -> None:
        self._stream = stream
        self._events = events

    def __iter__(self) -> Iterator[bytes]:
        return sse_bytes(self._stream, self._events)

    def close(self) -> None:
        self._stream.close()


class _AsyncEvents(httpx2.AsyncByteStream):
    def __init__(self, stream: AsyncStream[dict[str, Any]], events: ResponseEvents) -> None:
        self._stream = stream
        self._events = events

    def __aiter__(self) -> AsyncIterator[bytes]:
        return sse_bytes_async(self._stream, self._events)

    async def aclose(self) -> None:
        await self._stream.close()


def _decide(transport: RoutingTransport | AsyncRoutingTransport, request: httpx2.Request, path: str,
            content: bytes, limits: ClientLimits) -> httpx2.Response | ResponsesCall | Passthrough | None:
    """What a /responses request gets: a stored answer, a call to run, or None (not ours: forward)."""
    from .routing import _body

    routing = transport.routing
    shared = routing.router.response_store()
    store = shared if shared is not None else default_store()  # (an empty store is falsy: it has a len)
    if path.rstrip("/") != "/responses":
        name = routing.passthrough
        provider = routing.router.settings.providers.get(name) if name is not None else None
        forwardable = provider is not None and responses_url(provider, "") is not None
        return stored(store, request.method, path, forwardable=forwardable)
    if request.method != "POST":
        return None
    decided = plan(routing.router, store, _body(request, content, limits), timeout=limits.timeout,
                   max_retries=limits.max_retries)
    if isinstance(decided, Passthrough):
        decided.request.extensions["timeout"] = request.extensions.get("timeout")
    return decided


def handle(transport: RoutingTransport, request: httpx2.Request, path: str, content: bytes,
           limits: ClientLimits) -> httpx2.Response | None:
    """The sync transport's /responses endpoints; None for requests to pass through unchanged."""
    from .routing import INFO, _identity, _json, _sse_headers, route_headers

    decided = _decide(transport, request, path, content, limits)
    if decided is None or isinstance(decided, httpx2.Response):
        return decided
    engine = transport.engine
    if isinstance(decided, Passthrough):
        provider = decided.call.plan.targets[0].provider
        upstream = engine.transport.client_for(provider).send(decided.request, stream=True)
        return httpx2.Response(upstream.status_code, headers=upstream.headers, stream=upstream.stream,
                               extensions=upstream.extensions)
    call, info = decided, decided.plan.info
    if call.stream:
        assert call.ctx is not None
        stream = Stream(engine.open(call), call.plan, _identity)
        return httpx2.Response(200, headers=_sse_headers(info), stream=_Events(stream, ResponseEvents(call.ctx)),
                               extensions={INFO: info})
    return _json(200, engine.complete(call), route_headers(info), info)


async def handle_async(transport: AsyncRoutingTransport, request: httpx2.Request, path: str, content: bytes,
                       limits: ClientLimits) -> httpx2.Response | None:
    """The async twin of :func:`handle`."""
    from .routing import INFO, _identity, _json, _sse_headers, route_headers

    decided = _decide(transport, request, path, content, limits)
    if decided is None or isinstance(decided, httpx2.Response):
        return decided
    engine = transport.engine
    if isinstance(decided, Passthrough):
        provider = decided.call.plan.targets[0].provider
        upstream = await engine.transport.client_for(provider).send(decided.request, stream=True)
        return httpx2.Response(upstream.status_code, headers=upstream.headers, stream=upstream.stream,
                               extensions=upstream.extensions)
    call, info = decided, decided.plan.info
    if call.stream:
        assert call.ctx is not None
        stream = AsyncStream(await engine.open(call), call.plan, _identity)
        return httpx2.Response(200, headers=_sse_headers(info),
                               stream=_AsyncEvents(stream, ResponseEvents(call.ctx)), extensions={INFO: info})
    return _json(200, await engine.complete(call), route_headers(info), info)
