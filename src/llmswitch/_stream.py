"""Stream objects handed to callers: iterable, context managers, closable — like openai's ``Stream``.

Opening a stream reads up to the first chunk (the commit point): failures before it are retried
and fall back inside the router's loop. After it, any failure — a cut connection, a stall past
the idle deadline, an in-band error, or EOF with neither finish reason nor terminator — raises
:class:`~llmswitch.errors.StreamInterruptedError` carrying what the caller already received.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx2

from . import errors
from .adapters.base import Adapter, StreamTranslator
from .streaming import NDJSONDecoder, SSEDecoder, decoder_for
from .transport import connection_error

if TYPE_CHECKING:
    from .router import CallPlan, Try

__all__ = ["AsyncStream", "Opened", "Stream", "StreamCore"]

T = TypeVar("T")


class StreamCore:
    """Per-stream decoding state shared by the sync and async wrappers."""

    def __init__(self, response: httpx2.Response, adapter: Adapter, model: str) -> None:
        self.response = response
        self.adapter = adapter
        self.model = model
        self.decoder: SSEDecoder | NDJSONDecoder = decoder_for(adapter.stream_format)
        self.translator: StreamTranslator = adapter.stream_translator(response, model)
        self.text: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.usage: dict[str, Any] | None = None
        self.delivered = False

    def feed(self, raw: bytes) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for event in self.decoder.feed(raw):
            out += self.translator.feed(event)
        return out

    def finish(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for event in self.decoder.close():
            out += self.translator.feed(event)
        return out + self.translator.close()

    def track(self, chunk: dict[str, Any]) -> None:
        """Remember delivered output, for an interruption's ``partial_text``/``partial_tool_calls``."""
        self.delivered = True
        usage = chunk.get("usage")
        if usage:
            self.usage = usage
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content:
                self.text.append(content)
            for call in delta.get("tool_calls") or ():
                slot = self.tool_calls.setdefault(call.get("index", 0), {"id": None, "type": "function",
                                                                         "function": {"name": "", "arguments": ""}})
                if call.get("id"):
                    slot["id"] = call["id"]
                function = call.get("function") or {}
                if function.get("name"):
                    slot["function"]["name"] = function["name"]
                slot["function"]["arguments"] += function.get("arguments") or ""

    def ended_early(self) -> errors.APIConnectionError:
        return errors.APIConnectionError(
            message="stream ended with neither a finish reason nor its terminator",
            request=self.response.request, provider=self.adapter.provider.name, model=self.model)

    def transport_error(self, exc: Exception) -> errors.APIConnectionError:
        return connection_error(exc, self.response.request, self.adapter.provider.name, self.model)

    def interrupted(self, cause: BaseException) -> errors.StreamInterruptedError:
        return errors.StreamInterruptedError(
            f"stream interrupted after output was delivered: {cause}",
            partial_text="".join(self.text),
            partial_tool_calls=[self.tool_calls[i] for i in sorted(self.tool_calls)],
            provider=self.adapter.provider.name, model=self.model, cause=cause)


class Opened:
    """A stream opened up to its first chunk(s): what the router's loop returns on success."""

    def __init__(self, core: StreamCore, first: list[dict[str, Any]], raw: Any, done: bool) -> None:
        self.core = core
        self.first = first
        self.raw = raw  # the byte iterator, positioned after the first chunk
        self.done = done


class _Base(Generic[T]):
    def __init__(self, opened: Opened, plan: CallPlan, build: Callable[[dict[str, Any]], T],
                 on_end: Callable[[StreamCore], None]) -> None:
        self._opened = opened
        self._core = opened.core
        self._plan = plan
        self._build = build
        self._on_end = on_end
        self.response = opened.core.response
        self.route_info = plan.info

    def _deliver(self, chunk: dict[str, Any]) -> T:
        self._core.track(chunk)
        return self._build(chunk)

    def _past_deadline(self) -> bool:
        left = self._plan.remaining()
        return left is not None and left <= 0


