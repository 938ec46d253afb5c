"""``llmswitch.OpenAI`` / ``AsyncOpenAI``: openai's own clients, routed.

Each is a subclass of openai's client whose HTTP client sends through llmswitch's routing
transport (:mod:`.routing`), so every attribute, resource, helper and library built on openai
works unchanged on any provider. ``chat.completions.create`` and ``embeddings.create`` keep a
direct path that skips openai's request building and response parsing (same results, same
exceptions, streams that are ``openai.Stream``s); openai's wrappers (``with_raw_response``,
``with_streaming_response``) mark their requests and take the transport path instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, overload

import httpx2
import openai
from openai._constants import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, OVERRIDE_CAST_TO_HEADER, RAW_RESPONSE_HEADER
from openai.resources import AsyncEmbeddings as _AsyncEmbeddings
from openai.resources import Embeddings as _Embeddings
from openai.resources.chat import AsyncChat as _AsyncChat
from openai.resources.chat import AsyncCompletions as _AsyncCompletions
from openai.resources.chat import Chat as _Chat
from openai.resources.chat import Completions as _Completions
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel, ValidationError

from . import config as config_module
from ._call import Call, Operation, prepare, timeout_overrides
from ._engine import AsyncEngine, Engine
from ._params import ChatParams, ChatStreamParams, EmbeddingParams, check_chat, check_embeddings
from ._secret import LiveSecret, Secret
from ._stream import AsyncStream, Stream
from .router import Hook, RouteInfo, Router
from .routing import EXTENSION, INFO, AsyncRoutingTransport, ClientLimits, Routing, RoutingTransport
from .transport import AsyncTransport, SyncTransport

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["AsyncOpenAI", "OpenAI", "route_info"]

M = TypeVar("M", bound=BaseModel)
_MISSING_KEY = ("Missing credentials. Please pass an `api_key`, `workload_identity`, `admin_api_key`, or set the "
                "`OPENAI_API_KEY` or `OPENAI_ADMIN_KEY` environment variable.")
_KEEP: Any = object()  # copy(): "leave this llmswitch option as it is"


def route_info(obj: object) -> RouteInfo | None:
    """Which provider/model served a response, after how many attempts and fallbacks.

    Works on results of ``create``/``parse``, on streams, on raw responses and on errors.
    """
    found = getattr(obj, "_llmswitch", None) or getattr(obj, "route_info", None)
    if found is None:
        http = getattr(obj, "http_response", None)
        found = http.extensions.get(INFO) if isinstance(http, httpx2.Response) else None
    return found if isinstance(found, RouteInfo) else None


def _build(cls: type[M], data: dict[str, Any]) -> M:
    """openai's type, validated; vendors' off-spec values fall back to openai's lenient construct."""
    try:
        return cls.model_validate(data)
    except ValidationError:
        return cls.construct(**data)  # openai's lenient, recursive construct


def _finished(cls: type[M], data: dict[str, Any], call: Call) -> M:
    result = _build(cls, data)
    _attach(result, call.plan.info)
    return result


def _chunk(data: dict[str, Any]) -> ChatCompletionChunk:
    return _build(ChatCompletionChunk, data)


def _attach(result: object, info: RouteInfo) -> None:
    """RouteInfo rides along without entering ``model_dump()``."""
    if isinstance(result, BaseModel):
        object.__setattr__(result, "_llmswitch", info)
    else:
        with contextlib.suppress(AttributeError):
            result.route_info = info  # type: ignore[attr-defined]


def _with_info(result: Any, response: httpx2.Response) -> Any:
    info = response.extensions.get(INFO)
    if isinstance(info, RouteInfo):
        _attach(result, info)
    return result


def _json_body(options: Any) -> Mapping[str, Any] | None:
    """The JSON body openai encoded for this request (with ``extra_body`` merged in, as openai does)."""
    body: Any = options.json_data
    if options.files is not None or not isinstance(body, Mapping):
        return None
    extra = options.extra_json
    if isinstance(extra, Mapping):
        body = {k: v for k, v in {**body, **extra}.items() if not isinstance(v, openai.Omit)}
    return dict(body)


