"""Tencent Hunyuan, native API 3.0 (PROTOCOLS.md §4): PascalCase bodies, TC3 signing, 200 errors.

Chat is the ``ChatCompletions`` action and embeddings the ``GetEmbedding`` action, both a POST to
the API root told apart by the ``X-TC-Action`` header; :class:`~llmswitch.auth.TC3Auth` signs the
exact body bytes. Non-stream replies are wrapped in ``Response``; stream events are not. Errors
arrive with HTTP 200 as ``Response.Error{Code,Message}``, and mid-stream as ``ErrorMsg{Code,Msg}``.
Hunyuan has no max-tokens field and truncates over-long input from the front instead of failing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx2

from .. import errors
from ..auth import TC3Auth
from ..catalog.hunyuan import ERROR_CODES
from ..streaming import SSEEvent
from . import structured
from .base import Adapter, Provider, StreamTranslator, WireRequest, chunk, completion

__all__ = ["HunyuanAdapter", "HunyuanStream"]

CHAT_ACTION = "ChatCompletions"
EMBEDDING_ACTION = "GetEmbedding"

#: Hunyuan FinishReason → OpenAI. ``sensitive`` (stream moderation blocked the output) is an
#: in-band content filter, not an error; ``length`` is UNCONFIRMED for this API.
FINISH_REASONS: dict[str, str] = {
    "stop": "stop",
    "sensitive": "content_filter",
    "tool_calls": "tool_calls",
    "length": "length",
}

#: mid-stream ErrorMsg.Code → (kind, HTTP status it stands for): 4000 internal, 4001 model timeout
STREAM_ERROR_CODES: dict[int, tuple[errors.ErrorKind, int]] = {
    4000: ("server_error", 500),
    4001: ("server_error", 504),
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

# OpenAI parameters with a native home, and those that carry nothing worth rejecting over
_MAPPED = frozenset({"model", "messages", "stream", "temperature", "top_p", "seed", "stop", "tools",
                     "tool_choice"})
_HARMLESS = frozenset({"stream_options", "user", "store", "metadata", "service_tier", "parallel_tool_calls"})
_RENAMED = {"temperature": "Temperature", "top_p": "TopP", "seed": "Seed"}


def classify(code: str, message: str, table: Mapping[str, str],
             patterns: tuple[tuple[str, str], ...] = ()) -> tuple[errors.ErrorKind, int]:
    """A Tencent error code's failure class: exact code, then its dotted prefixes, then message."""
    parts = code.split(".")
    kind: str | None = None
    for end in range(len(parts), 0, -1):
        kind = table.get(".".join(parts[:end]))
        if kind is not None:
            break
    if kind in (None, "bad_request"):
        lowered = message.lower()
        kind = next((k for needle, k in patterns if needle in lowered), kind)
    final: errors.ErrorKind = kind or "other"  # type: ignore[assignment]
    status = 504 if code.endswith("Timeout") else _KIND_STATUS.get(final, 400)
    return final, status


