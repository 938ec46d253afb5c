"""``llmswitch.OpenAI`` / ``AsyncOpenAI``: openai's client surface over the router.

The resources are thin: they split transport options from the request body, ask the router for
a plan, drive it (sync or async — the same plan either way) and build openai's own types once,
at the edge.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from concurrent import futures
from typing import Any, Literal, TypeVar, overload

import httpx2
import openai
from openai.types import CreateEmbeddingResponse, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel, ValidationError

from . import config as config_module
from . import errors
from ._stream import AsyncStream, Opened, Stream, StreamCore, open_async, open_sync
from .adapters.base import Adapter, WireRequest
from .router import CallPlan, Fail, Hook, RouteInfo, Router, Sleep, Try
from .transport import AsyncTransport, SyncTransport, connection_error

__all__ = ["AsyncOpenAI", "OpenAI", "route_info"]

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")
_TRANSPORT_KEYS = ("extra_headers", "extra_query", "extra_body", "timeout")
_ATTEMPT_ERRORS = (errors.APIStatusError, errors.APIConnectionError)
_TIMEOUT_FIELDS = frozenset({"connect", "read", "first_token", "idle", "total"})
HEDGE_THREADS = 8  # sync hedging runs the racing attempts on a small per-client pool


def route_info(obj: object) -> RouteInfo | None:
    """Which provider/model served a response, after how many attempts and fallbacks."""
    return getattr(obj, "_llmswitch", None) or getattr(obj, "route_info", None)


def _build(cls: type[M], data: dict[str, Any]) -> M:
    """openai's type, validated; vendors' off-spec values fall back to openai's lenient construct."""
    try:
        return cls.model_validate(data)
    except ValidationError:
        return cls.construct(**data)  # openai's lenient, recursive construct


