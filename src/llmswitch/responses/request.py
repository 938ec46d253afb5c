"""A Responses ``create`` body → chat-completions params, plus what the way back needs.

:func:`to_chat` does the whole request side in one pass: it expands ``previous_response_id``
from the store, turns items into messages and Responses' flat tools, ``tool_choice`` and
``text.format`` into their chat shapes, and refuses what a chat target cannot do (built-in
tools, server-side prompts and conversations) before anything is sent. Keys it does not know
pass through to the chat params, as ``extra_body`` does for chat calls, so vendor extras work.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import BuiltinToolError, bad_request, not_found
from .items import as_items, to_messages
from .store import ResponseStore

__all__ = ["BUILTIN_TOOLS", "BridgeContext", "new_id", "to_chat"]

#: tool types only OpenAI's servers run; a chat-completions target cannot
BUILTIN_TOOLS = frozenset({
    "web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11",
    "file_search", "computer", "computer_use", "computer_use_preview", "code_interpreter",
    "image_generation", "mcp", "local_shell", "shell", "apply_patch", "tool_search",
    "programmatic_tool_calling",
})

# Response fields that repeat the request, with OpenAI's values when the request omits them
_ECHO_DEFAULTS: dict[str, Any] = {
    "instructions": None, "max_output_tokens": None, "max_tool_calls": None, "metadata": {},
    "parallel_tool_calls": True, "previous_response_id": None, "reasoning": None, "service_tier": None,
    "temperature": None, "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [],
    "top_logprobs": None, "top_p": None, "truncation": "disabled", "user": None, "prompt_cache_key": None,
    "safety_identifier": None, "background": False,
}
# the spec wants these present even when null; other unset fields are left out
_NULLABLE = frozenset({"instructions", "temperature", "top_p"})
# keys the bridge itself serves; never forwarded to the chat target
_OWNED = frozenset({"input", "model", "instructions", "tools", "tool_choice", "text", "max_output_tokens",
                    "reasoning", "top_logprobs", "parallel_tool_calls", "store", "metadata", "previous_response_id",
                    "stream", "stream_options", "truncation", "include", "max_tool_calls", "background",
                    "prompt_cache_retention", "prompt_cache_options", "context_management", "access_programs",
                    "moderation", "image", "background_options"})
_SAME_NAME = ("temperature", "top_p", "user", "service_tier", "prompt_cache_key", "safety_identifier")
# features that live on OpenAI's servers: refused rather than silently dropped
_SERVER_SIDE = {"conversation": "conversations are stored by OpenAI; use previous_response_id",
                "prompt": "prompt templates are stored by OpenAI"}


def new_id(prefix: str) -> str:
    """An id shaped like OpenAI's (``resp_…``, ``msg_…``, ``fc_…``, ``rs_…``)."""
    return f"{prefix}_{os.urandom(16).hex()}"


@dataclass
class BridgeContext:
    """What turning the chat answer back into a Response needs to know about the request."""

    response_id: str
    created_at: int
    model: str
    echo: dict[str, Any]  # request fields the Response repeats
    conversation: list[dict[str, Any]]  # prior items + this input, kept with the output when stored
    store: ResponseStore | None = None  # where to keep the response; None when store=false
    ids: Callable[[str], str] = new_id

    def remember(self, response: dict[str, Any], output: list[dict[str, Any]]) -> None:
        if self.store is not None:
            self.store.put(response, self.conversation + output)


