"""Alibaba Qwen via DashScope, native protocol (PROTOCOLS.md §2).

``POST {base}/services/aigc/text-generation/generation`` (vision models: ``multimodal-generation``)
with ``{"model", "input": {"messages"}, "parameters": {...}}``; the reply is ``output.choices`` plus
``usage{input_tokens, output_tokens}``. Streams need ``X-DashScope-SSE: enable``; events are
``id:/event:result/data:`` with ``finish_reason: "null"`` until the end and no ``[DONE]``. Text is
cumulative unless ``incremental_output`` is on (we turn it on, but read both). Errors are
``{"code", "message", "request_id"}`` — also inside HTTP 200 bodies and as ``event:error``.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic_core import from_json

from .. import errors
from ..catalog import Range
from ..streaming import SSEEvent
from . import structured
from .base import Adapter, StreamTranslator, WireRequest, body_summary, completion, merged

if TYPE_CHECKING:
    import httpx2

__all__ = ["DashScopeAdapter", "classify"]

TEXT_PATH = "/services/aigc/text-generation/generation"
MULTIMODAL_PATH = "/services/aigc/multimodal-generation/generation"
EMBEDDINGS_PATH = "/services/embeddings/text-embedding/text-embedding"
# model names served only by the multimodal path (litellm common_utils); catalog "vision" also counts
MULTIMODAL_MARKERS = ("-vl", "qvq")

# documented ranges; a preset's Quirks.ranges override these
RANGES: Mapping[str, Range] = {
    "temperature": Range(0, 2, high_open=True),
    "top_p": Range(0, 1, low_open=True),
}
# OpenAI create() parameters the native API has no field for: dropped (lenient) or refused (strict)
UNSUPPORTED = frozenset({
    "frequency_penalty", "logit_bias", "user", "modalities", "audio", "prediction", "reasoning_effort",
    "service_tier", "store", "metadata", "web_search_options", "verbosity", "prompt_cache_key",
    "safety_identifier", "function_call", "functions",
})
_OURS = frozenset({"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens"})

# wire code -> (kind, HTTP status it stands for); the longest matching prefix wins (dashscope v2/errors.py)
CODES: Mapping[str, tuple[errors.ErrorKind, int]] = {
    "InvalidApiKey": ("auth", 401),
    "Throttling": ("rate_limit", 429),
    "DataInspectionFailed": ("content_filter", 400),
    "data_inspection_failed": ("content_filter", 400),
    "Arrearage": ("quota", 400),
    "AccessDenied": ("permission", 403),
    "Model.AccessDenied": ("permission", 403),
    "Model.NotExist": ("not_found", 404),
    "ModelNotFound": ("not_found", 404),
    "InvalidParameter": ("bad_request", 400),
    "InternalError.Algo.InvalidParameter": ("bad_request", 400),
    "InternalError": ("server_error", 500),
    "SystemError": ("server_error", 500),
    "ServiceUnavailable": ("server_error", 503),
    "GatewayTimeout": ("server_error", 504),
    "RequestTimeOut": ("server_error", 504),
}
# InvalidParameter is generic: context overflow is told by its message (qwen-free-api#23)
CONTEXT_PATTERNS = ("range of input length", "input length should be", "maximum context length",
                    "context length", "prompt is too long")
FINISH: Mapping[str, str] = {"stop": "stop", "length": "length", "tool_calls": "tool_calls",
                             "content_filter": "content_filter"}


def classify(code: Any, message: str, status: int | None) -> tuple[errors.ErrorKind, int]:
    """(kind, HTTP status) of a DashScope error; ``status`` is the HTTP status when it was not 200."""
    text = str(code or "")
    if "DataInspectionFailed" in text or "data_inspection_failed" in text:
        return "content_filter", 400
    matches = [key for key in CODES if text == key or text.startswith(key + ".")]
    found = CODES[max(matches, key=len)] if matches else None
    if found and found[0] in ("auth", "rate_limit", "permission", "quota"):
        return found
    lowered = message.lower()
    if any(needle in lowered for needle in CONTEXT_PATTERNS):
        return "context_window", 400
    if found:
        return found
    fallback = status if status and status >= 400 else 500
    return errors.kind_for_status(fallback), fallback


class DashScopeAdapter(Adapter):
    protocol: ClassVar[str] = "dashscope"

    # -- requests -------------------------------------------------------------------------
    def chat_request(self, params: dict[str, Any], *, stream: bool) -> WireRequest:
        model = str(params["model"])
        if "response_format" in params:
            params = self.response_format(params, model)
        messages = list(params.get("messages") or [])
        multimodal = self.multimodal(model, messages)
        convert = _mm_message if multimodal else _text_message
        parameters: dict[str, Any] = {"result_format": "message"}
        max_tokens = params.get("max_completion_tokens") or params.get("max_tokens")
        if max_tokens is not None:
            parameters["max_tokens"] = max_tokens
        for name, value in params.items():
            if name in _OURS or value is None:
                continue
            if name in UNSUPPORTED:
                self.unsupported(f"parameter {name!r} is not supported by the DashScope native API", model)
                continue
            parameters[name] = value  # OpenAI names DashScope shares, and vendor extras (enable_search, …)
        if stream:
            parameters.setdefault("incremental_output", True)
        else:
            parameters.pop("incremental_output", None)
        self.fit_ranges(parameters, {**RANGES, **self.provider.preset.quirks.ranges}, model)
        native = [convert(m) for m in messages]
        body = {"model": model, "input": {"messages": native}, "parameters": parameters}
        headers = self.bearer_headers()
        if stream:
            headers["X-DashScope-SSE"] = "enable"
        path = MULTIMODAL_PATH if multimodal else TEXT_PATH
        return WireRequest("POST", self.url(path), headers, body, stream=stream)

    def response_format(self, params: dict[str, Any], model: str) -> dict[str, Any]:
        """``parameters.response_format`` takes ``{"type": "json_object"}`` (json_schema only on some
        newer models), so a schema travels in the system prompt beside JSON mode."""
        adjusted, kind = structured.prepared(self, params, "json_object", model)
        if kind is not None:
            adjusted["response_format"] = {"type": kind}
        return adjusted

    def multimodal(self, model: str, messages: list[Any]) -> bool:
        """Vision-language models live on another path; images in the prompt also imply one."""
        info = self.provider.model_info(model)
        if info is not None and info.supports("vision"):
            return True
        if any(marker in model.lower() for marker in MULTIMODAL_MARKERS):
            return True
        return any(isinstance(m, dict) and isinstance(m.get("content"), list)
                   and any(isinstance(p, dict) and p.get("type") == "image_url" for p in m["content"])
                   for m in messages)

    def embeddings_request(self, params: dict[str, Any]) -> WireRequest:
        model = str(params["model"])
        inputs = params.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        if not all(isinstance(t, str) for t in texts):
            raise self.rejected("DashScope embeddings take text only, not token ids", model)
        if params.get("encoding_format") not in (None, "float"):
            self.unsupported("DashScope returns float embeddings only (encoding_format='float')", model)
        parameters: dict[str, Any] = {}
        if params.get("dimensions"):
            parameters["dimension"] = params["dimensions"]
        for name in ("text_type", "output_type"):
            if params.get(name):
                parameters[name] = params[name]
        body: dict[str, Any] = {"model": model, "input": {"texts": texts}}
        if parameters:
            body["parameters"] = parameters
        return WireRequest("POST", self.url(EMBEDDINGS_PATH), self.bearer_headers(), body)


    # -- responses ------------------------------------------------------------------------
    def parse_chat(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        body = self.read_json(response, model)
        self.raise_for_body(response, body, model)
        output = body.get("output") if isinstance(body, dict) else None
        if not isinstance(output, dict):
            raise self.error("server_error", f"unexpected response body: {str(body)[:200]}", response, model,
                             body=body, status_code=502)
        rid = str(body.get("request_id") or _new_id())
        usage = _usage(body.get("usage"))
        choices = output.get("choices")
        if not isinstance(choices, list) or not choices:  # result_format "text"
            finish = _finish(output.get("finish_reason"), False) or "stop"
            return completion(id=rid, model=model, content=_text(output.get("text")), finish_reason=finish,
                              usage=usage)
        parts: list[dict[str, Any]] = []
        for position, choice in enumerate(choices):
            message = choice.get("message") or {}
            calls = _tool_calls(message.get("tool_calls"))
            reasoning = message.get("reasoning_content")
            content = _text(message.get("content")) or (None if calls else "")
            one = completion(id=rid, model=model, content=content, usage=usage,
                             finish_reason=_finish(choice.get("finish_reason"), bool(calls)) or "stop",
                             tool_calls=calls,
                             reasoning_content=reasoning if isinstance(reasoning, str) else None)
            one["choices"][0]["index"] = int(choice.get("index") or position)
            parts.append(one)
        return merged(parts)

    def parse_embeddings(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        body = self.read_json(response, model)
        self.raise_for_body(response, body, model)
        output = body.get("output") if isinstance(body, dict) else None
        items = output.get("embeddings") if isinstance(output, dict) else None
        if not isinstance(items, list):
            raise self.error("server_error", f"unexpected embeddings body: {str(body)[:200]}", response,
                             model, body=body, status_code=502)
        items = sorted(items, key=lambda item: int(item.get("text_index") or 0))
        tokens = int((body.get("usage") or {}).get("total_tokens") or 0)
        return {"object": "list", "model": model,
                "data": [{"object": "embedding", "index": i, "embedding": item.get("embedding") or []}
                         for i, item in enumerate(items)],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    def stream_translator(self, response: httpx2.Response, model: str) -> StreamTranslator:
        return DashScopeStream(self, response, model)

    def parse_error(self, response: httpx2.Response, model: str) -> errors.APIStatusError:
        body = self.read_json(response, model, strict=False)
        code, message = _error_fields(body)
        if message is None:
            message = body_summary(response)
        kind, _ = classify(code, message, response.status_code)
        return self.error(kind, message, response, model, body=body, code=code)

    def raise_for_body(self, response: httpx2.Response, body: Any, model: str) -> None:
        """A 2xx body (or stream event) carrying ``code``/``message`` instead of ``output``."""
        if not isinstance(body, dict) or body.get("output") or not (body.get("code") or body.get("error")):
            return
        code, message = _error_fields(body)
        message = message or f"error code {code}"
        kind, status = classify(code, message, None)
        raise self.error(kind, message, response, model, body=body, code=code, status_code=status)


class DashScopeStream(StreamTranslator):
    """Reads incremental or cumulative events alike.

    The request says which to expect; the data decides: once a field has text, the next non-empty
    value either extends it (cumulative: send only the new suffix) or not (incremental). The choice
    is made once per stream. An incremental piece that happens to repeat the whole text before it
    and add more (``"ha"``, ``"haha"``) is indistinguishable from cumulative output.
    """

    adapter: DashScopeAdapter

    def __init__(self, adapter: DashScopeAdapter, response: httpx2.Response, model: str) -> None:
        super().__init__(adapter, response, model)
        self.id = _new_id()
        self.created = int(time.time())
        self.expect_incremental = _requested_incremental(response)
        self.cumulative: bool | None = None  # decided by the data, once
        self.seen: dict[Any, str] = {}
        self.call_ids: dict[int, str] = {}
        self.started = False

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        data = event.data.strip()
        if not data:
            return []
        try:  # the base class's decode, minus a method call per chunk; it reports the failure
            obj = from_json(data)
        except ValueError:
            obj = self.decode(data)
        if not isinstance(obj, dict):
            return []  # no error envelope, no output: nothing to say
        if event.event == "error":
            code, text = _error_fields(obj)
            text = text or f"error code {code}"
            kind, status = classify(code, text, None)
            raise self.adapter.error(kind, text, self.response, self.model, body=obj, code=code,
                                     status_code=status)
        if "code" in obj or "error" in obj:  # only these keys make an error envelope
            self.adapter.raise_for_body(self.response, obj, self.model)
        output = obj.get("output")
        if not isinstance(output, dict):
            return []
        request_id = obj.get("request_id")
        if request_id:
            self.id = str(request_id)
        choices = output.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else output
        message: dict[str, Any] = choice["message"] if isinstance(choice.get("message"), dict) else choice
        delta: dict[str, Any] = {}
        if not self.started:
            self.started = True
            delta["role"] = "assistant"
        content = message.get("content") if "content" in message else message.get("text")
        if content:
            text = self._advance("content", content if isinstance(content, str) else _text(content) or "")
            if text:
                delta["content"] = text
        reasoning = message.get("reasoning_content")
        if reasoning and isinstance(reasoning, str):
            thought = self._advance("reasoning", reasoning)
            if thought:
                delta["reasoning_content"] = thought
        raw_calls = message.get("tool_calls")
        if raw_calls:
            calls = self._tool_calls(raw_calls)
            if calls:
                delta["tool_calls"] = calls
        out = [self._chunk(delta)] if delta else []
        reason = choice.get("finish_reason")
        if reason and reason != "null":  # "null" (a string) means not finished yet
            finish = _finish(reason, bool(self.call_ids))
            if finish:
                last = self._chunk({}, finish)
                if "usage" in obj:
                    usage = _usage(obj["usage"])
                    if usage is not None:
                        last["usage"] = usage
                out.append(last)
                self.complete = True
        return out

    def _advance(self, key: Any, value: str) -> str:
        """The new part of a field's text, whichever way the server sends it."""
        prev = self.seen.get(key, "")
        if not value:
            return ""
        if self.cumulative is None and prev:
            extends = value.startswith(prev)
            # asked for incremental: an equal repeat is more likely a repeated token than a stall
            strict = self.expect_incremental is not False
            self.cumulative = extends and (len(value) > len(prev) or not strict)
        if not self.cumulative:
            self.seen[key] = prev + value
            return value
        common = len(prev) if value.startswith(prev) else _common_prefix(prev, value)
        self.seen[key] = value
        return value[common:]

    def _tool_calls(self, raw: Any) -> list[dict[str, Any]]:
        out = []
        for position, call in enumerate(raw or []):
            if not isinstance(call, dict):
                continue
            index = int(call.get("index", position) or 0)
            function = call.get("function") or {}
            arguments = function.get("arguments") or ""
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments, ensure_ascii=False)
            piece = self._advance(("arguments", index), arguments)
            if index not in self.call_ids:
                self.call_ids[index] = call.get("id") or _call_id()
                out.append({"index": index, "id": self.call_ids[index], "type": "function",
                            "function": {"name": function.get("name") or "", "arguments": piece}})
            elif piece:
                out.append({"index": index, "function": {"arguments": piece}})
        return out

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }


