"""The adapter contract: pure translation between OpenAI's wire JSON and a vendor's.

An adapter never does I/O. It turns an OpenAI-shaped request (a dict of ``create()`` params)
into a :class:`WireRequest`, and turns the vendor's response — an ``httpx2.Response`` whose body
has already been read, or stream events decoded by :mod:`llmswitch.streaming` — back into
OpenAI-shaped dicts. It maps every vendor error (HTTP status, error inside a 200 body, error
event inside a stream) to the exception tree in :mod:`llmswitch.errors`. Sync and async callers
share the same adapter instance; adapters hold no per-call state outside a StreamTranslator.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pydantic_core

from .. import errors
from .._secret import Secret
from ..catalog import ModelInfo, Preset, Range
from ..streaming import SSEEvent

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "MAX_RESPONSE_BYTES",
    "Adapter",
    "NonFiniteNumberError",
    "Provider",
    "StreamTranslator",
    "UnsupportedFeatureError",
    "WireRequest",
    "answer_json",
    "body_summary",
    "chunk",
    "completion",
    "json_body",
    "merged",
]


MAX_RESPONSE_BYTES = 32 * 2**20  # a non-streamed body larger than this is refused (per provider)


class UnsupportedFeatureError(errors.LLMSwitchError):
    """The provider has no such operation (e.g. embeddings on a chat-only vendor)."""


@dataclass(frozen=True)
class Provider:
    """A configured provider: its preset merged with what the providers file says."""

    name: str
    preset: Preset
    base_url: str
    credentials: Mapping[str, Secret] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    models: Mapping[str, ModelInfo] = field(default_factory=dict)
    strict: bool = False  # reject params the vendor cannot take instead of dropping them
    max_response_bytes: int = MAX_RESPONSE_BYTES

    def credential(self, name: str) -> str | None:
        secret = self.credentials.get(name)
        return secret.get() if secret else None

    def option(self, name: str, default: Any = None) -> Any:
        if name in self.options:
            return self.options[name]
        return self.preset.options.get(name, default)

    def model_info(self, model: str) -> ModelInfo | None:
        return self.models.get(model) or self.preset.models.get(model)


@dataclass(slots=True)
class WireRequest:
    """What to send: the transport adds timeouts, encodes ``json`` and runs ``Adapter.auth()``."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    params: dict[str, str] | None = None
    stream: bool = False


class StreamTranslator:
    """Turns one stream's decoded events into OpenAI chunk dicts.

    ``complete`` becomes true when the vendor's terminator or a finish reason was seen; a stream
    that reaches EOF without it was cut, and the router raises an interruption.
    """

    def __init__(self, adapter: Adapter, response: httpx2.Response, model: str) -> None:
        self.adapter = adapter
        self.response = response
        self.model = model
        self.complete = False

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        raise NotImplementedError

    def decode(self, data: str) -> Any:
        """One event's JSON; a malformed event is a server fault (502), never a silent skip."""
        try:
            return pydantic_core.from_json(data)
        except ValueError:
            raise self.adapter.error("server_error", f"malformed stream event: {data[:200]!r}", self.response,
                                     self.model, status_code=502) from None

    def close(self) -> list[dict[str, Any]]:
        """End of input: any chunk held back (e.g. usage waiting for its choice)."""
        return []


