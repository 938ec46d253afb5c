"""Responses input items → chat-completions messages.

The Responses API speaks in items (messages, function calls, their outputs, reasoning); chat
speaks in role turns. Function calls join the assistant turn before them, as chat wants one
assistant message carrying every parallel call; reasoning text rides on the next assistant turn
as ``reasoning_content`` (DeepSeek needs it echoed back on tool turns, others drop it).
"""

from __future__ import annotations

from typing import Any

from .errors import bad_request

__all__ = ["as_items", "to_messages"]


def as_items(value: Any, param: str = "input") -> list[dict[str, Any]]:
    """``input`` as a list of items: a string is one user message."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list):
        raise bad_request(f"must be a string or a list of items, got {type(value).__name__}", param)
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise bad_request(f"must be an object, got {type(item).__name__}", f"{param}[{index}]")
    return value


def to_messages(items: list[dict[str, Any]], instructions: Any) -> list[dict[str, Any]]:
    """The chat ``messages`` for ``instructions`` followed by ``items``."""
    messages: list[dict[str, Any]] = []
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    elif isinstance(instructions, list):  # instructions given as input items
        messages += to_messages(as_items(instructions, "instructions"), None)
    reasoning: list[str] = []
    for index, item in enumerate(items):
        kind = item.get("type") or ("message" if "role" in item else None)
        where = f"input[{index}]"
        if kind == "message":
            message = _message(item, where)
            if message["role"] == "assistant":
                _carry(message, reasoning)
            messages.append(message)
        elif kind == "function_call":
            turn = _assistant_turn(messages, reasoning)
            turn.setdefault("tool_calls", []).append({
                "id": _required(item, "call_id", where),
                "type": "function",
                "function": {"name": _required(item, "name", where), "arguments": item.get("arguments") or "{}"},
            })
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": _required(item, "call_id", where),
                             "content": _tool_output(item.get("output"), where)})
        elif kind == "reasoning":
            reasoning += [part["text"] for part in item.get("content") or () if part.get("text")]
            if not item.get("content"):
                reasoning += [part["text"] for part in item.get("summary") or () if part.get("text")]
        elif kind == "item_reference":
            raise bad_request("item references need OpenAI's server-side state; send the item itself, or "
                              "continue with previous_response_id", where)
        else:
            raise bad_request(f"item type {kind!r} cannot be sent to a chat-completions target; supported: "
                              "message, function_call, function_call_output, reasoning", f"{where}.type")
    return messages


def _required(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise bad_request("is required and must be a non-empty string", f"{where}.{key}")
    return value


def _carry(message: dict[str, Any], reasoning: list[str]) -> None:
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
        reasoning.clear()


def _assistant_turn(messages: list[dict[str, Any]], reasoning: list[str]) -> dict[str, Any]:
    """The assistant message a function call belongs to: the last one, unless a turn followed it."""
    if messages and messages[-1]["role"] == "assistant" and not reasoning:
        return messages[-1]
    turn: dict[str, Any] = {"role": "assistant", "content": None}
    _carry(turn, reasoning)
    messages.append(turn)
    return turn


_ROLES = {"user": "user", "system": "system", "developer": "system", "assistant": "assistant"}


def _message(item: dict[str, Any], where: str) -> dict[str, Any]:
    role = _ROLES.get(item.get("role"))  # type: ignore[arg-type]
    if role is None:
        raise bad_request(f"role {item.get('role')!r} is not one of user, system, developer, assistant",
                          f"{where}.role")
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise bad_request("must be a string or a list of content parts", f"{where}.content")
    parts = [_part(part, f"{where}.content[{i}]") for i, part in enumerate(content)]
    if role != "user" or all(part["type"] == "text" for part in parts):
        # only user turns may carry images/files in chat; text-only lists become one string,
        # which every vendor accepts
        for i, part in enumerate(parts):
            if part["type"] != "text":
                raise bad_request(f"a {role} message can only hold text", f"{where}.content[{i}]")
        return {"role": role, "content": "".join(part["text"] for part in parts)}
    return {"role": role, "content": parts}


def _part(part: Any, where: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": part.get("text") or ""}
    if kind == "refusal":
        return {"type": "text", "text": part.get("refusal") or ""}
    if kind == "input_image":
        url = part.get("image_url")
        if not url:
            raise bad_request("only image_url images can be bridged (file_id needs OpenAI's Files API)",
                              f"{where}.image_url")
        image = {"url": url}
        if part.get("detail") and part["detail"] != "auto":
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        if not part.get("file_data"):
            raise bad_request("only inline files (file_data) can be bridged", f"{where}.file_data")
        file = {k: part[k] for k in ("file_data", "filename") if part.get(k)}
        return {"type": "file", "file": file}
    raise bad_request(f"content part type {kind!r} is not supported; supported: input_text, input_image, "
                      "input_file, output_text, refusal", f"{where}.type")


def _tool_output(output: Any, where: str) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        parts = [_part(part, f"{where}.output[{i}]") for i, part in enumerate(output)]
        for i, part in enumerate(parts):
            if part["type"] != "text":
                raise bad_request("chat tool results can only hold text", f"{where}.output[{i}]")
        return "".join(part["text"] for part in parts)
    raise bad_request("must be a string or a list of content parts", f"{where}.output")