# -- translation helpers ---------------------------------------------------------------------------
def _text_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A message for text models: system stays a message; content is one string."""
    out = _common(message)
    content = message.get("content")
    if isinstance(content, list):
        content = "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p)
    out["content"] = "" if content is None else content
    return out


def _mm_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A message for vision models: content is a list of ``{"text"}`` / ``{"image"}`` items."""
    out = _common(message)
    content = message.get("content")
    if content is None:
        out["content"] = []
    elif isinstance(content, str):
        out["content"] = [{"text": content}]
    else:
        out["content"] = [_mm_part(part) for part in content]
    return out


def _mm_part(part: Any) -> Any:
    if not isinstance(part, dict):
        return {"text": str(part)}
    kind = part.get("type")
    if kind == "text":
        return {"text": part.get("text", "")}
    if kind == "image_url":
        image = part.get("image_url")
        return {"image": image.get("url") if isinstance(image, dict) else image}
    if kind == "input_audio" and isinstance(part.get("input_audio"), dict):
        audio = part["input_audio"]
        return {"audio": f"data:audio/{audio.get('format', 'wav')};base64,{audio.get('data', '')}"}
    return part


def _common(message: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in message.items() if v is not None and k not in ("content", "reasoning_content")}
    if out.get("role") == "developer":
        out["role"] = "system"
    return out