def _routed_by_openai(params: Mapping[str, Any]) -> bool:
    """openai's raw/streaming-response wrappers mark the request: it must take the transport path."""
    headers: Mapping[str, Any] = params.get("extra_headers") or {}
    return RAW_RESPONSE_HEADER in headers or OVERRIDE_CAST_TO_HEADER in headers


@dataclass(frozen=True)
class _Seed:
    """Everything a client's routing is built from; ``copy()`` derives the next one from it."""

    settings: config_module.Settings | None  # the providers file, loaded once (None: no file)
    api_key: str | Callable[[], Any] | None
    base_url: str | None
    organization: str | None
    project: str | None
    default_headers: Mapping[str, str] | None
    default_query: Mapping[str, object] | None
    strict: bool
    hooks: Mapping[str, Hook] | None
    sleep: Callable[[float], Any]
    clock: Callable[[], float] | None
    http_client: Any  # the caller's own httpx2 client: the router sends through it
    timeout: Any = None  # explicit client-wide limit (None: the file's)
    max_retries: int | None = None  # explicit (None: the file's retry.max_attempts)

    def routing(self) -> _Seed:
        """The part that decides targets and connections (limits are per request)."""
        return dataclasses.replace(self, timeout=None, max_retries=None)

    def resolve(self, live_key: LiveSecret | None) -> tuple[config_module.Settings, str | None]:
        """The settings the router works from, and the default provider for bare model names.

        With no providers file, or with an explicit ``api_key``/``base_url``, a provider named
        ``openai`` stands for the endpoint, as openai's client would call it.
        """
        settings = self.settings
        if settings is not None and self.api_key is None and self.base_url is None:
            return settings, None
        key: Any = self.api_key if self.api_key is not None else os.environ.get("OPENAI_API_KEY")
        if key is None and settings is None:
            raise openai.OpenAIError(_MISSING_KEY)
        url = self.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        headers = dict(self.default_headers or {})
        if self.organization:
            headers["OpenAI-Organization"] = self.organization
        if self.project:
            headers["OpenAI-Project"] = self.project
        spec: dict[str, Any] = {"type": "openai", "base_url": url, "headers": headers, "strict": self.strict}
        if key is not None:
            spec["api_key"] = live_key if callable(key) and live_key is not None else Secret(str(key))
        base = settings.config.model_dump(exclude_defaults=True) if settings is not None else {}
        providers = dict(base.get("providers", {}))
        providers.setdefault("openai", spec)
        loaded = config_module.load({**base, "providers": providers})
        if self.default_query:
            provider = loaded.providers["openai"]
            loaded.providers["openai"] = type(provider)(  # type: ignore[index]
                **{**provider.__dict__, "options": {**provider.options, "default_query": dict(self.default_query)}})
        return loaded, "openai"


def _seed(*, config: Any, api_key: Any, base_url: Any, organization: str | None, project: str | None,
          default_headers: Mapping[str, str] | None, default_query: Mapping[str, object] | None, strict: bool,
          hooks: Mapping[str, Hook] | None, sleep: Callable[[float], Any], clock: Callable[[], float] | None,
          http_client: Any, timeout: Any, max_retries: int | None) -> _Seed:
    source = config if config is not None else os.environ.get("LLMSWITCH_CONFIG")
    url = None if base_url is None or isinstance(base_url, openai.NotGiven) else str(base_url)
    explicit_timeout = None if isinstance(timeout, openai.NotGiven) else timeout
    return _Seed(config_module.load_settings(source), api_key, url, organization, project, default_headers,
                 default_query, strict, hooks, sleep, clock, http_client, explicit_timeout, max_retries)


