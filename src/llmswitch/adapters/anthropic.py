"""Anthropic's native Messages API (PROTOCOLS.md §14).

Requests are reshaped, not passed through: system prompts move to the top-level ``system``,
consecutive turns of one role merge, tool results travel as ``tool_result`` blocks inside a user
turn, ``max_tokens`` is always sent (the API requires it). Responses and named-event streams
come back as OpenAI ``chat.completion`` / ``chat.completion.chunk`` dicts.

Choices made here (documented, not vendor facts):

- ``response_format`` (json_object / json_schema) becomes a forced tool whose ``input_schema`` is
  the caller's schema; its input comes back as the message ``content`` (JSON text) with finish
  reason ``stop``, streamed as content deltas. The tool's name carries :data:`OUTPUT_TOOL_PREFIX`,
  so responses are recognised without per-call state. Beside the caller's own tools the model must
  call one of them (``tool_choice: any``): a real tool call, or the answer.
- A stream's usage rides on the chunk that carries the finish reason (Anthropic sends both in
  ``message_delta``); we emit no separate empty-choices usage chunk, which callers that did not
  ask for ``stream_options.include_usage`` would trip over.
- ``reasoning_content`` on assistant turns is not sent back: Anthropic needs the block's
  signature, which OpenAI-shaped history does not keep.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from .. import errors
from ..catalog import Range
from ..streaming import SSEEvent
from .base import Adapter, StreamTranslator, WireRequest, body_summary, chunk, completion
from .structured import JSON_INSTRUCTION, OutputSpec, instruction, output_spec, refuse_or_warn

if TYPE_CHECKING:
    import httpx2

__all__ = ["AnthropicAdapter", "AnthropicStream"]

DEFAULT_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # when neither the request nor the catalog says

# error.type → (failure class, HTTP status it stands for). §14 + the SDK's ErrorType literal;
# the statuses of billing_error (402), timeout_error (504) and request_too_large (413) are
# UNCONFIRMED (documented on Anthropic's errors page, not in the SDK).
ERROR_TYPES: dict[str, tuple[errors.ErrorKind, int]] = {
    "invalid_request_error": ("bad_request", 400),
    "authentication_error": ("auth", 401),
    "billing_error": ("quota", 402),
    "permission_error": ("permission", 403),
    "not_found_error": ("not_found", 404),
    "request_too_large": ("context_window", 413),
    "rate_limit_error": ("rate_limit", 429),
    "api_error": ("server_error", 500),
    "timeout_error": ("timeout", 504),
    "overloaded_error": ("server_error", 529),
}
# invalid_request_error messages that mean more than "bad request" (lower-case substrings)
ERROR_PATTERNS: tuple[tuple[str, errors.ErrorKind], ...] = (
    ("prompt is too long", "context_window"),  # §14: "prompt is too long: N tokens > M maximum"
    ("exceed context limit", "context_window"),  # UNCONFIRMED: input + max_tokens > window
    # UNCONFIRMED: "Output blocked by content filtering policy"
    ("content filtering policy", "content_filter"),
)
# stop_reason → OpenAI finish_reason. pause_turn (a server tool paused a long turn) has no
# OpenAI equivalent; "stop" lets the caller resubmit, as Anthropic advises (mapping UNCONFIRMED).
STOP_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
    "model_context_window_exceeded": "length",
}
# accepted ranges (the spec: temperature and top_p in [0, 1]); clamped unless strict
RANGES: dict[str, Range] = {"temperature": Range(0, 1), "top_p": Range(0, 1)}
# native parameters copied when present in params (the client merges ``extra_body`` after translation)
PASSTHROUGH = frozenset({"top_k", "thinking", "metadata"})
# OpenAI parameters that need no translation or are implied by the protocol
_HANDLED = frozenset({
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "stop",
    "temperature", "top_p", "tools", "tool_choice", "parallel_tool_calls", "response_format", "user", "n",
})

#: the forced tool that carries a response_format: its name is this prefix + the schema's name
OUTPUT_TOOL_PREFIX = "structured_output__"
_OUTPUT_TOOL_DESCRIPTION = "Give your final answer by calling this tool: its input is the answer."
_ANY_OBJECT: dict[str, Any] = {"type": "object"}

_ID_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)(?P<params>(?:;[^;,]*)*),(?P<data>.*)$", re.DOTALL)


class AnthropicAdapter(Adapter):
    protocol: ClassVar[str] = "anthropic"
    chat_path: ClassVar[str] = "/messages"

    # -- requests -------------------------------------------------------------------------
    def chat_request(self, params: dict[str, Any], *, stream: bool) -> WireRequest:
        model = str(params["model"])
        self._check_unsupported(params, model)
        system, messages = self._messages(params.get("messages") or [], model)
        body: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": self._max_tokens(params)}
        if system:
            body["system"] = system[0] if len(system) == 1 else [{"type": "text", "text": t} for t in system]
        stop = params.get("stop")
        if stop:
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        for name, accepted in RANGES.items():
            value = params.get(name)
            if value is not None:
                body[name] = self.fit_range(name, value, accepted, model)
        self._tools(params, body, model)
        spec = output_spec(params.get("response_format"))
        if spec is not None:
            self._output_tool(spec, params, body, model)
        if params.get("user") and "metadata" not in params:
            body["metadata"] = {"user_id": str(params["user"])[:256]}
        for name in PASSTHROUGH & params.keys():
            body[name] = params[name]
        if stream:
            body["stream"] = True
        return WireRequest("POST", self.url(self.chat_path), self.headers(), body, stream=stream)

    def url(self, path: str) -> str:
        """Both base URL forms work: the API root (``…/v1``, as the docs give it) and the Anthropic
        SDK's ``ANTHROPIC_BASE_URL`` convention without it, to which the SDK adds ``/v1``."""
        root = self.provider.base_url.rstrip("/")
        return (root if root.endswith("/v1") else root + "/v1") + path

    def headers(self) -> dict[str, str]:
        headers = self.bearer_headers()  # the preset's auth style: x-api-key for Anthropic
        headers["anthropic-version"] = str(self.provider.option("anthropic_version") or DEFAULT_VERSION)
        headers["content-type"] = "application/json"
        return headers

    def _check_unsupported(self, params: dict[str, Any], model: str) -> None:
        """Parameters with no Anthropic equivalent: dropped (they are never copied) unless strict."""
        if not self.provider.strict:
            return
        for name in sorted(params.keys() - _HANDLED - PASSTHROUGH):
            if params[name] is not None:
                raise self.rejected(f"parameter {name!r} is not supported", model)
        if (params.get("n") or 1) != 1:
            raise self.rejected("n > 1 is not supported", model)

    def _max_tokens(self, params: dict[str, Any]) -> int:
        for name in ("max_completion_tokens", "max_tokens"):
            if params.get(name):
                return int(params[name])
        info = self.provider.model_info(str(params["model"]))
        return info.max_output if info and info.max_output else DEFAULT_MAX_TOKENS

    def _tools(self, params: dict[str, Any], body: dict[str, Any], model: str) -> None:
        tools = params.get("tools")
        if tools:
            body["tools"] = [self._tool(tool, model) for tool in tools]
        choice = _tool_choice(params.get("tool_choice"))
        if choice is None and params.get("parallel_tool_calls") is False and tools:
            choice = {"type": "auto"}
        if choice is not None and params.get("parallel_tool_calls") is False and choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
        if choice is not None and tools:
            body["tool_choice"] = choice

    def _output_tool(self, spec: OutputSpec, params: dict[str, Any], body: dict[str, Any], model: str) -> None:
        """The response format as a tool the model must call; its input is the answer.

        A schema whose root is not an object cannot be a tool's input: it goes in the system prompt.
        Extended thinking forbids forcing a tool, so there the prompt names the tool instead.
        """
        schema = dict(spec.schema or _ANY_OBJECT)
        if schema.get("type", "object") != "object":
            refuse_or_warn(self, spec, model)
            _add_system(body, instruction(spec))
            return
        schema.setdefault("type", "object")
        name = OUTPUT_TOOL_PREFIX + _ID_UNSAFE.sub("_", spec.name)[: 64 - len(OUTPUT_TOOL_PREFIX)]
        caller_tools = body.get("tools") or []
        body["tools"] = [*caller_tools, {"name": name, "description": _OUTPUT_TOOL_DESCRIPTION,
                                         "input_schema": schema}]
        choice = body.get("tool_choice") or {}
        thinking = params.get("thinking")
        if isinstance(thinking, dict) and thinking.get("type") == "enabled":
            body["tool_choice"] = {"type": "auto"}
            _add_system(body, f"{JSON_INSTRUCTION} Give it by calling the tool {name!r}.")
        elif not caller_tools or choice.get("type") == "none":
            body["tool_choice"] = {"type": "tool", "name": name}
        elif choice.get("type") != "tool":  # auto / any / unset: a real tool call, or the answer
            body["tool_choice"] = {**choice, "type": "any"}

    def _tool(self, tool: dict[str, Any], model: str) -> dict[str, Any]:
        if tool.get("type", "function") != "function" or "function" not in tool:
            raise self.rejected(f"tool type {tool.get('type')!r} is not supported", model)
        fn = tool["function"]
        schema = dict(fn.get("parameters") or {"type": "object", "properties": {}})
        schema.setdefault("type", "object")
        out: dict[str, Any] = {"name": fn["name"], "input_schema": schema}
        if fn.get("description"):
            out["description"] = fn["description"]
        return out

    def _messages(self, messages: list[dict[str, Any]], model: str) -> tuple[list[str], list[dict[str, Any]]]:
        """(system texts, Anthropic turns): system prompts lifted, same-role turns merged."""
        system: list[str] = []
        turns: list[tuple[str, list[dict[str, Any]]]] = []
        for message in messages:
            role = message.get("role")
            if role in ("system", "developer"):
                text = _text_of(message.get("content"))
                if text:
                    system.append(text)
                continue
            if role == "user":
                blocks = self._blocks(message.get("content"), model)
            elif role == "assistant":
                blocks = self._assistant_blocks(message, model)
            elif role == "tool":
                role, blocks = "user", [self._tool_result(message, model)]
            else:
                raise self.rejected(f"message role {role!r} is not supported", model)
            if not blocks:
                continue
            if turns and turns[-1][0] == role:
                turns[-1][1].extend(blocks)
            else:
                turns.append((role, blocks))
        out = []
        for index, (role, blocks) in enumerate(turns):
            if role == "user":  # the API wants tool results before any other block of the turn
                blocks.sort(key=lambda b: b["type"] != "tool_result")
            elif index == len(turns) - 1 and blocks[-1]["type"] == "text":
                # a final assistant turn is a prefill; the API rejects trailing whitespace there
                blocks[-1]["text"] = blocks[-1]["text"].rstrip()
                if not blocks[-1]["text"]:
                    blocks.pop()
                    if not blocks:
                        continue
            single_text = len(blocks) == 1 and blocks[0]["type"] == "text"
            out.append({"role": role, "content": blocks[0]["text"] if single_text else blocks})
        return system, out

    def _blocks(self, content: Any, model: str) -> list[dict[str, Any]]:
        """User (or tool-result) content: a string or OpenAI content parts → Anthropic blocks."""
        if content is None:
            return []
        if isinstance(content, str):
            return [{"type": "text", "text": content}] if content else []
        blocks: list[dict[str, Any]] = []
        for part in content:
            kind = part.get("type")
            if kind in ("text", "refusal"):
                text = part.get(kind) or ""
                if text:
                    blocks.append({"type": "text", "text": text})
            elif kind == "image_url":
                blocks.append(self._image(part["image_url"], model))
            elif kind == "file":
                blocks.append(self._document(part.get("file") or {}, model))
            else:
                raise self.rejected(f"content part type {kind!r} is not supported", model)
        return blocks

    def _image(self, image: Any, model: str) -> dict[str, Any]:
        url = image if isinstance(image, str) else str(image.get("url", ""))
        if url.startswith(("http://", "https://")):
            return {"type": "image", "source": {"type": "url", "url": url}}
        media_type, data = self._data_url(url, model)
        if media_type == "image/jpg":
            media_type = "image/jpeg"
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}

    def _document(self, file: dict[str, Any], model: str) -> dict[str, Any]:
        """An OpenAI ``file`` part with inline PDF data → a document block."""
        media_type, data = self._data_url(str(file.get("file_data") or ""), model)
        if media_type != "application/pdf":
            raise self.rejected(f"file parts must be inline PDF data, not {media_type!r}", model)
        return {"type": "document", "source": {"type": "base64", "media_type": media_type, "data": data}}

    def _data_url(self, url: str, model: str) -> tuple[str, str]:
        match = _DATA_URL.match(url)
        if not match or ";base64" not in match["params"]:
            shown = url[:40] + ("…" if len(url) > 40 else "")
            raise self.rejected(f"expected an http(s) URL or a base64 data: URL, got {shown!r}", model)
        return match["type"].lower(), match["data"]

    def _assistant_blocks(self, message: dict[str, Any], model: str) -> list[dict[str, Any]]:
        blocks = self._blocks(message.get("content"), model)
        for call in message.get("tool_calls") or []:
            fn = call.get("function") or {}
            raw = fn.get("arguments") or "{}"
            try:
                arguments = json.loads(raw) if isinstance(raw, str) else raw
            except ValueError:
                arguments = None
            if not isinstance(arguments, dict):
                raise self.rejected(f"tool call {fn.get('name')!r}: arguments must be a JSON object", model)
            blocks.append({"type": "tool_use", "id": _tool_id(call.get("id")), "name": fn.get("name", ""),
                           "input": arguments})
        return blocks

    def _tool_result(self, message: dict[str, Any], model: str) -> dict[str, Any]:
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": _tool_id(message.get("tool_call_id"))}
        content = message.get("content")
        if isinstance(content, str):
            if content:
                block["content"] = content
        elif content:
            block["content"] = self._blocks(content, model)
        return block


    # -- responses ------------------------------------------------------------------------
    def parse_chat(self, response: httpx2.Response, model: str) -> dict[str, Any]:
        data = self.read_json(response, model)
        if not isinstance(data, dict) or data.get("type") == "error" or "content" not in data:
            raise self.api_error(response, data, model, in_band=True)
        text: list[str] = []
        reasoning: list[str] = []
        tool_calls: list[dict[str, Any]] = []
        answer: list[str] = []
        for block in data.get("content") or []:
            kind = block.get("type")
            if kind == "text":
                text.append(block.get("text") or "")
            elif kind == "thinking":
                reasoning.append(block.get("thinking") or "")
            elif kind == "tool_use" and str(block.get("name")).startswith(OUTPUT_TOOL_PREFIX):
                answer.append(json.dumps(block.get("input") or {}, ensure_ascii=False))
            elif kind == "tool_use":
                tool_calls.append(_tool_call(block))
        content = "".join(answer or text)
        reason = finish_reason(data.get("stop_reason"))
        if answer and not tool_calls and reason == "tool_calls":
            reason = "stop"
        return _with_usage(
            completion(
                id=str(data.get("id") or "msg"),
                model=str(data.get("model") or model),
                content=content if content or not tool_calls else None,
                finish_reason=reason,
                tool_calls=tool_calls or None,
                reasoning_content="".join(reasoning) or None,
            ),
            data.get("usage"),
        )

    def stream_translator(self, response: httpx2.Response, model: str) -> StreamTranslator:
        return AnthropicStream(self, response, model)

    def parse_error(self, response: httpx2.Response, model: str) -> errors.APIStatusError:
        body = self.read_json(response, model, strict=False)
        return self.api_error(response, body, model, in_band=False)

    def api_error(
        self, response: httpx2.Response, body: Any, model: str, *, in_band: bool
    ) -> errors.APIStatusError:
        """``{type:"error", error:{type, message}}`` → the exception; ``in_band``: in a 200 body or stream."""
        http = response.status_code
        err = body.get("error") if isinstance(body, dict) else None
        if not isinstance(err, dict):
            if in_band:
                text = f"unexpected response body: {str(body)[:200]}"
                return self.error("server_error", text, response, model, body=body, status_code=502)
            text = body_summary(response)
            return self.error(errors.kind_for_status(http), text, response, model, body=body)
        etype = str(err.get("type") or "")
        message = str(err.get("message") or etype or "unknown error")
        kind, status = ERROR_TYPES.get(etype, (errors.kind_for_status(http), http))
        if kind == "bad_request":
            lowered = message.lower()
            kind = next((k for needle, k in ERROR_PATTERNS if needle in lowered), kind)
        status_code = status if in_band and status != http else None
        code = etype or None
        return self.error(kind, message, response, model, body=body, code=code, status_code=status_code)


