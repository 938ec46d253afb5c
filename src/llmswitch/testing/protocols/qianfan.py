"""Baidu Qianfan v1 (PROTOCOLS.md §3), as the mock server speaks it — token endpoint included.

Under one mount it serves ``/oauth/2.0/token`` (the client_credentials exchange) and the v1 API
root ``/rpc/2.0/ai_custom/v1/wenxinworkshop`` (``/chat/<endpoint>``, ``/embeddings/<endpoint>``).
Chat calls must carry an ``access_token`` this mock issued (with an ``api_key`` on the mount: one
issued to that client id); ``revoke_tokens()`` expires every token so a test can watch the
client refresh. Errors are HTTP 200 ``{"error_code", "error_msg"}``; streams are ``data: {...}``
lines ending with ``is_end: true`` and no ``[DONE]``. Conversations that break v1's odd-length
alternation rule get the real 336006 answer.

The mock contract has no hook for answers outside chat/embeddings, so the token endpoint (and the
precise token / 336006 errors) are rendered early and handed to :meth:`error` through a
thread-local slot: the app calls ``error()`` on the same thread right after ``parse()`` raised or
``authorized()`` refused.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from typing import Any, ClassVar

from ..scenario import MockCall, Reply, split_words
from .base import MockProtocol, MockRequest, Rendered, dumps, sse

__all__ = ["ROOT", "TOKEN_PATH", "QianfanProtocol"]

ROOT = "/rpc/2.0/ai_custom/v1/wenxinworkshop"
TOKEN_PATH = "/oauth/2.0/token"

#: failure class → v1 error_code (qianfan consts.py); 336103 for context is UNCONFIRMED, and v1
#: has no documented filter code, so the mock says "sensitive" in a generic invalid-input code
_CODES: dict[str, int] = {
    "rate_limit": 18,
    "auth": 14,  # IAM certification failed: not curable by a token refresh
    "token_invalid": 110,
    "token_expired": 111,
    "permission": 6,
    "not_found": 336005,
    "context_window": 336103,
    "content_filter": 336003,
    "server_error": 336000,
    "timeout": 336000,
    "quota": 19,
    "bad_request": 336001,
}

_FINISH = {"stop": "normal", "length": "length", "content_filter": "content_filter",
           "tool_calls": "function_call"}


class _Answered(ValueError):
    """Raised by ``parse`` when the answer is already rendered (token endpoint, 336006)."""


class QianfanProtocol(MockProtocol):
    name: ClassVar[str] = "qianfan"
    root: ClassVar[str] = ROOT
    errors_in_200: ClassVar[bool] = True

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self._issued: set[str] = set()
        self.token_lifetime = 2_592_000  # seconds, as Baidu's 30-day tokens

    # -- tokens -----------------------------------------------------------------------------
    def revoke_tokens(self) -> None:
        """Expire every token issued so far: the next call with one gets error_code 111."""
        with self._lock:
            self._issued.clear()

    def _issue(self, client_id: str) -> str:
        digest = hashlib.sha256(client_id.encode()).hexdigest()[:16]
        token = f"24.mock{next(self._serial)}.{digest}.{self.token_lifetime}.1700000000.0-0"
        with self._lock:
            self._issued.add(token)
        return token

    def _token_answer(self, request: MockRequest) -> Rendered:
        query = request.query
        if query.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "unsupported grant_type")
        if not query.get("client_id"):
            return _oauth_error(400, "invalid_client", "unknown client id")
        if not query.get("client_secret"):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        token = self._issue(query["client_id"])
        body = {"refresh_token": "25.mock-refresh", "expires_in": self.token_lifetime, "session_key": "mock",
                "access_token": token, "scope": "public brain_all_scope", "session_secret": ""}
        return Rendered(200, dumps(body))

    def _answer(self, rendered: Rendered) -> None:
        self._local.pending = rendered

    # -- requests ---------------------------------------------------------------------------
    def parse(self, request: MockRequest) -> MockCall | None:
        self._local.pending = None
        path = request.path.rstrip("/")
        if path == TOKEN_PATH:
            self._answer(self._token_answer(request))
            raise _Answered("token endpoint")
        if request.method != "POST" or not path.startswith(ROOT + "/"):
            return None
        section, _, endpoint = path[len(ROOT) + 1 :].partition("/")
        if section == "chat" and endpoint:
            body = request.json()
            problem = _shape_problem(body.get("messages"))
            if problem:
                self._answer(_error_body(336006, problem))
                raise _Answered(problem)
            system = [{"role": "system", "content": body["system"]}] if body.get("system") else []
            return MockCall("chat", endpoint, stream=bool(body.get("stream")),
                            messages=system + body["messages"], max_tokens=body.get("max_output_tokens"),
                            json_mode=body.get("response_format") == "json_object",
                            include_usage=True)
        if section == "embeddings" and endpoint:
            body = request.json()
            return MockCall("embeddings", endpoint, inputs=[str(text) for text in body["input"]])
        return None

    def authorized(self, request: MockRequest, api_key: str | None) -> bool:
        self._local.pending = None
        token = request.query.get("access_token", "")
        with self._lock:
            issued = token in self._issued
        if not token or not token.startswith("24.mock"):
            self._answer(_error_body(110, "Access token invalid or no longer valid"))
            return False
        if not issued:
            self._answer(_error_body(111, "Access token expired"))
            return False
        if api_key is not None and token.split(".")[2] != hashlib.sha256(api_key.encode()).hexdigest()[:16]:
            self._answer(_error_body(110, "Access token invalid or no longer valid"))
            return False
        return True

    # -- replies ----------------------------------------------------------------------------
    def chat(self, call: MockCall, reply: Reply) -> Rendered:
        body = self._reply(call, reply.text, 0, True, reply, reply.completion_tokens)
        if reply.tool_calls:
            first = reply.tool_calls[0]
            body["function_call"] = {"name": first.name, "arguments": first.arguments, "thoughts": ""}
        return Rendered(200, dumps(body))

    def stream(self, call: MockCall, reply: Reply, *, finish: bool = True) -> list[bytes]:
        pieces = split_words(reply.text)
        events = []
        for n, piece in enumerate(pieces):
            last = finish and n == len(pieces) - 1
            done = reply.completion_tokens if last else min(reply.completion_tokens, n + 1)
            events.append(sse(self._reply(call, piece, n, last, reply, done)))
        return events

    def _reply(self, call: MockCall, text: str, sentence: int, end: bool, reply: Reply,
               completion: int) -> dict[str, Any]:
        body: dict[str, Any] = {"id": "as-mock", "object": "chat.completion", "created": 1700000000}
        if call.stream:
            body["sentence_id"] = sentence
            body["is_end"] = end
        body.update({
            "result": text,
            "is_truncated": end and reply.finish_reason == "length",
            "need_clear_history": False,
            "usage": {"prompt_tokens": reply.prompt_tokens, "completion_tokens": completion,
                      "total_tokens": reply.prompt_tokens + completion},
        })
        if end:
            body["finish_reason"] = _FINISH.get(reply.finish_reason, "normal")
        return body

    def embeddings(self, call: MockCall, vectors: list[list[float]]) -> Rendered:
        tokens = sum(max(1, len(text.split())) for text in call.inputs)
        body = {"id": "as-mock-emb", "object": "embedding_list", "created": 1700000000,
                "data": [{"object": "embedding", "embedding": v, "index": i} for i, v in enumerate(vectors)],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        return Rendered(200, dumps(body))

    # -- errors: HTTP 200 with error_code ---------------------------------------------------
    def error(self, kind: str, status: int, message: str) -> Rendered:
        pending: Rendered | None = getattr(self._local, "pending", None)
        self._local.pending = None
        if pending is not None:
            return pending
        code = _CODES.get(kind)
        if code is None:
            code = 336100 if status == 503 else 336000 if status >= 500 else 336001
        if kind == "server_error" and status == 503:
            code = 336100
        if kind == "content_filter":
            message = f"the input contains sensitive content: {message}"
        return _error_body(code, message)

    def stream_error(self, kind: str, status: int, message: str) -> bytes:
        return sse(self.error(kind, status, message).body.decode())


def _error_body(code: int, message: str) -> Rendered:
    return Rendered(200, dumps({"error_code": code, "error_msg": message}))


def _oauth_error(status: int, error: str, description: str) -> Rendered:
    return Rendered(status, dumps({"error": error, "error_description": description}))


def _shape_problem(messages: Any) -> str | None:
    """v1's rule: odd length, user at even indexes, assistant at odd ones (error 336006)."""
    if not isinstance(messages, list) or len(messages) % 2 == 0:
        return "the length of messages must be an odd number"
    for index, message in enumerate(messages):
        expected = "user" if index % 2 == 0 else "assistant"
        if not isinstance(message, dict) or message.get("role") != expected:
            return f"the role of message with {'even' if index % 2 == 0 else 'odd'} index in the messages " \
                   f"must be {expected}"
    return None