def to_chat(body: dict[str, Any], store: ResponseStore | None, *,
            ids: Callable[[str], str] = new_id, now: Callable[[], float] = time.time,
            ) -> tuple[dict[str, Any], BridgeContext]:
    """(chat params, context) for a Responses create body; raises a 400/404 naming the field at fault."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("is required", "model")
    for key, why in _SERVER_SIDE.items():
        if body.get(key) is not None:
            raise bad_request(f"cannot be bridged to a chat-completions target ({why})", key, model=model)
    if body.get("background"):
        raise bad_request("background responses need OpenAI's servers; call without background", "background",
                          model=model)
    if "input" not in body:
        raise bad_request("is required", "input", model=model)
    items = as_items(body["input"])
    previous = body.get("previous_response_id")
    if previous is not None:
        if store is None:
            raise not_found(previous, "this client keeps no response store", param="previous_response_id")
        items = store.get(previous, param="previous_response_id").conversation + items

    params: dict[str, Any] = {"model": model, "messages": to_messages(items, body.get("instructions"))}
    tools = _tools(body.get("tools"), model)
    choice = body.get("tool_choice")
    if choice is not None:
        tools, choice = _tool_choice(choice, tools, model)
    if tools:
        params["tools"] = tools
        if choice is not None:
            params["tool_choice"] = choice
        if body.get("parallel_tool_calls") is not None:
            params["parallel_tool_calls"] = body["parallel_tool_calls"]
    _text(body.get("text"), params, model)
    if body.get("max_output_tokens") is not None:
        params["max_completion_tokens"] = body["max_output_tokens"]
    effort = (body.get("reasoning") or {}).get("effort")
    if effort is not None:
        params["reasoning_effort"] = effort
    if body.get("top_logprobs"):
        params["logprobs"] = True
        params["top_logprobs"] = body["top_logprobs"]
    for key in _SAME_NAME:
        if body.get(key) is not None:
            params[key] = body[key]
    for key, value in body.items():  # vendor extras (extra_body) go through as for chat calls
        if key not in _OWNED and key not in params and key not in _SAME_NAME:
            params[key] = value
    if body.get("stream"):
        params["stream"] = True
        params["stream_options"] = {"include_usage": True}

    echo = {key: body[key] if body.get(key) is not None else default for key, default in _ECHO_DEFAULTS.items()}
    echo = {key: value for key, value in echo.items() if value is not None or key in _NULLABLE}
    ctx = BridgeContext(
        response_id=ids("resp"), created_at=int(now()), model=model, echo=echo, conversation=items,
        store=store if body.get("store", True) is not False else None, ids=ids,
    )
    return params, ctx


def _tools(tools: Any, model: str) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise bad_request("must be a list", "tools", model=model)
    out = []
    for index, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind in BUILTIN_TOOLS:
            raise BuiltinToolError(str(kind), param=f"tools[{index}]", model=model)
        if kind != "function":
            raise bad_request(f"tool type {kind!r} cannot be bridged; only function tools can", f"tools[{index}].type",
                              model=model)
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise bad_request("is required", f"tools[{index}].name", model=model)
        function: dict[str, Any] = {"name": name}
        for key in ("description", "parameters", "strict"):
            if tool.get(key) is not None:
                function[key] = tool[key]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any, tools: list[dict[str, Any]], model: str) -> tuple[list[dict[str, Any]], Any]:
    """(tools, chat tool_choice); ``allowed_tools`` narrows the tool list, since few vendors know it."""
    if choice in ("auto", "none", "required"):
        return tools, choice
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "function":
        return tools, {"type": "function", "function": {"name": choice.get("name")}}
    if kind == "allowed_tools":
        allowed = {t.get("name") for t in choice.get("tools") or () if isinstance(t, dict)}
        for t in choice.get("tools") or ():
            if isinstance(t, dict) and t.get("type") in BUILTIN_TOOLS:
                raise BuiltinToolError(str(t["type"]), param="tool_choice.tools", model=model)
        narrowed = [t for t in tools if t["function"]["name"] in allowed]
        return narrowed, choice.get("mode") or "auto"
    if kind in BUILTIN_TOOLS:
        raise BuiltinToolError(str(kind), param="tool_choice", model=model)
    raise bad_request(f"{choice!r} cannot be bridged; use auto, none, required, a function or allowed_tools",
                      "tool_choice", model=model)


def _text(text: Any, params: dict[str, Any], model: str) -> None:
    if not isinstance(text, dict):
        return
    if text.get("verbosity") is not None:
        params["verbosity"] = text["verbosity"]
    fmt = text.get("format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if fmt is None or kind == "text":
        return
    if kind == "json_object":
        params["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        if not fmt.get("name") or not isinstance(fmt.get("schema"), dict):
            raise bad_request("a json_schema format needs a name and a schema", "text.format", model=model)
        schema = {key: fmt[key] for key in ("name", "description", "schema", "strict") if fmt.get(key) is not None}
        params["response_format"] = {"type": "json_schema", "json_schema": schema}
    else:
        raise bad_request(f"format type {kind!r} is not one of text, json_object, json_schema", "text.format.type",
                          model=model)
