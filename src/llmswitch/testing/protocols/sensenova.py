"""SenseNova's native wire format (PROTOCOLS.md §1), as the mock server speaks it.

Like the real service it refuses OpenAI's field names (``max_tokens``) and out-of-range sampling
values, so a test through it proves the adapter translated. With ``mount.api_key`` set to
``"<access_key_id>:<secret_access_key>"`` a request must carry a valid JWT signed with that pair;
any other ``api_key`` must arrive as a plain Bearer token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, ClassVar

from ..scenario import MockCall, Reply, split_words
from .base import MockProtocol, MockRequest, Rendered, dumps, sse

__all__ = ["SenseNovaProtocol"]

_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "content_filter": "sensitive"}
# failure class -> gRPC-style code of the error body (16 for auth is UNCONFIRMED)
_CODES = {"rate_limit": 8, "auth": 16, "permission": 7, "not_found": 5, "context_window": 3,
          "content_filter": 3, "bad_request": 3, "server_error": 2, "timeout": 4, "conflict": 10}
# wording for the failure classes that only the message tells apart (UNCONFIRMED vendor texts)
_SUFFIX = {"context_window": "input tokens plus max_new_tokens exceed the model's maximum context length",
           "content_filter": "the input contains sensitive content"}


class SenseNovaProtocol(MockProtocol):
    name: ClassVar[str] = "sensenova"
    root: ClassVar[str] = "/v1"

    def parse(self, request: MockRequest) -> MockCall | None:
        path = request.path.rstrip("/")
        if path.endswith("/llm/chat-completions"):
            body = request.json()
            _validate(body)
            return MockCall(
                "chat",
                body["model"],
                stream=bool(body.get("stream")),
                messages=[_openai_message(m) for m in body["messages"]],
                tools=[t["function"]["name"] for t in body.get("tools") or [] if "function" in t],
                max_tokens=body.get("max_new_tokens"),
            )
        if path.endswith("/llm/embeddings"):
            body = request.json()
            inputs = body["input"]
            texts = [inputs] if isinstance(inputs, str) else list(inputs)
            return MockCall("embeddings", body["model"], inputs=texts)
        return None

    def authorized(self, request: MockRequest, api_key: str | None) -> bool:
        if api_key is None:
            return True
        header = request.headers.get("authorization", "")
        if ":" in api_key:
            access_key_id, _, secret = api_key.partition(":")
            return header.startswith("Bearer ") and _valid_jwt(header[7:], access_key_id, secret)
        return header == f"Bearer {api_key}"

    def _usage(self, reply: Reply) -> dict[str, int]:
        return {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                "knowledge_tokens": 0, "total_tokens": reply.total_tokens}

    def _calls(self, reply: Reply) -> list[dict[str, Any]]:
        return [{"id": t.id, "type": "function", "function": {"name": t.name, "arguments": t.arguments}}
                for t in reply.tool_calls]

    def chat(self, call: MockCall, reply: Reply) -> Rendered:
        choice: dict[str, Any] = {"index": 0, "role": "assistant", "message": reply.text,
                                  "finish_reason": _FINISH.get(reply.finish_reason, "stop")}
        if reply.tool_calls:
            choice["tool_calls"] = self._calls(reply)
        body = {"data": {"id": "sn-mock-1", "choices": [choice], "usage": self._usage(reply)}}
        return Rendered(200, dumps(body))

    def _event(self, choice: dict[str, Any], usage: dict[str, int] | None = None) -> bytes:
        data: dict[str, Any] = {"id": "sn-mock-1", "choices": [{"index": 0, "role": "assistant", **choice}]}
        if usage is not None:
            data["usage"] = usage
        return sse({"data": data}, space=False)

    def stream(self, call: MockCall, reply: Reply, *, finish: bool = True) -> list[bytes]:
        if reply.tool_calls:
            events = [self._event({"delta": "", "tool_calls": self._calls(reply), "finish_reason": ""})]
        else:
            events = [self._event({"delta": piece, "finish_reason": ""}) for piece in split_words(reply.text)]
        if not finish:
            return events
        reason = _FINISH.get(reply.finish_reason, "stop")
        events.append(self._event({"delta": "", "finish_reason": reason}, self._usage(reply)))
        events.append(b"data:[DONE]\n\n")
        return events

    def embeddings(self, call: MockCall, vectors: list[list[float]]) -> Rendered:
        tokens = sum(max(1, len(text.split())) for text in call.inputs)
        items = [{"index": i, "embedding": v, "status": "success"} for i, v in enumerate(vectors)]
        body = {"embeddings": items, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        return Rendered(200, dumps(body))

    def error(self, kind: str, status: int, message: str) -> Rendered:
        text = f"{message}: {_SUFFIX[kind]}" if kind in _SUFFIX else message
        code = _CODES.get(kind, 2 if status >= 500 else 3)
        body = {"error": {"code": code, "message": text, "details": []}}
        return Rendered(status, dumps(body))

    def stream_error(self, kind: str, status: int, message: str) -> bytes:
        return sse(json.loads(self.error(kind, status, message).body), space=False)


def _validate(body: dict[str, Any]) -> None:
    """Refuse what the real API refuses, so translation mistakes surface as 400s."""
    for name in ("max_tokens", "max_completion_tokens", "stream_options"):
        if name in body:
            raise ValueError(f"unknown field {name!r} (SenseNova takes max_new_tokens)")
    checks = (("temperature", 0.0, 2.0, False), ("top_p", 0.0, 1.0, True))
    for name, low, high, high_open in checks:
        value = body.get(name)
        if value is None:
            continue
        if not (low < value < high or (value == high and not high_open)):
            raise ValueError(f"{name}={value} is out of range")
    for message in body["messages"]:
        if not isinstance(message.get("content"), (str, list)):
            raise ValueError("message content must be a string")


def _openai_message(message: dict[str, Any]) -> dict[str, Any]:
    return dict(message)


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _valid_jwt(token: str, access_key_id: str, secret: str) -> bool:
    """HS256 signature by ``secret``, ``iss`` the key id, and now within [nbf, exp) (seconds)."""
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        expected = hmac.new(secret.encode(), f"{header_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64decode(signature_b64)):
            return False
        header = json.loads(_b64decode(header_b64))
        payload = json.loads(_b64decode(payload_b64))
    except ValueError:
        return False
    now = time.time()
    return bool(header.get("alg") == "HS256" and payload.get("iss") == access_key_id
                and payload.get("nbf", 0) <= now < payload.get("exp", 0))