def _copied(seed: _Seed, options: dict[str, Any], ours: Mapping[str, Any]) -> _Seed:
    """The seed of ``copy(**options)``, following openai's rules for merging headers and query."""
    changes: dict[str, Any] = {k: v for k, v in ours.items() if v is not _KEEP}
    if "config" in changes:
        changes["settings"] = config_module.load_settings(changes.pop("config"))
    for name in ("api_key", "organization", "project", "http_client"):
        if options.get(name) is not None:
            changes[name] = options[name]
    if options.get("base_url") is not None and not isinstance(options["base_url"], openai.NotGiven):
        changes["base_url"] = str(options["base_url"])
    if options.get("default_headers") is not None:
        changes["default_headers"] = {**(seed.default_headers or {}), **options["default_headers"]}
    elif options.get("set_default_headers") is not None:
        changes["default_headers"] = options["set_default_headers"]
    if options.get("default_query") is not None:
        changes["default_query"] = {**(seed.default_query or {}), **options["default_query"]}
    elif options.get("set_default_query") is not None:
        changes["default_query"] = options["set_default_query"]
    for name in ("timeout", "max_retries"):
        if name in options and not isinstance(options[name], openai.NotGiven):
            changes[name] = options[name]
    return dataclasses.replace(seed, **changes)


@dataclass(frozen=True)
class _Inherited:
    """What ``copy()`` hands the new client: its seed, and the parent's routing core, shared
    whole when only limits changed (``share``), else for its connections alone."""

    seed: _Seed
    core: Any
    share: bool


class _Core:
    """One client's routing: router, engine and the httpx2 client openai sends through.

    Copies that change only limits (``with_options(timeout=…)``) share it, and with it the
    breakers, budgets and connections.
    """

    def __init__(self, seed: _Seed, *, sync: bool, parent: _Core | None = None) -> None:
        self.live_key = LiveSecret("") if callable(seed.api_key) else None  # set before each request
        settings, default_provider = seed.resolve(self.live_key)
        # a copy with new credentials keeps its parent's connections, as openai's copies share one client
        outgoing: Any = seed.http_client or (parent.engine.transport.outgoing() if parent is not None else None)
        self.seed = seed.routing()
        self.router = Router(settings, default_provider=default_provider, hooks=seed.hooks,
                             clock=seed.clock or time.monotonic)
        self.routing = Routing.for_router(self.router, has_config=seed.settings is not None)
        self.engine: Engine | AsyncEngine
        self.http: httpx2.Client | httpx2.AsyncClient
        if sync:
            self.engine = Engine(self.router, SyncTransport(settings.providers, outgoing), seed.sleep)
            self.http = httpx2.Client(transport=RoutingTransport(self.routing, self.engine), timeout=DEFAULT_TIMEOUT)
        else:
            self.engine = AsyncEngine(self.router, AsyncTransport(settings.providers, outgoing), seed.sleep)
            self.http = httpx2.AsyncClient(transport=AsyncRoutingTransport(self.routing, self.engine),
                                          timeout=DEFAULT_TIMEOUT)


