"""Stream objects handed to callers: iterable, context managers, closable — like openai's ``Stream``.

Opening a stream reads up to the first chunk that carries output — text, a tool call, reasoning,
a refusal or a finish reason. That is the commit point: chunks before it (the role header, usage)
are held back, so a stream that fails, stalls or ends before its first token is an ordinary
attempt failure, retried and fallen back silently by the router's loop. After it, any failure — a
cut connection, a stall past the idle deadline, the total deadline, an in-band error, or EOF with
neither finish reason nor terminator — raises :class:`~llmswitch.errors.StreamInterruptedError`
carrying what the caller already received.

Deadlines (from :class:`~llmswitch.transport.Deadline`, measured from the attempt's start):
``first_token`` until the commit point, ``idle`` between reads (time the caller spends on a
chunk does not count), ``total`` always. Async streams enforce them with asyncio timers; sync
streams with the transport's :class:`~llmswitch.transport.Watchdog`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx2
import openai

from . import errors
from .adapters.base import Adapter, StreamTranslator
from .streaming import NDJSONDecoder, SSEDecoder, decoder_for
from .transport import Deadline, Watch, abort, connection_error, watchdog

if TYPE_CHECKING:
    from .plan import CallPlan

__all__ = ["AsyncStream", "Limits", "Opened", "Stream", "StreamCore", "carries_output", "open_async",
           "open_sync"]

T = TypeVar("T")


def carries_output(chunk: dict[str, Any]) -> bool:
    """Does this chunk hand the caller anything of the answer? (The commit point.)"""
    for choice in chunk.get("choices") or ():
        if choice.get("finish_reason"):
            return True
        delta = choice.get("delta") or {}
        if (delta.get("content") or delta.get("tool_calls") or delta.get("reasoning_content")
                or delta.get("refusal") or delta.get("function_call")):
            return True
    return False


class Limits:
    """One stream attempt's deadlines as absolute ``time.monotonic()`` instants."""

    __slots__ = ("first_at", "idle", "spec", "total_at")

    def __init__(self, deadline: Deadline, started: float) -> None:
        self.spec = deadline
        self.first_at = started + deadline.first_token if deadline.first_token is not None else None
        self.total_at = started + deadline.total if deadline.total is not None else None
        self.idle = deadline.idle

    def due(self, now: float, committed: bool) -> tuple[float, str] | None:
        """The earliest deadline from ``now`` and which one it is (never earlier than a previous answer)."""
        best: tuple[float, str] | None = None
        if self.idle is not None:
            best = (now + self.idle, "idle")
        if not committed and self.first_at is not None and (best is None or self.first_at < best[0]):
            best = (self.first_at, "first_token")
        if self.total_at is not None and (best is None or self.total_at <= best[0]):
            best = (self.total_at, "total")
        return best


