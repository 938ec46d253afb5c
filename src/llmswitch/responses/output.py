"""A chat completion → a Response: output items, usage and status, as OpenAI's wire JSON.

The builders here are shared with the stream translator, so a streamed Response and a plain one
made from the same answer are the same object, field for field.
"""

from __future__ import annotations

from typing import Any

from .request import BridgeContext

__all__ = ["from_chat", "function_call", "message_item", "reasoning_item", "response", "status_of", "usage"]

# chat finish_reason → (status, incomplete reason)
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def status_of(finish_reason: str | None) -> tuple[str, dict[str, str] | None]:
    reason = _INCOMPLETE.get(finish_reason or "")
    return ("incomplete", {"reason": reason}) if reason else ("completed", None)


def usage(chat_usage: dict[str, Any]) -> dict[str, Any]:
    """Responses' usage from chat's: input/output/total with their details."""
    prompt = chat_usage.get("prompt_tokens") or 0
    completion = chat_usage.get("completion_tokens") or 0
    details = chat_usage.get("prompt_tokens_details") or {}
    reasoning = (chat_usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": details.get("cached_tokens") or 0,
                                 "cache_write_tokens": details.get("cache_write_tokens") or 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": chat_usage.get("total_tokens") or prompt + completion,
    }


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, content: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {"type": "message", "id": item_id, "role": "assistant", "status": status, "content": content}


def reasoning_item(item_id: str, text: str | None, status: str = "completed") -> dict[str, Any]:
    content = [] if text is None else [{"type": "reasoning_text", "text": text}]
    return {"type": "reasoning", "id": item_id, "summary": [], "content": content, "status": status}


def function_call(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {"type": "function_call", "id": item_id, "call_id": call_id, "name": name, "arguments": arguments,
            "status": status}


def response(ctx: BridgeContext, model: str, status: str, output: list[dict[str, Any]],
             incomplete: dict[str, str] | None = None, chat_usage: dict[str, Any] | None = None,
             error: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {
        "id": ctx.response_id,
        "object": "response",
        "created_at": ctx.created_at,
        "model": model,
        "status": status,
        "error": error,
        "incomplete_details": incomplete,
        "output": output,
        **ctx.echo,
    }
    if chat_usage:  # the spec has no null usage: absent until known
        out["usage"] = usage(chat_usage)
    return out


def from_chat(completion: dict[str, Any], ctx: BridgeContext) -> dict[str, Any]:
    """The Response for a chat completion (its first choice); stored when the request allowed it."""
    choice = completion["choices"][0]
    message = choice.get("message") or {}
    status, incomplete = status_of(choice.get("finish_reason"))
    output: list[dict[str, Any]] = []
    if message.get("reasoning_content"):
        output.append(reasoning_item(ctx.ids("rs"), message["reasoning_content"]))
    calls = message.get("tool_calls") or []
    content = message.get("content")
    parts = []
    if content or (content is not None and not calls):
        parts.append(text_part(content))
    if message.get("refusal"):
        parts.append({"type": "refusal", "refusal": message["refusal"]})
    if parts:
        output.append(message_item(ctx.ids("msg"), parts, "incomplete" if status == "incomplete" else "completed"))
    for call in calls:
        fn = call.get("function") or {}
        output.append(function_call(ctx.ids("fc"), call.get("id") or ctx.ids("call"), fn.get("name") or "",
                                    fn.get("arguments") or "", "completed"))
    result = response(ctx, completion.get("model") or ctx.model, status, output, incomplete, completion.get("usage"))
    ctx.remember(result, output)
    return result
