"""Google Gemini's native ``generateContent`` protocol (PROTOCOLS.md §15).

Gemini differs from OpenAI in every layer: ``contents`` with user/model roles and typed parts,
the system prompt in ``systemInstruction``, sampling in ``generationConfig``, tool calls as
``functionCall`` parts whose ``args`` is an object and that carry no id, a stream of whole
responses without terminator, and an invalid API key reported as HTTP 400. This module
translates all of it both ways.
"""

from __future__ import annotations

import functools
import json
import mimetypes
import re
import time
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic_core import from_json, to_json

from .. import errors
from ..streaming import SSEEvent
from .base import Adapter, StreamTranslator, WireRequest, body_summary

if TYPE_CHECKING:
    import httpx2

__all__ = ["GeminiAdapter", "GeminiStream"]

# -- protocol facts as data (§15) --------------------------------------------------------------
_FINISH: dict[str, str] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}
# google.rpc status names → failure class (the HTTP status alone misreads API_KEY_INVALID)
_STATUS_KIND: dict[str, errors.ErrorKind] = {
    "UNAUTHENTICATED": "auth",
    "PERMISSION_DENIED": "permission",
    "NOT_FOUND": "not_found",
    "RESOURCE_EXHAUSTED": "rate_limit",
    "INTERNAL": "server_error",
    "UNAVAILABLE": "server_error",
    "DEADLINE_EXCEEDED": "server_error",
}
_REASON_KIND: dict[str, errors.ErrorKind] = {"API_KEY_INVALID": "auth"}  # details[].reason (ErrorInfo)
_MESSAGE_KIND: tuple[tuple[str, errors.ErrorKind], ...] = (
    ("exceeds the maximum number of tokens", "context_window"),
    ("api key not valid", "auth"),
    ("api key expired", "auth"),
)
# UNCONFIRMED (§ "Unconfirmed facts"): the role of functionResponse turns; "user" per current docs
FUNCTION_RESPONSE_ROLE = "user"
# our choice, not Gemini's: OpenAI reasoning_effort → Gemini 2.5 thinkingBudget (tokens)
THINKING_BUDGET: dict[str, int] = {"none": 0, "minimal": 128, "low": 1024, "medium": 8192, "high": 24576}
# thought signatures (Gemini 3 requires them back on function calls) travel inside our call ids
_SIGNATURE_SEP = "__thought__"
# fields of Gemini's Schema object (an OpenAPI subset); other JSON Schema keywords are rejected
_SCHEMA_KEYS = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
    "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf",
    "propertyOrdering", "default", "items", "minimum", "maximum",
})
# OpenAI create() params → generationConfig fields
_SAMPLING: tuple[tuple[str, str], ...] = (
    ("temperature", "temperature"), ("top_p", "topP"), ("seed", "seed"),
    ("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty"),
    ("n", "candidateCount"),
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


class GeminiAdapter(Adapter):
    protocol: ClassVar[str] = "gemini"

    # -- requests -------------------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        headers = dict(self.provider.headers)
        key = self.provider.credential("api_key")
        if key:
            headers["x-goog-api-key"] = key
        return headers

    def chat_request(self, params: dict[str, Any], *, stream: bool) -> WireRequest:
        model = _model_id(str(params["model"]))
        action = "streamGenerateContent" if stream else "generateContent"
        wire = WireRequest("POST", self.url(f"/models/{model}:{action}"), self.headers(), self.body(params),
                           stream=stream)
        if stream:
            wire.params = {"alt": "sse"}
        return wire

    def body(self, params: dict[str, Any]) -> dict[str, Any]:
        model = str(params["model"])
        contents, system = self.contents(params.get("messages") or [], model)
        body: dict[str, Any] = {"contents": contents}
        if system:
            body["systemInstruction"] = {"parts": system}
        config = _generation_config(params)
        if config:
            body["generationConfig"] = config
        tools = _tools(params.get("tools"))
        if tools:
            body["tools"] = tools
        choice = _tool_config(params.get("tool_choice"))
        if choice and tools:
            body["toolConfig"] = choice
        return body

    def contents(self, messages: list[dict[str, Any]], model: str) -> tuple[list[dict[str, Any]], list[Any]]:
        """OpenAI messages → Gemini ``contents`` (same-role turns merged) and system parts."""
        contents: list[dict[str, Any]] = []
        system: list[dict[str, Any]] = []
        names: dict[str, str] = {}  # tool_call_id → function name, to name functionResponse parts
        for message in messages:
            role = message.get("role")
            content = message.get("content")
            if role in ("system", "developer"):
                system += [{"text": t} for t in _texts(content) if t]
            elif role == "assistant":
                parts = [{"text": t} for t in _texts(content) if t]
                for call in message.get("tool_calls") or []:
                    fn = call.get("function") or {}
                    names[str(call.get("id"))] = str(fn.get("name"))
                    part: dict[str, Any] = {"functionCall": {"name": fn.get("name"),
                                                             "args": _args(fn.get("arguments"))}}
                    signature = str(call.get("id") or "").partition(_SIGNATURE_SEP)[2]
                    if signature:
                        part["thoughtSignature"] = signature
                    parts.append(part)
                _append(contents, "model", parts)
            elif role in ("tool", "function"):
                name = message.get("name") or names.get(str(message.get("tool_call_id")))
                if not name:
                    call_id = message.get("tool_call_id")
                    raise self.rejected(f"tool message {call_id!r} answers no earlier tool call", model)
                part = {"functionResponse": {"name": name, "response": _function_response(content)}}
                _append(contents, FUNCTION_RESPONSE_ROLE, [part])
            else:
                _append(contents, "user", self.user_parts(content, model))
        return contents, system

    def user_parts(self, content: Any, model: str) -> list[dict[str, Any]]:
        if not isinstance(content, list):
            return [{"text": t} for t in _texts(content) if t]
        parts: list[dict[str, Any]] = []
        for item in content:
            kind = item.get("type")
            if kind == "text":
                parts.append({"text": item.get("text", "")})
            elif kind == "image_url":
                image = item.get("image_url")
                parts.append(_media(str(image.get("url") if isinstance(image, dict) else image)))
            elif kind == "input_audio":
                audio = item.get("input_audio") or {}
                parts.append({"inlineData": {"mimeType": f"audio/{audio.get('format', 'wav')}",
                                             "data": audio.get("data", "")}})
            elif kind == "file" and (item.get("file") or {}).get("file_data"):
                parts.append(_media(str(item["file"]["file_data"])))
            else:
                raise self.rejected(f"content part type {kind!r} is not supported by Gemini", model)
        return parts


    def embeddings_request(self, params: dict[str, Any]) -> WireRequest:
        model = _model_id(str(params["model"]))
        inputs = params.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        if not all(isinstance(t, str) for t in texts):
            raise self.rejected("Gemini embeds text only, not token arrays", model)
        requests = []
        for text in texts:
            request: dict[str, Any] = {"model": f"models/{model}", "content": {"parts": [{"text": text}]}}
            if params.get("dimensions"):
                request["outputDimensionality"] = params["dimensions"]
            requests.append(request)
        return WireRequest("POST", self.url(f"/models/{model}:batchEmbedContents"), self.headers(),
                           {"requests": requests})

    # -- responses ------------------------------------------------------------------------
    def parse_chat(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        data = _unwrap(self.read_json(response, model))
        if not isinstance(data, dict) or "error" in data:
            raise self.envelope_error(response, data, model)
        candidates = data.get("candidates") or []
        if not candidates:
            raise self.blocked(response, data, model)
        choices = []
        for position, candidate in enumerate(candidates):
            text, reasoning, calls = _read_parts(candidate, self.signatures_in_ids)
            message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
            if calls:
                message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in calls]
            if reasoning:
                message["reasoning_content"] = reasoning
            choices.append({"index": candidate.get("index", position), "message": message, "logprobs": None,
                            "finish_reason": _finish(candidate.get("finishReason"), bool(calls))})
        out: dict[str, Any] = {"id": data.get("responseId") or _new_id(), "object": "chat.completion",
                               "created": int(time.time()), "model": model, "choices": choices}
        usage = _usage(data.get("usageMetadata"))
        if usage is not None:
            out["usage"] = usage
        return out

    def stream_translator(self, response: httpx2.Response, model: str) -> StreamTranslator:
        return GeminiStream(self, response, model)

    def parse_embeddings(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        data = _unwrap(self.read_json(response, model))
        if not isinstance(data, dict) or "embeddings" not in data:
            raise self.envelope_error(response, data, model)
        vectors = [e.get("values", []) for e in data["embeddings"]]
        return {"object": "list", "model": model,
                "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
                "usage": {"prompt_tokens": 0, "total_tokens": 0}}  # batchEmbedContents reports no tokens

    def parse_error(self, response: httpx2.Response, model: str) -> errors.APIStatusError:
        return self.envelope_error(response, _unwrap(self.read_json(response, model, strict=False)), model)

    @property
    def signatures_in_ids(self) -> bool:
        return bool(self.provider.option("thought_signatures", True))

    def envelope_error(self, response: httpx2.Response, body: Any, model: str) -> errors.APIStatusError:
        """``{error:{code,message,status,details}}`` → the right class, by reason, status name, text."""
        err = body.get("error") if isinstance(body, dict) else None
        if not isinstance(err, dict):
            if response.is_success:
                return self.error("server_error", f"unexpected response body: {str(body)[:200]}", response,
                                  model, body=body, status_code=502)
            text = body_summary(response)
            return self.error(errors.kind_for_status(response.status_code), text, response, model, body=body)
        code = err.get("code")
        status = code if isinstance(code, int) and 400 <= code < 600 else response.status_code
        if status < 400:
            status = 500
        message = str(err.get("message") or err.get("status") or f"HTTP {status}")
        details = [d for d in err.get("details") or [] if isinstance(d, dict)]
        kind = _classify(status, str(err.get("status") or ""), details, message)
        retry_after = errors.parse_retry_after(response.headers)
        if retry_after is None:
            retry_after = _retry_delay(details)
        return self.error(kind, message, response, model, body=body, code=err.get("status") or code,
                          status_code=status if status != response.status_code else None,
                          retry_after=retry_after)

    def blocked(self, response: httpx2.Response, data: dict[str, Any], model: str) -> errors.APIStatusError:
        """No candidates: the prompt was blocked (``promptFeedback.blockReason``), or the reply is empty."""
        feedback = data.get("promptFeedback") or {}
        reason = feedback.get("blockReason")
        if reason:
            message = f"prompt blocked by Gemini: {reason}"
            if feedback.get("blockReasonMessage"):
                message += f" ({feedback['blockReasonMessage']})"
            return self.error("content_filter", message, response, model, body=data, code=reason,
                              status_code=400)
        return self.error("server_error", "response has no candidates", response, model, body=data,
                          status_code=502)


class GeminiStream(StreamTranslator):
    """Each SSE ``data:`` is a whole GenerateContentResponse holding the next piece; no [DONE]."""

    adapter: GeminiAdapter

    def __init__(self, adapter: GeminiAdapter, response: httpx2.Response, model: str) -> None:
        super().__init__(adapter, response, model)
        self.id = _new_id()
        self.created = int(time.time())
        self.started: set[int] = set()  # candidates whose role was sent
        self.calls: dict[int, int] = {}  # candidate → tool calls seen so far (the next delta index)
        self.usage: dict[str, Any] | None = None
        self.usage_sent: dict[str, Any] | None = None
        self._meta: Any = None  # the usageMetadata that self.usage was parsed from

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        data = event.data
        if not data or data.isspace():
            return []
        obj = self.decode(data)
        if type(obj) is not dict:
            obj = _unwrap(obj)
            if not isinstance(obj, dict):
                return []
        if "error" in obj:
            raise self.adapter.envelope_error(self.response, obj, self.model)
        if not self.started and "responseId" in obj and obj["responseId"]:
            self.id = str(obj["responseId"])
        meta = obj.get("usageMetadata")
        if meta and meta != self._meta:  # cumulative per chunk, often repeated: parse only a change
            usage = _usage(meta)
            if usage is not None:
                self.usage = usage  # keep the latest, never sum
                self._meta = meta
        candidates = obj.get("candidates")
        if not candidates:
            if "promptFeedback" in obj and (obj["promptFeedback"] or {}).get("blockReason"):
                raise self.adapter.blocked(self.response, obj, self.model)
            out: list[dict[str, Any]] = []
        elif len(candidates) == 1:
            candidate = candidates[0]
            out = self._candidate(candidate.get("index", 0), candidate)
        else:
            out = []
            for position, candidate in enumerate(candidates):
                out += self._candidate(candidate.get("index", position), candidate)
        if self.complete and self.usage is not None and self.usage != self.usage_sent:
            if out and out[-1]["choices"] and out[-1]["choices"][0]["finish_reason"]:
                out[-1]["usage"] = self.usage
            else:  # usage that arrived after the finish reason
                out.append(self._chunk(None))
                out[-1]["usage"] = self.usage
            self.usage_sent = self.usage
        return out

    def _candidate(self, index: int, candidate: dict[str, Any]) -> list[dict[str, Any]]:
        content = candidate.get("content")
        parts = content.get("parts") if content else None
        out: list[dict[str, Any]] = []
        if parts and len(parts) == 1 and "functionCall" not in (part := parts[0]) and "thought" not in part:
            # the common case: one plain text part
            text = part.get("text")
            if text and type(text) is str:
                if index in self.started:
                    delta: dict[str, Any] = {"content": text}
                else:
                    self.started.add(index)
                    delta = {"role": "assistant", "content": text}
                out.append(self._chunk(delta, index))
        elif parts:
            start = self.calls.get(index, 0)
            text, reasoning, calls = _read_parts(candidate, self.adapter.signatures_in_ids, start=start)
            self.calls[index] = start + len(calls)
            delta = {}
            if reasoning:
                delta["reasoning_content"] = reasoning
            if text:
                delta["content"] = text
            if calls:
                delta["tool_calls"] = calls  # whole calls, never split: args arrive complete (§15)
            if delta:
                out.append(self._chunk(self._role(index, delta), index))
        reason = candidate.get("finishReason")
        if reason:
            self.complete = True
            finish = _finish(reason, self.calls.get(index, 0) > 0)
            out.append(self._chunk(self._role(index, {}), index, finish))
        return out

    def _role(self, index: int, delta: dict[str, Any]) -> dict[str, Any]:
        if index not in self.started:
            self.started.add(index)
            return {"role": "assistant", **delta}
        return delta

    def _chunk(self, delta: dict[str, Any] | None, index: int = 0, finish: str | None = None
               ) -> dict[str, Any]:
        choices = [] if delta is None else [{"index": index, "delta": delta, "finish_reason": finish,
                                              "logprobs": None}]
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "choices": choices}


# -- translation helpers ----------------------------------------------------------------------
def _model_id(model: str) -> str:
    return model.removeprefix("models/")


def _new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def _texts(content: Any) -> list[str]:
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"]
    return [str(content)]


def _append(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    """Gemini wants alternating turns: parts of consecutive same-role messages share one turn."""
    if not parts:
        return
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def _args(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return {"arguments": arguments}
    return arguments if arguments is not None else {}


def _function_response(content: Any) -> dict[str, Any]:
    """A tool result as the Struct Gemini wants: a JSON object as is, anything else as ``output``."""
    text = "".join(_texts(content))
    try:
        value = json.loads(text)
    except ValueError:
        return {"output": text}
    return value if isinstance(value, dict) else {"output": value}


def _media(url: str) -> dict[str, Any]:
    """``data:`` URLs travel inline; other URLs by reference (``fileData``)."""
    if url.startswith("data:"):
        head, _, data = url[5:].partition(",")
        mime = head.split(";")[0] or "application/octet-stream"
        if ";base64" not in head:
            import base64
            from urllib.parse import unquote_to_bytes

            data = base64.b64encode(unquote_to_bytes(data)).decode()
        return {"inlineData": {"mimeType": mime, "data": data}}
    mime = mimetypes.guess_type(url.split("?")[0])[0] or "image/jpeg"
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _generation_config(params: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    max_tokens = params.get("max_completion_tokens") or params.get("max_tokens")
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    for name, native in _SAMPLING:
        if params.get(name) is not None:
            config[native] = params[name]
    stop = params.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    response_format = params.get("response_format") or {}
    if response_format.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (response_format.get("json_schema") or {}).get("schema")
        if schema:
            config["responseSchema"] = response_schema(schema)
    effort = params.get("reasoning_effort")
    if effort in THINKING_BUDGET:
        config["thinkingConfig"] = {"thinkingBudget": THINKING_BUDGET[effort],
                                    "includeThoughts": effort != "none"}
    return config


def _tools(tools: Any) -> list[dict[str, Any]]:
    declarations: list[dict[str, Any]] = []
    native: list[dict[str, Any]] = []  # Gemini tools given as is (googleSearch, codeExecution, …)
    for tool in tools or []:
        if tool.get("type") != "function":
            native.append(tool)
            continue
        fn = tool["function"]
        declaration = {"name": fn["name"]}
        if fn.get("description"):
            declaration["description"] = fn["description"]
        parameters = fn.get("parameters")
        # Gemini rejects an OBJECT schema with no properties: a function without arguments has none
        if isinstance(parameters, dict) and (parameters.get("properties")
                                             or parameters.get("type") != "object"):
            declaration["parameters"] = to_schema(parameters)
        declarations.append(declaration)
    return ([{"functionDeclarations": declarations}] if declarations else []) + native


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}.get(str(choice))
    return {"functionCallingConfig": {"mode": mode}} if mode else None


def response_schema(schema: Any) -> Any:
    """``to_schema`` for a response format, cached by the schema's JSON: callers such as openai's
    ``parse()`` rebuild an equal schema on every call, and serialising it is far cheaper than converting."""
    return from_json(_converted(to_json(schema)))


@functools.lru_cache(maxsize=128)
def _converted(schema_json: bytes) -> bytes:
    return to_json(to_schema(from_json(schema_json)))


def to_schema(node: Any, defs: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """JSON Schema → Gemini's Schema subset.

    ``$ref`` is inlined, ``type: [x, "null"]`` becomes ``nullable``, unknown keywords are dropped.
    """
    if not isinstance(node, dict):
        return node
    if defs is None:
        defs = {**(node.get("definitions") or {}), **(node.get("$defs") or {})}
    if "$ref" in node:
        target = defs.get(str(node["$ref"]).rsplit("/", 1)[-1])
        if target is None or depth > 16:
            return {"type": "object"}
        return to_schema({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs, depth + 1)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, list):
            kinds = [t for t in value if t != "null"]
            if len(value) != len(kinds):
                out["nullable"] = True
            if len(kinds) == 1:
                out["type"] = kinds[0]
            elif kinds:
                out["anyOf"] = [{"type": t} for t in kinds]
        elif key == "const":
            out["enum"] = [value]
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: to_schema(sub, defs, depth + 1) for name, sub in value.items()}
        elif key == "items":
            out[key] = to_schema(value, defs, depth + 1)
        elif key in ("anyOf", "oneOf") and isinstance(value, list):
            options = [to_schema(sub, defs, depth + 1) for sub in value]
            if any(o.get("type") == "null" for o in options if isinstance(o, dict)):
                out["nullable"] = True
                options = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            if len(options) == 1 and isinstance(options[0], dict):
                out.update(options[0])
            else:
                out["anyOf"] = options
        elif key in _SCHEMA_KEYS:
            out[key] = value
    return out


def _read_parts(candidate: dict[str, Any], signatures: bool, start: int = 0
                ) -> tuple[str, str, list[dict[str, Any]]]:
    """(text, reasoning, tool calls) of one candidate; calls get ids and JSON-string arguments."""
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in (candidate.get("content") or {}).get("parts") or []:
        if "functionCall" in part:
            fn = part["functionCall"]
            call_id = f"call_{uuid.uuid4().hex[:24]}"
            if signatures and part.get("thoughtSignature"):
                call_id += _SIGNATURE_SEP + str(part["thoughtSignature"])
            arguments = json.dumps(fn.get("args") or {}, ensure_ascii=False)
            calls.append({"index": start + len(calls), "id": call_id, "type": "function",
                          "function": {"name": fn.get("name", ""), "arguments": arguments}})
        elif isinstance(part.get("text"), str):
            (reasoning if part.get("thought") else text).append(part["text"])
    return "".join(text), "".join(reasoning), calls


def _finish(reason: Any, has_tool_calls: bool) -> str:
    """Gemini ends tool turns with STOP; OpenAI callers look for ``tool_calls``."""
    mapped = _FINISH.get(str(reason), "stop")
    return "tool_calls" if has_tool_calls and mapped == "stop" else mapped


def _usage(meta: Any) -> dict[str, Any] | None:
    """usageMetadata → OpenAI usage; completion = candidates + thoughts, so prompt + completion = total."""
    if not isinstance(meta, dict) or not meta:
        return None
    prompt = int(meta.get("promptTokenCount") or 0) + int(meta.get("toolUsePromptTokenCount") or 0)
    thoughts = int(meta.get("thoughtsTokenCount") or 0)
    completion = int(meta.get("candidatesTokenCount") or 0) + thoughts
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                             "total_tokens": int(meta.get("totalTokenCount") or prompt + completion)}
    if thoughts:
        usage["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    if meta.get("cachedContentTokenCount"):
        usage["prompt_tokens_details"] = {"cached_tokens": int(meta["cachedContentTokenCount"])}
    return usage


def _unwrap(body: Any) -> Any:
    """Google sometimes wraps an error (or a whole non-SSE stream) in a one-element JSON array."""
    if isinstance(body, list) and len(body) == 1 and isinstance(body[0], dict):
        return body[0]
    return body


def _classify(status: int, status_name: str, details: list[dict[str, Any]], message: str) -> errors.ErrorKind:
    for detail in details:
        kind = _REASON_KIND.get(str(detail.get("reason")))
        if kind:
            return kind
    lowered = message.lower()
    for needle, kind in _MESSAGE_KIND:
        if needle in lowered:
            return kind
    return _STATUS_KIND.get(status_name) or errors.kind_for_status(status)


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    """``google.rpc.RetryInfo.retryDelay`` ("37s") — Gemini's 429s carry it instead of Retry-After."""
    for detail in details:
        match = _DURATION.match(str(detail.get("retryDelay", "")))
        if match:
            return float(match.group(1))
    return None