def _given(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop openai's NOT_GIVEN / omit sentinels so apps passing them keep working."""
    return {k: v for k, v in params.items() if not isinstance(v, (openai.NotGiven, openai.Omit))}


def _timeouts(value: Any) -> dict[str, float | None] | None:
    """A ``timeout=`` as limit overrides: seconds bound the whole call (every attempt, backoff and
    fallback); an ``httpx2.Timeout`` sets connect and the per-read waits (read, first_token,
    idle); a mapping names fields of the providers file's ``timeouts``."""
    if value is None or isinstance(value, (openai.NotGiven, openai.Omit)):
        return None
    if isinstance(value, Mapping):
        unknown = set(value) - _TIMEOUT_FIELDS
        if unknown:
            raise ValueError(f"unknown timeout field(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(sorted(_TIMEOUT_FIELDS))}")
        return {k: None if v is None else float(v) for k, v in value.items()}
    if hasattr(value, "connect") and hasattr(value, "read"):  # httpx2.Timeout (or httpx.Timeout)
        read = value.read
        return {"connect": value.connect, "read": read, "first_token": read, "idle": read}
    return {"total": float(value)}


def _apply_extras(wire: WireRequest, extras: Mapping[str, Any]) -> WireRequest:
    """The caller's escape hatches land on the native request, after the adapter built it."""
    if extras.get("extra_headers"):
        wire.headers = {**wire.headers, **{k: v for k, v in extras["extra_headers"].items()
                                           if not isinstance(v, (openai.NotGiven, openai.Omit))}}
    if extras.get("extra_query"):
        wire.params = {**(wire.params or {}), **extras["extra_query"]}
    if extras.get("extra_body") and isinstance(wire.json, dict):
        wire.json = _deep_merge(wire.json, extras["extra_body"])
    return wire


def _settle(plan: CallPlan, step: Try, started: float, error: BaseException | None, stream: bool,
            abandon_others: Callable[[], None]) -> bool:
    """Record a finished hedged attempt: True when it won (the others are abandoned first)."""
    elapsed = plan.router.clock() - started
    if error is None:
        abandon_others()
        plan.succeeded(step, elapsed, first_token=elapsed if stream else None)
        return True
    if not isinstance(error, _ATTEMPT_ERRORS):
        plan.released(step, elapsed, "aborted")
        raise error
    plan.failed(step, error, elapsed)
    return False


def _not_a_stream(response: httpx2.Response) -> bool:
    """An error status, or a plain JSON body where events were asked for (vendors' in-body errors)."""
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return response.status_code >= 400 or ctype == "application/json"


def _refusal(adapter: Adapter, response: httpx2.Response, model: str) -> Exception:
    """The typed error a stream request was answered with instead of a stream."""
    if response.status_code >= 400:
        return adapter.parse_error(response, model)
    adapter.parse_chat(response, model)  # raises the vendor's error inside the 200 body, if any
    return errors.APIConnectionError(message="a stream was asked for but a plain JSON body came back",
                                     request=response.request, provider=adapter.provider.name, model=model)


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """extra_body lands inside native sections too: {"parameters": {...}} adds to DashScope's."""
    out = dict(base)
    for key, value in extra.items():
        nested = isinstance(value, Mapping) and isinstance(out.get(key), dict)
        out[key] = _deep_merge(out[key], value) if nested else value
    return out


class _Settings:
    """What both clients resolve from their constructor arguments."""

    def __init__(self, *, api_key: str | Callable[[], str] | None, base_url: str | httpx2.URL | None,
                 organization: str | None, project: str | None, timeout: Any, max_retries: int | None,
                 default_headers: Mapping[str, str] | None, default_query: Mapping[str, object] | None,
                 config: Any, strict: bool) -> None:
        source = config if config is not None else os.environ.get("LLMSWITCH_CONFIG")
        settings = config_module.load_settings(source) if source is not None else None
        headers = dict(default_headers or {})
        if organization:
            headers["OpenAI-Organization"] = organization
        if project:
            headers["OpenAI-Project"] = project
        key = api_key() if callable(api_key) else api_key
        url = str(base_url) if base_url is not None else None
        self.default_provider: str | None = None
        if settings is None or key is not None or url is not None:
            settings = self._with_openai(settings, key, url, headers, strict, default_query)
            self.default_provider = "openai"
        self.settings = settings
        self.timeout = _timeouts(timeout)
        self.max_retries = max_retries
        self.options = dict(api_key=api_key, base_url=base_url, organization=organization, project=project,
                            timeout=timeout, max_retries=max_retries, default_headers=default_headers,
                            default_query=default_query, strict=strict)

    @staticmethod
    def _with_openai(settings: config_module.Settings | None, key: str | None, url: str | None,
                     headers: dict[str, str], strict: bool,
                     query: Mapping[str, object] | None) -> config_module.Settings:
        """No config (or explicit key/base_url): a default provider that behaves like openai's client."""
        key = key if key is not None else os.environ.get("OPENAI_API_KEY")
        if key is None and settings is None:
            raise openai.OpenAIError(
                "The api_key client option must be set either by passing api_key to the client or by "
                "setting the OPENAI_API_KEY environment variable"
            )
        url = url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        spec: dict[str, Any] = {"type": "openai", "base_url": url, "headers": headers, "strict": strict}
        if key is not None:
            spec["api_key"] = key
        base = settings.config.model_dump(exclude_defaults=True) if settings is not None else {}
        providers = dict(base.get("providers", {}))
        providers.setdefault("openai", spec)
        loaded = config_module.load({**base, "providers": providers})
        if query:
            provider = loaded.providers["openai"]
            loaded.providers["openai"] = type(provider)(  # type: ignore[index]
                **{**provider.__dict__, "options": {**provider.options, "default_query": dict(query)}})
        return loaded


class _Client:
    """Shared by OpenAI and AsyncOpenAI: resolution and request building, no I/O."""

    _router: Router

    def _init(self, resolved: _Settings, hooks: Mapping[str, Hook] | None, router: Router | None,
              clock: Callable[[], float] | None = None) -> None:
        self._resolved = resolved
        self._router = router or Router(resolved.settings, default_provider=resolved.default_provider,
                                        hooks=hooks, clock=clock or time.monotonic)
        self._hooks = hooks

    @property
    def settings(self) -> config_module.Settings:
        return self._resolved.settings

    @property
    def router(self) -> Router:
        return self._router

    def _plan(self, operation: str, params: dict[str, Any], timeout: Any, stream: bool = False) -> CallPlan:
        overrides = _timeouts(timeout)
        return self._router.plan(str(params.get("model", "")), params, operation=operation, stream=stream,
                                 timeout=overrides if overrides is not None else self._resolved.timeout,
                                 max_retries=self._resolved.max_retries)

    @staticmethod
    def _split(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        body = _given(params)
        extras = {k: body.pop(k) for k in _TRANSPORT_KEYS if k in body}
        return body, extras

    @staticmethod
    def _wire(step: Try, body: dict[str, Any], extras: Mapping[str, Any], operation: str,
              stream: bool) -> WireRequest:
        params = {**body, "model": step.target.model}
        adapter = step.target.adapter
        if operation == "embeddings":
            wire = adapter.embeddings_request(params)
        else:
            wire = adapter.chat_request(params, stream=stream)
        query = step.target.provider.options.get("default_query")
        if query:
            wire.params = {**query, **(wire.params or {})}
        return _apply_extras(wire, extras)

    @staticmethod
    def _parse(adapter: Adapter, response: httpx2.Response, model: str, operation: str) -> dict[str, Any]:
        if response.status_code >= 400:
            raise adapter.parse_error(response, model)
        if operation == "embeddings":
            return adapter.parse_embeddings(response, model)
        return adapter.parse_chat(response, model)

    def _finish(self, plan: CallPlan, data: dict[str, Any], cls: type[M]) -> M:
        plan.priced(data.get("usage"))
        result = _build(cls, data)
        object.__setattr__(result, "_llmswitch", plan.info)
        return result

    def _models(self) -> list[Model]:
        """What the config routes to: every route alias, and each provider's known models."""
        seen: dict[str, Model] = {}
        for route in self.settings.config.routes:
            seen[route] = Model(id=route, created=0, object="model", owned_by="llmswitch")
        for name, provider in self.settings.providers.items():
            spec = self.settings.config.providers.get(name)
            listed = list(spec.models if spec is not None else ()) or list(provider.preset.models)
            for model in listed:
                key = f"{name}/{model}"
                seen[key] = Model(id=key, created=0, object="model", owned_by=name)
        return list(seen.values())


def _hedged(plan: CallPlan) -> bool:
    return plan.hedge_after is not None and len(plan.targets) > 1


def _discard_sync(future: futures.Future[Any]) -> None:
    """A hedge that lost but finished anyway: close what it opened."""
    if future.cancelled() or future.exception() is not None:
        return
    result = future.result()
    if isinstance(result, Opened):
        result.core.release()
        result.core.response.close()


# -- sync -------------------------------------------------------------------------------------------

class _Completions:
    def __init__(self, client: OpenAI) -> None:
        self._client = client

    @overload
    def create(self, *, stream: Literal[True], **params: Any) -> Stream[ChatCompletionChunk]: ...
    @overload
    def create(self, *, stream: Literal[False] = False, **params: Any) -> ChatCompletion: ...
    @overload
    def create(self, *, stream: bool, **params: Any) -> ChatCompletion | Stream[ChatCompletionChunk]: ...

    def create(self, *, stream: Any = False, **params: Any) -> ChatCompletion | Stream[ChatCompletionChunk]:
        """openai's ``chat.completions.create``: every parameter it takes, plus routes and provider/model."""
        return self._client._chat({**params, "stream": stream})


class _Chat:
    def __init__(self, client: OpenAI) -> None:
        self.completions = _Completions(client)


class _Embeddings:
    def __init__(self, client: OpenAI) -> None:
        self._client = client

    def create(self, **params: Any) -> CreateEmbeddingResponse:
        return self._client._embed(params)


class ModelPage(list[Model]):
    """What ``models.list()`` returns: iterable like openai's page, with ``.data``."""

    @property
    def data(self) -> list[Model]:
        return list(self)


class _Models:
    def __init__(self, client: OpenAI) -> None:
        self._client = client

    def list(self) -> ModelPage:
        return ModelPage(self._client._models())


class OpenAI(_Client):
    """Drop-in for ``openai.OpenAI``, plus:

    - ``config=``: a providers file path, a dict, or loaded Settings;
    - ``hooks=``: ``{"on_attempt": fn, "on_fallback": fn, "on_success": fn, "on_failure": fn}``
      (signatures in :mod:`llmswitch.router`);
    - ``sleep=`` / ``clock=``: injectable waiting and time, for tests.

    ``max_retries`` (openai's; None keeps the file's ``retry.max_attempts``, default 2 retries)
    applies to direct ``provider/model`` calls and to routes that do not set it themselves.
    """

    def __init__(self, *, api_key: str | Callable[[], str] | None = None, organization: str | None = None,
                 project: str | None = None, base_url: str | httpx2.URL | None = None, timeout: Any = None,
                 max_retries: int | None = None, default_headers: Mapping[str, str] | None = None,
                 default_query: Mapping[str, object] | None = None, http_client: httpx2.Client | None = None,
                 config: Any = None, strict: bool = False, hooks: Mapping[str, Hook] | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] | None = None,
                 **_unused: Any) -> None:
        resolved = _Settings(api_key=api_key, base_url=base_url, organization=organization, project=project,
                             timeout=timeout, max_retries=max_retries, default_headers=default_headers,
                             default_query=default_query, config=config, strict=strict)
        self._init(resolved, hooks, None, clock)
        self._transport = SyncTransport(resolved.settings.providers, http_client)
        self._sleep = sleep
        self._http_client = http_client
        self._pool: futures.ThreadPoolExecutor | None = None
        self.chat = _Chat(self)
        self.embeddings = _Embeddings(self)
        self.models = _Models(self)

    def with_options(self, **options: Any) -> OpenAI:
        """A copy with some constructor options changed; shares connections and routing state."""
        clone = OpenAI.__new__(OpenAI)
        merged = {**self._resolved.options, **options}
        if {"api_key", "base_url", "config", "default_headers", "default_query", "strict",
                "organization", "project"} & options.keys():
            resolved = _Settings(**{**merged, "config": options.get("config", self.settings)})
            clone._init(resolved, self._hooks, None, self._router.clock)
            clone._transport = SyncTransport(resolved.settings.providers, self._http_client)
        else:
            resolved = _Settings.__new__(_Settings)
            resolved.__dict__.update(self._resolved.__dict__)
            resolved.timeout = _timeouts(merged.get("timeout"))
            resolved.max_retries = merged.get("max_retries")
            resolved.options = merged
            clone._init(resolved, self._hooks, self._router)
            clone._transport = self._transport
        clone._sleep, clone._http_client, clone._pool = self._sleep, self._http_client, None
        clone.chat, clone.embeddings, clone.models = _Chat(clone), _Embeddings(clone), _Models(clone)
        return clone

    # -- the one retry loop, sync --------------------------------------------------------------
    def _drive(self, plan: CallPlan, attempt: Callable[[Try], R], *, stream: bool = False) -> R:
        if _hedged(plan):
            return self._drive_hedged(plan, attempt, stream)
        clock = self._router.clock
        while True:
            step = plan.next_step()
            if isinstance(step, Fail):
                raise step.error
            if isinstance(step, Sleep):
                self._sleep(step.seconds)
                continue
            started = clock()
            try:
                result = attempt(step)
            except _ATTEMPT_ERRORS as exc:
                plan.failed(step, exc, clock() - started)
                continue
            except BaseException:
                plan.released(step, clock() - started, "aborted")
                raise
            elapsed = clock() - started
            plan.succeeded(step, elapsed, first_token=elapsed if stream else None)
            return result

    def _drive_hedged(self, plan: CallPlan, attempt: Callable[[Try], R], stream: bool) -> R:
        """Race attempts on a small thread pool: when the first has produced nothing after
        ``hedge_after`` seconds, the next target starts too (at most two in flight); the first
        to succeed wins and the others are aborted (their sockets shut down) and released."""
        if self._pool is None:
            self._pool = futures.ThreadPoolExecutor(HEDGE_THREADS, thread_name_prefix="llmswitch-hedge")
        pool, clock, hedge_after = self._pool, self._router.clock, plan.hedge_after or 0.0
        running: dict[futures.Future[R], tuple[Try, float]] = {}
        last_start, can_hedge = 0.0, True

        def start(step: Try) -> None:
            nonlocal last_start
            running[pool.submit(attempt, step)] = (step, clock())
            last_start = time.monotonic()

        try:
            while True:
                if not running:
                    step = plan.next_step()
                    if isinstance(step, Fail):
                        raise step.error
                    if isinstance(step, Sleep):
                        self._sleep(step.seconds)
                        continue
                    start(step)
                wait = max(last_start + hedge_after - time.monotonic(), 0.0) \
                    if can_hedge and len(running) < 2 else None
                done, _ = futures.wait(running, timeout=wait, return_when=futures.FIRST_COMPLETED)
                if not done:
                    hedge = plan.hedge_step()
                    if hedge is None:
                        can_hedge = False
                    else:
                        start(hedge)
                    continue
                for future in done:
                    step, started = running.pop(future)
                    if _settle(plan, step, started, future.exception(), stream,
                               lambda: self._abandon(plan, running)):
                        return future.result()
        finally:
            self._abandon(plan, running)

    def _abandon(self, plan: CallPlan, running: dict[futures.Future[Any], tuple[Try, float]]) -> None:
        clock = self._router.clock
        for future, (step, started) in running.items():
            step.slot.cancel()
            future.cancel()
            future.add_done_callback(_discard_sync)
            plan.released(step, clock() - started)
        running.clear()

    def _send(self, step: Try, wire: WireRequest) -> httpx2.Response:
        response = self._transport.send(step.target.provider, wire, step.deadline, step.target.adapter.auth(),
                                        step.target.model)
        step.slot.attach(response)
        return response

    def _chat(self, params: Mapping[str, Any]) -> ChatCompletion | Stream[ChatCompletionChunk]:
        body, extras = self._split(params)
        stream = bool(body.pop("stream", False))
        plan = self._plan("chat", body, extras.get("timeout"), stream)
        if not stream:
            def attempt(step: Try) -> dict[str, Any]:
                response = self._send(step, self._wire(step, body, extras, "chat", False))
                return self._parse(step.target.adapter, response, step.target.model, "chat")

            return self._finish(plan, self._drive(plan, attempt), ChatCompletion)

        def open_stream(step: Try) -> Opened:
            started = time.monotonic()
            response = self._send(step, self._wire(step, body, extras, "chat", True))
            adapter, model = step.target.adapter, step.target.model
            if _not_a_stream(response):
                try:
                    response.read()
                except httpx2.TransportError as exc:
                    raise connection_error(exc, response.request, step.target.provider.name, model) from exc
                finally:
                    response.close()
                raise _refusal(adapter, response, model)
            return open_sync(StreamCore(response, adapter, model, step.deadline, started))

        opened = self._drive(plan, open_stream, stream=True)
        return Stream(opened, plan, lambda d: _build(ChatCompletionChunk, d))

    def _embed(self, params: Mapping[str, Any]) -> CreateEmbeddingResponse:
        body, extras = self._split(params)
        plan = self._plan("embeddings", body, extras.get("timeout"))

        def attempt(step: Try) -> dict[str, Any]:
            response = self._send(step, self._wire(step, body, extras, "embeddings", False))
            return self._parse(step.target.adapter, response, step.target.model, "embeddings")

        return self._finish(plan, self._drive(plan, attempt), CreateEmbeddingResponse)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._transport.close()

    def __enter__(self) -> OpenAI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- async ------------------------------------------------------------------------------------------

class _AsyncCompletions:
    def __init__(self, client: AsyncOpenAI) -> None:
        self._client = client

    @overload
    async def create(self, *, stream: Literal[True], **params: Any) -> AsyncStream[ChatCompletionChunk]: ...
    @overload
    async def create(self, *, stream: Literal[False] = False, **params: Any) -> ChatCompletion: ...
    @overload
    async def create(self, *, stream: bool,
                     **params: Any) -> ChatCompletion | AsyncStream[ChatCompletionChunk]: ...

    async def create(self, *, stream: Any = False,
                     **params: Any) -> ChatCompletion | AsyncStream[ChatCompletionChunk]:
        """openai's ``chat.completions.create``, awaitable; a stream is async-iterable."""
        return await self._client._chat({**params, "stream": stream})


class _AsyncChat:
    def __init__(self, client: AsyncOpenAI) -> None:
        self.completions = _AsyncCompletions(client)


class _AsyncEmbeddings:
    def __init__(self, client: AsyncOpenAI) -> None:
        self._client = client

    async def create(self, **params: Any) -> CreateEmbeddingResponse:
        return await self._client._embed(params)


class _AsyncModels:
    def __init__(self, client: AsyncOpenAI) -> None:
        self._client = client

    async def list(self) -> ModelPage:
        return ModelPage(self._client._models())


_CLOSING: set[asyncio.Task[Any]] = set()  # keeps loser clean-up tasks alive until they finish


def _discard_async(task: asyncio.Task[Any]) -> None:
    """A hedge that lost but finished anyway: close what it opened (and retrieve its error)."""
    if task.cancelled() or task.exception() is not None:
        return
    result = task.result()
    if isinstance(result, Opened):
        closing = asyncio.ensure_future(result.core.response.aclose())
        _CLOSING.add(closing)
        closing.add_done_callback(_CLOSING.discard)


class AsyncOpenAI(_Client):
    """Drop-in for ``openai.AsyncOpenAI``: the same routing, awaitable and async-iterable."""

    def __init__(self, *, api_key: str | Callable[[], str] | None = None, organization: str | None = None,
                 project: str | None = None, base_url: str | httpx2.URL | None = None, timeout: Any = None,
                 max_retries: int | None = None, default_headers: Mapping[str, str] | None = None,
                 default_query: Mapping[str, object] | None = None,
                 http_client: httpx2.AsyncClient | None = None, config: Any = None, strict: bool = False,
                 hooks: Mapping[str, Hook] | None = None, sleep: Callable[[float], Any] = asyncio.sleep,
                 clock: Callable[[], float] | None = None, **_unused: Any) -> None:
        resolved = _Settings(api_key=api_key, base_url=base_url, organization=organization, project=project,
                             timeout=timeout, max_retries=max_retries, default_headers=default_headers,
                             default_query=default_query, config=config, strict=strict)
        self._init(resolved, hooks, None, clock)
        self._transport = AsyncTransport(resolved.settings.providers, http_client)
        self._sleep = sleep
        self.chat = _AsyncChat(self)
        self.embeddings = _AsyncEmbeddings(self)
        self.models = _AsyncModels(self)

    def with_options(self, **options: Any) -> AsyncOpenAI:
        clone = AsyncOpenAI.__new__(AsyncOpenAI)
        resolved = _Settings.__new__(_Settings)
        resolved.__dict__.update(self._resolved.__dict__)
        merged = {**self._resolved.options, **options}
        resolved.timeout = _timeouts(merged.get("timeout"))
        resolved.max_retries = merged.get("max_retries")
        resolved.options = merged
        clone._init(resolved, self._hooks, self._router)
        clone._transport, clone._sleep = self._transport, self._sleep
        clone.chat, clone.embeddings, clone.models = _AsyncChat(clone), _AsyncEmbeddings(clone), _AsyncModels(clone)
        return clone

    # -- the one retry loop, async --------------------------------------------------------------
    async def _drive(self, plan: CallPlan, attempt: Callable[[Try], Any], *, stream: bool = False) -> Any:
        if _hedged(plan):
            return await self._drive_hedged(plan, attempt, stream)
        clock = self._router.clock
        while True:
            step = plan.next_step()
            if isinstance(step, Fail):
                raise step.error
            if isinstance(step, Sleep):
                await self._sleep(step.seconds)
                continue
            started = clock()
            try:
                result = await attempt(step)
            except _ATTEMPT_ERRORS as exc:
                plan.failed(step, exc, clock() - started)
                continue
            except BaseException:
                plan.released(step, clock() - started, "aborted")
                raise
            elapsed = clock() - started
            plan.succeeded(step, elapsed, first_token=elapsed if stream else None)
            return result

    async def _drive_hedged(self, plan: CallPlan, attempt: Callable[[Try], Any], stream: bool) -> Any:
        """Race attempts as tasks: the next target starts when nothing arrived after
        ``hedge_after`` (at most two in flight); the first success wins, the others are cancelled."""
        clock, hedge_after = self._router.clock, plan.hedge_after or 0.0
        loop = asyncio.get_running_loop()
        running: dict[asyncio.Task[Any], tuple[Try, float]] = {}
        last_start, can_hedge = 0.0, True

        def start(step: Try) -> None:
            nonlocal last_start
            running[asyncio.ensure_future(attempt(step))] = (step, clock())
            last_start = loop.time()

        try:
            while True:
                if not running:
                    step = plan.next_step()
                    if isinstance(step, Fail):
                        raise step.error
                    if isinstance(step, Sleep):
                        await self._sleep(step.seconds)
                        continue
                    start(step)
                wait = max(last_start + hedge_after - loop.time(), 0.0) if can_hedge and len(running) < 2 else None
                done, _ = await asyncio.wait(running, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    hedge = plan.hedge_step()
                    if hedge is None:
                        can_hedge = False
                    else:
                        start(hedge)
                    continue
                for task in done:
                    step, started = running.pop(task)
                    if _settle(plan, step, started, task.exception(), stream,
                               lambda: self._abandon(plan, running)):
                        return task.result()
        finally:
            self._abandon(plan, running)

    def _abandon(self, plan: CallPlan, running: dict[asyncio.Task[Any], tuple[Try, float]]) -> None:
        clock = self._router.clock
        for task, (step, started) in running.items():
            task.cancel()
            task.add_done_callback(_discard_async)
            plan.released(step, clock() - started)
        running.clear()

    async def _send(self, step: Try, wire: WireRequest) -> httpx2.Response:
        response = await self._transport.send(step.target.provider, wire, step.deadline,
                                              step.target.adapter.auth(), step.target.model)
        step.slot.attach(response)
        return response

    async def _chat(self, params: Mapping[str, Any]) -> ChatCompletion | AsyncStream[ChatCompletionChunk]:
        body, extras = self._split(params)
        stream = bool(body.pop("stream", False))
        plan = self._plan("chat", body, extras.get("timeout"), stream)
        if not stream:
            async def attempt(step: Try) -> dict[str, Any]:
                response = await self._send(step, self._wire(step, body, extras, "chat", False))
                return self._parse(step.target.adapter, response, step.target.model, "chat")

            return self._finish(plan, await self._drive(plan, attempt), ChatCompletion)

        async def open_stream(step: Try) -> Opened:
            started = time.monotonic()
            response = await self._send(step, self._wire(step, body, extras, "chat", True))
            adapter, model = step.target.adapter, step.target.model
            if _not_a_stream(response):
                try:
                    await response.aread()
                except httpx2.TransportError as exc:
                    raise connection_error(exc, response.request, step.target.provider.name, model) from exc
                finally:
                    await response.aclose()
                raise _refusal(adapter, response, model)
            return await open_async(StreamCore(response, adapter, model, step.deadline, started))

        opened = await self._drive(plan, open_stream, stream=True)
        return AsyncStream(opened, plan, lambda d: _build(ChatCompletionChunk, d))

    async def _embed(self, params: Mapping[str, Any]) -> CreateEmbeddingResponse:
        body, extras = self._split(params)
        plan = self._plan("embeddings", body, extras.get("timeout"))

        async def attempt(step: Try) -> dict[str, Any]:
            response = await self._send(step, self._wire(step, body, extras, "embeddings", False))
            return self._parse(step.target.adapter, response, step.target.model, "embeddings")

        return self._finish(plan, await self._drive(plan, attempt), CreateEmbeddingResponse)

    async def close(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncOpenAI:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