def _text(content: Any) -> str | None:
    """Content is a string (text models) or a list of ``{"text": …}`` items (vision models)."""
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else None


def _tool_calls(raw: Any) -> list[dict[str, Any]]:
    out = []
    for call in raw or []:
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        arguments = function.get("arguments", "")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        out.append({"id": call.get("id") or _call_id(), "type": "function",
                    "function": {"name": function.get("name", ""), "arguments": arguments}})
    return out


def _finish(reason: Any, has_calls: bool) -> str | None:
    """OpenAI's finish reason; ``"null"`` (a string) means not finished yet."""
    if not reason or reason == "null":
        return None
    mapped = FINISH.get(str(reason), "stop")
    return "tool_calls" if has_calls and mapped == "stop" else mapped


def _usage(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    prompt = int(raw.get("input_tokens") or raw.get("prompt_tokens") or 0)
    completion_tokens = int(raw.get("output_tokens") or raw.get("completion_tokens") or 0)
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion_tokens,
                             "total_tokens": int(raw.get("total_tokens") or prompt + completion_tokens)}
    cached = (raw.get("prompt_tokens_details") or {}).get("cached_tokens")
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": int(cached)}
    reasoning = (raw.get("output_tokens_details") or {}).get("reasoning_tokens")
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": int(reasoning)}
    return usage


def _error_fields(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from ``{code, message}`` or a compat-style ``{error: {code, message}}``."""
    if not isinstance(body, dict):
        return None, None
    err: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else body
    code, message = err.get("code"), err.get("message")
    return (str(code) if code else None), (str(message) if message else None)


def _requested_incremental(response: httpx2.Response) -> bool | None:
    """What the request we sent asked for (DashScope's default is cumulative); None if unknown."""
    try:
        body = json.loads(response.request.content or b"null")
    except (RuntimeError, ValueError):
        return None
    if not isinstance(body, dict):
        return None
    return bool((body.get("parameters") or {}).get("incremental_output", False))


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _new_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def _call_id() -> str:
    return f"call_{secrets.token_hex(12)}"