class _Routed:
    """What both clients add to openai's: seeds, limits per request, RouteInfo on results.

    A mixin placed before openai's client class, so its overrides wrap openai's methods.
    """

    _seed: _Seed
    _core: _Core
    _limits: ClientLimits

    def _start(self, *, sync: bool, inherited: _Inherited | None, api_key: Any, enforce: bool,
               seed_args: dict[str, Any], openai_args: dict[str, Any]) -> None:
        """Both constructors: resolve (or inherit) the routing, then build openai's client over it."""
        if inherited is None:
            seed = _seed(api_key=api_key, **seed_args)
            core = _Core(seed, sync=sync)
        else:
            seed = inherited.seed
            core = inherited.core if inherited.share else _Core(seed, sync=sync, parent=inherited.core)
        super().__init__(**_openai_args(seed, api_key, enforce), http_client=core.http,  # type: ignore[call-arg]
                         **openai_args)
        self._llmswitch_setup(seed, core)

    def _llmswitch_setup(self, seed: _Seed, core: _Core) -> None:
        self._seed, self._core = seed, core
        self._limits = ClientLimits(timeout=timeout_overrides(seed.timeout), max_retries=seed.max_retries)

    @property
    def router(self) -> Router:
        """The routing state (breakers, budgets, resolution) this client and its copies share."""
        return self._core.router

    @property
    def settings(self) -> config_module.Settings:
        return self._core.router.settings

    def _direct(self, operation: Operation, params: Mapping[str, Any], key: str | None) -> Call:
        """A direct-path call: openai's argument checks, the fresh callable key, the plan."""
        (check_chat if operation == "chat" else check_embeddings)(params)
        core = self._core
        if core.live_key is not None and key is not None:
            core.live_key.set(key)
        return prepare(core.router, operation, params, timeout=self._limits.timeout,
                       max_retries=self._limits.max_retries)

    def _inherit(self, options: dict[str, Any], ours: Mapping[str, Any]) -> dict[str, Any]:
        """``_extra_kwargs`` for openai's ``copy()``: the next seed, and the core if unchanged."""
        if options.get("http_client") is self._core.http:
            options["http_client"] = None
        seed = _copied(self._seed, options, ours)
        return {"_llmswitch": _Inherited(seed, self._core, seed.routing() == self._core.seed)}

    def _validate_headers(self, headers: Any, custom_headers: Any) -> None:
        """With a providers file, credentials are the providers': openai's own key is optional."""
        if self._seed.settings is None:
            super()._validate_headers(headers, custom_headers)  # type: ignore[misc]

    def _build_request(self, options: Any, *, retries_taken: int = 0) -> httpx2.Request:
        request: httpx2.Request = super()._build_request(options, retries_taken=retries_taken)  # type: ignore[misc]
        if self._core.live_key is not None:  # openai refreshed its callable key for this request
            self._core.live_key.set(self.api_key)  # type: ignore[attr-defined]
        limits = self._limits
        own = timeout_overrides(options.timeout)
        base_path = self.base_url.path  # type: ignore[attr-defined]
        request.extensions[EXTENSION] = ClientLimits(base_path, own if own is not None else limits.timeout,
                                                     limits.max_retries, _json_body(options))
        return request

    def _process_response(self, **kwargs: Any) -> Any:
        return _with_info(super()._process_response(**kwargs), kwargs["response"])  # type: ignore[misc]

    def _process_response_data(self, **kwargs: Any) -> Any:
        """Also what a raw response's ``parse()`` builds its object with."""
        return _with_info(super()._process_response_data(**kwargs), kwargs["response"])  # type: ignore[misc]


def _openai_args(seed: _Seed, api_key: Any, enforce: bool) -> dict[str, Any]:
    """The arguments openai's own constructor gets: credentials checked only without a file."""
    max_retries = DEFAULT_MAX_RETRIES if seed.max_retries is None else seed.max_retries
    return {"api_key": api_key, "max_retries": max_retries, "_enforce_credentials": enforce and seed.settings is None}


# -- sync -------------------------------------------------------------------------------------------

class Completions(_Completions):
    """``chat.completions`` with the direct path for ``create``."""

    _client: OpenAI

    @overload  # type: ignore[override]
    def create(self, **params: Unpack[ChatStreamParams]) -> Stream[ChatCompletionChunk]: ...
    @overload
    def create(self, **params: Unpack[ChatParams]) -> ChatCompletion: ...

    def create(self, **params: Any) -> ChatCompletion | Stream[ChatCompletionChunk]:
        """openai's ``chat.completions.create``: its parameters, plus routes and provider/model names."""
        if _routed_by_openai(params):
            return super().create(**params)  # type: ignore[no-any-return]
        client = self._client
        call = client._direct("chat", params, client._refresh_api_key() if client._core.live_key else None)
        engine: Engine = client._core.engine  # type: ignore[assignment]
        if call.stream:
            return Stream(engine.open(call), call.plan, _chunk)
        return _finished(ChatCompletion, engine.complete(call), call)


class Chat(_Chat):
    @cached_property
    def completions(self) -> Completions:
        return Completions(self._client)


class Embeddings(_Embeddings):
    """``embeddings`` with the direct path for ``create``."""

    _client: OpenAI

    def create(self, **params: Unpack[EmbeddingParams]) -> CreateEmbeddingResponse:  # type: ignore[override]
        if _routed_by_openai(params):
            return super().create(**params)
        client = self._client
        call = client._direct("embeddings", params, client._refresh_api_key() if client._core.live_key else None)
        engine: Engine = client._core.engine  # type: ignore[assignment]
        return _finished(CreateEmbeddingResponse, engine.complete(call), call)