def finish_reason(stop_reason: Any) -> str | None:
    if stop_reason is None:
        return None
    return STOP_REASONS.get(str(stop_reason), "stop")


@dataclass
class _Block:
    kind: str
    tool_index: int = -1
    arguments: int = 0  # characters of tool arguments sent so far


class AnthropicStream(StreamTranslator):
    """Named events → chunks; usage is merged across message_start and message_delta (cumulative)."""

    adapter: AnthropicAdapter

    def __init__(self, adapter: Adapter, response: httpx2.Response, model: str) -> None:
        super().__init__(adapter, response, model)
        self.id = "msg"
        self.vendor_model = model
        self.created = int(time.time())
        self.usage: dict[str, Any] = {}
        self.blocks: dict[int, _Block] = {}
        self.tools = 0
        self.finished = False
        self.role_sent = False

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        if not event.data:
            return []
        obj = self.decode(event.data)
        if not isinstance(obj, dict):
            return []
        etype = obj.get("type") or event.event
        if etype == "error" or event.event == "error":
            raise self.adapter.api_error(self.response, obj, self.model, in_band=True)
        handler = getattr(self, f"_on_{etype}", None)
        out: list[dict[str, Any]] = handler(obj) if handler is not None else []  # ping and unknown: ignored
        return out

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        if not self.role_sent:  # the role rides on the first real output, not on message_start
            self.role_sent = True
            delta = {"role": "assistant", **delta}
        return chunk(id=self.id, model=self.vendor_model, delta=delta, finish_reason=finish,
                     created=self.created)

    def _on_message_start(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        message = obj.get("message") or {}
        self.id = str(message.get("id") or self.id)
        self.vendor_model = str(message.get("model") or self.vendor_model)
        self._merge_usage(message.get("usage"))
        return []

    def _on_content_block_start(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        block = obj.get("content_block") or {}
        kind = str(block.get("type"))
        state = self.blocks[int(obj.get("index", 0))] = _Block(kind)
        if kind == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if kind == "thinking" and block.get("thinking"):
            return [self._chunk({"reasoning_content": block["thinking"]})]
        if kind == "tool_use" and str(block.get("name")).startswith(OUTPUT_TOOL_PREFIX):
            state.kind = "answer"  # the response format's tool: its input streams as content
            return []
        if kind == "tool_use":
            state.tool_index, self.tools = self.tools, self.tools + 1
            head = {"index": state.tool_index, "id": block.get("id"), "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""}}
            return [self._chunk({"tool_calls": [head]})]
        return []

    def _on_content_block_delta(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        delta = obj.get("delta") or {}
        state = self.blocks.get(int(obj.get("index", 0)))
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if kind == "thinking_delta" and delta.get("thinking"):
            return [self._chunk({"reasoning_content": delta["thinking"]})]
        if kind == "input_json_delta" and state is not None and state.kind == "answer":
            part = str(delta.get("partial_json") or "")
            if part:
                state.arguments += len(part)
                return [self._chunk({"content": part})]
        if kind == "input_json_delta" and state is not None and state.kind == "tool_use":
            part = str(delta.get("partial_json") or "")
            if part:
                state.arguments += len(part)
                return [self._arguments(state, part)]
        return []  # signature_delta, citations, server-tool input: nothing OpenAI-shaped

    def _on_content_block_stop(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        state = self.blocks.get(int(obj.get("index", 0)))
        if state is not None and state.kind in ("tool_use", "answer") and not state.arguments:
            state.arguments = 2  # a tool without input: arguments (or the answer) must still be JSON
            return [self._chunk({"content": "{}"}) if state.kind == "answer" else self._arguments(state, "{}")]
        return []

    def _arguments(self, state: _Block, part: str) -> dict[str, Any]:
        return self._chunk({"tool_calls": [{"index": state.tool_index, "function": {"arguments": part}}]})

    def _on_message_delta(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        self._merge_usage(obj.get("usage"))
        reason = (obj.get("delta") or {}).get("stop_reason")
        if reason is None:
            return []
        finish = finish_reason(reason)
        if finish == "tool_calls" and not self.tools:  # only the response format's tool was called
            finish = "stop"
        return [self._finish(finish)]

    def _on_message_stop(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        if self.finished:
            self.complete = True
            return []
        return [self._finish("stop")]

    def _finish(self, reason: str | None) -> dict[str, Any]:
        self.finished = self.complete = True
        return _with_usage(self._chunk({}, reason), self.usage)

    def _merge_usage(self, usage: Any) -> None:
        """message_delta counts are cumulative: later values replace earlier ones, never add."""
        if isinstance(usage, dict):
            self.usage.update({k: v for k, v in usage.items() if v is not None})


def openai_usage(usage: Any) -> dict[str, Any] | None:
    """Anthropic usage → OpenAI's: input_tokens excludes cache reads/writes, prompt_tokens includes them."""
    if not isinstance(usage, dict):
        return None
    fresh = int(usage.get("input_tokens") or 0)
    read = int(usage.get("cache_read_input_tokens") or 0)
    written = int(usage.get("cache_creation_input_tokens") or 0)
    completion = int(usage.get("output_tokens") or 0)
    prompt = fresh + read + written
    out: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                           "total_tokens": prompt + completion}
    if "cache_read_input_tokens" in usage or "cache_creation_input_tokens" in usage:
        out["prompt_tokens_details"] = {"cached_tokens": read}
    return out


def _with_usage(out: dict[str, Any], usage: Any) -> dict[str, Any]:
    converted = openai_usage(usage) if usage else None
    if converted is not None:
        out["usage"] = converted
    return out


def _tool_call(block: dict[str, Any]) -> dict[str, Any]:
    arguments = block.get("input")
    text = json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)
    function = {"name": block.get("name"), "arguments": text}
    return {"id": block.get("id"), "type": "function", "function": function}


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        return {"auto": {"type": "auto"}, "none": {"type": "none"}, "required": {"type": "any"}}.get(choice)
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "tool", "name": choice["function"]["name"]}
    return None


def _tool_id(value: Any) -> str:
    """Ids must match ^[a-zA-Z0-9_-]+$; history from other vendors may carry other characters."""
    return _ID_UNSAFE.sub("_", str(value or "")) or "tool_call"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text") or "") for p in content if isinstance(p, dict) and p.get("text"))
    return ""


def _add_system(body: dict[str, Any], text: str) -> None:
    """Append ``text`` to the request's top-level ``system`` (a string or text blocks)."""
    system = body.get("system")
    if not system:
        body["system"] = text
    elif isinstance(system, str):
        body["system"] = [{"type": "text", "text": system}, {"type": "text", "text": text}]
    else:
        body["system"] = [*system, {"type": "text", "text": text}]