class StreamCore:
    """Per-stream decoding state shared by the sync and async wrappers."""

    def __init__(self, response: httpx2.Response, adapter: Adapter, model: str, deadline: Deadline,
                 started: float) -> None:
        self.response = response
        self.adapter = adapter
        self.model = model
        self.decoder: SSEDecoder | NDJSONDecoder = decoder_for(adapter.stream_format)
        self.translator: StreamTranslator = adapter.stream_translator(response, model)
        self.limits = Limits(deadline, started)
        self.watch: Watch | None = None
        self.text: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.usage: dict[str, Any] | None = None
        self.delivered = False
        self.last: dict[str, Any] | None = None  # the latest chunk: its id and model describe the stream
        self.finish_reasons: dict[int, str] = {}

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
        self.last = chunk
        usage = chunk.get("usage")
        if usage:
            self.usage = usage
        for choice in chunk.get("choices") or ():
            if choice.get("finish_reason"):
                self.finish_reasons[choice.get("index", 0)] = choice["finish_reason"]
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

    def summary(self) -> dict[str, Any]:
        """The stream as a whole, for observers (``on_end``): id, model and finish reasons."""
        last = self.last or {}
        choices = [{"index": i, "finish_reason": r} for i, r in sorted(self.finish_reasons.items())]
        return {"id": last.get("id"), "model": last.get("model", self.model), "choices": choices}

    # -- errors ----------------------------------------------------------------------------------
    def ended_early(self) -> errors.APIConnectionError:
        return errors.APIConnectionError(
            message="stream ended with neither a finish reason nor its terminator",
            request=self.response.request, provider=self.adapter.provider.name, model=self.model)

    def transport_error(self, exc: Exception) -> errors.APIConnectionError:
        if self.watch is not None and self.watch.fired:
            return self.timed_out(self.watch.fired)
        return connection_error(exc, self.response.request, self.adapter.provider.name, self.model)

    def timed_out(self, which: str) -> errors.APITimeoutError:
        spec = self.limits.spec
        message = {
            "first_token": f"no output within the first_token deadline ({spec.first_token:.3g}s)",
            "idle": f"stream idle for longer than {spec.idle:.3g}s" if spec.idle else "stream idle",
            "total": "the call's total deadline passed",
        }.get(which, which)
        return errors.APITimeoutError(self.response.request, message=f"Request timed out: {message}.",
                                      provider=self.adapter.provider.name, model=self.model)

    def interrupted(self, cause: BaseException) -> errors.StreamInterruptedError:
        return errors.StreamInterruptedError(
            f"stream interrupted after output was delivered: {cause}",
            partial_text="".join(self.text),
            partial_tool_calls=[self.tool_calls[i] for i in sorted(self.tool_calls)],
            provider=self.adapter.provider.name, model=self.model, cause=cause)

    # -- sync deadlines (the watchdog) -------------------------------------------------------------
    def arm(self, now: float, committed: bool) -> None:
        """Before a blocking read: the watchdog may abort it at the next deadline."""
        due = self.limits.due(now, committed)
        watch = self.watch
        if due is None:
            return
        if watch is None:
            self.watch = watchdog().watch(self._abort, due[0], due[1])
        else:
            watch.due, watch.reason = due  # only ever later: a plain store, no lock
            watch.reading = True

    def disarm(self) -> None:
        if self.watch is not None:
            self.watch.reading = False

    def check(self, now: float, committed: bool) -> None:
        """A deadline that passed while data still trickled in (or with no socket to abort)."""
        if self.watch is not None and self.watch.fired:
            raise self.timed_out(self.watch.fired)
        limits = self.limits
        if not committed and limits.first_at is not None and now >= limits.first_at:
            raise self.timed_out("first_token")
        if limits.total_at is not None and now >= limits.total_at:
            raise self.timed_out("total")

    def release(self) -> None:
        if self.watch is not None:
            self.watch.cancel()

    def _abort(self) -> None:
        abort(self.response)


class Opened:
    """A stream opened up to its commit point: what the router's loop returns on success."""

    def __init__(self, core: StreamCore, first: list[dict[str, Any]], raw: Any, done: bool) -> None:
        self.core = core
        self.first = first  # every chunk read so far; the last one carries output
        self.raw = raw  # the byte iterator, positioned after them
        self.done = done


class _Base(Generic[T]):
    def __init__(self, opened: Opened, plan: CallPlan, build: Callable[[dict[str, Any]], T]) -> None:
        self._opened = opened
        self._core = opened.core
        self._plan = plan
        self._build = build
        self._settled = False
        self.response = opened.core.response
        self.route_info = plan.info

    def _deliver(self, chunk: dict[str, Any]) -> T:
        self._core.track(chunk)
        return self._build(chunk)

    def _completed(self) -> None:
        self._settled = True
        self._core.release()
        self._plan.stream_completed(self._core.usage, self._core.summary())

    def _interrupted(self, cause: BaseException) -> errors.StreamInterruptedError:
        self._settled = True
        self._core.release()
        error = self._core.interrupted(cause)
        self._plan.stream_interrupted(error)
        return error

    def _failure(self, exc: BaseException) -> BaseException | None:
        """The interruption for an exception met while reading, or None if it is not ours to map."""
        core = self._core
        if isinstance(exc, httpx2.TransportError):
            cause = core.transport_error(exc)
            cause.__cause__ = exc
            return self._interrupted(cause)
        if isinstance(exc, (errors.APIStatusError, errors.APIConnectionError)):
            return self._interrupted(exc)
        return None