class OpenAI(_Routed, openai.OpenAI):
    """``openai.OpenAI``, routed. Everything openai's client has, plus:

    - ``config=``: a providers file path, a dict, or loaded Settings (else ``LLMSWITCH_CONFIG``);
    - ``strict=``: reject parameters a vendor cannot take instead of adapting them;
    - ``hooks=``: ``{"on_attempt": fn, "on_fallback": fn, "on_success": fn, "on_failure": fn}``
      (signatures in :mod:`llmswitch.router`);
    - ``sleep=`` / ``clock=``: injectable waiting and time, for tests.

    ``max_retries`` (None: the file's ``retry.max_attempts``, default 2 retries) applies to direct
    ``provider/model`` calls and to routes that do not set it; retries happen in the router,
    never again in openai's loop. ``http_client=`` is the client the router sends through.
    """

    def __init__(self, *, api_key: str | Callable[[], str] | None = None, admin_api_key: str | None = None,
                 workload_identity: Any = None, organization: str | None = None, project: str | None = None,
                 webhook_secret: str | None = None, provider: Any = None,
                 base_url: str | httpx2.URL | openai.NotGiven | None = openai.NOT_GIVEN,
                 data_residency: Any = None, websocket_base_url: str | httpx2.URL | None = None,
                 timeout: float | httpx2.Timeout | openai.NotGiven | None = openai.NOT_GIVEN,
                 max_retries: int | None = None, default_headers: Mapping[str, str] | None = None,
                 default_query: Mapping[str, object] | None = None, http_client: httpx2.Client | None = None,
                 _strict_response_validation: bool = False, _enforce_credentials: bool = True,
                 config: str | os.PathLike[str] | Mapping[str, Any] | config_module.Settings | None = None,
                 strict: bool = False, hooks: Mapping[str, Hook] | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] | None = None,
                 _llmswitch: _Inherited | None = None) -> None:
        self._start(sync=True, inherited=_llmswitch, api_key=api_key, enforce=_enforce_credentials,
                    seed_args=dict(config=config, base_url=base_url, organization=organization, project=project,
                                   default_headers=default_headers, default_query=default_query, strict=strict,
                                   hooks=hooks, sleep=sleep, clock=clock, http_client=http_client, timeout=timeout,
                                   max_retries=max_retries),
                    openai_args=dict(admin_api_key=admin_api_key, workload_identity=workload_identity,
                                     organization=organization, project=project, webhook_secret=webhook_secret,
                                     provider=provider, base_url=base_url, data_residency=data_residency,
                                     websocket_base_url=websocket_base_url, timeout=timeout,
                                     default_headers=default_headers, default_query=default_query,
                                     _strict_response_validation=_strict_response_validation))

    @cached_property
    def chat(self) -> Chat:
        return Chat(self)

    @cached_property
    def embeddings(self) -> Embeddings:
        return Embeddings(self)

    def copy(self, *, config: Any = _KEEP, strict: Any = _KEEP, hooks: Any = _KEEP,
             sleep: Any = _KEEP, clock: Any = _KEEP, **options: Any) -> OpenAI:
        """openai's ``copy``/``with_options``: new credentials, URL or file get their own routing;
        new limits share this client's breakers and connections."""
        ours = {"config": config, "strict": strict, "hooks": hooks, "sleep": sleep, "clock": clock}
        extra = self._inherit(options, ours)
        return super().copy(**options, _extra_kwargs=extra)

    with_options = copy


# -- async ------------------------------------------------------------------------------------------

class AsyncCompletions(_AsyncCompletions):
    """``chat.completions`` (async) with the direct path for ``create``."""

    _client: AsyncOpenAI

    @overload  # type: ignore[override]
    async def create(self, **params: Unpack[ChatStreamParams]) -> AsyncStream[ChatCompletionChunk]: ...
    @overload
    async def create(self, **params: Unpack[ChatParams]) -> ChatCompletion: ...

    async def create(self, **params: Any) -> ChatCompletion | AsyncStream[ChatCompletionChunk]:
        """openai's ``chat.completions.create``, awaitable; a stream is async-iterable."""
        if _routed_by_openai(params):
            return await super().create(**params)  # type: ignore[no-any-return]
        client = self._client
        call = client._direct("chat", params, await client._refresh_api_key() if client._core.live_key else None)
        engine: AsyncEngine = client._core.engine  # type: ignore[assignment]
        if call.stream:
            return AsyncStream(await engine.open(call), call.plan, _chunk)
        return _finished(ChatCompletion, await engine.complete(call), call)


