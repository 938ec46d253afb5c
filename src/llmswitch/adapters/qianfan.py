"""Baidu Qianfan v1 native ("wenxinworkshop", PROTOCOLS.md §3): endpoint per model, 200 errors.

The model is not in the body: it picks the URL's last segment (``/chat/completions_pro`` is
ERNIE-4.0-8K) from a table kept as data in :mod:`llmswitch.catalog.qianfan`. The system prompt is
the top-level ``system`` field and ``messages`` must alternate user/assistant with odd length, so
OpenAI histories are folded into that shape here. Auth is an ``access_token`` query parameter from
an OAuth exchange (:class:`~llmswitch.auth.QianfanTokenAuth`). Errors come back with HTTP 200 as
``{"error_code", "error_msg"}``, also as stream events; a stream is ``data: {...}`` lines carrying
``result`` deltas and ``is_end``, with no ``[DONE]``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import httpx2

from .. import errors
from ..auth import QianfanTokenAuth
from ..catalog.qianfan import CHAT_ENDPOINTS, EMBEDDING_ENDPOINTS, ERROR_CODES
from ..streaming import SSEEvent
from . import structured
from .base import Adapter, Provider, StreamTranslator, WireRequest, chunk, completion

__all__ = ["QianfanAdapter", "QianfanStream", "token_url_for"]

#: v1 finish_reason → OpenAI (qianfan typing_client.py); ``need_clear_history`` overrides to a filter
FINISH_REASONS: dict[str, str] = {
    "normal": "stop",
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "function_call": "tool_calls",
    "tool_calls": "tool_calls",
}

_KIND_STATUS: dict[str, int] = {
    "bad_request": 400,
    "auth": 401,
    "quota": 402,
    "permission": 403,
    "not_found": 404,
    "rate_limit": 429,
    "context_window": 400,
    "content_filter": 400,
    "server_error": 500,
}
_STATUS_OVERRIDES: dict[int, int] = {2: 503, 336100: 503}  # unavailable / high load

# native request fields passed through when a caller sets them (one-api ChatRequest)
_NATIVE = frozenset({"penalty_score", "disable_search", "enable_citation", "enable_trace", "user_id",
                     "min_output_tokens", "functions"})
_MAPPED = frozenset({"model", "messages", "stream", "temperature", "top_p", "max_tokens",
                     "max_completion_tokens", "stop", "user"})
_HARMLESS = frozenset({"stream_options", "store", "metadata", "service_tier", "parallel_tool_calls"})


def token_url_for(base_url: str) -> str:
    """The OAuth endpoint beside a v1 API root: ``<origin>[/<mount>]/oauth/2.0/token``."""
    parts = urlsplit(base_url)
    cut = parts.path.find("/rpc/2.0/")
    prefix = parts.path[:cut] if cut >= 0 else ""
    return urlunsplit((parts.scheme, parts.netloc, prefix + "/oauth/2.0/token", "", ""))


def classify(code: Any, message: str, table: Mapping[str, str],
             patterns: tuple[tuple[str, str], ...] = ()) -> tuple[errors.ErrorKind, int]:
    """An ``error_code``'s failure class and the HTTP status it stands for."""
    kind = table.get(str(code))
    if kind in (None, "bad_request"):
        lowered = message.lower()
        kind = next((k for needle, k in patterns if needle in lowered), kind)
    final: errors.ErrorKind = kind or "other"  # type: ignore[assignment]
    status = _STATUS_OVERRIDES.get(code if isinstance(code, int) else -1) or _KIND_STATUS.get(final, 400)
    return final, status


