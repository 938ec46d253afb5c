"""OpenAI's wire format (and every compatible vendor's), as the mock server speaks it."""

from __future__ import annotations

from typing import Any, ClassVar

from ..scenario import MockCall, Reply, function_schemas, split_words
from .base import MockProtocol, MockRequest, Rendered, dumps, forced_function, sse

_ERROR_TYPES = {
    "rate_limit": ("rate_limit_exceeded", "requests"),
    "auth": ("invalid_api_key", "invalid_request_error"),
    "permission": ("permission_denied", "invalid_request_error"),
    "not_found": ("model_not_found", "invalid_request_error"),
    "context_window": ("context_length_exceeded", "invalid_request_error"),
    "content_filter": ("content_filter", "invalid_request_error"),
    "server_error": ("server_error", "server_error"),
    "bad_request": ("invalid_value", "invalid_request_error"),
}


MODELS = ("mock-large", "mock-small", "mock-embed")  # what the mock's ``GET /models`` lists


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1700000000, "owned_by": "llmswitch-mock"}


class OpenAIProtocol(MockProtocol):
    name: ClassVar[str] = "openai"
    root: ClassVar[str] = "/v1"

    def parse(self, request: MockRequest) -> MockCall | None:
        path = request.path.rstrip("/")
        if path.endswith("/chat/completions"):
            body = request.json()
            response_format = body.get("response_format") or {}
            forced, parameters = forced_function(body.get("tools"), body.get("tool_choice"))
            return MockCall(
                "chat",
                body.get("model", ""),
                stream=bool(body.get("stream")),
                messages=list(body.get("messages") or []),
                tools=[t["function"]["name"] for t in body.get("tools") or [] if "function" in t],
                tool_schemas=function_schemas(body.get("tools")),
                json_mode=response_format.get("type") in ("json_object", "json_schema"),
                schema=parameters if forced else (response_format.get("json_schema") or {}).get("schema"),
                forced_tool=forced,
                max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
                include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
            )
        if path.endswith("/embeddings"):
            body = request.json()
            inputs = body.get("input")
            texts = [inputs] if isinstance(inputs, str) else list(inputs)
            return MockCall("embeddings", body.get("model", ""), inputs=texts)
        return None

    def _usage(self, reply: Reply) -> dict[str, int]:
        return {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.total_tokens,
        }

    def chat(self, call: MockCall, reply: Reply) -> Rendered:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": t.id, "type": "function", "function": {"name": t.name, "arguments": t.arguments}}
                for t in reply.tool_calls
            ]
        body = {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": 1700000000,
            "model": call.model,
            "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason, "logprobs": None}],
            "usage": self._usage(reply),
        }
        return Rendered(200, dumps(body))

    def _chunk(self, call: MockCall, delta: dict[str, Any] | None, finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": call.model,
            "choices": []
            if delta is None
            else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    def stream(self, call: MockCall, reply: Reply, *, finish: bool = True) -> list[bytes]:
        events = [sse(self._chunk(call, {"role": "assistant", "content": ""}))]
        if reply.tool_calls:
            for i, t in enumerate(reply.tool_calls):
                head = {"index": i, "id": t.id, "type": "function", "function": {"name": t.name, "arguments": ""}}
                events.append(sse(self._chunk(call, {"tool_calls": [head]})))
                half = len(t.arguments) // 2
                for part in (t.arguments[:half], t.arguments[half:]):
                    delta = {"tool_calls": [{"index": i, "function": {"arguments": part}}]}
                    events.append(sse(self._chunk(call, delta)))
        else:
            events += [sse(self._chunk(call, {"content": piece})) for piece in split_words(reply.text)]
        if not finish:
            return events
        events.append(sse(self._chunk(call, {}, reply.finish_reason)))
        if call.include_usage:
            usage_chunk = self._chunk(call, None)
            usage_chunk["usage"] = self._usage(reply)
            events.append(sse(usage_chunk))
        events.append(b"data: [DONE]\n\n")
        return events

    def embeddings(self, call: MockCall, vectors: list[list[float]]) -> Rendered:
        tokens = sum(max(1, len(text.split())) for text in call.inputs)
        body = {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "model": call.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return Rendered(200, dumps(body))

    def resource(self, request: MockRequest) -> Rendered | None:
        """``GET /models`` and ``/models/{id}``, like an OpenAI-compatible server lists its own."""
        path = request.path.rstrip("/")
        if request.method != "GET" or "/models" not in path:
            return None
        tail = path.split("/models", 1)[1].lstrip("/")
        if not tail:
            return Rendered(200, dumps({"object": "list", "data": [_model(m) for m in MODELS]}))
        if tail in MODELS:
            return Rendered(200, dumps(_model(tail)))
        return self.error("not_found", 404, f"The model '{tail}' does not exist")

    def error(self, kind: str, status: int, message: str) -> Rendered:
        code, etype = _ERROR_TYPES.get(kind, ("error", "invalid_request_error"))
        body = {"error": {"message": message, "type": etype, "param": None, "code": code}}
        return Rendered(status, dumps(body))
