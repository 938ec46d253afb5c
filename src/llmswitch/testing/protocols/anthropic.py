"""Anthropic's Messages API (PROTOCOLS.md §14), as the mock server speaks it.

Requests must carry ``anthropic-version`` (the real API answers 400 without it) and, when the
mount has a key, ``x-api-key``. Streams are named SSE events framed as Anthropic frames them
(``event: <name>\\ndata: {...}\\n\\n``), with a ``ping`` after the first content block start.
The mock has no JSON mode to read; like a model obeying its system prompt, it answers in JSON
when the system prompt asks for JSON.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ..scenario import MockCall, Reply, split_words
from .base import MockProtocol, MockRequest, Rendered, dumps

__all__ = ["AnthropicProtocol", "event"]

# failure class → Anthropic error.type (PROTOCOLS.md §14, the SDK's ErrorType literal)
_ERROR_TYPES: dict[str, str] = {
    "bad_request": "invalid_request_error",
    "context_window": "invalid_request_error",
    "content_filter": "invalid_request_error",
    "auth": "authentication_error",
    "quota": "billing_error",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "rate_limit": "rate_limit_error",
    "timeout": "timeout_error",
    "server_error": "api_error",
}
# how the API words the failures that share invalid_request_error
_MESSAGE_PREFIX: dict[str, str] = {
    "context_window": "prompt is too long: 250000 tokens > 200000 maximum",
    "content_filter": "Output blocked by content filtering policy",
}
_STOP_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
_HEADERS = {"content-type": "application/json", "request-id": "req_mock"}


def event(name: str, data: dict[str, Any]) -> bytes:
    """One named event, framed exactly as the Messages API frames it."""
    return f"event: {name}\ndata: {dumps(data).decode()}\n\n".encode()


class AnthropicProtocol(MockProtocol):
    name: ClassVar[str] = "anthropic"
    root: ClassVar[str] = "/v1"

    def parse(self, request: MockRequest) -> MockCall | None:
        if request.path.rstrip("/") != "/v1/messages":
            return None
        if not request.headers.get("anthropic-version"):
            raise ValueError("anthropic-version: header is required")
        body = request.json()
        if not isinstance(body.get("max_tokens"), int):
            raise ValueError("max_tokens: Field required")
        system = _system_text(body.get("system"))
        forced, schema = _forced_tool(body)
        messages = ([{"role": "system", "content": system}] if system else []) + _openai_messages(
            body.get("messages") or []
        )
        return MockCall(
            "chat",
            str(body.get("model", "")),
            stream=bool(body.get("stream")),
            messages=messages,
            tools=[t["name"] for t in body.get("tools") or [] if "name" in t],
                tool_schemas={t["name"]: t.get("input_schema") for t in body.get("tools") or [] if "name" in t},
            json_mode="json" in system.lower(),
            schema=schema,
            forced_tool=forced,
            max_tokens=body["max_tokens"],
            include_usage=True,
        )

    def authorized(self, request: MockRequest, api_key: str | None) -> bool:
        return api_key is None or request.headers.get("x-api-key") == api_key

    def _content(self, reply: Reply) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if reply.reasoning:
            blocks.append({"type": "thinking", "thinking": reply.reasoning, "signature": "c2lnbmF0dXJl"})
        if reply.text:
            blocks.append({"type": "text", "text": reply.text})
        for call in reply.tool_calls:
            blocks.append({"type": "tool_use", "id": _tool_id(call.id), "name": call.name,
                           "input": json.loads(call.arguments)})
        return blocks

    def _message(self, call: MockCall, reply: Reply, content: list[dict[str, Any]],
                 stop_reason: str | None, output_tokens: int) -> dict[str, Any]:
        return {
            "id": "msg_mock",
            "type": "message",
            "role": "assistant",
            "model": call.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": reply.prompt_tokens, "output_tokens": output_tokens},
        }

    def chat(self, call: MockCall, reply: Reply) -> Rendered:
        stop = _STOP_REASONS.get(reply.finish_reason, "end_turn")
        body = self._message(call, reply, self._content(reply), stop, reply.completion_tokens)
        return Rendered(200, dumps(body), dict(_HEADERS))

    def stream(self, call: MockCall, reply: Reply, *, finish: bool = True) -> list[bytes]:
        start = self._message(call, reply, [], None, 1)
        events = [event("message_start", {"type": "message_start", "message": start})]
        for index, block in enumerate(self._content(reply)):
            block_events = _block_events(index, block)
            if index == 0:  # as in Anthropic's documented streams: a ping after the first block start
                block_events.insert(1, event("ping", {"type": "ping"}))
            events += block_events
        if not finish:
            return events
        delta = {"stop_reason": _STOP_REASONS.get(reply.finish_reason, "end_turn"), "stop_sequence": None}
        usage = {"output_tokens": reply.completion_tokens}
        events.append(event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        events.append(event("message_stop", {"type": "message_stop"}))
        return events

    def _error_body(self, kind: str, status: int, message: str) -> dict[str, Any]:
        etype = _ERROR_TYPES.get(kind, "api_error" if status >= 500 else "invalid_request_error")
        if kind == "server_error" and status == 529:
            etype = "overloaded_error"
        prefix = _MESSAGE_PREFIX.get(kind)
        if prefix and prefix.lower() not in message.lower():
            message = f"{prefix} ({message})"
        return {"type": "error", "error": {"type": etype, "message": message}, "request_id": "req_mock"}

    def error(self, kind: str, status: int, message: str) -> Rendered:
        return Rendered(status, dumps(self._error_body(kind, status, message)), dict(_HEADERS))

    def stream_error(self, kind: str, status: int, message: str) -> bytes:
        return event("error", self._error_body(kind, status, message))


def _block_events(index: int, block: dict[str, Any]) -> list[bytes]:
    """content_block_start / _delta… / _stop for one block; text in words, tool input in halves."""
    kind = block["type"]
    if kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in split_words(block["text"])]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": p} for p in split_words(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        arguments = dumps(block["input"]).decode()
        half = len(arguments) // 2
        pieces = ("", arguments[:half], arguments[half:])  # the API's first input delta is empty
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
    head = {"type": "content_block_start", "index": index, "content_block": start}
    out = [event("content_block_start", head)]
    out += [event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            for d in deltas]
    out.append(event("content_block_stop", {"type": "content_block_stop", "index": index}))
    return out


def _forced_tool(body: dict[str, Any]) -> tuple[str | None, Any]:
    """``tool_choice: {type: tool, name}`` and that tool's ``input_schema``: how structured output is
    asked for over this protocol (the answer is the tool's input)."""
    choice = body.get("tool_choice") or {}
    if choice.get("type") != "tool":
        return None, None
    for tool in body.get("tools") or []:
        if tool.get("name") == choice.get("name"):
            return str(tool["name"]), tool.get("input_schema")
    raise ValueError(f"tool_choice.name: no tool named {choice.get('name')!r} in tools")


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(str(b.get("text", "")) for b in system if isinstance(b, dict))
    return ""


def _block_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [b for b in content if isinstance(b, dict) and b.get("type") == "text"]
        return " ".join(str(b.get("text", "")) for b in texts)
    return ""


def _openai_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Anthropic turns → the OpenAI-shaped history ``reply_for`` reads (tool results → tool messages)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        content = message.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
        if message.get("role") == "assistant":
            calls = [{"id": b["id"], "type": "function",
                      "function": {"name": b["name"], "arguments": json.dumps(b.get("input") or {})}}
                     for b in blocks if b.get("type") == "tool_use"]
            entry: dict[str, Any] = {"role": "assistant", "content": _block_text(blocks)}
            if calls:
                entry["tool_calls"] = calls
            out.append(entry)
            continue
        for block in blocks:
            if block.get("type") == "tool_result":
                out.append({"role": "tool", "tool_call_id": block.get("tool_use_id"),
                            "content": _block_text(block.get("content"))})
        parts = [b for b in blocks if b.get("type") != "tool_result"]
        if parts:
            out.append({"role": "user", "content": [b for b in parts if b.get("type") == "text"]})
    return out


def _tool_id(value: str) -> str:
    """reply_for's ids are OpenAI-style; Anthropic's look like ``toolu_…``."""
    return value if value.startswith("toolu_") else f"toolu_{value}"
