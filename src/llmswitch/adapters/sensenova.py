"""SenseTime SenseNova, native protocol (PROTOCOLS.md §1).

``POST {base}/llm/chat-completions`` with ``max_new_tokens``; the reply is wrapped in ``data`` and
``choices[].message`` is a plain string (``delta`` in streams). Streams are ``data:{...}`` lines
without a space, ending ``data:[DONE]``. Errors are ``{"error": {"code": <gRPC-style int>, ...}}``.
Auth is a short-lived HS256 JWT minted from an access key pair, or a console API key as Bearer.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic_core import from_json

from .. import errors
from ..auth import SenseNovaJWTAuth
from ..catalog import Range
from ..streaming import SSEEvent
from . import structured
from .base import Adapter, Provider, StreamTranslator, WireRequest, body_summary, completion, merged

if TYPE_CHECKING:
    import httpx2

__all__ = ["SenseNovaAdapter"]

CHAT_PATH = "/llm/chat-completions"
EMBEDDINGS_PATH = "/llm/embeddings"

# documented ranges (§1 "Native request"); a preset's Quirks.ranges override these
RANGES: Mapping[str, Range] = {
    "temperature": Range(0, 2, low_open=True),
    "top_p": Range(0, 1, low_open=True, high_open=True),
    "repetition_penalty": Range(0, 2, low_open=True),
}

# OpenAI create() parameters the native API has no field for: dropped (lenient) or refused (strict)
UNSUPPORTED = frozenset({
    "frequency_penalty", "presence_penalty", "logit_bias", "logprobs", "top_logprobs", "seed",
    "response_format", "parallel_tool_calls", "modalities", "audio", "prediction", "reasoning_effort",
    "service_tier", "store", "metadata", "web_search_options", "verbosity", "prompt_cache_key",
    "safety_identifier", "function_call", "functions",
})
_OURS = frozenset({"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens"})

# error code -> HTTP status (sensecore ErrorCode page). 13-16 follow the gRPC convention: UNCONFIRMED.
CODE_STATUS: Mapping[int, int] = {
    1: 408, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 11: 400, 12: 501,
    13: 500, 14: 503, 15: 500, 16: 401,
}
# how a 400 says "too long" or "blocked": the wording is UNCONFIRMED, so it is data here
ERROR_PATTERNS: tuple[tuple[str, errors.ErrorKind], ...] = (
    ("context length", "context_window"),
    ("context_length", "context_window"),
    ("maximum context", "context_window"),
    ("too many tokens", "context_window"),
    ("input is too long", "context_window"),
    ("上下文长度", "context_window"),
    ("sensitive", "content_filter"),
    ("content filter", "content_filter"),
    ("inappropriate", "content_filter"),
    ("敏感", "content_filter"),
)
# native finish reasons -> OpenAI ("sensitive" as the filter signal is UNCONFIRMED)
FINISH: Mapping[str, str] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "sensitive": "content_filter",
    "content_filter": "content_filter",
}


class SenseNovaAdapter(Adapter):
    protocol: ClassVar[str] = "sensenova"

    def __init__(self, provider: Provider) -> None:
        super().__init__(provider)
        ak, sk = provider.credentials.get("access_key_id"), provider.credentials.get("secret_access_key")
        if bool(ak) != bool(sk):
            missing = "secret_access_key" if ak else "access_key_id"
            raise errors.ConfigError(f"provider {provider.name!r} (sensenova): {missing!r} is missing; "
                                     "the JWT needs both access_key_id and secret_access_key")
        if not (ak or provider.credential("api_key")):
            raise errors.ConfigError(f"provider {provider.name!r} (sensenova) needs access_key_id + "
                                     "secret_access_key, or api_key")
        self._jwt = SenseNovaJWTAuth(ak, sk) if ak and sk else None

    def auth(self) -> httpx2.Auth | None:
        return self._jwt

    def headers(self) -> dict[str, str]:
        # with a key pair the JWT signer sets Authorization; otherwise the API key is the bearer
        if self._jwt is not None:
            return dict(self.provider.headers)
        return self.bearer_headers()

    # -- requests -------------------------------------------------------------------------
    def chat_request(self, params: dict[str, Any], *, stream: bool) -> WireRequest:
        model = str(params["model"])
        if "response_format" in params:
            params = self.response_format(params, model)
        messages = [_message(m) for m in params.get("messages") or []]
        body: dict[str, Any] = {"model": model, "messages": messages}
        max_tokens = params.get("max_completion_tokens") or params.get("max_tokens")
        if max_tokens is not None:
            body["max_new_tokens"] = max_tokens
        for name, value in params.items():
            if name in _OURS or value is None:
                continue
            if name in UNSUPPORTED:
                self.unsupported(f"parameter {name!r} is not supported by the SenseNova native API", model)
                continue
            body[name] = value
        self._tool_choice(body, model)
        if isinstance(body.get("stop"), list) and len(body["stop"]) == 1:
            body["stop"] = body["stop"][0]  # the native field is a string (UNCONFIRMED for lists)
        self.fit_ranges(body, {**RANGES, **self.provider.preset.quirks.ranges}, model)
        if stream:
            body["stream"] = True
        return WireRequest("POST", self.url(CHAT_PATH), self.headers(), body, stream=stream)

    def response_format(self, params: dict[str, Any], model: str) -> dict[str, Any]:
        """No JSON mode in the native API (UNCONFIRMED: none documented): a JSON format becomes an
        instruction (lenient, with a warning) or is refused (strict); ``text`` is simply dropped."""
        adjusted, _ = structured.prepared(self, params, "prompt", model)
        return {k: v for k, v in adjusted.items() if k != "response_format"}

    def embeddings_request(self, params: dict[str, Any]) -> WireRequest:
        inputs = params.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        if not all(isinstance(t, str) for t in texts):
            raise self.rejected("SenseNova embeddings take text only, not token ids", str(params["model"]))
        if params.get("encoding_format") not in (None, "float"):
            self.unsupported("SenseNova returns float embeddings only (encoding_format='float')",
                              str(params["model"]))
        body = {"model": params["model"], "input": texts}
        return WireRequest("POST", self.url(EMBEDDINGS_PATH), self.headers(), body)

    def _tool_choice(self, body: dict[str, Any], model: str) -> None:
        """The native ``tool_choice`` is an object; OpenAI's strings are mapped (UNCONFIRMED shapes)."""
        choice = body.get("tool_choice")
        if not isinstance(choice, str):
            return
        del body["tool_choice"]
        if choice == "none":
            body.pop("tools", None)
        elif choice == "required":
            self.unsupported("tool_choice='required' is not supported by the SenseNova native API", model)


    # -- responses ------------------------------------------------------------------------
    def parse_chat(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        body = self.read_json(response, model)
        self.raise_for_body(response, body, model)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            raise self.error("server_error", f"unexpected response body: {str(body)[:200]}", response, model,
                             body=body, status_code=502)
        choices = sorted(data["choices"], key=lambda c: int(c.get("index") or 0))
        parts: list[dict[str, Any]] = []
        for position, choice in enumerate(choices or [{}]):
            content, reasoning = _text(choice.get("message")), choice.get("reasoning_content")
            calls = _tool_calls(choice)
            if calls and not content:
                content = None  # OpenAI's shape for a pure tool-calling turn
            one = completion(id=str(data.get("id") or _new_id()), model=model, content=content,
                             finish_reason=_finish(choice.get("finish_reason"), bool(calls)) or "stop",
                             usage=_usage(data.get("usage")), tool_calls=calls,
                             reasoning_content=reasoning if isinstance(reasoning, str) else None)
            one["choices"][0]["index"] = position
            parts.append(one)
        return merged(parts)

    def parse_embeddings(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        body = self.read_json(response, model)
        self.raise_for_body(response, body, model)
        data = body.get("data") if isinstance(body, dict) and isinstance(body.get("data"), dict) else body
        items = data.get("embeddings") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(items, list):
            raise self.error("server_error", f"unexpected embeddings body: {str(body)[:200]}", response,
                             model, body=body, status_code=502)
        usage = data.get("usage") or {}
        tokens = int(usage.get("prompt_tokens") or usage.get("total_tokens") or 0)
        items = sorted(items, key=lambda item: int(item.get("index") or 0))
        return embeddings_dict([item.get("embedding") or [] for item in items], model, tokens)

    def stream_translator(self, response: httpx2.Response, model: str) -> StreamTranslator:
        return SenseNovaStream(self, response, model)

    def parse_error(self, response: httpx2.Response, model: str) -> errors.APIStatusError:
        body = self.read_json(response, model, strict=False)
        code, message = _error_fields(body)
        if message is None:
            message = body_summary(response)
        return self._error(response, body, model, code, message, response.status_code)

    def raise_for_body(self, response: httpx2.Response, body: Any, model: str) -> None:
        """Errors inside a 2xx body or a stream event: ``error``, ``data.error`` or ``status``."""
        if not isinstance(body, dict):
            return
        code, message = _error_fields(body)
        if message is None and code is None:
            return
        status = CODE_STATUS.get(code, 500) if code is not None else 500
        raise self._error(response, body, model, code, message or f"error code {code}", status)

    def _error(self, response: httpx2.Response, body: Any, model: str, code: int | None, message: str,
               status: int) -> errors.APIStatusError:
        kind = errors.kind_for_status(status)
        if status == 409:
            kind = "server_error"  # the official SDK treats 409 (ABORTED / ALREADY_EXISTS) as "try again"
        elif status in (400, 413, 422) or kind == "other":
            lowered = message.lower()
            kind = next((k for needle, k in ERROR_PATTERNS if needle in lowered), kind)
        status_code = None if status == response.status_code else status
        return self.error(kind, message, response, model, body=body, code=code, status_code=status_code)


class SenseNovaStream(StreamTranslator):
    """``data:{"data":{"choices":[{"delta":"…","finish_reason":""}],"usage":…}}`` … ``data:[DONE]``."""

    adapter: SenseNovaAdapter

    def __init__(self, adapter: SenseNovaAdapter, response: httpx2.Response, model: str) -> None:
        super().__init__(adapter, response, model)
        self.id = _new_id()
        self.created = int(time.time())
        self.usage: dict[str, int] | None = None
        self.started: set[int] = set()
        self.call_ids: dict[tuple[int, int], str] = {}
        self.pending: list[tuple[int, str]] = []  # finish reasons waiting for usage

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        data = event.data.strip()
        if data == "[DONE]":
            return self._finish()
        if not data:
            return []
        try:  # the base class's decode, minus a method call per chunk; it reports the failure
            obj = from_json(data)
        except ValueError:
            obj = self.decode(data)
        if not isinstance(obj, dict):
            return []  # no error envelope, no payload
        inner = obj.get("data")
        # an error envelope needs one of these keys; cheap membership tests spare the full parse
        if "error" in obj or "status" in obj or (isinstance(inner, dict) and "error" in inner):
            self.adapter.raise_for_body(self.response, obj, self.model)
        payload: dict[str, Any] = inner if isinstance(inner, dict) else obj
        payload_id = payload.get("id")
        if payload_id:
            self.id = str(payload_id)
        out: list[dict[str, Any]] = []
        raw_usage = payload.get("usage")
        if raw_usage:
            self.usage = _usage(raw_usage)
            if self.pending:
                return self._finish()
        started = self.started
        for choice in payload.get("choices") or []:
            index = int(choice.get("index") or 0)
            delta: dict[str, Any] = {}
            if index not in started:
                started.add(index)
                delta["role"] = "assistant"
            native = choice.get("delta")
            text = native if isinstance(native, str) else _text(native)
            if text:
                delta["content"] = text
            reasoning = choice.get("reasoning_content")
            if reasoning and isinstance(reasoning, str):
                delta["reasoning_content"] = reasoning
            calls = self._tool_calls(choice, index) if _has_raw_calls(choice) else []
            if calls:
                delta["tool_calls"] = calls
            reason = choice.get("finish_reason")
            if len(delta) > 1 or (delta and not reason):
                out.append(self._chunk(index, delta))
            if reason:
                self.pending.append((index, _finish(reason, bool(calls) or self._has_calls(index)) or "stop"))
        if self.pending and raw_usage:
            out += self._finish()
        return out

    def close(self) -> list[dict[str, Any]]:
        return self._finish() if self.pending else []

    def _finish(self) -> list[dict[str, Any]]:
        """Emit held finish reasons (with the last usage seen) and mark the stream complete."""
        out = [self._chunk(index, {}, reason) for index, reason in self.pending]
        if out and self.usage is not None:
            out[-1]["usage"] = dict(self.usage)
        self.pending = []
        self.complete = True
        return out

    def _chunk(self, index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    def _has_calls(self, index: int) -> bool:
        return any(key[0] == index for key in self.call_ids)

    def _tool_calls(self, choice: Mapping[str, Any], index: int) -> list[dict[str, Any]]:
        """Native stream chunks carry whole tool calls (UNCONFIRMED); each is sent once, with an id."""
        out = []
        for position, call in enumerate(_tool_calls(choice, ids=False)):
            key = (index, position)
            if key in self.call_ids:
                continue
            self.call_ids[key] = call.get("id") or _call_id()
            out.append({"index": position, **call, "id": self.call_ids[key]})
        return out


# -- translation helpers ---------------------------------------------------------------------------
def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    """One OpenAI message as the native API takes it (system stays a message; content a string)."""
    out: dict[str, Any] = {k: v for k, v in message.items() if v is not None and k != "reasoning_content"}
    if out.get("role") == "developer":
        out["role"] = "system"
    out["content"] = _content(message.get("content"))
    return out


def _content(content: Any) -> Any:
    """Text parts are joined into one string; with images, the vision list form (UNCONFIRMED names)."""
    if content is None:
        return ""
    if not isinstance(content, list):
        return content
    if all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "\n".join(str(p.get("text", "")) for p in content)
    parts: list[Any] = []
    for part in content:
        if isinstance(part, dict) and part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if isinstance(url, str) and url.startswith("data:") and ";base64," in url:
                parts.append({"type": "image_base64", "image_base64": url.split(";base64,", 1)[1]})
            else:
                parts.append({"type": "image_url", "image_url": url})
        else:
            parts.append(part)
    return parts


def _text(value: Any) -> str | None:
    """``message``/``delta`` are strings natively; an OpenAI-shaped object is tolerated."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _has_raw_calls(choice: Mapping[str, Any]) -> bool:
    """Whether ``_tool_calls`` would find anything to iterate (on the choice or its message/delta)."""
    if choice.get("tool_calls"):
        return True
    message = choice.get("message") or choice.get("delta")
    return isinstance(message, dict) and bool(message.get("tool_calls"))


def _tool_calls(choice: Mapping[str, Any], *, ids: bool = True) -> list[dict[str, Any]]:
    """Tool calls sit on the choice (the message is a string); arguments become JSON text."""
    raw = choice.get("tool_calls")
    message = choice.get("message") or choice.get("delta")
    if not raw and isinstance(message, dict):
        raw = message.get("tool_calls")
    out = []
    for call in raw or []:
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        arguments = function.get("arguments", "")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        item: dict[str, Any] = {"id": call.get("id") or (_call_id() if ids else ""), "type": "function",
                                "function": {"name": function.get("name", ""), "arguments": arguments}}
        out.append(item)
    return out


def _finish(reason: Any, has_calls: bool) -> str | None:
    """OpenAI's finish reason; a tool-calling turn that says "stop" is reported as "tool_calls"."""
    if not reason:
        return "tool_calls" if has_calls else None
    mapped = FINISH.get(str(reason), "stop")
    return "tool_calls" if has_calls and mapped == "stop" else mapped


def _usage(raw: Any) -> dict[str, int] | None:
    """Knowledge-base tokens are prompt-side input, so they are folded into ``prompt_tokens``."""
    if not isinstance(raw, dict):
        return None
    prompt = int(raw.get("prompt_tokens") or 0) + int(raw.get("knowledge_tokens") or 0)
    completion_tokens = int(raw.get("completion_tokens") or 0)
    total = max(int(raw.get("total_tokens") or 0), prompt + completion_tokens)
    return {"prompt_tokens": prompt, "completion_tokens": completion_tokens, "total_tokens": total}


def _error_fields(body: Any) -> tuple[int | None, str | None]:
    """(code, message) of an error envelope; (None, None) when the body reports success."""
    if not isinstance(body, dict):
        return None, None
    if isinstance(body.get("error"), str) and body["error"]:
        return None, str(body["error"])
    candidates = [body.get("error"), body.get("status")]
    if isinstance(body.get("data"), dict):
        candidates.append(body["data"].get("error"))
    for err in candidates:
        if not isinstance(err, dict):
            continue
        code = _int(err.get("code"))
        message = err.get("message")
        if code == 0 or (code is None and not message):
            continue  # a success status ({"code": 0, "message": "ok"})
        return code, str(message) if message else None
    return None, None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _new_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def _call_id() -> str:
    return f"call_{secrets.token_hex(12)}"


def embeddings_dict(vectors: list[list[float]], model: str, tokens: int) -> dict[str, Any]:
    """An OpenAI ``list`` of embeddings (float vectors)."""
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