class HunyuanAdapter(Adapter):
    protocol: ClassVar[str] = "hunyuan"
    stream_format: ClassVar[str] = "sse"

    def __init__(self, provider: Provider) -> None:
        super().__init__(provider)
        self._auth: TC3Auth | None = None

    # -- requests -------------------------------------------------------------------------
    def chat_request(self, params: dict[str, Any], *, stream: bool) -> WireRequest:
        model = str(params["model"])
        if "response_format" in params:
            params = self.response_format(params, model)
        body: dict[str, Any] = {"Model": model, "Messages": [self._message(m) for m in params["messages"]],
                                "Stream": stream}
        ranges = self.provider.preset.quirks.ranges
        for name, native in _RENAMED.items():
            value = params.get(name)
            if value is None:
                continue
            accepted = ranges.get(name)
            if accepted is not None:
                value = self.fit_range(name, value, accepted, model)
            body[native] = value
        stop = params.get("stop")
        if stop:
            body["Stop"] = [stop] if isinstance(stop, str) else list(stop)
        tools = params.get("tools")
        if tools:
            body["Tools"] = [_tool(t) for t in tools]
            self._tool_choice(params.get("tool_choice"), body, model)
        for name, value in params.items():
            if name in _MAPPED or name in _HARMLESS or value is None:
                continue
            if name[:1].isupper():  # a native field (EnableEnhancement, SearchInfo, …) passes through
                body[name] = value
            elif name == "n" and value == 1:
                continue
            elif self.provider.strict:
                raise self.rejected(f"parameter {name!r} is not supported by Hunyuan", model)
        return WireRequest("POST", self.url("/"), self._headers(CHAT_ACTION), body, stream=stream)

    def response_format(self, params: dict[str, Any], model: str) -> dict[str, Any]:
        """ChatCompletions documents no JSON mode (UNCONFIRMED; hunyuan-compat is the documented way):
        a JSON format becomes an instruction (lenient, with a warning) or is refused (strict)."""
        adjusted, _ = structured.prepared(self, params, "prompt", model)
        return {k: v for k, v in adjusted.items() if k != "response_format"}

    def embeddings_request(self, params: dict[str, Any]) -> WireRequest:
        raw = params.get("input")
        inputs = [raw] if isinstance(raw, str) else list(raw or [])
        model = str(params.get("model"))
        if not inputs or not all(isinstance(text, str) for text in inputs):
            raise self.rejected("GetEmbedding takes text input only (no token arrays)", model)
        if self.provider.strict and params.get("dimensions") is not None:
            raise self.rejected("parameter 'dimensions' is not supported by Hunyuan", model)
        # one text: Input (SDK); several: InputList (one-api; UNCONFIRMED in the official SDK read)
        body: dict[str, Any] = {"Input": inputs[0]} if len(inputs) == 1 else {"InputList": inputs}
        return WireRequest("POST", self.url("/"), self._headers(EMBEDDING_ACTION), body)

    def auth(self) -> httpx2.Auth | None:
        if self._auth is None:
            creds = self.provider.credentials
            secret_id, secret_key = creds.get("secret_id"), creds.get("secret_key")
            if not secret_id or not secret_key:
                raise errors.ConfigError(
                    f"provider {self.provider.name!r} (hunyuan) needs secret_id and secret_key")
            self._auth = TC3Auth(
                secret_id,
                secret_key,
                version=str(self.provider.option("version") or "2023-09-01"),
                region=self.provider.option("region"),
                token=creds.get("token"),
                sign_action=bool(self.provider.option("sign_action")),
            )
        return self._auth

    def url(self, path: str) -> str:
        return self.provider.base_url.rstrip("/") + path

    def _headers(self, action: str) -> dict[str, str]:
        headers = dict(self.provider.headers)
        headers["Content-Type"] = "application/json"
        headers["X-TC-Action"] = action
        headers["X-TC-Version"] = str(self.provider.option("version") or "2023-09-01")
        return headers

    def _message(self, message: Mapping[str, Any]) -> dict[str, Any]:
        role = str(message.get("role"))
        role = {"developer": "system", "function": "tool"}.get(role, role)
        out: dict[str, Any] = {"Role": role}
        content = message.get("content")
        if isinstance(content, list):
            if any(isinstance(p, Mapping) and p.get("type") == "image_url" for p in content):
                out["Contents"] = [_part(p) for p in content if isinstance(p, Mapping)]
            else:
                out["Content"] = "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
        else:
            out["Content"] = "" if content is None else str(content)
        calls = message.get("tool_calls")
        if role == "assistant" and calls:
            out["ToolCalls"] = [
                {"Id": c.get("id"), "Type": c.get("type", "function"),
                 "Function": {"Name": c["function"]["name"],
                              "Arguments": c["function"].get("arguments") or "{}"}}
                for c in calls
            ]
        if role == "tool":
            out["ToolCallId"] = message.get("tool_call_id") or message.get("name") or ""
        return out

    def _tool_choice(self, choice: Any, body: dict[str, Any], model: str) -> None:
        if choice is None:
            return
        if choice in ("none", "auto"):
            body["ToolChoice"] = choice
        elif isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
            name = choice["function"].get("name")
            tool = next((t for t in body["Tools"] if t["Function"]["Name"] == name), None)
            body["ToolChoice"] = "custom"
            body["CustomTool"] = tool or {"Type": "function", "Function": {"Name": name}}
        elif self.provider.strict:  # "required" has no native equivalent
            raise self.rejected(f"tool_choice={choice!r} is not supported by Hunyuan", model)


    # -- responses ------------------------------------------------------------------------
    def parse_chat(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        data = self.read_json(response, model)
        resp = self._unwrap(response, data, model)
        choices = resp.get("Choices")
        if not isinstance(choices, list) or not choices:
            raise self.error("server_error", f"reply without Choices: {str(data)[:200]}", response, model,
                             body=data, status_code=502)
        choice = choices[0]
        message = choice.get("Message") or {}
        tool_calls = [_openai_call(call, i) for i, call in enumerate(message.get("ToolCalls") or [])]
        content = message.get("Content")
        return completion(
            id=str(resp.get("Id") or resp.get("RequestId") or "hunyuan"),
            model=model,
            content=(content or None) if tool_calls else (content or ""),
            finish_reason=finish_reason(choice.get("FinishReason"), bool(tool_calls)),
            usage=usage_of(resp.get("Usage")),
            tool_calls=tool_calls or None,
            reasoning_content=message.get("ReasoningContent"),
            created=resp.get("Created") if isinstance(resp.get("Created"), int) else None,
        )

    def parse_embeddings(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        data = self.read_json(response, model)
        resp = self._unwrap(response, data, model)
        items = resp.get("Data")
        if not isinstance(items, list):
            raise self.error("server_error", "GetEmbedding reply without Data", response, model, body=data,
                             status_code=502)
        usage = resp.get("Usage") or {}
        prompt = int(usage.get("PromptTokens") or 0)
        return {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": item.get("Embedding") or []}
                     for i, item in enumerate(items)],
            "model": model,
            "usage": {"prompt_tokens": prompt, "total_tokens": int(usage.get("TotalTokens") or prompt)},
        }

    def stream_translator(self, response: httpx2.Response, model: str) -> StreamTranslator:
        return HunyuanStream(self, response, model)

    def parse_error(self, response: httpx2.Response, model: str) -> errors.APIStatusError:
        """Tencent answers 200 even for errors; a non-2xx comes from a gateway in front of it."""
        body = self.read_json(response, model, strict=False)
        err = body.get("Response", {}).get("Error") if isinstance(body, dict) else None
        if isinstance(err, Mapping):
            return self.api_error(err, response, model, body)
        return super().parse_error(response, model)

    def _unwrap(self, response: httpx2.Response, data: Any, model: str) -> dict[str, Any]:
        resp = data.get("Response") if isinstance(data, dict) else None
        if not isinstance(resp, dict):
            raise self.error("server_error", f"reply without a Response object: {str(data)[:200]}", response,
                             model, body=data, status_code=502)
        if isinstance(resp.get("Error"), Mapping):
            raise self.api_error(resp["Error"], response, model, data)
        if isinstance(resp.get("ErrorMsg"), Mapping):
            raise self.stream_error(resp["ErrorMsg"], response, model, data)
        return resp

    def api_error(self, err: Mapping[str, Any], response: httpx2.Response, model: str,
                  body: Any) -> errors.APIStatusError:
        code, message = str(err.get("Code") or ""), str(err.get("Message") or "")
        quirks = self.provider.preset.quirks
        kind, status = classify(code, message, quirks.error_codes or ERROR_CODES, quirks.error_patterns)
        return self.error(kind, f"{code}: {message}", response, model, body=body, code=code,
                          status_code=status)

    def stream_error(self, err: Mapping[str, Any], response: httpx2.Response, model: str,
                     body: Any) -> errors.APIStatusError:
        code = err.get("Code")
        kind, status = STREAM_ERROR_CODES.get(code if isinstance(code, int) else -1, ("server_error", 500))
        return self.error(kind, f"stream error {code}: {err.get('Msg') or ''}", response, model, body=body,
                          code=code, status_code=status)


class HunyuanStream(StreamTranslator):
    """``data: {...}`` events without the ``Response`` wrapper; the tail packet has FinishReason."""

    adapter: HunyuanAdapter

    def __init__(self, adapter: HunyuanAdapter, response: httpx2.Response, model: str) -> None:
        super().__init__(adapter, response, model)
        self._id = "hunyuan"
        self._created: int | None = None
        self._started = False
        self._seen = False
        self._native_usage: Mapping[str, Any] | None = None  # the latest Usage, parsed at the end
        self._calls: dict[int, str] = {}  # index → tool call id already announced
        self._by_id: dict[str, int] = {}  # id → index, when the vendor sends no Index

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        data = event.data.strip()
        if not data:
            return []
        if data == "[DONE]":  # not documented for Hunyuan (UNCONFIRMED); accept it as the end
            self.complete = self.complete or self._seen
            return []
        obj = self.decode(data)
        if not isinstance(obj, dict) or self.complete:
            return []
        self._seen = True
        if "Response" in obj and isinstance(obj["Response"], Mapping):  # an error envelope sent as an event
            obj = self.adapter._unwrap(self.response, obj, self.model)
        if "ErrorMsg" in obj:
            err = obj["ErrorMsg"]
            if isinstance(err, Mapping) and err.get("Code"):
                raise self.adapter.stream_error(err, self.response, self.model, obj)
        id_ = obj.get("Id")
        if id_:
            self._id = id_ if type(id_) is str else str(id_)
        created = obj.get("Created")
        if isinstance(created, int):
            self._created = created
        native_usage = obj.get("Usage")
        if native_usage is not None and (type(native_usage) is dict or isinstance(native_usage, Mapping)):
            self._native_usage = native_usage  # cumulative per packet (UNCONFIRMED): the last one wins
        choices = obj.get("Choices")
        if not choices:
            return []
        choice = choices[0]
        out: list[dict[str, Any]] = []
        delta = self._delta(choice.get("Delta") or {})
        if delta:
            out.append(self._chunk(delta))
        reason = choice.get("FinishReason")
        if reason:  # the tail packet: finish reason and the final usage on one chunk
            native_usage = self._native_usage
            usage = usage_of(native_usage) if native_usage is not None else None  # parsed once, here
            out.append(chunk(id=self._id, model=self.model, delta={},
                             finish_reason=finish_reason(reason, bool(self._calls)), usage=usage,
                             created=self._created))
            self.complete = True
        return out

    def close(self) -> list[dict[str, Any]]:
        """A stream request answered with a plain JSON error body (no events at all)."""
        if not self._seen and not self.complete:
            body = _read_body(self.response)
            if isinstance(body, dict) and isinstance(body.get("Response"), Mapping):
                self.adapter._unwrap(self.response, body, self.model)
        return []

    def _chunk(self, delta: dict[str, Any]) -> dict[str, Any]:
        created = self._created
        return {"id": self._id, "object": "chat.completion.chunk",
                "created": int(time.time()) if created is None else created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}]}

    def _delta(self, native: Mapping[str, Any]) -> dict[str, Any]:
        if self._started:
            delta: dict[str, Any] = {}
        else:
            delta = {"role": "assistant"}
            self._started = True
        reasoning = native.get("ReasoningContent")
        if reasoning:
            delta["reasoning_content"] = reasoning
        content = native.get("Content")
        if content or (len(delta) == 1 and "role" in delta):
            delta["content"] = content or ""
        natives = native.get("ToolCalls")
        if natives:
            delta["tool_calls"] = [self._call(c) for c in natives]
        return delta

    def _call(self, native: Mapping[str, Any]) -> dict[str, Any]:
        """OpenAI tool-call delta; Hunyuan fragments are merged by Id (SDK Delta docstring)."""
        call_id = str(native.get("Id") or "")
        index = native.get("Index")
        if not isinstance(index, int):
            index = self._by_id.setdefault(call_id, len(self._by_id))
        function = native.get("Function") or {}
        out: dict[str, Any] = {"index": index, "function": {"arguments": function.get("Arguments") or ""}}
        if index not in self._calls:
            self._calls[index] = call_id
            out["id"] = call_id or f"call_{index}"
            out["type"] = "function"
            out["function"]["name"] = function.get("Name") or ""
        return out