class Stream(_Base[T], openai.Stream[T]):
    """Iterate to get ``ChatCompletionChunk``s; ``close()`` releases the connection.

    An ``openai.Stream`` (libraries check that), fed by the router instead of openai's decoder.
    """

    def __iter__(self) -> Iterator[T]:
        try:
            for chunk in self._opened.first:
                yield self._deliver(chunk)
            if not self._opened.done:
                yield from self._rest()
            elif not self._settled:
                self._completed()
        finally:
            self.close()

    def _rest(self) -> Iterator[T]:
        core = self._core
        clock = time.monotonic
        try:
            core.arm(clock(), True)
            for raw in self._opened.raw:
                core.disarm()
                core.check(clock(), True)
                for chunk in core.feed(raw):
                    yield self._deliver(chunk)
                core.arm(clock(), True)
            core.disarm()
            for chunk in core.finish():
                yield self._deliver(chunk)
            if core.watch is not None and core.watch.fired:
                raise core.timed_out(core.watch.fired)
        except Exception as exc:
            mapped = self._failure(exc)
            if mapped is None:
                raise
            raise mapped from mapped.__cause__
        if not core.translator.complete:
            raise self._interrupted(core.ended_early())
        self._completed()

    def __next__(self) -> T:
        if not hasattr(self, "_iterator"):
            self._iterator = iter(self)
        return next(self._iterator)

    def close(self) -> None:
        self._core.release()
        self.response.close()
        if not self._settled:
            self._settled = True
            self._plan.stream_closed()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class AsyncStream(_Base[T], openai.AsyncStream[T]):
    """``async for`` to get ``ChatCompletionChunk``s; ``await close()`` releases the connection.

    An ``openai.AsyncStream``, fed by the router instead of openai's decoder.
    """

    async def __aiter__(self) -> AsyncIterator[T]:
        try:
            for chunk in self._opened.first:
                yield self._deliver(chunk)
            if not self._opened.done:
                async for item in self._rest():
                    yield item
            elif not self._settled:
                self._completed()
        finally:
            await self.close()

    async def _rest(self) -> AsyncIterator[T]:
        core = self._core
        raw = self._opened.raw
        try:
            while True:
                try:
                    piece = await _next_piece(core, raw, True)
                except StopAsyncIteration:
                    break
                for chunk in core.feed(piece):
                    yield self._deliver(chunk)
            for chunk in core.finish():
                yield self._deliver(chunk)
        except Exception as exc:
            mapped = self._failure(exc)
            if mapped is None:
                raise
            raise mapped from mapped.__cause__
        if not core.translator.complete:
            raise self._interrupted(core.ended_early())
        self._completed()

    async def __anext__(self) -> T:
        if not hasattr(self, "_aiterator"):
            self._aiterator = self.__aiter__()
        return await self._aiterator.__anext__()

    async def close(self) -> None:
        await self.response.aclose()
        if not self._settled:
            self._settled = True
            self._plan.stream_closed()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()


async def _next_piece(core: StreamCore, raw: Any, committed: bool) -> bytes:
    """The next bytes of the body, or the deadline that passed first (as APITimeoutError)."""
    now = time.monotonic()
    due = core.limits.due(now, committed)
    if due is None:
        piece: bytes = await raw.__anext__()
        return piece
    if due[0] <= now:
        raise core.timed_out(due[1])
    try:
        async with asyncio.timeout(due[0] - now):
            piece = await raw.__anext__()
    except TimeoutError:
        raise core.timed_out(due[1]) from None
    return piece


def open_sync(core: StreamCore) -> Opened:
    """Read up to the commit point; any failure here is an ordinary attempt failure."""
    raw = core.response.iter_bytes()
    held: list[dict[str, Any]] = []
    clock = time.monotonic
    try:
        core.arm(clock(), False)
        for piece in raw:
            core.disarm()
            now = clock()
            chunks = core.feed(piece)
            held += chunks
            if any(carries_output(c) for c in chunks):
                return Opened(core, held, raw, False)
            core.check(now, False)
            core.arm(now, False)
        core.disarm()
        held += core.finish()
        if core.watch is not None and core.watch.fired:
            raise core.timed_out(core.watch.fired)
    except httpx2.TransportError as exc:
        _close_sync(core)
        raise core.transport_error(exc) from exc
    except BaseException:
        _close_sync(core)
        raise
    if not core.translator.complete:
        _close_sync(core)
        raise core.ended_early()
    core.release()
    return Opened(core, held, raw, True)


async def open_async(core: StreamCore) -> Opened:
    raw = core.response.aiter_bytes()
    held: list[dict[str, Any]] = []
    try:
        while True:
            try:
                piece = await _next_piece(core, raw, False)
            except StopAsyncIteration:
                break
            chunks = core.feed(piece)
            held += chunks
            if any(carries_output(c) for c in chunks):
                return Opened(core, held, raw, False)
            core.check(time.monotonic(), False)
        held += core.finish()
    except httpx2.TransportError as exc:
        await core.response.aclose()
        raise core.transport_error(exc) from exc
    except BaseException:
        await core.response.aclose()
        raise
    if not core.translator.complete:
        await core.response.aclose()
        raise core.ended_early()
    return Opened(core, held, raw, True)


def _close_sync(core: StreamCore) -> None:
    core.release()
    core.response.close()
