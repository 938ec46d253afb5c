"""Ollama's native ``/api/chat`` protocol (PROTOCOLS.md §17).

Close to OpenAI's message shapes, but sampling lives in ``options``, ``stream`` defaults to true,
images are bare base64 strings beside the text, tool-call arguments are objects without ids,
streams are NDJSON with the token counts on the ``done`` line, and errors are ``{"error": "…"}``
— with an HTTP status, or as a line in the middle of a stream.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any, ClassVar, cast

import pydantic_core

from .. import errors
from ..streaming import SSEEvent
from .base import Adapter, StreamTranslator, WireRequest, body_summary, chunk, completion

if TYPE_CHECKING:
    import httpx2

__all__ = ["OllamaAdapter", "OllamaStream"]

# OpenAI create() params → Ollama ``options`` (§17 ``_types.py``)
_OPTIONS: tuple[tuple[str, str], ...] = (
    ("temperature", "temperature"), ("top_p", "top_p"), ("seed", "seed"),
    ("presence_penalty", "presence_penalty"), ("frequency_penalty", "frequency_penalty"),
)
_FINISH: dict[str, str] = {"stop": "stop", "length": "length"}
# Ollama's errors are free text; these phrases name the failure class better than the status
_MESSAGE_KIND: tuple[tuple[str, errors.ErrorKind], ...] = (
    ("exceeds the context length", "context_window"),
    ("context length", "context_window"),
    ("context window", "context_window"),
    ("unauthorized", "auth"),
)


class OllamaAdapter(Adapter):
    protocol: ClassVar[str] = "ollama"
    stream_format: ClassVar[str] = "ndjson"

    # -- requests -------------------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        """No auth locally; a Bearer key for remote hosts that want one (ollama-python ``_client.py``)."""
        headers = dict(self.provider.headers)
        key = self.provider.credential("api_key")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def chat_request(self, params: dict[str, Any], *, stream: bool) -> WireRequest:
        model = str(params["model"])
        # always explicit: Ollama streams unless told otherwise
        messages = self.messages(params.get("messages") or [], model)
        body: dict[str, Any] = {"model": model, "messages": messages, "stream": stream}
        options = {native: params[name] for name, native in _OPTIONS if params.get(name) is not None}
        stop = params.get("stop")
        if stop:
            options["stop"] = [stop] if isinstance(stop, str) else list(stop)
        max_tokens = params.get("max_completion_tokens") or params.get("max_tokens")
        if max_tokens is not None:
            options["num_predict"] = max_tokens
        if options:
            body["options"] = options
        fmt = _format(params.get("response_format"))
        if fmt is not None:
            body["format"] = fmt
        tools = [t for t in params.get("tools") or [] if t.get("type") == "function"]
        choice = params.get("tool_choice")
        if tools and choice != "none":  # Ollama has no tool_choice; "none" is honoured by not offering tools
            if choice not in (None, "auto") and self.provider.strict:
                raise self.rejected(f"tool_choice={choice!r} is not supported by Ollama", model)
            body["tools"] = tools
        if params.get("n") not in (None, 1) and self.provider.strict:
            raise self.rejected("n > 1 is not supported by Ollama", model)
        effort = params.get("reasoning_effort")
        if effort is not None:
            body["think"] = effort != "none"
        return WireRequest("POST", self.url("/api/chat"), self.headers(), body, stream=stream)

    def messages(self, messages: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        names: dict[str, str] = {}  # tool_call_id → function name, for ``tool_name``
        for message in messages:
            role = message.get("role")
            content = message.get("content")
            if role == "developer":
                role = "system"
            item: dict[str, Any] = {"role": role, "content": _text(content)}
            if role == "user" and isinstance(content, list):
                images = [self.image(p, model) for p in content if p.get("type") == "image_url"]
                if images:
                    item["images"] = images
            if role == "assistant" and message.get("tool_calls"):
                item["tool_calls"] = []
                for call in message["tool_calls"]:
                    fn = call.get("function") or {}
                    names[str(call.get("id"))] = str(fn.get("name"))
                    item["tool_calls"].append({"function": {"name": fn.get("name"),
                                                            "arguments": _arguments(fn.get("arguments"))}})
            if role == "tool":
                name = message.get("name") or names.get(str(message.get("tool_call_id")))
                if name:
                    item["tool_name"] = name
            out.append(item)
        return out

    def image(self, part: dict[str, Any], model: str) -> str:
        """Ollama takes images as base64 only: ``data:`` URLs are unpacked; it cannot fetch URLs."""
        image = part.get("image_url")
        url = str(image.get("url") if isinstance(image, dict) else image)
        if not url.startswith("data:"):
            raise self.rejected("Ollama accepts images as data: URLs (base64) only, not links", model)
        head, _, data = url.partition(",")
        if ";base64" not in head:
            import base64
            from urllib.parse import unquote_to_bytes

            data = base64.b64encode(unquote_to_bytes(data)).decode()
        return data


    def embeddings_request(self, params: dict[str, Any]) -> WireRequest:
        inputs = params.get("input")
        body: dict[str, Any] = {"model": params["model"],
                                "input": [inputs] if isinstance(inputs, str) else inputs}
        if params.get("dimensions"):
            body["dimensions"] = params["dimensions"]
        return WireRequest("POST", self.url("/api/embed"), self.headers(), body)

    # -- responses ------------------------------------------------------------------------
    def parse_chat(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        data = self.read_json(response, model)
        if not isinstance(data, dict) or "error" in data or "message" not in data:
            raise self.body_error(response, data, model)
        message = data.get("message") or {}
        calls = _tool_calls(message.get("tool_calls"))
        content = str(message.get("content") or "")
        return completion(
            id=_new_id(), model=model, content=content if content or not calls else None,
            finish_reason=_finish(data.get("done_reason"), bool(calls)), usage=_usage(data),
            tool_calls=[{k: v for k, v in c.items() if k != "index"} for c in calls] or None,
            reasoning_content=message.get("thinking") or None,
        )

    def stream_translator(self, response: httpx2.Response, model: str) -> StreamTranslator:
        return OllamaStream(self, response, model)

    def parse_embeddings(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        data = self.read_json(response, model)
        if not isinstance(data, dict) or "embeddings" not in data:
            raise self.body_error(response, data, model)
        tokens = int(data.get("prompt_eval_count") or 0)
        return {"object": "list", "model": model,
                "data": [{"object": "embedding", "index": i, "embedding": v}
                         for i, v in enumerate(data["embeddings"])],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    def parse_error(self, response: httpx2.Response, model: str) -> errors.APIStatusError:
        return self.body_error(response, self.read_json(response, model, strict=False), model)

    def body_error(self, response: httpx2.Response, body: Any, model: str) -> errors.APIStatusError:
        """``{"error": "text"}`` → a typed error; inside a 200 (a stream line) it stands for a 500."""
        err = body.get("error") if isinstance(body, dict) else None
        if err is None:
            if response.is_success:
                return self.error("server_error", f"unexpected response body: {str(body)[:200]}", response,
                                  model, body=body, status_code=502)
            message = body_summary(response)
        else:
            message = str(err.get("message") if isinstance(err, dict) else err)
        status = response.status_code if not response.is_success else 500
        lowered = message.lower()
        patterns = (*self.provider.preset.quirks.error_patterns, *_MESSAGE_KIND)
        named = next((k for needle, k in patterns if needle in lowered), None)
        kind = cast("errors.ErrorKind", named) if named else errors.kind_for_status(status)
        return self.error(kind, message, response, model, body=body,
                          status_code=status if status != response.status_code else None)


class OllamaStream(StreamTranslator):
    """One NDJSON line per ChatResponse; the ``done: true`` line carries done_reason and counts."""

    adapter: OllamaAdapter

    def __init__(self, adapter: OllamaAdapter, response: httpx2.Response, model: str) -> None:
        super().__init__(adapter, response, model)
        self.id = _new_id()
        self.created = int(time.time())
        self.started = False
        self.calls = 0  # tool calls delivered: the next delta index

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        if not event.data.strip():
            return []
        try:
            obj = pydantic_core.from_json(event.data)
        except ValueError:
            raise self.adapter.error("server_error", f"malformed stream line: {event.data[:200]!r}",
                                     self.response, self.model, status_code=502) from None
        if not isinstance(obj, dict):
            return []
        if "error" in obj:
            raise self.adapter.body_error(self.response, obj, self.model)
        message = obj.get("message") or {}
        delta: dict[str, Any] = {}
        if message.get("thinking"):
            delta["reasoning_content"] = message["thinking"]
        if message.get("content"):
            delta["content"] = message["content"]
        calls = _tool_calls(message.get("tool_calls"), start=self.calls)
        if calls:
            self.calls += len(calls)
            delta["tool_calls"] = calls
        out = [self._chunk(delta)] if delta else []
        if obj.get("done"):
            self.complete = True
            out.append(self._chunk({}, _finish(obj.get("done_reason"), self.calls > 0), _usage(obj)))
        return out

    def _chunk(self, delta: dict[str, Any], finish: str | None = None,
               usage: dict[str, int] | None = None) -> dict[str, Any]:
        if not self.started:
            self.started = True
            delta = {"role": "assistant", **delta}
        return chunk(id=self.id, model=self.model, delta=delta, finish_reason=finish, usage=usage,
                     created=self.created)


def _new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, list):
        texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(str(t) for t in texts)
    return str(content)


def _arguments(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return {"arguments": arguments}
    return arguments if arguments is not None else {}


def _format(response_format: Any) -> Any:
    """``json_object`` → ``"json"``; ``json_schema`` → the schema itself (Ollama ≥ 0.5)."""
    if not isinstance(response_format, dict):
        return None
    if response_format.get("type") == "json_object":
        return "json"
    if response_format.get("type") == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema") or "json"
    return None


def _tool_calls(calls: Any, start: int = 0) -> list[dict[str, Any]]:
    """Ollama's calls carry no id (newer servers may): ids are made up so results can answer them."""
    out: list[dict[str, Any]] = []
    for call in calls or []:
        fn = call.get("function") or {}
        arguments = fn.get("arguments")
        out.append({"index": start + len(out), "id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {"name": fn.get("name", ""),
                                 "arguments": arguments if isinstance(arguments, str)
                                 else json.dumps(arguments or {}, ensure_ascii=False)}})
    return out


def _finish(reason: Any, has_tool_calls: bool) -> str:
    """Ollama says "stop" after tool calls (observed, §17); OpenAI callers look for ``tool_calls``."""
    mapped = _FINISH.get(str(reason), "stop")
    return "tool_calls" if has_tool_calls and mapped == "stop" else mapped


def _usage(data: dict[str, Any]) -> dict[str, int]:
    prompt = int(data.get("prompt_eval_count") or 0)
    completion_tokens = int(data.get("eval_count") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens}
