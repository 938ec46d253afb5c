"""Chat-completion chunks → Responses stream events, in the order OpenAI's API sends them.

One output item is open at a time, as on OpenAI: reasoning, then the message, then each function
call in turn. Each item opens with ``output_item.added`` (and ``content_part.added`` for parts),
streams its deltas, and closes with the ``.done`` events before the next one opens. The stream
ends with ``response.completed`` (or ``.incomplete`` / ``.failed``) carrying the whole Response,
built by the same code as a plain call's. ``sequence_number`` counts every event from 0.
"""

from __future__ import annotations

from typing import Any, Literal

from .output import function_call, message_item, reasoning_item, response, status_of, text_part
from .request import BridgeContext

__all__ = ["ResponseEvents"]


class _Item:
    """The output item being streamed: its kind, place, id and the text gathered so far."""

    __slots__ = ("call_id", "index", "item_id", "kind", "name", "parts")

    def __init__(self, kind: str, index: int, item_id: str, call_id: str = "", name: str = "") -> None:
        self.kind = kind
        self.index = index
        self.item_id = item_id
        self.call_id = call_id
        self.name = name
        self.parts: list[str] = []


class ResponseEvents:
    """Feed chat chunk dicts, then ``close()`` (or ``fail()``); each returns the events to send."""

    def __init__(self, ctx: BridgeContext) -> None:
        self.ctx = ctx
        self.sequence = 0
        self.started = False
        self.model = ctx.model
        self.output: list[dict[str, Any]] = []
        self.current: _Item | None = None
        self.calls: dict[int, _Item] = {}  # chat tool-call index → its item
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None

    # -- input -------------------------------------------------------------------------------
    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if not self.started:
            self.model = chunk.get("model") or self.model
            self._start(events)
        usage = chunk.get("usage")
        if usage:
            self.usage = usage
        for choice in chunk.get("choices") or ():
            if choice.get("index"):  # only the first choice: a Response has one output
                continue
            delta = choice.get("delta")
            if delta:
                reasoning = delta.get("reasoning_content")
                content = delta.get("content")
                calls = delta.get("tool_calls")
                if reasoning:
                    self._text("reasoning", reasoning, events)
                if content:
                    item = self.current
                    if item is not None and item.kind == "message":  # the hot path: one more text delta
                        item.parts.append(content)
                        events.append({"type": "response.output_text.delta", "item_id": item.item_id,
                                       "output_index": item.index, "content_index": 0, "delta": content,
                                       "logprobs": [], "sequence_number": self.sequence})
                        self.sequence += 1
                    else:
                        self._text("message", content, events)
                if calls:
                    for call in calls:
                        self._call(call, events)
            finish = choice.get("finish_reason")
            if finish:
                self.finish_reason = finish
        return events

    def close(self) -> list[dict[str, Any]]:
        """End of the chat stream: close the open item, then ``response.completed`` / ``.incomplete``."""
        events: list[dict[str, Any]] = []
        if not self.started:
            self._start(events)
        status, incomplete = status_of(self.finish_reason)
        self._close_current(events, status)
        final = response(self.ctx, self.model, status, self.output, incomplete, self.usage)
        self._emit(events, {"type": f"response.{status}", "response": final})
        self.ctx.remember(final, self.output)
        return events

    def fail(self, message: str, code: Literal["server_error", "rate_limit_exceeded"] = "server_error",
             ) -> list[dict[str, Any]]:
        """The stream broke after it began: ``response.failed`` with the items already finished.

        ``code`` is one of the codes OpenAI's ResponseError allows; the message says the rest.
        """
        events: list[dict[str, Any]] = []
        if not self.started:
            self._start(events)
        error = {"code": code, "message": message}
        final = response(self.ctx, self.model, "failed", self.output, None, self.usage, error)
        self._emit(events, {"type": "response.failed", "response": final})
        return events

    # -- items ----------------------------------------------------------------------------------
    def _start(self, events: list[dict[str, Any]]) -> None:
        self.started = True
        snapshot = response(self.ctx, self.model, "in_progress", [])
        self._emit(events, {"type": "response.created", "response": snapshot})
        self._emit(events, {"type": "response.in_progress", "response": snapshot})

    def _text(self, kind: str, text: str, events: list[dict[str, Any]]) -> None:
        item = self.current
        if item is None or item.kind != kind:
            self._close_current(events, "completed")
            item = self._open(kind, events)
        item.parts.append(text)
        delta_type = "response.output_text.delta" if kind == "message" else "response.reasoning_text.delta"
        event = {"type": delta_type, "item_id": item.item_id, "output_index": item.index, "content_index": 0,
                 "delta": text}
        if kind == "message":
            event["logprobs"] = []
        self._emit(events, event)

    def _open(self, kind: str, events: list[dict[str, Any]]) -> _Item:
        prefix = "msg" if kind == "message" else "rs"
        item = self.current = _Item(kind, len(self.output), self.ctx.ids(prefix))
        added = message_item(item.item_id, [], "in_progress") if kind == "message" else \
            reasoning_item(item.item_id, None, "in_progress")
        self._emit(events, {"type": "response.output_item.added", "output_index": item.index, "item": added})
        part = text_part("") if kind == "message" else {"type": "reasoning_text", "text": ""}
        self._emit(events, {"type": "response.content_part.added", "item_id": item.item_id,
                            "output_index": item.index, "content_index": 0, "part": part})
        return item

    def _call(self, call: dict[str, Any], events: list[dict[str, Any]]) -> None:
        position = call.get("index", 0)
        fn = call.get("function") or {}
        item = self.calls.get(position)
        if item is None:
            self._close_current(events, "completed")
            item = self.current = self.calls[position] = _Item(
                "function_call", len(self.output), self.ctx.ids("fc"), call.get("id") or self.ctx.ids("call"),
                fn.get("name") or "")
            added = function_call(item.item_id, item.call_id, item.name, "", "in_progress")
            self._emit(events, {"type": "response.output_item.added", "output_index": item.index, "item": added})
        elif item is not self.current:
            raise ValueError(f"tool call {position} continued after the next output item began")
        elif fn.get("name") and not item.name:
            item.name = fn["name"]
        if fn.get("arguments"):
            item.parts.append(fn["arguments"])
            self._emit(events, {"type": "response.function_call_arguments.delta", "item_id": item.item_id,
                                "output_index": item.index, "delta": fn["arguments"]})

    def _close_current(self, events: list[dict[str, Any]], status: str) -> None:
        item = self.current
        if item is None:
            return
        self.current = None
        text = "".join(item.parts)
        base = {"item_id": item.item_id, "output_index": item.index}
        if item.kind == "function_call":
            self._emit(events, {"type": "response.function_call_arguments.done", **base, "name": item.name,
                                "arguments": text})
            done = function_call(item.item_id, item.call_id, item.name, text, "completed")
        else:
            if item.kind == "message":
                self._emit(events, {"type": "response.output_text.done", **base, "content_index": 0, "text": text,
                                    "logprobs": []})
                part = text_part(text)
                done = message_item(item.item_id, [part], status)
            else:
                self._emit(events, {"type": "response.reasoning_text.done", **base, "content_index": 0,
                                    "text": text})
                part = {"type": "reasoning_text", "text": text}
                done = reasoning_item(item.item_id, text)
            self._emit(events, {"type": "response.content_part.done", **base, "content_index": 0, "part": part})
        self._emit(events, {"type": "response.output_item.done", "output_index": item.index, "item": done})
        self.output.append(done)

    def _emit(self, events: list[dict[str, Any]], event: dict[str, Any]) -> None:
        event["sequence_number"] = self.sequence
        self.sequence += 1
        events.append(event)