class AsyncChat(_AsyncChat):
    @cached_property
    def completions(self) -> AsyncCompletions:
        return AsyncCompletions(self._client)


class AsyncEmbeddings(_AsyncEmbeddings):
    _client: AsyncOpenAI

    async def create(self, **params: Unpack[EmbeddingParams]) -> CreateEmbeddingResponse:  # type: ignore[override]
        if _routed_by_openai(params):
            return await super().create(**params)
        client = self._client
        key = await client._refresh_api_key() if client._core.live_key else None
        call = client._direct("embeddings", params, key)
        engine: AsyncEngine = client._core.engine  # type: ignore[assignment]
        return _finished(CreateEmbeddingResponse, await engine.complete(call), call)


class AsyncOpenAI(_Routed, openai.AsyncOpenAI):
    """``openai.AsyncOpenAI``, routed: the same options as :class:`OpenAI`, awaitable."""

    def __init__(self, *, api_key: str | Callable[[], Awaitable[str]] | None = None,
                 admin_api_key: str | None = None, workload_identity: Any = None, organization: str | None = None,
                 project: str | None = None, webhook_secret: str | None = None, provider: Any = None,
                 base_url: str | httpx2.URL | openai.NotGiven | None = openai.NOT_GIVEN,
                 data_residency: Any = None, websocket_base_url: str | httpx2.URL | None = None,
                 timeout: float | httpx2.Timeout | openai.NotGiven | None = openai.NOT_GIVEN,
                 max_retries: int | None = None, default_headers: Mapping[str, str] | None = None,
                 default_query: Mapping[str, object] | None = None, http_client: httpx2.AsyncClient | None = None,
                 _strict_response_validation: bool = False, _enforce_credentials: bool = True,
                 config: str | os.PathLike[str] | Mapping[str, Any] | config_module.Settings | None = None,
                 strict: bool = False, hooks: Mapping[str, Hook] | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep, clock: Callable[[], float] | None = None,
                 _llmswitch: _Inherited | None = None) -> None:
        self._start(sync=False, inherited=_llmswitch, api_key=api_key, enforce=_enforce_credentials,
                    seed_args=dict(config=config, base_url=base_url, organization=organization, project=project,
                                   default_headers=default_headers, default_query=default_query, strict=strict,
                                   hooks=hooks, sleep=sleep, clock=clock, http_client=http_client, timeout=timeout,
                                   max_retries=max_retries),
                    openai_args=dict(admin_api_key=admin_api_key, workload_identity=workload_identity,
                                     organization=organization, project=project, webhook_secret=webhook_secret,
                                     provider=provider, base_url=base_url, data_residency=data_residency,
                                     websocket_base_url=websocket_base_url, timeout=timeout,
                                     default_headers=default_headers, default_query=default_query,
                                     _strict_response_validation=_strict_response_validation))

    @cached_property
    def chat(self) -> AsyncChat:
        return AsyncChat(self)

    @cached_property
    def embeddings(self) -> AsyncEmbeddings:
        return AsyncEmbeddings(self)

    def copy(self, *, config: Any = _KEEP, strict: Any = _KEEP, hooks: Any = _KEEP,
             sleep: Any = _KEEP, clock: Any = _KEEP, **options: Any) -> AsyncOpenAI:
        """openai's ``copy``/``with_options`` (see :meth:`OpenAI.copy`)."""
        ours = {"config": config, "strict": strict, "hooks": hooks, "sleep": sleep, "clock": clock}
        extra = self._inherit(options, ours)
        return super().copy(**options, _extra_kwargs=extra)

    with_options = copy