class Adapter:
    """Base class; subclasses override what their protocol needs."""

    protocol: ClassVar[str] = ""
    stream_format: ClassVar[str] = "sse"  # or "ndjson"

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    # -- requests -------------------------------------------------------------------------
    def chat_request(self, params: dict[str, Any], *, stream: bool) -> WireRequest:
        raise NotImplementedError

    def embeddings_request(self, params: dict[str, Any]) -> WireRequest:
        raise UnsupportedFeatureError(f"provider {self.provider.name!r} ({self.protocol}) has no embeddings")

    def auth(self) -> httpx2.Auth | None:
        """A signer for requests that need more than a static header (TC3, JWT, token exchange)."""
        return None

    # -- responses ------------------------------------------------------------------------
    def parse_chat(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        raise NotImplementedError

    def stream_translator(self, response: httpx2.Response, model: str) -> StreamTranslator:
        raise NotImplementedError

    def parse_embeddings(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        raise NotImplementedError

    def parse_error(self, response: httpx2.Response, model: str) -> errors.APIStatusError:
        """Map a non-2xx response to the exception tree. Override to read vendor codes."""
        body = self.read_json(response, model, strict=False)
        message = _message_from(body) or body_summary(response, 500)
        return self.error(errors.kind_for_status(response.status_code), message, response, model, body=body)

    # -- helpers for subclasses -------------------------------------------------------------
    def error(
        self,
        kind: errors.ErrorKind,
        message: str,
        response: httpx2.Response,
        model: str,
        *,
        body: object | None = None,
        code: str | int | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> errors.APIStatusError:
        """An exception naming this provider and model; ``status_code`` for errors inside a 200."""
        return errors.error_for_kind(
            kind,
            message,
            response=response,
            body=body,
            provider=self.provider.name,
            model=model,
            code=None if code is None else str(code),
            status_code=status_code,
            retry_after=retry_after,
        )

    def read_json(self, response: httpx2.Response, model: str, *, strict: bool = True) -> Any:
        """The body as JSON. A 2xx body that is not JSON is a server fault (HTML error pages…)."""
        try:
            return pydantic_core.from_json(response.content)
        except ValueError:
            if not strict:
                return None
            ctype = response.headers.get("content-type", "?")
            return self._raise(
                self.error(
                    "server_error",
                    f"malformed response body ({ctype}): {body_summary(response, 200)!r}",
                    response,
                    model,
                    status_code=502,
                )
            )

    def rejected(self, message: str, model: str) -> errors.UnsupportedParameterError:
        """A request this vendor cannot take, refused before sending: a 400 naming provider and model."""
        import httpx2

        request = httpx2.Request("POST", self.provider.base_url or "http://llmswitch.invalid/")
        return errors.UnsupportedParameterError(message, response=httpx2.Response(400, request=request), body=None,
                                                provider=self.provider.name, model=model)

    def fit_range(self, name: str, value: float, accepted: Range, model: str) -> float:
        """Lenient: the nearest accepted value. Strict: refuse, naming the parameter and the range."""
        if accepted.contains(value):
            return value
        if self.provider.strict:
            kind = self.provider.preset.name
            raise self.rejected(f"{name}={value} is outside the range {accepted} that {kind!r} accepts", model)
        return accepted.clamp(value)

    def fit_ranges(self, values: dict[str, Any], ranges: Mapping[str, Range], model: str) -> None:
        """``fit_range`` for every numeric value in ``values`` that has a range, in place."""
        for name, accepted in ranges.items():
            value = values.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values[name] = self.fit_range(name, value, accepted, model)

    def unsupported(self, message: str, model: str) -> None:
        """Something the vendor cannot take: strict mode refuses; lenient mode lets the caller drop it."""
        if self.provider.strict:
            raise self.rejected(message, model)

    @staticmethod
    def _raise(exc: BaseException) -> Any:
        raise exc

    def bearer_headers(self, key_name: str = "api_key") -> dict[str, str]:
        """Static auth headers for the preset's ``auth`` style, plus configured extra headers."""
        headers = dict(self.provider.headers)
        key = self.provider.credential(key_name)
        style = self.provider.preset.auth
        if key:
            if style == "bearer":
                headers["Authorization"] = f"Bearer {key}"
            elif style == "api-key":
                headers["api-key"] = key
            elif style == "x-api-key":
                headers["x-api-key"] = key
        return headers

    def url(self, path: str) -> str:
        return self.provider.base_url.rstrip("/") + path


def _message_from(body: Any) -> str | None:
    """The human message in the usual error envelopes ({error:{message}}, {message}, {error:"…"})."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            msg = err.get("message") or err.get("msg")
            return str(msg) if msg else None
        if isinstance(err, str):
            return err
        for key in ("message", "msg", "error_msg", "detail"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return None


class NonFiniteNumberError(ValueError):
    """A NaN or infinite number in a request: JSON cannot carry it (the message names where)."""


def json_body(data: Any) -> bytes:
    """The request as JSON, refusing NaN and infinities (which would go out as invalid JSON)."""
    body = pydantic_core.to_json(data)
    if b"NaN" in body or b"Infinity" in body:  # rare: a scan of the bytes spares every call a walk
        where = _non_finite(data, "")
        if where is not None:
            raise NonFiniteNumberError(f"{where[0]} is {where[1]}: JSON has no NaN or infinite numbers")
    return body


def answer_json(data: Any) -> bytes:
    """An answer we serve as JSON (transport, gateway): a vendor's NaN or infinity becomes null,
    as JSON has no other spelling for it, instead of failing a call that already succeeded."""
    return pydantic_core.to_json(data, inf_nan_mode="null")


def _non_finite(value: Any, path: str) -> tuple[str, float] | None:
    if isinstance(value, float):
        return (path or "(body)", value) if value != value or value in (_INF, -_INF) else None
    items = value.items() if isinstance(value, Mapping) else enumerate(value) \
        if isinstance(value, (list, tuple)) else ()
    for key, item in items:
        found = _non_finite(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else key)
        if found is not None:
            return found
    return None


_INF = float("inf")
_TITLE = re.compile(rb"<(title|h1)[^>]*>(.*?)</\1>", re.IGNORECASE | re.DOTALL)


def body_summary(response: httpx2.Response, limit: int = 300) -> str:
    """An error body fit for a message: an HTML page (a proxy's 502) becomes its status and title."""
    raw = response.content
    ctype = response.headers.get("content-type", "").lower()
    if "html" in ctype or raw[:1] == b"<" or raw.lstrip()[:1] == b"<":
        found = _TITLE.search(raw[:65536])
        title = re.sub(r"\s+", " ", found.group(2).decode("utf-8", "replace")).strip()[:120] if found else ""
        page = f"HTML page {title!r}" if title else "an HTML page"
        return f"HTTP {response.status_code} {response.reason_phrase}: {page}".strip()
    text = response.text[:limit].strip()
    return text or response.reason_phrase or f"HTTP {response.status_code}"


def completion(
    *,
    id: str,
    model: str,
    content: str | None,
    finish_reason: str | None,
    usage: Mapping[str, int] | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    reasoning_content: str | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` dict with one choice — the common target of native adapters."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning_content:
        message["reasoning_content"] = reasoning_content
    out: dict[str, Any] = {
        "id": id,
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
    }
    if usage is not None:
        out["usage"] = dict(usage)
    return out


def merged(completions: list[dict[str, Any]]) -> dict[str, Any]:
    """One ``chat.completion`` holding the choices of several single-choice ones (``n > 1``)."""
    out = completions[0]
    out["choices"] = [choice for one in completions for choice in one["choices"]]
    return out


def chunk(
    *,
    id: str,
    model: str,
    delta: dict[str, Any] | None = None,
    finish_reason: str | None = None,
    usage: Mapping[str, int] | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    """An OpenAI ``chat.completion.chunk`` dict; ``delta=None`` makes a usage-only chunk (no choices)."""
    out: dict[str, Any] = {
        "id": id,
        "object": "chat.completion.chunk",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }
    if usage is not None:
        out["usage"] = dict(usage)
    return out
