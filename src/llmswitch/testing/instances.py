"""A deterministic instance of a JSON Schema: what a mock model answers to a structured request.

Covers what pydantic, zod and vendors emit: objects (every listed property, so nested models are
exercised), strings (with common formats and length bounds), numbers and integers within their
bounds, booleans, arrays (within item counts), ``enum``/``const``, ``$ref`` into ``$defs`` or
``definitions``, ``anyOf``/``oneOf`` (the first non-null branch), ``allOf``, nullable types, and
Gemini's OpenAPI subset (upper-case type names, ``nullable``). The same schema always gives the
same instance, so tests can predict it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["instance_of", "schema_in_text", "shapeless"]

_FORMATS = {
    "date-time": "2026-01-02T03:04:05Z",
    "date": "2026-01-02",
    "time": "03:04:05",
    "email": "mock@example.com",
    "uri": "https://example.com/mock",
    "url": "https://example.com/mock",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
}
_MAX_DEPTH = 12  # recursive models (a tree of nodes) stop here with the smallest valid value
_SCHEMA_MARK = re.compile(r"schema[^\n{]*[:\n]\s*(?=\{)", re.IGNORECASE)
# keywords that give a schema a shape; one with none ({"type": "object"}) says only "some JSON"
_SHAPE = frozenset({"properties", "items", "enum", "const", "$ref", "anyOf", "oneOf", "allOf", "prefixItems"})


def instance_of(schema: Any, *, name: str = "value") -> Any:
    """A value valid against ``schema``; ``name`` seeds strings (the property name, for readability)."""
    root = schema if isinstance(schema, Mapping) else {}
    defs = {**(root.get("definitions") or {}), **(root.get("$defs") or {})}
    return _value(root, defs, name, 0)


def shapeless(schema: Any) -> bool:
    """True for no schema, or one that asks only for some JSON value of a type."""
    return not isinstance(schema, Mapping) or not (_SHAPE & schema.keys())


def schema_in_text(text: str) -> Any:
    """The JSON Schema quoted in an instruction ("… this JSON Schema (name):\\n{…}", instructor's
    "… the following json_schema:\\n\\n{…}"), or None."""
    match = _SCHEMA_MARK.search(text)
    if match is None:
        return None
    try:
        schema, _ = json.JSONDecoder().raw_decode(text, match.end())
    except ValueError:
        return None
    return schema if isinstance(schema, dict) else None


def _value(node: Mapping[str, Any], defs: Mapping[str, Any], name: str, depth: int) -> Any:
    if "$ref" in node:
        target = defs.get(str(node["$ref"]).rsplit("/", 1)[-1], {})
        return _value({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs, name, depth + 1)
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return node["enum"][0]
    if "default" in node and depth >= _MAX_DEPTH:
        return node["default"]
    for key in ("anyOf", "oneOf"):
        options = [o for o in node.get(key) or [] if isinstance(o, Mapping)]
        if options:
            real = [o for o in options if _type(o) != "null"] or options
            return _value(real[0], defs, name, depth + 1)
    if node.get("allOf"):
        merged: dict[str, Any] = {}
        for part in node["allOf"]:
            part = _resolved(part, defs)
            merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
            merged.setdefault("properties", {}).update(part.get("properties") or {})
            merged.setdefault("required", []).extend(part.get("required") or [])
        return _value(merged, defs, name, depth + 1)
    kind = _type(node)
    if kind == "object":
        return _object(node, defs, depth)
    if kind == "array":
        return _array(node, defs, name, depth)
    if kind == "string":
        return _string(node, name)
    if kind == "integer":
        return int(_number(node, 1))
    if kind == "number":
        return _number(node, 1.5)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return f"mock {name}"  # an empty schema accepts anything


def _resolved(node: Any, defs: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(node, Mapping):
        return {}
    if "$ref" in node:
        target = defs.get(str(node["$ref"]).rsplit("/", 1)[-1])
        return target if isinstance(target, Mapping) else {}
    return node


def _type(node: Mapping[str, Any]) -> str | None:
    kind = node.get("type")
    if isinstance(kind, list):
        real = [k for k in kind if str(k).lower() != "null"]
        kind = real[0] if real else "null"
    if kind is None:
        if "properties" in node:
            return "object"
        if "items" in node:
            return "array"
        return None
    return str(kind).lower()


def _object(node: Mapping[str, Any], defs: Mapping[str, Any], depth: int) -> dict[str, Any]:
    properties = node.get("properties") or {}
    required = set(node.get("required") or ())
    out: dict[str, Any] = {}
    for key, sub in properties.items():
        if depth >= _MAX_DEPTH and key not in required:
            continue  # deep in a recursive model: only what must be there
        out[key] = _value(sub if isinstance(sub, Mapping) else {}, defs, key, depth + 1)
    return out


def _array(node: Mapping[str, Any], defs: Mapping[str, Any], name: str, depth: int) -> list[Any]:
    count = int(node.get("minItems") or 0)
    if depth < _MAX_DEPTH:
        count = max(count, 1)
    if node.get("maxItems") is not None:
        count = min(count, int(node["maxItems"]))
    items = node.get("items")
    if isinstance(node.get("prefixItems"), list):
        return [_value(sub, defs, name, depth + 1) for sub in node["prefixItems"]]
    item = items if isinstance(items, Mapping) else {}
    return [_value(item, defs, name, depth + 1) for _ in range(count)]


def _string(node: Mapping[str, Any], name: str) -> str:
    fmt = node.get("format")
    if fmt in _FORMATS:
        return _FORMATS[str(fmt)]
    text = f"mock {name}"
    low = int(node.get("minLength") or 0)
    if len(text) < low:
        text += "x" * (low - len(text))
    high = node.get("maxLength")
    return text[: int(high)] if high is not None else text


def _number(node: Mapping[str, Any], preferred: float) -> float:
    """The first of a few candidates (``preferred``, the bounds, just inside them, the middle) that
    satisfies ``minimum``/``maximum`` and their exclusive forms."""
    integer = isinstance(preferred, int)
    low, high = node.get("minimum"), node.get("maximum")
    ex_low, ex_high = _bound(node.get("exclusiveMinimum")), _bound(node.get("exclusiveMaximum"))
    edges = [b for b in (low, high, ex_low, ex_high) if b is not None]
    candidates: list[float] = [preferred]
    for edge in edges:
        candidates += [edge, edge + 1, edge - 1]
    if len(edges) >= 2:
        middle = (min(edges) + max(edges)) / 2
        candidates += [math.floor(middle), math.ceil(middle), middle]
    for value in candidates:
        if integer and value != int(value):
            continue
        if (low is not None and value < low) or (high is not None and value > high):
            continue
        if (ex_low is not None and value <= ex_low) or (ex_high is not None and value >= ex_high):
            continue
        return int(value) if integer else value
    return preferred


def _bound(value: Any) -> float | None:
    """An exclusive bound's number (draft 4's boolean form carries none)."""
    return None if value is None or isinstance(value, bool) else float(value)
