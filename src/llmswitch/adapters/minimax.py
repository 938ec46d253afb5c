"""MiniMax v2 (PROTOCOLS.md §9): OpenAI-shaped chat whose errors hide in ``base_resp``.

Every reply carries ``base_resp{status_code,status_msg}``; a non-zero code is an error even in an
HTTP 200 body or a stream chunk, so nothing here trusts the status line alone. Moderation shows as
``input_sensitive`` (the request was refused: raised) and ``output_sensitive`` (the answer was cut:
finish reason ``content_filter``). A stream ends with an aggregate ``chat.completion`` object that
repeats the whole answer under ``message``; only its usage is taken, the text was already streamed.
Embeddings (embo-01) take ``texts`` + ``type: db|query`` and answer ``vectors``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic_core import from_json

from .. import errors
from ..catalog.minimax import STATUS_CODES
from ..streaming import SSEEvent
from . import structured
from .base import Provider, StreamTranslator, WireRequest, chunk, completion
from .openai import OpenAIAdapter, classify_error

if TYPE_CHECKING:
    import httpx2

__all__ = ["MiniMaxAdapter", "MiniMaxStream"]

# the HTTP status a failure class stands for when MiniMax reports it inside an HTTP 200
_KIND_STATUS: dict[str, int] = {"auth": 401, "permission": 403, "not_found": 404, "rate_limit": 429,
                                "quota": 402, "timeout": 408, "server_error": 500}
_EMBEDDING_TYPES = ("db", "query")
_DELTA_KEYS = ("role", "content", "reasoning_content", "tool_calls")


class MiniMaxAdapter(OpenAIAdapter):
    protocol: ClassVar[str] = "minimax"
    chat_path: ClassVar[str] = "/text/chatcompletion_v2"

    def __init__(self, provider: Provider) -> None:
        super().__init__(provider)
        self._codes: dict[str, str] = {**STATUS_CODES, **provider.preset.quirks.error_codes}

    # -- requests -------------------------------------------------------------------------
    def chat_url(self, model: str) -> str:
        return self.url(str(self.provider.option("chat_path") or self.chat_path))

    def chat_request(self, params: dict[str, Any], *, stream: bool) -> WireRequest:
        wire = super().chat_request(params, stream=stream)
        wire.params = self._query()
        return wire

    def adjust(self, params: dict[str, Any]) -> dict[str, Any]:
        """The preset's quirks, then what a table cannot say: tool_choice none|auto, json_schema only."""
        body = super().adjust(params)
        model = str(body.get("model"))
        if isinstance(body.get("tool_choice"), dict):
            self._drop(body, "tool_choice", "tool_choice naming a function is not supported", model)
        fmt = body.get("response_format")
        if isinstance(fmt, dict) and fmt.get("type") == "json_object":
            self._json_object(body, model)
        elif isinstance(fmt, dict) and fmt.get("type") != "json_schema":
            if fmt.get("type") == "text":
                del body["response_format"]  # the default anyway
            else:
                self._drop(body, "response_format", f"response_format {fmt.get('type')!r} is not supported "
                           "(json_schema only)", model)
        return body

    def _json_object(self, body: dict[str, Any], model: str) -> None:
        """json_schema only: JSON mode is asked for in the system prompt (lenient, warned) or refused."""
        adjusted, _ = structured.prepared(self, body, "prompt", model)
        body["messages"] = adjusted["messages"]
        del body["response_format"]

    def embeddings_request(self, params: dict[str, Any]) -> WireRequest:
        model = str(params["model"])
        inputs = params.get("input")
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise self.rejected("embeddings input must be a string or a list of strings", model)
        kind = params.get("type") or self.provider.option("embeddings_type", "db")
        if kind not in _EMBEDDING_TYPES:
            raise self.rejected(f"embeddings type must be 'db' or 'query', not {kind!r}", model)
        if params.get("dimensions") is not None and self.provider.strict:
            raise self.rejected("parameter 'dimensions' is not supported", model)
        body = {"model": model, "texts": texts, "type": kind}
        return WireRequest("POST", self.url("/embeddings"), self.bearer_headers(), body, params=self._query())

    def _query(self) -> dict[str, str] | None:
        group = self.provider.option("group_id")
        return {"GroupId": str(group)} if group else None

    def _drop(self, body: dict[str, Any], name: str, message: str, model: str) -> None:
        if self.provider.strict:
            raise self.rejected(message, model)
        del body[name]

    # -- responses ------------------------------------------------------------------------
    def parse_chat(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        data = self.read_json(response, model)
        self.check(response, data, model)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self.error("server_error", f"reply without choices: {str(data)[:200]}", response, model,
                             body=data, status_code=502)
        choice = choices[0]
        message = choice.get("message") or {}
        reason = "content_filter" if data.get("output_sensitive") is True else choice.get("finish_reason")
        out = completion(
            id=str(data.get("id") or "chatcmpl-minimax"),
            model=str(data.get("model") or model),
            content=message.get("content"),
            finish_reason=reason,
            tool_calls=message.get("tool_calls") or None,
            reasoning_content=message.get("reasoning_content") or None,
            created=data.get("created") or None,
        )
        if isinstance(data.get("usage"), dict):
            out["usage"] = _usage(data["usage"])
        return out

    def parse_embeddings(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        data = self.read_json(response, model)
        self.check(response, data, model)
        vectors = data.get("vectors")
        if not isinstance(vectors, list):
            raise self.error("server_error", f"embeddings reply without vectors: {str(data)[:200]}", response,
                             model, body=data, status_code=502)
        tokens = int(data.get("total_tokens") or 0)
        return {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def stream_translator(self, response: httpx2.Response, model: str) -> StreamTranslator:
        return MiniMaxStream(self, response, model)

    def parse_error(self, response: httpx2.Response, model: str) -> errors.APIStatusError:
        body = self.read_json(response, model, strict=False)
        code, message = _base_resp(body)
        if code:
            return self.base_resp_error(response, body, model, code, message)
        return super().parse_error(response, model)

    def check(self, response: httpx2.Response, body: Any, model: str) -> None:
        """Raise the error a reply or chunk carries: base_resp, an OpenAI-style envelope, refused input."""
        if not isinstance(body, dict):
            raise self.error("server_error", f"unexpected response body: {str(body)[:200]}", response, model,
                             body=body, status_code=502)
        code, message = _base_resp(body)
        if code:
            raise self.base_resp_error(response, body, model, code, message)
        if body.get("error") is not None:
            raise self.error_in_body(response, body, model)
        if body.get("input_sensitive") is True:
            detail = f" (type {body.get('input_sensitive_type')})" if body.get("input_sensitive_type") else ""
            raise self.error("content_filter", f"input flagged as sensitive{detail}", response, model,
                             body=body, status_code=None if response.status_code >= 400 else 400)

    def base_resp_error(self, response: httpx2.Response, body: Any, model: str, code: int,
                        message: str) -> errors.APIStatusError:
        """A specific HTTP error status (401, 404, 429, 5xx…) wins; inside a 200 or a plain 400 the
        status-code table decides; unknown codes go by message patterns."""
        status = response.status_code
        by_status = errors.kind_for_status(status) if status >= 400 else None
        kind = self._codes.get(str(code))
        if by_status is not None and by_status not in ("bad_request", "other"):
            kind = by_status
        elif kind is None:
            kind = classify_error(status if status >= 400 else 400, code, message, self.provider.preset.quirks)
        in_200 = status < 400
        return self.error(kind, message or f"MiniMax error {code}", response, model,  # type: ignore[arg-type]
                          body=body, code=code, status_code=_KIND_STATUS.get(kind, 400) if in_200 else None)


class MiniMaxStream(StreamTranslator):
    """Deltas pass through; the finish chunk is held until the aggregate brings usage (or EOF)."""

    adapter: MiniMaxAdapter

    def __init__(self, adapter: MiniMaxAdapter, response: httpx2.Response, model: str) -> None:
        super().__init__(adapter, response, model)
        self._id = "chatcmpl-minimax"
        self._created: int | None = None
        self._finish: str | None = None  # finish reason seen, its chunk not yet sent
        self._usage: dict[str, Any] | None = None
        self._streamed = False  # any content or tool call delivered as a delta

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        data = event.data
        if data == "[DONE]":  # not documented for MiniMax, but an OpenAI-style terminator if sent
            self.complete = True
            return self.close()
        if not data:
            return []
        try:  # the base class's decode, minus a method call per chunk; it reports the failure
            obj = from_json(data)
        except ValueError:
            obj = self.decode(data)
        # only a non-dict or one of these keys can make ``check`` raise: test membership first
        if not isinstance(obj, dict) or "base_resp" in obj or "error" in obj or "input_sensitive" in obj:
            self.adapter.check(self.response, obj, self.model)
        obj_id = obj.get("id")
        if obj_id:
            self._id = str(obj_id)
        self._created = obj.get("created") or self._created
        if "usage" in obj:
            raw_usage = obj["usage"]
            if isinstance(raw_usage, dict):
                self._usage = _usage(raw_usage)  # cumulative: the last one counts
        flagged = obj.get("output_sensitive") is True
        out: list[dict[str, Any]] = []
        aggregate = False
        choices = obj.get("choices")
        for choice in choices or ():
            if not isinstance(choice, dict):
                continue
            message = choice.get("message")
            if isinstance(message, dict):
                aggregate = True
                out += self._from_aggregate(message)
            else:
                delta = choice.get("delta")
                if isinstance(delta, dict):
                    out += self._from_delta(delta)
            reason = "content_filter" if flagged else choice.get("finish_reason")
            if reason and self._finish is None:
                self._finish = reason
                self.complete = True
        if aggregate or (not choices and self._usage is not None):
            out += self.close()
        return out

    def close(self) -> list[dict[str, Any]]:
        if self._finish is None:
            return []
        last = self._chunk({}, self._finish)
        if self._usage is not None:
            last["usage"] = self._usage
        self._finish = None
        return [last]

    def _from_delta(self, delta: dict[str, Any]) -> list[dict[str, Any]]:
        clean: dict[str, Any] = {}
        for key in _DELTA_KEYS:
            if key in delta:
                value = delta[key]
                if value is not None and value != "" and value != []:
                    clean[key] = value
        if not clean or (self._streamed and len(clean) == 1 and "role" in clean):
            return []
        calls = clean.get("tool_calls")
        if clean.get("content") or calls:
            self._streamed = True
        if calls:
            for position, call in enumerate(calls):
                if isinstance(call, dict):
                    call.setdefault("index", position)
        return [self._chunk(clean)]

    def _from_aggregate(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """The closing object repeats the answer; deliver it only if no delta did."""
        if self._streamed:
            return []
        delta: dict[str, Any] = {"role": "assistant"}
        if message.get("content"):
            delta["content"] = message["content"]
        calls = message.get("tool_calls")
        if calls:
            delta["tool_calls"] = [dict(call, index=i) for i, call in enumerate(calls)]
        self._streamed = len(delta) > 1
        return [self._chunk(delta)] if self._streamed else []

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return chunk(id=self._id, model=self.model, delta=delta, finish_reason=finish, created=self._created)


def _base_resp(body: Any) -> tuple[int, str]:
    """(status_code, status_msg) of a body's base_resp; (0, "") when absent or fine."""
    base = body.get("base_resp") if isinstance(body, dict) else None
    if not isinstance(base, dict):
        return 0, ""
    try:
        code = int(base.get("status_code") or 0)
    except (TypeError, ValueError):
        code = -1  # present but unreadable: still an error
    return code, str(base.get("status_msg") or "")


def _usage(raw: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's three counts; MiniMax stream aggregates may carry only ``total_tokens``."""
    prompt = int(raw.get("prompt_tokens") or 0)
    total = int(raw.get("total_tokens") or 0)
    completion_tokens = int(raw["completion_tokens"]) if raw.get("completion_tokens") is not None \
        else max(total - prompt, 0)
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion_tokens,
                             "total_tokens": total or prompt + completion_tokens}
    if isinstance(raw.get("completion_tokens_details"), dict):
        usage["completion_tokens_details"] = raw["completion_tokens_details"]
    return usage
