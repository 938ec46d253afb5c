"""Tencent Hunyuan's native API 3.0 (PROTOCOLS.md §4), as the mock server speaks it.

One URL, the action in ``X-TC-Action``; PascalCase bodies; non-stream replies wrapped in
``Response``, stream events not; every error an HTTP 200 ``Response.Error``, mid-stream failures
an ``ErrorMsg``. The mock checks that a TC3 ``Authorization`` header is present and well formed
(scope date = UTC date of ``X-TC-Timestamp``); with an ``api_key`` set on the mount it must also
name that SecretId. It cannot check the signature itself: it does not know the secret key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from ..scenario import MockCall, Reply, split_words
from .base import MockProtocol, MockRequest, Rendered, dumps, sse

__all__ = ["HunyuanProtocol"]

_AUTHORIZATION = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/\s]+)/(?P<date>\d{4}-\d{2}-\d{2})/hunyuan/tc3_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=[0-9a-f]{64}$"
)

#: failure class → Tencent error code (errorcodes.py and the common codes)
_CODES: dict[str, str] = {
    "rate_limit": "FailedOperation.EngineServerLimitExceeded",
    "auth": "AuthFailure.SignatureFailure",
    "permission": "UnauthorizedOperation",
    "not_found": "InvalidAction",
    "context_window": "InvalidParameterValue",
    "content_filter": "OperationDenied.TextIllegalDetected",
    "server_error": "InternalError",
    "timeout": "FailedOperation.EngineRequestTimeout",
    "quota": "ResourceUnavailable.InArrears",
    "bad_request": "InvalidParameterValue",
}

_FINISH = {"stop": "stop", "tool_calls": "tool_calls", "content_filter": "sensitive", "length": "length"}
_NOTE = "以上内容为AI生成，不代表开发者立场，请勿删除或修改本标记"
_ID = "mock-hunyuan-id"


class HunyuanProtocol(MockProtocol):
    name: ClassVar[str] = "hunyuan"
    root: ClassVar[str] = ""
    errors_in_200: ClassVar[bool] = True

    def parse(self, request: MockRequest) -> MockCall | None:
        if request.method != "POST" or request.path.strip("/"):
            return None
        action = request.headers.get("x-tc-action")
        if action == "ChatCompletions":
            body = request.json()
            return MockCall(
                "chat",
                str(body.get("Model", "")),
                stream=bool(body.get("Stream")),
                messages=[_openai_message(m) for m in body.get("Messages") or []],
                tools=[t["Function"]["Name"] for t in body.get("Tools") or [] if "Function" in t],
                include_usage=True,
            )
        if action == "GetEmbedding":
            body = request.json()
            inputs = body.get("InputList") or [body["Input"]]
            return MockCall("embeddings", "hunyuan-embedding", inputs=[str(text) for text in inputs])
        return None

    def authorized(self, request: MockRequest, api_key: str | None) -> bool:
        match = _AUTHORIZATION.match(request.headers.get("authorization", ""))
        timestamp = request.headers.get("x-tc-timestamp", "")
        if match is None or not timestamp.isdigit() or not request.headers.get("x-tc-version"):
            return False
        date = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")
        signed = match["signed"].split(";")
        if match["date"] != date or "content-type" not in signed or "host" not in signed:
            return False
        return api_key is None or match["id"] == api_key

    # -- replies --------------------------------------------------------------------------
    def chat(self, call: MockCall, reply: Reply) -> Rendered:
        message: dict[str, Any] = {"Role": "assistant", "Content": reply.text}
        if reply.tool_calls:
            message["ToolCalls"] = [
                {"Id": t.id, "Type": "function", "Function": {"Name": t.name, "Arguments": t.arguments},
                 "Index": i}
                for i, t in enumerate(reply.tool_calls)
            ]
        body = {
            "Response": {
                "RequestId": "mock-request-id",
                "Note": _NOTE,
                "Choices": [{"Index": 0, "Message": message,
                             "FinishReason": _FINISH.get(reply.finish_reason, "stop")}],
                "Created": 1700000000,
                "Id": _ID,
                "Usage": _usage(reply.prompt_tokens, reply.completion_tokens),
            }
        }
        return Rendered(200, dumps(body))

    def stream(self, call: MockCall, reply: Reply, *, finish: bool = True) -> list[bytes]:
        deltas: list[dict[str, Any]] = []
        if reply.tool_calls:
            for i, t in enumerate(reply.tool_calls):
                half = len(t.arguments) // 2
                for part in (t.arguments[:half], t.arguments[half:]):
                    native = {"Id": t.id, "Type": "function", "Function": {"Name": t.name, "Arguments": part},
                              "Index": i}
                    deltas.append({"Role": "assistant", "Content": "", "ToolCalls": [native]})
        else:
            deltas = [{"Role": "assistant", "Content": piece} for piece in split_words(reply.text)]
        events = []
        for n, delta in enumerate(deltas, start=1):
            done = min(reply.completion_tokens, n)  # usage grows packet by packet; the tail has the total
            events.append(sse(self._packet(delta, "", reply.prompt_tokens, done)))
        if finish:
            tail = {"Role": "assistant", "Content": ""}
            reason = _FINISH.get(reply.finish_reason, "stop")
            events.append(sse(self._packet(tail, reason, reply.prompt_tokens, reply.completion_tokens)))
        return events

    def _packet(self, delta: dict[str, Any], reason: str, prompt: int, completion: int) -> dict[str, Any]:
        return {"Note": _NOTE, "Choices": [{"Delta": delta, "FinishReason": reason}], "Created": 1700000000,
                "Id": _ID, "Usage": _usage(prompt, completion)}

    def embeddings(self, call: MockCall, vectors: list[list[float]]) -> Rendered:
        tokens = sum(max(1, len(text.split())) for text in call.inputs)
        body = {"Response": {
            "Data": [{"Embedding": v, "Index": i, "Object": "embedding"} for i, v in enumerate(vectors)],
            "Usage": {"PromptTokens": tokens, "TotalTokens": tokens},
            "RequestId": "mock-request-id",
        }}
        return Rendered(200, dumps(body))

    # -- errors: always HTTP 200 (a non-200 is a network error to Tencent's own SDK) ----------
    def error(self, kind: str, status: int, message: str) -> Rendered:
        code = _CODES.get(kind, "InternalError" if status >= 500 else "InvalidParameterValue")
        if kind == "context_window":  # Hunyuan truncates instead; the mock says it in words
            message = f"input is too long: {message}"
        body = {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "mock-request-id"}}
        return Rendered(200, dumps(body))

    def stream_error(self, kind: str, status: int, message: str) -> bytes:
        code = 4001 if kind == "timeout" else 4000
        return sse({"Note": _NOTE, "Choices": [], "Created": 1700000000, "Id": _ID,
                    "ErrorMsg": {"Msg": message, "Code": code}})


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"PromptTokens": prompt, "CompletionTokens": completion, "TotalTokens": prompt + completion}


def _openai_message(native: Mapping[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": native.get("Role"), "content": native.get("Content")}
    if native.get("Contents"):
        message["content"] = [{"type": "text", "text": p.get("Text", "")} for p in native["Contents"]
                              if p.get("Type") == "text"]
    if native.get("ToolCallId"):
        message["tool_call_id"] = native["ToolCallId"]
    if native.get("ToolCalls"):
        message["tool_calls"] = [
            {"id": c.get("Id"), "type": "function",
             "function": {"name": c["Function"]["Name"], "arguments": c["Function"].get("Arguments", "")}}
            for c in native["ToolCalls"]
        ]
    return message
