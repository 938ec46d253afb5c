"""Ollama's native wire format (PROTOCOLS.md §17), as the mock server speaks it.

``/api/chat`` streams unless the body says ``"stream": false``; streams are NDJSON with the
counts on the ``done: true`` line; errors are ``{"error": "text"}`` with a status, or as a line
in the middle of a stream. Tool calls carry object arguments and no ids.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ..scenario import MockCall, Reply, split_words
from .base import MockProtocol, MockRequest, Rendered, dumps

_CREATED = "2024-01-01T00:00:00.000000000Z"
_DONE_REASON = {"length": "length"}  # everything else, tool calls included, ends with "stop"
_MESSAGES = {  # Ollama's own wording where the failure class hangs on it
    "context_window": "the input length exceeds the context length",
    "auth": "unauthorized",
}


def _line(obj: Any) -> bytes:
    return dumps(obj) + b"\n"


class OllamaProtocol(MockProtocol):
    name: ClassVar[str] = "ollama"
    root: ClassVar[str] = ""
    stream_content_type: ClassVar[str] = "application/x-ndjson"

    def parse(self, request: MockRequest) -> MockCall | None:
        path = request.path.rstrip("/")
        if path == "/api/chat":
            body = request.json()
            options = body.get("options") or {}
            return MockCall("chat", body.get("model", ""), stream=body.get("stream", True) is not False,
                            messages=_messages(body.get("messages") or []),
                            tools=[t["function"]["name"] for t in body.get("tools") or [] if "function" in t],
                            json_mode=bool(body.get("format")), max_tokens=options.get("num_predict"),
                            schema=body["format"] if isinstance(body.get("format"), dict) else None)
        if path == "/api/embed":
            body = request.json()
            inputs = body.get("input")
            return MockCall("embeddings", body.get("model", ""),
                            inputs=[inputs] if isinstance(inputs, str) else list(inputs or []))
        return None

    def _message(self, reply: Reply, text: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if reply.reasoning:
            message["thinking"] = reply.reasoning
        return message

    def _calls(self, reply: Reply) -> list[dict[str, Any]]:
        return [{"function": {"name": t.name, "arguments": json.loads(t.arguments)}}
                for t in reply.tool_calls]

    def _done(self, call: MockCall, reply: Reply, message: dict[str, Any]) -> dict[str, Any]:
        return {"model": call.model, "created_at": _CREATED, "message": message, "done": True,
                "done_reason": _DONE_REASON.get(reply.finish_reason, "stop"), "total_duration": 1_000_000,
                "load_duration": 10_000, "prompt_eval_count": reply.prompt_tokens,
                "prompt_eval_duration": 100_000, "eval_count": reply.completion_tokens,
                "eval_duration": 800_000}

    def chat(self, call: MockCall, reply: Reply) -> Rendered:
        message = self._message(reply, reply.text)
        if reply.tool_calls:
            message["tool_calls"] = self._calls(reply)
        return Rendered(200, dumps(self._done(call, reply, message)))

    def stream(self, call: MockCall, reply: Reply, *, finish: bool = True) -> list[bytes]:
        def partial(message: dict[str, Any]) -> bytes:
            return _line({"model": call.model, "created_at": _CREATED, "message": message, "done": False})

        lines = []
        if reply.reasoning:
            lines.append(partial({"role": "assistant", "content": "", "thinking": reply.reasoning}))
        if reply.tool_calls:  # Ollama delivers the calls together, whole, in one line
            lines.append(partial({"role": "assistant", "content": "", "tool_calls": self._calls(reply)}))
        else:
            lines += [partial({"role": "assistant", "content": piece}) for piece in split_words(reply.text)]
        if finish:
            lines.append(_line(self._done(call, reply, {"role": "assistant", "content": ""})))
        return lines

    def embeddings(self, call: MockCall, vectors: list[list[float]]) -> Rendered:
        tokens = sum(max(1, len(text.split())) for text in call.inputs)
        body = {"model": call.model, "embeddings": vectors, "total_duration": 1_000_000,
                "load_duration": 10_000, "prompt_eval_count": tokens}
        return Rendered(200, dumps(body))

    def error(self, kind: str, status: int, message: str) -> Rendered:
        if kind == "context_window":
            status = 400 if status < 400 or status >= 500 else status
        return Rendered(status, dumps({"error": _MESSAGES.get(kind, message)}))

    def stream_error(self, kind: str, status: int, message: str) -> bytes:
        return _line({"error": _MESSAGES.get(kind, message)})


def _messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ollama messages → OpenAI-shaped ones (arguments as JSON text), for the shared scenario."""
    out = []
    for message in messages:
        item = {"role": message.get("role"), "content": message.get("content", "")}
        if message.get("tool_calls"):
            item["tool_calls"] = [
                {"id": f"call_{i}", "type": "function",
                 "function": {"name": fn["name"], "arguments": json.dumps(fn["arguments"])}}
                for i, fn in enumerate(c["function"] for c in message["tool_calls"])]
        out.append(item)
    return out
