"""The eval file: its shape, and every check that can be made before anything is sent.

A file holds ``prompts`` (strings or message lists with ``{{var}}`` placeholders), ``targets``
(routes or ``provider/model``, each with optional request parameters), ``tests`` (``vars``,
``assert``, ``repeat``, ``threshold``) and ``defaults``. Every prompt × target × test is a cell.
Problems are all reported at once, each as ``file:line: field: message`` like the providers file's:
unknown assertion types, options that do not fit their type, bad regexes and schemas, variables a
prompt or assertion uses but a test does not set, and targets the providers file does not know.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError
from .assertions import KINDS, Kind, Options
from .loader import FieldPath, Lines, read, where
from .template import placeholders

__all__ = ["Assertion", "Prompt", "Suite", "Target", "TestCase", "load_suite"]

TargetProblem = Callable[[str], "str | None"]  # why a name is neither a route nor provider/model (None: fine)

# create() keyword arguments an eval may set; anything vendor-specific goes in extra_body
PARAMS = frozenset({
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop", "response_format", "tools",
    "tool_choice", "parallel_tool_calls", "presence_penalty", "frequency_penalty", "logit_bias", "user",
    "reasoning_effort", "metadata", "service_tier", "extra_body", "extra_headers", "extra_query", "timeout",
})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Message(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)  # name, tool_calls, tool_call_id, … pass through

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class PromptModel(_Strict):
    label: str | None = None
    content: str | None = None
    messages: list[Message] | None = None


class TargetModel(_Strict):
    target: str
    label: str | None = None
    params: dict[str, Any] = {}


class TestModel(_Strict):
    description: str | None = None
    vars: dict[str, Any] = {}
    assert_: list[dict[str, Any]] = Field(default=[], alias="assert")
    repeat: int | None = Field(default=None, ge=1, le=1000)
    threshold: float | None = Field(default=None, ge=0, le=1)
    params: dict[str, Any] = {}


class DefaultsModel(TestModel):
    judge: str | None = None  # the route llm-rubric asks
    embedding: str | None = None  # the route `similar` embeds with


class FileModel(_Strict):
    description: str | None = None
    prompts: list[str | list[Message] | PromptModel] = Field(min_length=1)
    targets: list[str | TargetModel] = Field(min_length=1)
    tests: list[TestModel] = Field(min_length=1)
    defaults: DefaultsModel = DefaultsModel()


@dataclass(frozen=True)
class Prompt:
    label: str
    messages: list[dict[str, Any]]

    def texts(self) -> list[str]:
        return [m["content"] for m in self.messages if isinstance(m.get("content"), str)]


@dataclass(frozen=True)
class Target:
    label: str
    model: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Assertion:
    kind: Kind
    options: Options
    negate: bool = False
    weight: float = 1.0

    @cached_property
    def name(self) -> str:
        return ("not-" if self.negate else "") + self.kind.name


@dataclass(frozen=True)
class TestCase:
    label: str
    vars: dict[str, Any]
    asserts: list[Assertion]
    repeat: int
    threshold: float
    params: dict[str, Any]


@dataclass(frozen=True)
class Suite:
    source: str
    description: str | None
    prompts: list[Prompt]
    targets: list[Target]
    tests: list[TestCase]
    judge: str | None = None
    embedding: str | None = None


def _message_loc(loc: tuple[Any, ...]) -> FieldPath:
    """Pydantic's location, without the union-member names it inserts (``str``, ``list[Message]``, …)."""
    return tuple(p for p in loc if isinstance(p, int) or not (p[:1].isupper() or p in ("str", "list[Message]")
                                                              or p.startswith(("function-", "list["))))


def _pydantic_problems(exc: ValidationError, name: str, lines: Lines, base: FieldPath) -> list[str]:
    seen: set[str] = set()
    problems = []
    for err in exc.errors():
        loc = (*base, *_message_loc(tuple(err["loc"])))
        loc = tuple("assert" if p == "assert_" else "schema" if p == "schema_" else p for p in loc)
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        line = f"{where(name, lines, loc)}: {message}"
        if line not in seen:  # a union reports each member's complaint; one per place is enough
            seen.add(line)
            problems.append(line)
    return problems


class _Checker:
    """Collects problems with their place in the file."""

    def __init__(self, name: str, lines: Lines, target_problem: TargetProblem) -> None:
        self.name, self.lines, self.target_problem = name, lines, target_problem
        self.problems: list[str] = []

    def add(self, path: FieldPath, message: str) -> None:
        self.problems.append(f"{where(self.name, self.lines, path)}: {message}")

    def assertion(self, raw: dict[str, Any], path: FieldPath, defaults: DefaultsModel) -> Assertion | None:
        kind_name = raw.get("type")
        if not isinstance(kind_name, str):
            self.add((*path, "type") if "type" in raw else path, "an assertion needs a type (one of "
                     f"{', '.join(sorted(KINDS))})")
            return None
        negate = bool(raw.get("not", False))
        kind = KINDS.get(kind_name)
        if kind is None and kind_name.startswith("not-") and kind_name[4:] in KINDS:
            kind, negate = KINDS[kind_name[4:]], not negate
        if kind is None:
            close = difflib.get_close_matches(kind_name, list(KINDS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(KINDS))})"
            self.add((*path, "type"), f"unknown assertion type {kind_name!r}{hint}")
            return None
        weight = raw.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            self.add((*path, "weight"), f"weight must be a number ≥ 0, not {weight!r}")
            return None
        if not isinstance(raw.get("not", False), bool):
            self.add((*path, "not"), "not must be true or false")
            return None
        try:
            options = kind.options.model_validate({k: v for k, v in raw.items() if k not in ("type", "not", "weight")})
        except ValidationError as exc:
            self.problems += _pydantic_problems(exc, self.name, self.lines, path)
            return None
        if kind.route is not None:
            option, default_key = kind.route
            if getattr(options, option) is not None:
                self.route((*path, option), getattr(options, option))
            elif getattr(defaults, default_key) is None:
                self.add(path, f"{kind.name} needs a route: set {option}: here or defaults.{default_key}")
        return Assertion(kind, options, negate, float(weight))

    def params(self, path: FieldPath, params: dict[str, Any]) -> None:
        for key in sorted(set(params) - PARAMS):
            self.add((*path, key), f"unknown parameter {key!r}: vendor-specific parameters go in extra_body "
                     f"(known: {', '.join(sorted(PARAMS))})")

    def route(self, path: FieldPath, model: str) -> None:
        problem = self.target_problem(model)
        if problem:
            self.add(path, problem)