class QianfanAdapter(Adapter):
    protocol: ClassVar[str] = "qianfan"
    stream_format: ClassVar[str] = "sse"

    def __init__(self, provider: Provider) -> None:
        super().__init__(provider)
        self._auth: QianfanTokenAuth | None = None
        self._auth_lock = threading.Lock()

    # -- requests -------------------------------------------------------------------------
    def endpoint(self, model: str) -> str:
        """The URL segment for a chat model: providers-file ``endpoints``, the table, else lower-case."""
        custom = self.provider.option("endpoints") or {}
        return str(custom.get(model) or CHAT_ENDPOINTS.get(model) or model.lower())

    def embedding_endpoint(self, model: str) -> str:
        custom = self.provider.option("embedding_endpoints") or {}
        return str(custom.get(model) or EMBEDDING_ENDPOINTS.get(model) or model.lower())

    def chat_request(self, params: dict[str, Any], *, stream: bool) -> WireRequest:
        model = str(params["model"])
        json_mode = None
        if "response_format" in params:
            params, json_mode = self.response_format(params, model)
        system, messages = self._conversation(params["messages"], model)
        body: dict[str, Any] = {"messages": messages}
        if json_mode:
            body["response_format"] = json_mode
        if system:
            body["system"] = system
        if stream:
            body["stream"] = True
        ranges = self.provider.preset.quirks.ranges
        for name in ("temperature", "top_p"):
            value = params.get(name)
            if value is None:
                continue
            accepted = ranges.get(name)
            if accepted is not None:
                value = self.fit_range(name, value, accepted, model)
            body[name] = value
        limit = params.get("max_completion_tokens") or params.get("max_tokens")
        if limit is not None:
            body["max_output_tokens"] = limit
        stop = params.get("stop")
        if stop:
            body["stop"] = [stop] if isinstance(stop, str) else list(stop)
        if params.get("user"):
            body["user_id"] = str(params["user"])
        for name, value in params.items():
            if name in _MAPPED or name in _HARMLESS or value is None:
                continue
            if name in _NATIVE:
                body[name] = value
            elif name == "n" and value == 1:
                continue
            elif self.provider.strict:  # tools (v1 legacy functions not covered), response_format, …
                raise self.rejected(f"parameter {name!r} is not supported by Qianfan v1", model)
        url = self.url(f"/chat/{self.endpoint(model)}")
        return WireRequest("POST", url, self._headers(), body, stream=stream)

    def response_format(self, params: dict[str, Any], model: str) -> tuple[dict[str, Any], str | None]:
        """ERNIE's ``response_format`` is a string, ``text`` or ``json_object`` (UNCONFIRMED: ERNIE
        model docs, not the SDK); a schema travels in the system prompt beside JSON mode."""
        adjusted, kind = structured.prepared(self, params, "json_object", model)
        return {k: v for k, v in adjusted.items() if k != "response_format"}, kind

    def embeddings_request(self, params: dict[str, Any]) -> WireRequest:
        raw = params.get("input")
        inputs = [raw] if isinstance(raw, str) else list(raw or [])
        model = str(params.get("model"))
        if not inputs or not all(isinstance(text, str) for text in inputs):
            raise self.rejected("Qianfan embeddings take text input only (no token arrays)", model)
        body: dict[str, Any] = {"input": inputs}
        if params.get("user"):
            body["user_id"] = str(params["user"])
        url = self.url(f"/embeddings/{self.embedding_endpoint(model)}")
        return WireRequest("POST", url, self._headers(), body)

    def auth(self) -> httpx2.Auth | None:
        with self._auth_lock:  # one token cache per provider, shared by every call
            if self._auth is None:
                creds = self.provider.credentials
                api_key, secret_key = creds.get("api_key"), creds.get("secret_key")
                if not api_key or not secret_key:
                    raise errors.ConfigError(
                        f"provider {self.provider.name!r} (qianfan) needs api_key and secret_key")
                token_url = self.provider.option("token_url") or token_url_for(self.provider.base_url)
                self._auth = QianfanTokenAuth(
                    api_key, secret_key, token_url=str(token_url), provider=self.provider.name,
                    refresh_margin=float(self.provider.option("token_refresh_margin") or 300.0),
                )
            return self._auth

    def _headers(self) -> dict[str, str]:
        return {**self.provider.headers, "Content-Type": "application/json"}

    def _conversation(self, raw: list[Mapping[str, Any]], model: str) -> tuple[str, list[dict[str, str]]]:
        """OpenAI messages → (system, odd-length user/assistant alternation ending with the user).

        System/developer turns join the top-level ``system``; tool results become user text (v1
        function calling is not covered); consecutive turns of one role merge; leading assistant
        turns are dropped (strict mode: rejected), as v1 answers 336006 to any other shape.
        """
        system: list[str] = []
        turns: list[dict[str, str]] = []
        for message in raw:
            role = str(message.get("role"))
            content = message.get("content")
            if self.provider.strict and isinstance(content, list) and any(
                    isinstance(p, Mapping) and p.get("type") != "text" for p in content):
                raise self.rejected("Qianfan v1 chat takes text only (no images)", model)
            text = _text(content)
            if role in ("system", "developer"):
                system.append(text)
                continue
            role = "assistant" if role == "assistant" else "user"
            if role == "assistant" and not text:
                continue  # a tool-call-only turn carries nothing v1 can take
            if turns and turns[-1]["role"] == role:
                turns[-1]["content"] += "\n\n" + text
            else:
                turns.append({"role": role, "content": text})
        if turns and turns[0]["role"] == "assistant":
            if self.provider.strict:
                raise self.rejected("Qianfan v1 conversations must start with a user turn", model)
            while turns and turns[0]["role"] == "assistant":
                turns.pop(0)
        if not turns or turns[-1]["role"] != "user":
            raise self.rejected("Qianfan v1 needs the last message to be the user's", model)
        return "\n\n".join(s for s in system if s), turns


    # -- responses ------------------------------------------------------------------------
    def parse_chat(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        data = self._checked(response, self.read_json(response, model), model)
        result = data.get("result")
        call = data.get("function_call")
        tool_calls = None
        if isinstance(call, Mapping) and call.get("name"):
            tool_calls = [{"id": f"call_{data.get('id') or 0}", "type": "function",
                           "function": {"name": call["name"], "arguments": call.get("arguments") or "{}"}}]
        if not isinstance(result, str) and tool_calls is None:
            raise self.error("server_error", f"reply without result: {str(data)[:200]}", response, model,
                             body=data, status_code=502)
        return completion(
            id=str(data.get("id") or "qianfan"),
            model=model,
            content=result if result or tool_calls is None else None,
            finish_reason=finish_reason(data, bool(tool_calls)),
            usage=usage_of(data.get("usage")),
            tool_calls=tool_calls,
            created=data.get("created") if isinstance(data.get("created"), int) else None,
        )

    def parse_embeddings(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        data = self._checked(response, self.read_json(response, model), model)
        items = data.get("data")
        if not isinstance(items, list):
            raise self.error("server_error", "embeddings reply without data", response, model, body=data,
                             status_code=502)
        usage = data.get("usage") or {}
        prompt = int(usage.get("prompt_tokens") or 0)
        return {
            "object": "list",
            "data": [{"object": "embedding", "index": int(item.get("index", i)),
                      "embedding": item.get("embedding")} for i, item in enumerate(items)],
            "model": model,
            "usage": {"prompt_tokens": prompt, "total_tokens": int(usage.get("total_tokens") or prompt)},
        }

    def stream_translator(self, response: httpx2.Response, model: str) -> StreamTranslator:
        return QianfanStream(self, response, model)

    def parse_error(self, response: httpx2.Response, model: str) -> errors.APIStatusError:
        body = self.read_json(response, model, strict=False)
        if isinstance(body, dict) and body.get("error_code"):
            return self.api_error(body, response, model)
        return super().parse_error(response, model)

    def _checked(self, response: httpx2.Response, data: Any, model: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.error("server_error", f"unexpected reply: {str(data)[:200]}", response, model,
                             body=data, status_code=502)
        if data.get("error_code"):
            raise self.api_error(data, response, model)
        return data

    def api_error(self, body: Mapping[str, Any], response: httpx2.Response,
                  model: str) -> errors.APIStatusError:
        code, message = body.get("error_code"), str(body.get("error_msg") or "")
        quirks = self.provider.preset.quirks
        kind, status = classify(code, message, quirks.error_codes or ERROR_CODES, quirks.error_patterns)
        return self.error(kind, f"error_code {code}: {message}", response, model, body=dict(body), code=code,
                          status_code=status)


class QianfanStream(StreamTranslator):
    """``data: {...}`` events: ``result`` is the delta, ``is_end`` the last one; no ``[DONE]``."""

    adapter: QianfanAdapter

    def __init__(self, adapter: QianfanAdapter, response: httpx2.Response, model: str) -> None:
        super().__init__(adapter, response, model)
        self._id = "qianfan"
        self._created: int | None = None
        self._started = False
        self._seen = False
        self._usage: dict[str, int] | None = None

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        data = event.data.strip()
        if not data or self.complete:
            return []
        obj = self.decode(data)
        if not isinstance(obj, dict):
            return []
        self._seen = True
        if obj.get("error_code"):
            raise self.adapter.api_error(obj, self.response, self.model)
        self._id = str(obj.get("id") or self._id)
        if isinstance(obj.get("created"), int):
            self._created = obj["created"]
        usage = usage_of(obj.get("usage"))
        if usage is not None:
            self._usage = usage  # the last event's usage covers the whole answer
        out: list[dict[str, Any]] = []
        result = obj.get("result") or ""
        if result or not self._started:
            delta: dict[str, Any] = {"content": result}
            if not self._started:
                delta = {"role": "assistant", **delta}
                self._started = True
            out.append(chunk(id=self._id, model=self.model, delta=delta, created=self._created))
        if obj.get("is_end"):  # finish reason and the final usage on one chunk
            out.append(chunk(id=self._id, model=self.model, delta={}, finish_reason=finish_reason(obj),
                             usage=self._usage, created=self._created))
            self.complete = True
        return out

    def close(self) -> list[dict[str, Any]]:
        """A stream request answered with a plain JSON body — the usual shape of v1 errors."""
        if not self._seen and not self.complete:
            body = _read_body(self.response)
            if isinstance(body, dict) and body.get("error_code"):
                raise self.adapter.api_error(body, self.response, self.model)
        return []


def finish_reason(data: Mapping[str, Any], has_tool_calls: bool = False) -> str:
    """``need_clear_history`` means the turn was blocked as sensitive: an in-band content filter."""
    if data.get("need_clear_history"):
        return "content_filter"
    if has_tool_calls:
        return "tool_calls"
    if data.get("is_truncated"):  # the output was cut at max_output_tokens
        return "length"
    return FINISH_REASONS.get(str(data.get("finish_reason") or "normal"), "stop")


def usage_of(native: Any) -> dict[str, int] | None:
    if not isinstance(native, Mapping):
        return None
    prompt, completion_ = int(native.get("prompt_tokens") or 0), int(native.get("completion_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion_,
            "total_tokens": int(native.get("total_tokens") or prompt + completion_)}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p for p in content if isinstance(p, Mapping) and p.get("type") == "text"]
        return "".join(str(p.get("text", "")) for p in parts)
    return ""


def _read_body(response: httpx2.Response) -> Any:
    """The body if it was read (the auth flow reads non-stream replies), else None."""
    try:
        content = response.content
    except httpx2.ResponseNotRead:  # a real stream, consumed chunk by chunk
        return None
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None
