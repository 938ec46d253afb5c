"""DashScope's native wire format (PROTOCOLS.md §2), as the mock server speaks it.

Streams only with ``X-DashScope-SSE: enable`` (or ``Accept: text/event-stream``); each event is
``id:/event:result/:HTTP_STATUS/200/data:``; text is incremental when ``incremental_output`` is true
and cumulative otherwise, exactly like the service. Errors may come inside HTTP 200 bodies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from ..scenario import MockCall, Reply, function_schemas, split_words
from .base import MockProtocol, MockRequest, Rendered, dumps, forced_function

__all__ = ["DashScopeCall", "DashScopeProtocol"]

TEXT_PATH = "/services/aigc/text-generation/generation"
MULTIMODAL_PATH = "/services/aigc/multimodal-generation/generation"
EMBEDDINGS_PATH = "/services/embeddings/text-embedding/text-embedding"

_CODES = {"rate_limit": "Throttling.RateQuota", "auth": "InvalidApiKey", "permission": "AccessDenied",
          "not_found": "Model.NotExist", "context_window": "InvalidParameter",
          "content_filter": "DataInspectionFailed", "bad_request": "InvalidParameter",
          "server_error": "InternalError", "quota": "Arrearage", "timeout": "RequestTimeOut"}
_TEXTS = {"context_window": "Range of input length should be [1, 129024]",
          "content_filter": "Input data may contain inappropriate content."}
_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls"}


@dataclass
class DashScopeCall(MockCall):
    """A call plus the DashScope-only switches that change the shape of the answer."""

    incremental: bool = False
    multimodal: bool = False
    text_format: bool = False  # result_format "text": output.text instead of output.choices


class DashScopeProtocol(MockProtocol):
    name: ClassVar[str] = "dashscope"
    root: ClassVar[str] = "/api/v1"
    errors_in_200: ClassVar[bool] = True

    def parse(self, request: MockRequest) -> MockCall | None:
        path = request.path.rstrip("/")
        if path.endswith(TEXT_PATH) or path.endswith(MULTIMODAL_PATH):
            body = request.json()
            multimodal = path.endswith(MULTIMODAL_PATH)
            parameters = body.get("parameters") or {}
            _validate(body, parameters, multimodal)
            sse_header = request.headers.get("x-dashscope-sse", "").lower() == "enable"
            accept = "text/event-stream" in request.headers.get("accept", "")
            response_format = parameters.get("response_format") or {}
            return DashScopeCall(
                "chat",
                body["model"],
                stream=sse_header or accept,
                messages=[_openai_message(m) for m in body["input"]["messages"]],
                tools=[t["function"]["name"] for t in parameters.get("tools") or [] if "function" in t],
                tool_schemas=function_schemas(parameters.get("tools")),
                json_mode=response_format.get("type") == "json_object",
                max_tokens=parameters.get("max_tokens"),
                **_forced(parameters),
                incremental=bool(parameters.get("incremental_output")),
                multimodal=multimodal,
                text_format=parameters.get("result_format") != "message",
            )
        if path.endswith(EMBEDDINGS_PATH):
            body = request.json()
            return MockCall("embeddings", body["model"], inputs=list(body["input"]["texts"]))
        return None

    # -- answers --------------------------------------------------------------------------
    def _usage(self, reply: Reply, output_tokens: int | None = None) -> dict[str, int]:
        out = reply.completion_tokens if output_tokens is None else output_tokens
        prompt = reply.prompt_tokens
        return {"input_tokens": prompt, "output_tokens": out, "total_tokens": prompt + out}

    def _output(self, call: MockCall, text: str, finish: str, calls: list[dict[str, Any]] | None = None
                ) -> dict[str, Any]:
        if isinstance(call, DashScopeCall) and call.text_format:
            return {"text": text, "finish_reason": finish}
        multimodal = isinstance(call, DashScopeCall) and call.multimodal
        message: dict[str, Any] = {"role": "assistant", "content": [{"text": text}] if multimodal else text}
        if calls:
            message["tool_calls"] = calls
        return {"choices": [{"finish_reason": finish, "message": message}]}

    def chat(self, call: MockCall, reply: Reply) -> Rendered:
        calls = [{"index": i, "id": t.id, "type": "function",
                  "function": {"name": t.name, "arguments": t.arguments}}
                 for i, t in enumerate(reply.tool_calls)]
        output = self._output(call, reply.text, _FINISH.get(reply.finish_reason, "stop"), calls)
        body = {"output": output, "usage": self._usage(reply), "request_id": "ds-mock-1"}
        return Rendered(200, dumps(body))

    def stream(self, call: MockCall, reply: Reply, *, finish: bool = True) -> list[bytes]:
        incremental = isinstance(call, DashScopeCall) and call.incremental
        events: list[bytes] = []

        def emit(output: dict[str, Any], tokens: int) -> None:
            body = {"output": output, "usage": self._usage(reply, tokens), "request_id": "ds-mock-1"}
            events.append(_event(len(events) + 1, "result", body))

        running = ""
        pieces = [] if reply.tool_calls else split_words(reply.text)
        for count, piece in enumerate(pieces, 1):
            running += piece
            tokens = min(count, reply.completion_tokens)
            emit(self._output(call, piece if incremental else running, "null"), tokens)
        for step, calls in enumerate(_tool_steps(reply, incremental), 1):
            emit(self._output(call, "", "null", calls), step)
        if finish:
            reason = _FINISH.get(reply.finish_reason, "stop")
            emit(self._output(call, "" if incremental else running, reason), reply.completion_tokens)
        return events

    def embeddings(self, call: MockCall, vectors: list[list[float]]) -> Rendered:
        tokens = sum(max(1, len(text.split())) for text in call.inputs)
        body = {"output": {"embeddings": [{"text_index": i, "embedding": v} for i, v in enumerate(vectors)]},
                "usage": {"total_tokens": tokens}, "request_id": "ds-mock-1"}
        return Rendered(200, dumps(body))

    def error(self, kind: str, status: int, message: str) -> Rendered:
        code = _CODES.get(kind, "InternalError" if status >= 500 else "InvalidParameter")
        text = f"{message}: {_TEXTS[kind]}" if kind in _TEXTS else message
        return Rendered(status, dumps({"code": code, "message": text, "request_id": "ds-mock-1"}))

    def stream_error(self, kind: str, status: int, message: str) -> bytes:
        return _event(99, "error", json.loads(self.error(kind, status, message).body), status)


def _event(seq: int, event: str, body: dict[str, Any], status: int = 200) -> bytes:
    return f"id:{seq}\nevent:{event}\n:HTTP_STATUS/{status}\ndata:{dumps(body).decode()}\n\n".encode()


def _tool_steps(reply: Reply, incremental: bool) -> list[list[dict[str, Any]]]:
    """Tool calls in two events: id and name first, then the rest of the arguments.

    Incremental events carry only the new argument text (and ``id: ""`` after the first);
    cumulative ones repeat everything so far.
    """
    if not reply.tool_calls:
        return []
    first, second = [], []
    for i, t in enumerate(reply.tool_calls):
        half = len(t.arguments) // 2
        first.append({"index": i, "id": t.id, "type": "function",
                      "function": {"name": t.name, "arguments": t.arguments[:half]}})
        rest = t.arguments[half:] if incremental else t.arguments
        head = {"id": "", "function": {"arguments": rest}} if incremental else \
            {"id": t.id, "function": {"name": t.name, "arguments": rest}}
        second.append({"index": i, "type": "function", **head})
    return [first, second]


def _forced(parameters: dict[str, Any]) -> dict[str, Any]:
    forced, schema = forced_function(parameters.get("tools"), parameters.get("tool_choice"))
    return {"forced_tool": forced, "schema": schema} if forced else {}


def _validate(body: dict[str, Any], parameters: dict[str, Any], multimodal: bool) -> None:
    """Refuse what the real API refuses, so translation mistakes surface as 400s."""
    for name in ("messages", "max_tokens", "temperature", "top_p", "tools", "stream"):
        if name in body:
            raise ValueError(f"{name!r} belongs in input/parameters, not at the top level")
    temperature, top_p = parameters.get("temperature"), parameters.get("top_p")
    if temperature is not None and not 0 <= temperature < 2:
        raise ValueError(f"temperature={temperature} is out of range [0, 2)")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p={top_p} is out of range (0, 1]")
    for message in body["input"]["messages"]:
        content = message.get("content")
        if multimodal and not isinstance(content, list):
            raise ValueError("multimodal content must be a list of {text}/{image} items")
        if not multimodal and isinstance(content, list) and any("image" in p for p in content):
            raise ValueError("images need the multimodal-generation endpoint")


def _openai_message(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, list):
        content = " ".join(str(p["text"]) for p in content if isinstance(p, dict) and "text" in p)
    return {**message, "content": content}
