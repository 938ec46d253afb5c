"""MiniMax v2 as the mock server speaks it: ``base_resp`` on every reply, errors inside HTTP 200.

Chat is served on both ``/text/chatcompletion_v2`` and ``/chat/completions``. A stream is
OpenAI-style deltas (the last one carrying the finish reason) followed by an aggregate
``chat.completion`` object that repeats the answer with usage and ``base_resp``; there is no
``[DONE]``. Requests with temperature/top_p outside (0, 1] are refused as MiniMax refuses them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..scenario import MockCall, Reply, split_words
from .base import MockProtocol, MockRequest, Rendered, dumps, forced_function, sse

__all__ = ["MiniMaxProtocol"]

# failure class → base_resp.status_code (PROTOCOLS.md §9; 1026/1039 UNCONFIRMED)
_CODES: dict[str, int] = {
    "server_error": 1000,
    "timeout": 1001,
    "rate_limit": 1002,
    "auth": 1004,
    "quota": 1008,
    "content_filter": 1026,
    "context_window": 1039,
    "bad_request": 2013,
}
_ID = "0123456789abcdef0123456789abcdef"
_SENSITIVITY = {"input_sensitive": False, "output_sensitive": False, "input_sensitive_type": 0,
                "output_sensitive_type": 0, "output_sensitive_int": 0}


def _ok() -> dict[str, Any]:
    return {"status_code": 0, "status_msg": ""}


def _structured(body: dict[str, Any]) -> dict[str, Any]:
    """A forced function's parameters, else the response format's schema (MockCall fields)."""
    forced, parameters = forced_function(body.get("tools"), body.get("tool_choice"))
    if forced:
        return {"forced_tool": forced, "schema": parameters}
    return {"schema": ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")}


class MiniMaxProtocol(MockProtocol):
    name: ClassVar[str] = "minimax"
    root: ClassVar[str] = "/v1"
    errors_in_200: ClassVar[bool] = True

    def parse(self, request: MockRequest) -> MockCall | None:
        path = request.path.rstrip("/")
        if path.endswith(("/text/chatcompletion_v2", "/chat/completions")):
            body = request.json()
            for name in ("temperature", "top_p"):
                value = body.get(name)
                if value is not None and not 0 < value <= 1:
                    raise ValueError(f"invalid params, {name} must be in (0, 1]")
            return MockCall(
                "chat",
                body.get("model", ""),
                stream=bool(body.get("stream")),
                messages=list(body.get("messages") or []),
                tools=[t["function"]["name"] for t in body.get("tools") or [] if "function" in t],
                json_mode=(body.get("response_format") or {}).get("type") == "json_schema",
                **_structured(body),
                max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
                include_usage=True,
            )
        if path.endswith("/embeddings"):
            body = request.json()
            texts = body.get("texts")
            if body.get("type") not in ("db", "query") or not isinstance(texts, list):
                raise ValueError("invalid params, embeddings need texts and type db|query")
            return MockCall("embeddings", body.get("model", ""), inputs=[str(t) for t in texts])
        return None

    def _usage(self, reply: Reply) -> dict[str, int]:
        return {"total_tokens": reply.total_tokens, "total_characters": 0,
                "prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens}

    def _message(self, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"content": reply.text, "role": "assistant", "name": "MiniMax AI",
                                   "audio_content": ""}
        if reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": t.id, "type": "function", "function": {"name": t.name, "arguments": t.arguments}}
                for t in reply.tool_calls
            ]
        return message

    def _aggregate(self, call: MockCall, reply: Reply) -> dict[str, Any]:
        return {
            "id": _ID,
            "choices": [{"finish_reason": reply.finish_reason, "index": 0, "message": self._message(reply)}],
            "created": 1700000000,
            "model": call.model,
            "object": "chat.completion",
            "usage": self._usage(reply),
            **_SENSITIVITY,
            "base_resp": _ok(),
        }

    def chat(self, call: MockCall, reply: Reply) -> Rendered:
        return Rendered(200, dumps(self._aggregate(call, reply)))

    def _chunk(self, call: MockCall, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        if finish is not None:
            choice = {"finish_reason": finish, **choice}
        return {"id": _ID, "choices": [choice], "created": 1700000000, "model": call.model,
                "object": "chat.completion.chunk", "output_sensitive": False, "input_sensitive_type": 0,
                "output_sensitive_type": 0}

    def stream(self, call: MockCall, reply: Reply, *, finish: bool = True) -> list[bytes]:
        deltas: list[dict[str, Any]] = []
        if reply.reasoning:
            deltas.append({"reasoning_content": reply.reasoning, "role": "assistant"})
        if reply.tool_calls:
            calls = [dict(c, index=i) for i, c in enumerate(self._message(reply)["tool_calls"])]
            deltas.append({"tool_calls": calls, "role": "assistant"})
        else:
            deltas += [{"content": piece, "role": "assistant"} for piece in split_words(reply.text)]
        if not finish:
            return [sse(self._chunk(call, d)) for d in deltas]
        events = [sse(self._chunk(call, d)) for d in deltas[:-1]]
        events.append(sse(self._chunk(call, deltas[-1], reply.finish_reason)))  # the last delta ends it
        events.append(sse(self._aggregate(call, reply)))
        return events

    def embeddings(self, call: MockCall, vectors: list[list[float]]) -> Rendered:
        tokens = sum(max(1, len(text.split())) for text in call.inputs)
        return Rendered(200, dumps({"vectors": vectors, "total_tokens": tokens,
                                    "base_resp": {"status_code": 0, "status_msg": "success"}}))

    def error(self, kind: str, status: int, message: str) -> Rendered:
        code = _CODES.get(kind, 1000)
        body = {"id": "", "choices": None, "created": 0, "model": "", "object": "", "usage": None,
                **_SENSITIVITY, "input_sensitive": kind == "content_filter",
                "base_resp": {"status_code": code, "status_msg": message}}
        return Rendered(status, dumps(body))