class Stream(_Base[T]):
    """Iterate to get ``ChatCompletionChunk``s; ``close()`` releases the connection."""

    def __iter__(self) -> Iterator[T]:
        core = self._core
        try:
            for chunk in self._opened.first:
                yield self._deliver(chunk)
            if not self._opened.done:
                yield from self._rest()
        finally:
            self.close()

    def _rest(self) -> Iterator[T]:
        core = self._core
        try:
            for raw in self._opened.raw:
                for chunk in core.feed(raw):
                    yield self._deliver(chunk)
                if self._past_deadline():
                    raise errors.APITimeoutError(self.response.request, message="total deadline passed",
                                                 provider=core.adapter.provider.name, model=core.model)
            for chunk in core.finish():
                yield self._deliver(chunk)
        except httpx2.TransportError as exc:
            raise core.interrupted(core.transport_error(exc)) from exc
        except (errors.APIStatusError, errors.APIConnectionError) as exc:
            raise core.interrupted(exc) from exc
        if not core.translator.complete:
            raise core.interrupted(core.ended_early())
        self._on_end(core)

    def __next__(self) -> T:
        if not hasattr(self, "_iterator"):
            self._iterator = iter(self)
        return next(self._iterator)

    def close(self) -> None:
        self.response.close()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class AsyncStream(_Base[T]):
    """``async for`` to get ``ChatCompletionChunk``s; ``await close()`` releases the connection."""

    async def __aiter__(self) -> AsyncIterator[T]:
        try:
            for chunk in self._opened.first:
                yield self._deliver(chunk)
            if not self._opened.done:
                async for item in self._rest():
                    yield item
        finally:
            await self.close()

    async def _rest(self) -> AsyncIterator[T]:
        core = self._core
        try:
            async for raw in self._opened.raw:
                for chunk in core.feed(raw):
                    yield self._deliver(chunk)
                if self._past_deadline():
                    raise errors.APITimeoutError(self.response.request, message="total deadline passed",
                                                 provider=core.adapter.provider.name, model=core.model)
            for chunk in core.finish():
                yield self._deliver(chunk)
        except httpx2.TransportError as exc:
            raise core.interrupted(core.transport_error(exc)) from exc
        except (errors.APIStatusError, errors.APIConnectionError) as exc:
            raise core.interrupted(exc) from exc
        if not core.translator.complete:
            raise core.interrupted(core.ended_early())
        self._on_end(core)

    async def __anext__(self) -> T:
        if not hasattr(self, "_aiterator"):
            self._aiterator = self.__aiter__()
        return await self._aiterator.__anext__()

    async def close(self) -> None:
        await self.response.aclose()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()


def open_sync(core: StreamCore, step: Try) -> Opened:
    """Read until the first chunk; any failure here is an ordinary attempt failure."""
    raw = core.response.iter_bytes()
    try:
        for piece in raw:
            chunks = core.feed(piece)
            if chunks:
                return Opened(core, chunks, raw, False)
        chunks = core.finish()
    except httpx2.TransportError as exc:
        core.response.close()
        raise core.transport_error(exc) from exc
    except BaseException:
        core.response.close()
        raise
    if not core.translator.complete:
        core.response.close()
        raise core.ended_early()
    return Opened(core, chunks, raw, True)


async def open_async(core: StreamCore, step: Try) -> Opened:
    raw = core.response.aiter_bytes()
    try:
        async for piece in raw:
            chunks = core.feed(piece)
            if chunks:
                return Opened(core, chunks, raw, False)
        chunks = core.finish()
    except httpx2.TransportError as exc:
        await core.response.aclose()
        raise core.transport_error(exc) from exc
    except BaseException:
        await core.response.aclose()
        raise
    if not core.translator.complete:
        await core.response.aclose()
        raise core.ended_early()
    return Opened(core, chunks, raw, True)
