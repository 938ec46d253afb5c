"""Zhipu GLM v4 as the mock server speaks it: OpenAI-shaped, without ``object``, with business codes.

Auth is checked the vendor's way: a bearer that looks like a JWT (three segments) must be a
well-formed Zhipu token (HS256, ``sign_type: SIGN``, millisecond ``timestamp``/``exp``) — always,
so a token minted in seconds is refused even when the mount has no key. With a key set on the mount,
the bearer must be that raw ``id.secret`` key or a JWT for its id, signed with its secret, unexpired.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any, ClassVar

from ..scenario import MockCall, Reply, split_words
from .base import MockRequest, Rendered, dumps, sse
from .openai import OpenAIProtocol

__all__ = ["ZhipuProtocol", "decode_jwt"]

# failure class → the business code Zhipu answers with (PROTOCOLS.md §5)
_CODES: dict[str, str] = {
    "auth": "1002",
    "rate_limit": "1302",
    "quota": "1113",
    "context_window": "1261",
    "content_filter": "1301",
    "bad_request": "1214",
    "not_found": "1211",
    "permission": "1220",
    "server_error": "500",
}
_FINISH = {"content_filter": "sensitive"}
_ID = "20240101000000mockzhipu"  # OpenAI's finish reason → Zhipu's
_MS_FLOOR = 10**12  # a millisecond timestamp of this century is at least this


def decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes] | None:
    """(header, payload, signing input, signature) of a compact JWS, or None if it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, payload = (json.loads(_unb64(p)) for p in parts[:2])
        signature = _unb64(parts[2])
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return None
    return header, payload, f"{parts[0]}.{parts[1]}".encode(), signature


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _well_formed(token: str) -> bool:
    decoded = decode_jwt(token)
    if decoded is None:
        return False
    header, payload, _, _ = decoded
    stamp, exp = payload.get("timestamp"), payload.get("exp")
    return (
        header.get("alg") == "HS256"
        and header.get("sign_type") == "SIGN"
        and isinstance(payload.get("api_key"), str)
        and isinstance(stamp, int) and isinstance(exp, int)
        and stamp >= _MS_FLOOR and exp > stamp
    )


def _signed_by(token: str, api_key: str) -> bool:
    key_id, _, secret = api_key.partition(".")
    decoded = decode_jwt(token)
    if decoded is None or not secret or not _well_formed(token):
        return False
    _, payload, signing_input, signature = decoded
    expected = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return (hmac.compare_digest(expected, signature) and payload["api_key"] == key_id
            and payload["exp"] > time.time() * 1000)


class ZhipuProtocol(OpenAIProtocol):
    name: ClassVar[str] = "zhipu"
    root: ClassVar[str] = "/api/paas/v4"

    def parse(self, request: MockRequest) -> MockCall | None:
        call = super().parse(request)
        if call is not None and call.operation == "chat":
            call.include_usage = True  # Zhipu always puts usage on the final chunk
        return call

    def authorized(self, request: MockRequest, api_key: str | None) -> bool:
        auth = request.headers.get("authorization", "")
        bearer = auth[7:] if auth.startswith("Bearer ") else None
        if bearer is not None and bearer.count(".") == 2 and not _well_formed(bearer):
            return False
        if api_key is None:
            return True
        return bearer is not None and (bearer == api_key or _signed_by(bearer, api_key))

    def _message(self, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": t.id, "index": i, "type": "function",
                 "function": {"name": t.name, "arguments": t.arguments}}
                for i, t in enumerate(reply.tool_calls)
            ]
        return message

    def chat(self, call: MockCall, reply: Reply) -> Rendered:
        body = {
            "choices": [{"finish_reason": _FINISH.get(reply.finish_reason, reply.finish_reason), "index": 0,
                         "message": self._message(reply)}],
            "created": 1700000000,
            "id": _ID,
            "model": call.model,
            "request_id": _ID,
            "usage": self._usage(reply),
        }
        return Rendered(200, dumps(body))

    def _zchunk(self, call: MockCall, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        if finish is not None:
            choice["finish_reason"] = _FINISH.get(finish, finish)
        return {"id": _ID, "created": 1700000000, "model": call.model, "choices": [choice]}

    def stream(self, call: MockCall, reply: Reply, *, finish: bool = True) -> list[bytes]:
        events: list[bytes] = []
        if reply.reasoning:
            thought = {"role": "assistant", "reasoning_content": reply.reasoning}
            events.append(sse(self._zchunk(call, thought)))
        if reply.tool_calls:  # Zhipu sends each call whole, in one delta
            calls = self._message(reply)["tool_calls"]
            events.append(sse(self._zchunk(call, {"role": "assistant", "tool_calls": calls})))
        else:
            events += [sse(self._zchunk(call, {"role": "assistant", "content": piece}))
                       for piece in split_words(reply.text)]
        if not finish:
            return events
        last = self._zchunk(call, {"role": "assistant", "content": ""}, reply.finish_reason)
        last["usage"] = self._usage(reply)
        events.append(sse(last))
        events.append(b"data: [DONE]\n\n")
        return events

    def embeddings(self, call: MockCall, vectors: list[list[float]]) -> Rendered:
        tokens = sum(max(1, len(text.split())) for text in call.inputs)
        body = {
            "model": call.model,
            "data": [{"embedding": v, "index": i, "object": "embedding"} for i, v in enumerate(vectors)],
            "object": "list",
            "usage": {"completion_tokens": 0, "prompt_tokens": tokens, "total_tokens": tokens},
        }
        return Rendered(200, dumps(body))

    def error(self, kind: str, status: int, message: str) -> Rendered:
        code = _CODES.get(kind, str(status))
        return Rendered(status, dumps({"error": {"code": code, "message": message}}))