def _prompt(raw: str | list[Message] | PromptModel, index: int) -> Prompt:
    label = f"prompt {index + 1}"
    if isinstance(raw, str):
        return Prompt(label, [{"role": "user", "content": raw}])
    if isinstance(raw, list):
        return Prompt(label, [m.model_dump(exclude_none=True) for m in raw])
    messages = [m.model_dump(exclude_none=True) for m in raw.messages or []]
    if raw.content is not None:
        messages.append({"role": "user", "content": raw.content})
    return Prompt(raw.label or label, messages)


def _unique(labels: list[str]) -> list[str]:
    """Labels key cells in results and baselines, so a repeated one gets its position appended."""
    counts = {label: labels.count(label) for label in labels}
    return [f"{label} #{i + 1}" if counts[label] > 1 else label for i, label in enumerate(labels)]


def load_suite(source: str | Path, target_problem: TargetProblem) -> Suite:
    """Read and check an eval file; a ConfigError lists every problem, each with file, line and field."""
    data, lines, name = read(source)
    try:
        model = FileModel.model_validate(data)
    except ValidationError as exc:
        problems = _pydantic_problems(exc, name, lines, ())
        raise ConfigError(_summary(name, problems), problems=problems) from None
    folder = str(Path(source).resolve().parent)
    if folder not in sys.path:  # `python` assertions name modules beside the file
        sys.path.insert(0, folder)
    check = _Checker(name, lines, target_problem)
    defaults = model.defaults
    check.params(("defaults", "params"), defaults.params)
    for key in ("judge", "embedding"):
        if getattr(defaults, key) is not None:
            check.route(("defaults", key), getattr(defaults, key))
    prompts = _prompts(model, check)
    targets = _targets(model, check)
    tests = _tests(model, check, placeholders(text for prompt in prompts for text in prompt.texts()))
    if check.problems:
        raise ConfigError(_summary(name, check.problems), problems=check.problems)
    return Suite(name, model.description, prompts, targets, tests, defaults.judge, defaults.embedding)


def _prompts(model: FileModel, check: _Checker) -> list[Prompt]:
    prompts = [_prompt(raw, i) for i, raw in enumerate(model.prompts)]
    for i, (raw, prompt) in enumerate(zip(model.prompts, prompts, strict=True)):
        if not prompt.messages or (isinstance(raw, PromptModel) and raw.content is None and raw.messages is None):
            check.add(("prompts", i), "a prompt needs content or messages")
    labels = _unique([p.label for p in prompts])
    return [replace(p, label=label) for p, label in zip(prompts, labels, strict=True)]


def _targets(model: FileModel, check: _Checker) -> list[Target]:
    specs = [TargetModel(target=raw) if isinstance(raw, str) else raw for raw in model.targets]
    for i, (raw, spec) in enumerate(zip(model.targets, specs, strict=True)):
        check.route(("targets", i) if isinstance(raw, str) else ("targets", i, "target"), spec.target)
        check.params(("targets", i, "params"), spec.params)
    labels = _unique([spec.label or spec.target for spec in specs])
    return [Target(label, spec.target, {**model.defaults.params, **spec.params})
            for label, spec in zip(labels, specs, strict=True)]


def _tests(model: FileModel, check: _Checker, prompt_vars: list[str]) -> list[TestCase]:
    defaults = model.defaults
    shared = [check.assertion(raw, ("defaults", "assert", j), defaults) for j, raw in enumerate(defaults.assert_)]
    labels = _unique([raw.description or f"test {i + 1}" for i, raw in enumerate(model.tests)])
    tests = []
    for i, (raw, label) in enumerate(zip(model.tests, labels, strict=True)):
        own = [check.assertion(spec, ("tests", i, "assert", j), defaults) for j, spec in enumerate(raw.assert_)]
        check.params(("tests", i, "params"), raw.params)
        asserts = [a for a in (*shared, *own) if a is not None]
        variables = {**defaults.vars, **raw.vars}
        needed = prompt_vars + placeholders(t for a in asserts for t in a.options.templates())
        for var in dict.fromkeys(needed):
            if var not in variables:
                check.add(("tests", i, "vars") if raw.vars else ("tests", i),
                          f"missing var {var!r} (a prompt or assertion uses {{{{{var}}}}})")
        if not raw.assert_ and not defaults.assert_:
            check.add(("tests", i), "a test needs at least one assertion (assert: or defaults.assert)")
        threshold = next((t for t in (raw.threshold, defaults.threshold) if t is not None), 1.0)
        tests.append(TestCase(label, variables, asserts, raw.repeat or defaults.repeat or 1, threshold, raw.params))
    return tests


def _summary(name: str, problems: list[str]) -> str:
    return "\n".join([f"{name}: {len(problems)} problem(s) in the eval file", *("  " + p for p in problems)])
