"""Zhipu GLM v4 (PROTOCOLS.md §5): OpenAI's wire format plus JWT auth, business codes and finish reasons.

The request is OpenAI's; what differs is how it is signed (an ``id.secret`` key minted into a
short-lived JWT, or sent raw with ``auth_mode: bearer``), how failures are named (four-digit business
codes that tell "prompt too long" from "blocked content" although both are HTTP 400), and two extra
finish reasons. Responses lack ``object``; chunks carry usage at top level on the final chunk.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from .. import errors
from ..auth import ZhipuJWTAuth
from ..catalog.zhipu import ERROR_CODES
from ..streaming import SSEEvent
from .base import Provider, StreamTranslator, WireRequest
from .openai import OpenAIAdapter, OpenAIStream

if TYPE_CHECKING:
    import httpx2

__all__ = ["ERROR_FINISH_REASONS", "FINISH_REASONS", "ZhipuAdapter"]

#: Zhipu finish reasons → OpenAI's: ``sensitive`` means moderation cut the output (UNCONFIRMED).
FINISH_REASONS: dict[str, str] = {"sensitive": "content_filter"}
#: finish reasons that mean the answer failed: raised as this kind (a stream is interrupted) (UNCONFIRMED)
ERROR_FINISH_REASONS: dict[str, errors.ErrorKind] = {"network_error": "server_error"}

# the HTTP status a failure class stands for when Zhipu reports it inside an HTTP 200
_KIND_STATUS: dict[str, int] = {"auth": 401, "permission": 403, "not_found": 404, "rate_limit": 429,
                                "quota": 402, "timeout": 408, "server_error": 500}
_EMBEDDINGS_DROP = frozenset({"encoding_format", "user"})  # not in Zhipu's embeddings API


class ZhipuAdapter(OpenAIAdapter):
    protocol: ClassVar[str] = "zhipu"

    def __init__(self, provider: Provider) -> None:
        super().__init__(provider)
        mode = str(provider.option("auth_mode", "jwt"))
        if mode not in ("jwt", "bearer"):
            raise errors.ConfigError(
                f"provider {provider.name!r}: auth_mode must be 'jwt' or 'bearer', not {mode!r}")
        self._codes: dict[str, str] = {**ERROR_CODES, **provider.preset.quirks.error_codes}
        key = provider.credentials.get("api_key")
        self._jwt: ZhipuJWTAuth | None = None
        # a key that is not "<id>.<secret>" cannot be signed: it goes out raw and the vendor judges it
        if mode == "jwt" and key and _signable(key.get()):
            self._jwt = ZhipuJWTAuth(key, ttl_ms=int(provider.option("jwt_ttl_ms", 210_000)))

    # -- requests -------------------------------------------------------------------------
    def auth(self) -> httpx2.Auth | None:
        """The JWT signer (one per adapter, so the token is reused until shortly before expiry)."""
        return self._jwt

    def bearer_headers(self, key_name: str = "api_key") -> dict[str, str]:
        headers = dict(self.provider.headers)
        key = self.provider.credential(key_name)
        if key and self._jwt is None:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def embeddings_request(self, params: dict[str, Any]) -> WireRequest:
        return super().embeddings_request({k: v for k, v in params.items() if k not in _EMBEDDINGS_DROP})

    # -- responses ------------------------------------------------------------------------
    def parse_chat(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        data = self.read_json(response, model)
        if not isinstance(data, dict) or data.get("error") is not None or not data.get("choices"):
            raise self.error_in_body(response, data, model)
        _complete(data, "chat.completion", model)
        for index, choice in enumerate(data["choices"]):
            choice.setdefault("index", index)
            choice.setdefault("logprobs", None)
            choice["finish_reason"] = self.finish_reason(choice.get("finish_reason"), response, model, data)
            message = choice.get("message")
            if isinstance(message, dict) and isinstance(message.get("tool_calls"), list):
                message["tool_calls"] = [_without_index(call) for call in message["tool_calls"]]
        return data

    def parse_embeddings(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        data = super().parse_embeddings(response, model)
        data.setdefault("object", "list")
        data.setdefault("model", model)
        for index, item in enumerate(data["data"]):
            item.setdefault("object", "embedding")
            item.setdefault("index", index)
        return data

    def stream_translator(self, response: httpx2.Response, model: str) -> StreamTranslator:
        return ZhipuStream(self, response, model)

    def finish_reason(self, reason: Any, response: httpx2.Response, model: str, body: Any) -> Any:
        """OpenAI's name for a Zhipu finish reason; a failure reason raises instead."""
        if reason in ERROR_FINISH_REASONS:
            kind = ERROR_FINISH_REASONS[reason]
            raise self.error(kind, f"generation failed (finish_reason {reason!r})", response, model,
                             body=body, status_code=_KIND_STATUS.get(kind, 500))
        return FINISH_REASONS.get(reason, reason) if isinstance(reason, str) else reason

    def _classified(self, response: httpx2.Response, body: Any, model: str,
                    status: int) -> errors.APIStatusError:
        """The business code tells context from filter within a 400 and names errors inside a 200;
        a specific HTTP error status (401, 402, 404, 429, 5xx…) keeps its own meaning."""
        err = body.get("error") if isinstance(body, dict) else None
        code = err.get("code") if isinstance(err, dict) else None
        kind = self._codes.get(str(code)) if code is not None else None
        if kind is None or not isinstance(err, dict):
            return super()._classified(response, body, model, status)
        message = str(err.get("message") or f"Zhipu error {code}")
        in_200 = response.status_code < 400
        by_status = errors.kind_for_status(response.status_code)
        refines = kind == "quota" and by_status == "rate_limit"  # arrears come as a 429
        if not in_200 and by_status not in ("bad_request", "other") and not refines:
            return self.error(by_status, message, response, model, body=body, code=code)
        return self.error(kind, message, response, model, body=body, code=code,  # type: ignore[arg-type]
                          status_code=_KIND_STATUS.get(kind, 400) if in_200 else None)


class ZhipuStream(OpenAIStream):
    """OpenAI's stream handling, with Zhipu's finish reasons and its chunks completed to OpenAI's shape."""

    adapter: ZhipuAdapter

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        chunks = super().feed(event)
        for obj in chunks:
            _complete(obj, "chat.completion.chunk", self.model)
            for index, choice in enumerate(obj.get("choices") or []):
                choice.setdefault("index", index)
                if choice.get("finish_reason"):
                    choice["finish_reason"] = self.adapter.finish_reason(
                        choice["finish_reason"], self.response, self.model, obj)
                delta = choice.get("delta")
                calls = delta.get("tool_calls") if isinstance(delta, dict) else None
                if isinstance(calls, list):
                    for position, call in enumerate(calls):
                        if isinstance(call, dict):
                            call.setdefault("index", position)
        return chunks


def _signable(key: str) -> bool:
    key_id, sep, secret = key.partition(".")
    return bool(sep and key_id and secret)


def _complete(obj: dict[str, Any], kind: str, model: str) -> None:
    """Zhipu omits ``object`` (and may omit ``created``); OpenAI's types require them."""
    obj.setdefault("object", kind)
    obj.setdefault("created", int(time.time()))
    obj.setdefault("model", model)
    obj.setdefault("id", obj.get("request_id") or "chatcmpl-zhipu")


def _without_index(call: Any) -> Any:
    if isinstance(call, dict) and "index" in call:
        return {k: v for k, v in call.items() if k != "index"}
    return call