def finish_reason(native: Any, has_tool_calls: bool = False) -> str:
    reason = FINISH_REASONS.get(str(native or ""), "stop")
    return "tool_calls" if has_tool_calls and reason == "stop" else reason


def usage_of(native: Any) -> dict[str, int] | None:
    if not isinstance(native, Mapping):
        return None
    prompt, completion_ = int(native.get("PromptTokens") or 0), int(native.get("CompletionTokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion_,
            "total_tokens": int(native.get("TotalTokens") or prompt + completion_)}


def _tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI tool → Hunyuan Tool; ``Parameters`` is a JSON *string*."""
    function = tool.get("function") or {}
    out: dict[str, Any] = {"Name": function.get("name")}
    if function.get("description"):
        out["Description"] = function["description"]
    schema = function.get("parameters") or {"type": "object", "properties": {}}
    out["Parameters"] = json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
    return {"Type": tool.get("type", "function"), "Function": out}


def _part(part: Mapping[str, Any]) -> dict[str, Any]:
    if part.get("type") == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        return {"Type": "image_url", "ImageUrl": {"Url": url}}
    return {"Type": "text", "Text": str(part.get("text", ""))}


def _openai_call(native: Mapping[str, Any], index: int) -> dict[str, Any]:
    function = native.get("Function") or {}
    return {"id": str(native.get("Id") or f"call_{index}"), "type": "function",
            "function": {"name": function.get("Name") or "", "arguments": function.get("Arguments") or "{}"}}


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
