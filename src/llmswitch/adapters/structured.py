"""Structured outputs (``response_format``) for vendors that lack OpenAI's exact feature.

OpenAI's ``{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`` is what
``chat.completions.parse()``, instructor, langchain and pydantic-ai send. Each adapter honours it
the best way its vendor allows: a native schema field (Gemini, Ollama, MiniMax, OpenAI dialects),
a forced tool (Anthropic), or the vendor's JSON mode plus the schema written into the system prompt.
A vendor with no JSON mode at all gets the instruction only: that cannot be guaranteed, so strict
mode refuses it before sending and lenient mode sends it with one :class:`StructuredOutputWarning`.

Nothing here runs unless a request carries ``response_format``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pydantic_core

if TYPE_CHECKING:
    from .base import Adapter

__all__ = [
    "JSON_INSTRUCTION",
    "OutputSpec",
    "StructuredOutputWarning",
    "instruction",
    "output_spec",
    "prepared",
    "refuse_or_warn",
    "with_instruction",
]

#: what a vendor's dialect can take, best first: the schema itself, JSON mode only, or nothing
Support = Literal["json_schema", "json_object", "prompt"]

JSON_INSTRUCTION = (
    "Respond with a single valid JSON object and nothing else: no Markdown code fences, "
    "no text before or after it."
)
_SCHEMA_INSTRUCTION = JSON_INSTRUCTION + " The object must conform to this JSON Schema{name}:\n{schema}"


class StructuredOutputWarning(UserWarning):
    """A ``response_format`` was sent in a weaker form than asked (lenient mode); says what was done."""


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """The caller's ``response_format``, read once: JSON mode, or a named schema."""

    kind: Literal["json_object", "json_schema"]
    name: str = "response"
    schema: Mapping[str, Any] | None = None

    @property
    def label(self) -> str:
        return "response_format json_schema" if self.kind == "json_schema" else "response_format json_object"


def output_spec(response_format: Any) -> OutputSpec | None:
    """The spec of a ``response_format`` asking for JSON; None for text, absent or unknown kinds."""
    if not isinstance(response_format, Mapping):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return OutputSpec("json_object")
    if kind != "json_schema":
        return None
    spec = response_format.get("json_schema")
    if not isinstance(spec, Mapping):
        spec = {}
    schema = spec.get("schema")
    return OutputSpec("json_schema", str(spec.get("name") or "response"),
                      schema if isinstance(schema, Mapping) else None)


def instruction(spec: OutputSpec) -> str:
    """The system-prompt text that asks for JSON (and, with a schema, quotes it)."""
    if spec.schema is None:
        return JSON_INSTRUCTION
    name = f" ({spec.name})" if spec.name else ""
    return _SCHEMA_INSTRUCTION.format(name=name, schema=pydantic_core.to_json(spec.schema).decode())


def with_instruction(messages: list[Any], text: str) -> list[Any]:
    """``messages`` with ``text`` in the system prompt: appended to a leading string system message,
    else a new first system message (several vendors take one system message, first)."""
    first = messages[0] if messages else None
    if isinstance(first, Mapping) and first.get("role") in ("system", "developer") \
            and isinstance(first.get("content"), str):
        return [{**first, "content": f"{first['content']}\n\n{text}"}, *messages[1:]]
    return [{"role": "system", "content": text}, *messages]


def refuse_or_warn(adapter: Adapter, spec: OutputSpec, model: str) -> None:
    """For a vendor with no JSON mode for ``spec``: strict mode refuses before sending; lenient mode
    warns once that the format is only asked for in the system prompt."""
    vendor = adapter.provider.preset.name
    if adapter.provider.strict:
        raise adapter.rejected(f"{spec.label} is not supported by {vendor!r} (no JSON mode for it; "
                               "lenient mode would ask for it in the system prompt)", model)
    warnings.warn(StructuredOutputWarning(
        f"provider {adapter.provider.name!r} ({vendor}), model {model!r}: {spec.label} is not supported; "
        "the format was asked for in the system prompt instead, so the reply may not be valid JSON"),
        stacklevel=4)


def prepared(adapter: Adapter, params: dict[str, Any], support: Support, model: str
             ) -> tuple[dict[str, Any], str | None]:
    """``params`` for a vendor whose best is ``support``, and the JSON-mode kind to send natively.

    With native schema support nothing changes. Otherwise the instruction joins the system prompt
    (JSON modes want the word "JSON" in the prompt anyway): beside the vendor's JSON mode
    (``json_object`` returned, for the caller to map to the vendor's field), or alone (None
    returned, after :func:`refuse_or_warn`).
    """
    spec = output_spec(params.get("response_format"))
    if spec is None or support == "json_schema":
        return params, spec.kind if spec is not None else None
    if support == "prompt":
        refuse_or_warn(adapter, spec, model)
    out = dict(params)
    out["messages"] = with_instruction(list(params.get("messages") or []), instruction(spec))
    return out, "json_object" if support == "json_object" else None
