"""The OpenAI protocol and its dialects (every OpenAI-compatible vendor, Azure, the mock type).

Requests pass through nearly untouched; the preset's :class:`~llmswitch.catalog.Quirks` say
what to rename, drop, clamp or reject, and how the vendor's responses deviate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .. import errors
from ..catalog import Quirks
from ..streaming import SSEEvent
from . import structured
from .base import Adapter, StreamTranslator, WireRequest, body_summary

if TYPE_CHECKING:
    import httpx2

__all__ = ["AzureAdapter", "OpenAIAdapter", "classify_error"]

# how OpenAI-compatible vendors say "context too long" or "blocked", when the status does not
_COMMON_CODES: dict[str, str] = {
    "context_length_exceeded": "context_window",
    "string_above_max_length": "context_window",
    "tokens_too_long": "context_window",
    "characters_too_long": "context_window",
    "content_filter": "content_filter",
    "content_policy_violation": "content_filter",
    "data_inspection_failed": "content_filter",
    "insufficient_quota": "quota",
}
_COMMON_PATTERNS: tuple[tuple[str, str], ...] = (
    ("maximum context length", "context_window"),
    ("context length", "context_window"),
    ("context window", "context_window"),
    ("prompt is too long", "context_window"),
    ("too many tokens", "context_window"),
    ("content management policy", "content_filter"),
    ("content filter", "content_filter"),
    ("inappropriate content", "content_filter"),
)


def classify_error(status: int, code: object, message: str, quirks: Quirks) -> errors.ErrorKind:
    """The failure class: vendor code table first, then message patterns, then the HTTP status."""
    base = errors.kind_for_status(status)
    if status >= 500 or status in (401, 403):
        return base
    key = str(code) if code is not None else ""
    for table in (quirks.error_codes, _COMMON_CODES):
        if key and key in table:
            found = table[key]
            # a 429 keeps its meaning unless the code says which rate limit: quota (insufficient_quota)
            return found if status != 429 or found == "quota" else base  # type: ignore[return-value]
    if status == 429:
        return base
    lowered = message.lower()
    for patterns in (quirks.error_patterns, _COMMON_PATTERNS):
        for needle, kind in patterns:
            if needle in lowered:
                return kind  # type: ignore[return-value]
    return base


class OpenAIAdapter(Adapter):
    protocol: ClassVar[str] = "openai"
    chat_path: ClassVar[str] = "/chat/completions"
    embeddings_path: ClassVar[str] = "/embeddings"

    # -- requests -------------------------------------------------------------------------
    def chat_request(self, params: dict[str, Any], *, stream: bool) -> WireRequest:
        body = self.adjust(params)
        if stream:
            body["stream"] = True
            if not self.provider.preset.quirks.stream_options:
                body.pop("stream_options", None)
        else:
            body.pop("stream_options", None)
        return WireRequest("POST", self.chat_url(body["model"]), self.bearer_headers(), body, stream=stream)

    def embeddings_request(self, params: dict[str, Any]) -> WireRequest:
        if not self.provider.preset.quirks.embeddings:
            return super().embeddings_request(params)
        return WireRequest("POST", self.embeddings_url(params["model"]), self.bearer_headers(), dict(params))

    def chat_url(self, model: str) -> str:
        return self.url(self.chat_path)

    def embeddings_url(self, model: str) -> str:
        return self.url(self.embeddings_path)

    def adjust(self, params: dict[str, Any]) -> dict[str, Any]:
        """Apply the preset's quirks to a request body: rename, drop/reject, clamp/reject."""
        quirks = self.provider.preset.quirks
        body = dict(params)
        model = str(body.get("model"))
        if "response_format" in body:
            self.response_format(body, model)
        for name in quirks.unsupported & body.keys():
            if self.provider.strict:
                raise self.rejected(f"parameter {name!r} is not supported", model)
            del body[name]
        for name, values in quirks.unsupported_values.items():
            value = body.get(name)
            if isinstance(value, str) and value in values:
                if self.provider.strict:
                    raise self.rejected(f"{name}={value!r} is not supported", model)
                del body[name]
        for name, accepted in quirks.ranges.items():
            value = body.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                body[name] = self.fit_range(name, value, accepted, model)
        for old, new in quirks.rename.items():
            if old in body:
                value = body.pop(old)
                body.setdefault(new, value)
        if not quirks.echo_reasoning and "messages" in body:
            body["messages"] = _without_reasoning(body["messages"])
        return body

    def response_format(self, body: dict[str, Any], model: str) -> None:
        """A JSON ``response_format`` in the form the dialect takes (``Quirks.structured``), in place."""
        quirks = self.provider.preset.quirks
        support = "prompt" if "response_format" in quirks.unsupported else quirks.structured
        if support == "json_schema":
            return
        adjusted, kind = structured.prepared(self, body, support, model)
        if adjusted is body:  # text, or not a JSON format: the caller's value stands
            return
        body["messages"] = adjusted["messages"]
        if kind is None:
            del body["response_format"]
        else:
            body["response_format"] = {"type": kind}

    # -- responses ------------------------------------------------------------------------
    def parse_chat(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        data = self.read_json(response, model)
        if not isinstance(data, dict) or not data.get("choices") or self.envelope_status(data):
            raise self.error_in_body(response, data, model)
        field = self.provider.preset.quirks.reasoning_field
        if field:
            for choice in data["choices"]:
                _rename(choice.get("message"), field)
        return data

    def parse_embeddings(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        data = self.read_json(response, model)
        if not isinstance(data, dict) or "data" not in data:
            raise self.error_in_body(response, data, model)
        return data

    def stream_translator(self, response: httpx2.Response, model: str) -> StreamTranslator:
        return OpenAIStream(self, response, model)

    def parse_error(self, response: httpx2.Response, model: str) -> errors.APIStatusError:
        body = self.read_json(response, model, strict=False)
        return self._classified(response, body, model, response.status_code)

    def error_in_body(self, response: httpx2.Response, body: Any, model: str) -> errors.APIStatusError:
        """A 2xx whose body is an error envelope, or not a completion at all."""
        err = body.get("error") if isinstance(body, dict) else None
        code = self.envelope_status(body)
        if err is None and code:
            envelope = body[self.provider.preset.quirks.status_envelope]
            message = str(envelope.get("status_msg") or envelope.get("message") or f"error {code}")
            kind = classify_error(400, code, message, self.provider.preset.quirks)
            return self.error(kind, message, response, model, body=body, code=code,
                              status_code=_KIND_STATUS.get(kind, 400))
        if err is None:
            text = str(body)[:200]
            return self.error("server_error", f"unexpected response body: {text}", response, model, body=body,
                              status_code=502)
        status = _status_of(err)
        return self._classified(response, body, model, status)

    def envelope_status(self, body: Any) -> int:
        """Non-zero when the preset's status envelope (e.g. base_resp) reports a failure."""
        name = self.provider.preset.quirks.status_envelope
        envelope = body.get(name) if name and isinstance(body, dict) else None
        if not isinstance(envelope, dict):
            return 0
        try:
            return int(envelope.get("status_code") or 0)
        except (TypeError, ValueError):
            return -1

    def _classified(self, response: httpx2.Response, body: Any, model: str, status: int) -> errors.APIStatusError:
        err = body.get("error") if isinstance(body, dict) else None
        code: Any = None
        if isinstance(err, dict):
            code = err.get("code") or err.get("type")
            message = str(err.get("message") or err)
        elif isinstance(err, str):
            message = err
        elif isinstance(body, dict) and isinstance(body.get("message"), str):
            message, code = body["message"], body.get("code")
        else:
            message = body_summary(response)
        kind = classify_error(status, code, message, self.provider.preset.quirks)
        status_code = status if status != response.status_code else None
        return self.error(kind, message, response, model, body=body, code=code, status_code=status_code)


class OpenAIStream(StreamTranslator):
    adapter: OpenAIAdapter

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        data = event.data
        if data == "[DONE]":
            self.complete = True
            return []
        if not data:
            return []
        obj = self.decode(data)
        if not isinstance(obj, dict):
            return []
        if ("error" in obj or self.adapter.envelope_status(obj)) and not obj.get("choices"):
            raise self.adapter.error_in_body(self.response, obj, self.model)
        quirks = self.adapter.provider.preset.quirks
        choices = obj.get("choices")
        if choices and all("message" in c and "delta" not in c for c in choices):
            obj["choices"] = choices = []  # a closing summary repeating the answer (MiniMax): keep its usage
        if choices:
            first = choices[0]
            if quirks.usage_in_choice and "usage" in first and not obj.get("usage"):
                obj["usage"] = first.pop("usage")
            for choice in choices:
                reason = choice.get("finish_reason")
                if reason:
                    self.complete = True
                elif reason == "" and quirks.empty_finish_reason:
                    choice["finish_reason"] = None
                if quirks.reasoning_field:
                    _rename(choice.get("delta"), quirks.reasoning_field)
        return [obj]


class AzureAdapter(OpenAIAdapter):
    """Azure OpenAI: the deployment (our ``model``) is in the URL, ``api-version`` in the query."""

    protocol: ClassVar[str] = "azure"

    def chat_request(self, params: dict[str, Any], *, stream: bool) -> WireRequest:
        wire = super().chat_request(params, stream=stream)
        wire.params = {"api-version": str(self.provider.option("api_version"))}
        return wire

    def embeddings_request(self, params: dict[str, Any]) -> WireRequest:
        wire = super().embeddings_request(params)
        wire.params = {"api-version": str(self.provider.option("api_version"))}
        return wire

    def chat_url(self, model: str) -> str:
        return self.url(f"/openai/deployments/{model}/chat/completions")

    def embeddings_url(self, model: str) -> str:
        return self.url(f"/openai/deployments/{model}/embeddings")


_KIND_STATUS = {"rate_limit": 429, "auth": 401, "permission": 403, "quota": 402, "timeout": 408,
                "server_error": 500, "not_found": 404}


def _status_of(err: Any) -> int:
    """HTTP status an error envelope inside a 200 stands for (OpenAI-style bodies carry none)."""
    if isinstance(err, dict):
        for key in ("status", "http_status", "status_code"):
            value = err.get(key)
            if isinstance(value, int) and 400 <= value < 600:
                return value
        etype = str(err.get("type") or "")
        code = str(err.get("code") or "")
        if "rate" in etype or "rate_limit" in code:
            return 429
        if "auth" in etype or code in ("invalid_api_key", "invalid_authentication"):
            return 401
        if "invalid_request" in etype:
            return 400
    return 500


def _rename(message: Any, field: str) -> None:
    if isinstance(message, dict) and field in message:
        message.setdefault("reasoning_content", message.pop(field))


def _without_reasoning(messages: Any) -> Any:
    """Drop ``reasoning_content`` from assistant turns for vendors that reject unknown fields."""
    if not isinstance(messages, list):
        return messages
    out = []
    for message in messages:
        if isinstance(message, dict) and "reasoning_content" in message:
            message = {k: v for k, v in message.items() if k != "reasoning_content"}
        out.append(message)
    return out
