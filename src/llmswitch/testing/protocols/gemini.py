"""Google Gemini's native wire format (PROTOCOLS.md §15), as the mock server speaks it.

The model is in the path (``/models/{model}:generateContent``), the key in ``x-goog-api-key``
(or ``?key=``), streams are SSE with CRLF framing and no terminator, errors are
``{error:{code,message,status,details}}`` — a bad key is a 400 — and a blocked prompt is an
HTTP 200 with ``promptFeedback.blockReason`` and no candidates.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from ..scenario import MockCall, Reply, split_words
from .base import MockProtocol, MockRequest, Rendered, dumps

_PATH = re.compile(r"/models/([^/:]+):(\w+)$")
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
_FINISH = {"stop": "STOP", "tool_calls": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY"}
_CONTEXT_MESSAGE = "The input token count (1048577) exceeds the maximum number of tokens allowed (1048576)."
_KEY_INVALID = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}


def _frame(obj: Any) -> bytes:
    """Google frames its SSE events with CRLF."""
    return b"data: " + dumps(obj) + b"\r\n\r\n"


class GeminiProtocol(MockProtocol):
    name: ClassVar[str] = "gemini"
    root: ClassVar[str] = "/v1beta"

    def parse(self, request: MockRequest) -> MockCall | None:
        match = _PATH.search(request.path)
        if match is None:
            return None
        model, action = match.groups()
        body = request.json() or {}
        if action == "batchEmbedContents":
            texts = [" ".join(p.get("text", "") for p in r["content"]["parts"]) for r in body["requests"]]
            return MockCall("embeddings", model, inputs=texts)
        if action not in ("generateContent", "streamGenerateContent"):
            return None
        config = body.get("generationConfig") or {}
        tools = [d["name"] for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
        forced, parameters = _forced(body)
        return MockCall("chat", model, stream=action == "streamGenerateContent", messages=_messages(body),
                        tools=tools, json_mode=config.get("responseMimeType") == "application/json",
                        schema=parameters if forced else config.get("responseSchema"), forced_tool=forced,
                        max_tokens=config.get("maxOutputTokens"))

    def authorized(self, request: MockRequest, api_key: str | None) -> bool:
        if api_key is None:
            return True
        return api_key in (request.headers.get("x-goog-api-key"), request.query.get("key"))

    def _usage(self, reply: Reply, final: bool = True) -> dict[str, int]:
        if not final:
            return {"promptTokenCount": reply.prompt_tokens, "totalTokenCount": reply.prompt_tokens}
        return {"promptTokenCount": reply.prompt_tokens, "candidatesTokenCount": reply.completion_tokens,
                "totalTokenCount": reply.total_tokens}

    def _response(self, call: MockCall, parts: list[dict[str, Any]], finish: str | None,
                  usage: dict[str, int]) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": call.model,
                "responseId": "mock-gemini-response"}

    def _parts(self, reply: Reply) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = [{"text": reply.reasoning, "thought": True}] if reply.reasoning else []
        if reply.text:
            parts.append({"text": reply.text})
        return parts + [_call_part(t.name, t.arguments) for t in reply.tool_calls]

    def chat(self, call: MockCall, reply: Reply) -> Rendered:
        body = self._response(call, self._parts(reply), _FINISH.get(reply.finish_reason, "STOP"),
                              self._usage(reply))
        return Rendered(200, dumps(body))

    def stream(self, call: MockCall, reply: Reply, *, finish: bool = True) -> list[bytes]:
        pieces: list[list[dict[str, Any]]] = []
        if reply.reasoning:
            pieces.append([{"text": reply.reasoning, "thought": True}])
        if reply.tool_calls:  # a function call arrives whole, one part per event here
            pieces += [[_call_part(t.name, t.arguments)] for t in reply.tool_calls]
        else:
            pieces += [[{"text": piece}] for piece in split_words(reply.text)]
        events = []
        for i, parts in enumerate(pieces):
            last = i == len(pieces) - 1 and finish
            reason = _FINISH.get(reply.finish_reason, "STOP") if last else None
            events.append(_frame(self._response(call, parts, reason, self._usage(reply, last))))
        return events

    def embeddings(self, call: MockCall, vectors: list[list[float]]) -> Rendered:
        return Rendered(200, dumps({"embeddings": [{"values": v} for v in vectors]}))

    def _body(self, kind: str, status: int, message: str) -> tuple[int, dict[str, Any]]:
        details: list[dict[str, Any]] = []
        if kind == "auth":  # Google answers a bad key with 400 INVALID_ARGUMENT + reason API_KEY_INVALID
            status, details = 400, [_KEY_INVALID]
            message = "API key not valid. Please pass a valid API key."
        elif kind == "context_window":
            status, message = 400, _CONTEXT_MESSAGE
        elif kind == "rate_limit":
            status = 429
        name = _STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT")
        return status, {"error": {"code": status, "message": message, "status": name, "details": details}}

    def error(self, kind: str, status: int, message: str) -> Rendered:
        if kind == "content_filter":  # in-band: a 200 with no candidates and a block reason
            body = {"promptFeedback": {"blockReason": "SAFETY"},
                    "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3}}
            return Rendered(200, dumps(body))
        status, body = self._body(kind, status, message)
        return Rendered(status, dumps(body))

    def stream_error(self, kind: str, status: int, message: str) -> bytes:
        if kind == "content_filter":
            return _frame({"promptFeedback": {"blockReason": "SAFETY"}})
        return _frame(self._body(kind, status, message)[1])


def _call_part(name: str, arguments: str) -> dict[str, Any]:
    return {"functionCall": {"name": name, "args": json.loads(arguments)}}


def _forced(body: dict[str, Any]) -> tuple[str | None, Any]:
    """``functionCallingConfig`` mode ANY with one allowed function, and its parameters schema."""
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    allowed = config.get("allowedFunctionNames") or []
    if config.get("mode") != "ANY" or len(allowed) != 1:
        return None, None
    for tool in body.get("tools") or []:
        for declaration in tool.get("functionDeclarations") or []:
            if declaration.get("name") == allowed[0]:
                return str(allowed[0]), declaration.get("parameters") or {"type": "object"}
    raise ValueError(f"toolConfig: no function named {allowed[0]!r} in tools")


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Gemini contents → OpenAI-shaped messages, so the shared scenario can answer them."""
    messages: list[dict[str, Any]] = []
    system = body.get("systemInstruction")
    if system:
        messages.append({"role": "system", "content": " ".join(p.get("text", "") for p in system["parts"])})
    for content in body.get("contents") or []:
        parts = content.get("parts") or []
        texts = [p["text"] for p in parts if "text" in p and not p.get("thought")]
        if content.get("role") == "model":
            calls = [p["functionCall"] for p in parts if "functionCall" in p]
            message: dict[str, Any] = {"role": "assistant", "content": " ".join(texts) or None}
            if calls:
                message["tool_calls"] = [
                    {"id": f"call_{i}", "type": "function",
                     "function": {"name": c["name"], "arguments": json.dumps(c.get("args") or {})}}
                    for i, c in enumerate(calls)]
            messages.append(message)
            continue
        for part in parts:
            if "functionResponse" in part:
                result = part["functionResponse"]
                messages.append({"role": "tool", "tool_call_id": result["name"],
                                 "content": _result_text(result.get("response"))})
        if texts or any("inlineData" in p or "fileData" in p for p in parts):
            messages.append({"role": "user", "content": " ".join(texts)})
    return messages


def _result_text(response: Any) -> str:
    if isinstance(response, dict) and len(response) == 1:
        (value,) = response.values()
        if isinstance(value, str):
            return value
    return json.dumps(response)
