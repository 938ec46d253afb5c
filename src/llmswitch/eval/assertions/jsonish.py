"""JSON assertions (is-json, json-schema, json-path) and tool-call, which checks JSON arguments."""

from __future__ import annotations

import json
import re
from functools import cached_property
from typing import Any

from pydantic import field_validator, model_validator

from ..template import render
from .base import Context, Grade, Kind, Options, Output, verdict

__all__ = ["KINDS", "parse_path"]

_MISSING = object()
_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\[['\"]([^'\"]+)['\"]\]")


def parse_path(path: str) -> tuple[str | int, ...]:
    """``$.a.b[0]`` or ``a.b[0]`` → ('a', 'b', 0); a ValueError names what cannot be read."""
    rest = path.strip()
    rest = rest[1:] if rest.startswith("$") else rest
    rest = rest if not rest or rest[0] in ".[" else "." + rest
    steps: list[str | int] = []
    position = 0
    while position < len(rest):
        match = _STEP.match(rest, position)
        if match is None:
            raise ValueError(f"bad JSON path {path!r} at {rest[position:]!r} (use $.a.b[0])")
        key, index, quoted = match.groups()
        steps.append(int(index) if index is not None else (key or quoted))
        position = match.end()
    return tuple(steps)


def _check_schema(schema: dict[str, Any]) -> dict[str, Any]:
    from jsonschema import SchemaError, validators

    try:
        validators.validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
    return schema


def _schema_errors(schema: dict[str, Any], value: Any) -> list[str]:
    from jsonschema import validators

    validator = validators.validator_for(schema)(schema)
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in validator.iter_errors(value)]


def _parsed(text: str) -> tuple[Any, str | None]:
    """The output as JSON; a fenced ```json block is unwrapped first, as models often add one."""
    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, re.DOTALL)
    if fenced:
        body = fenced.group(1)
    try:
        return json.loads(body), None
    except ValueError as exc:
        return _MISSING, f"output is not JSON ({exc})"


class NoOptions(Options):
    pass


class Schema(Options):
    value: dict[str, Any]

    @field_validator("value")
    @classmethod
    def _valid(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_schema(value)


class JsonPath(Options):
    path: str
    value: Any

    @field_validator("path")
    @classmethod
    def _readable(cls, path: str) -> str:
        parse_path(path)
        return path

    @cached_property
    def steps(self) -> tuple[str | int, ...]:
        return parse_path(self.path)

    def templates(self) -> list[str]:
        return [self.value] if isinstance(self.value, str) else []


class ToolCall(Options):
    name: str
    arguments: dict[str, Any] | None = None  # expected values (a subset of the arguments)
    schema_: dict[str, Any] | None = None  # a JSON Schema the arguments must satisfy

    model_config = {**Options.model_config, "populate_by_name": True}

    @model_validator(mode="before")
    @classmethod
    def _alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "schema" in data:
            data = {**data, "schema_": data["schema"]}
            del data["schema"]
        return data

    @field_validator("schema_")
    @classmethod
    def _valid(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return value if value is None else _check_schema(value)

    def templates(self) -> list[str]:
        return [v for v in (self.arguments or {}).values() if isinstance(v, str)]

    def fill(self, data: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
        data["arguments"] = {k: render(v, variables) if isinstance(v, str) else v
                             for k, v in (data["arguments"] or {}).items()}
        return data


def _is_json(opts: NoOptions, out: Output, ctx: Context) -> Grade:
    value, problem = _parsed(out.text)
    return verdict(problem is None, problem or f"valid JSON ({type(value).__name__})")


def _json_schema(opts: Schema, out: Output, ctx: Context) -> Grade:
    value, problem = _parsed(out.text)
    if problem:
        return verdict(False, problem)
    errors = _schema_errors(opts.value, value)
    return verdict(not errors, "matches the schema" if not errors else "; ".join(errors[:3]))


def _step(value: Any, step: str | int) -> Any:
    if isinstance(step, int) and isinstance(value, list) and -len(value) <= step < len(value):
        return value[step]
    if isinstance(step, str) and isinstance(value, dict):
        return value.get(step, _MISSING)
    return _MISSING


def _json_path(opts: JsonPath, out: Output, ctx: Context) -> Grade:
    value, problem = _parsed(out.text)
    if problem:
        return verdict(False, problem)
    for step in opts.steps:
        value = _step(value, step)
        if value is _MISSING:
            return verdict(False, f"{opts.path}: no such path in the output")
    ok = value == opts.value
    return verdict(ok, f"{opts.path} = {json.dumps(value, ensure_ascii=False)}" + ("" if ok else
                   f", expected {json.dumps(opts.value, ensure_ascii=False)}"))


def _tool_call(opts: ToolCall, out: Output, ctx: Context) -> Grade:
    calls = [c for c in out.tool_calls if c.get("name") == opts.name]
    if not calls:
        names = [c.get("name") for c in out.tool_calls]
        return verdict(False, f"no call to {opts.name!r} (called: {names or 'no tool'})")
    problems: list[str] = []
    for call in calls:  # any matching call passes
        try:
            arguments = json.loads(call.get("arguments") or "{}")
        except ValueError:
            problems.append(f"arguments are not JSON: {call.get('arguments')!r}")
            continue
        wrong = [f"{k}={arguments.get(k, '(missing)')!r}, expected {v!r}"
                 for k, v in (opts.arguments or {}).items() if arguments.get(k, _MISSING) != v]
        wrong += _schema_errors(opts.schema_, arguments) if opts.schema_ else []
        if not wrong:
            return verdict(True, f"called {opts.name} with {json.dumps(arguments, ensure_ascii=False)}")
        problems.extend(wrong)
    return verdict(False, f"{opts.name} called, but " + "; ".join(problems[:3]))


KINDS = [
    Kind("is-json", NoOptions, _is_json),
    Kind("json-schema", Schema, _json_schema),
    Kind("json-path", JsonPath, _json_path),
    Kind("tool-call", ToolCall, _tool_call),
]
