"""Capability filtering: a target that cannot take a request is skipped before any strategy runs.

What a request needs (tools, vision, JSON mode, streaming, a context window) is read from the
request itself; what a target offers comes from the catalog. A model the catalog does not know
is given the benefit of the doubt. Structured output (``response_format`` json_schema) needs
``json_mode``: every adapter of a model that has it can honour a schema (natively, by a forced
tool, or by JSON mode with the schema in the prompt), while one without it could only ask.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from . import errors
from .catalog import ModelInfo

__all__ = ["capable", "needs"]


class _Target(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def info(self) -> ModelInfo | None: ...


T = TypeVar("T", bound=_Target)


def needs(params: Mapping[str, Any], operation: str, stream: bool = False) -> tuple[set[str], int]:
    """Capabilities a request needs, and a rough token estimate (4 characters a token)."""
    if operation == "embeddings":
        return {"embeddings"}, 0
    required: set[str] = {"stream"} if stream else set()
    if params.get("tools") or params.get("functions"):
        required.add("tools")
    fmt = params.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") in ("json_object", "json_schema"):
        required.add("json_mode")
    chars = 0
    for message in params.get("messages") or ():
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping):
                    if part.get("type") in ("image_url", "input_image", "image"):
                        required.add("vision")
                    chars += len(str(part.get("text", "")))
    output = params.get("max_completion_tokens") or params.get("max_tokens") or 0
    return required, chars // 4 + int(output)


def capable(targets: list[tuple[T, float]], params: Mapping[str, Any], operation: str,
            stream: bool = False) -> tuple[list[tuple[T, float]], list[errors.Attempt]]:
    """Targets that can take the request, and a skip record for each one that cannot."""
    if len(targets) < 2:
        return targets, []
    required, tokens = needs(params, operation, stream)
    usable: list[tuple[T, float]] = []
    skipped: list[errors.Attempt] = []
    for target, weight in targets:
        info = target.info
        if info is None:  # unknown model: nothing to go by, so it may try
            usable.append((target, weight))
            continue
        lacking = sorted(required - info.capabilities)
        too_long = info.context_window is not None and tokens > info.context_window
        if lacking or too_long:
            why = f"lacks {', '.join(lacking)}" if lacking else f"context window {info.context_window} < ~{tokens}"
            skipped.append(errors.Attempt(target.key, None, 0.0, f"skipped: {why}"))
        else:
            usable.append((target, weight))
    if not usable:
        lines = "; ".join(f"{a.target} ({a.kind})" for a in skipped)
        raise errors.ConfigError(f"no target can take this request: {lines}")
    return usable, skipped
