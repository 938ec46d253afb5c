"""What every assertion shares: the call's output it grades, the grade it gives, and its options model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from ..template import render

__all__ = ["Context", "Grade", "Kind", "Options", "Output", "Services", "verdict"]


@dataclass
class Output:
    """One call's outcome, as cached on disk and graded by assertions."""

    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {id, name, arguments (JSON text)}
    finish_reason: str | None = None
    latency: float | None = None
    ttft: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    cost_cny: float | None = None
    provider: str | None = None
    model: str | None = None
    error_type: str | None = None
    error: str | None = None
    cached: bool = False

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)

    def as_dict(self) -> dict[str, Any]:
        # shallow: every field is already JSON-ready (dataclasses.asdict's deep copy cost more than the grading)
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Output:
        return cls(**{k: v for k, v in data.items() if k in _FIELDS})


_FIELDS = tuple(f.name for f in fields(Output))


@dataclass(slots=True)  # not frozen: the hot path builds one per assertion
class Grade:
    passed: bool
    score: float
    reason: str


def verdict(passed: bool, reason: str) -> Grade:
    """A pass/fail grade scoring 1 or 0."""
    return Grade(passed, 1.0 if passed else 0.0, reason)


class Services(Protocol):
    """Model calls an assertion may make (a judge, an embedding), cached like the cells' own calls."""

    async def judge(self, route: str, messages: list[dict[str, Any]], schema: dict[str, Any]) -> dict[str, Any]: ...

    async def embed(self, route: str, texts: list[str]) -> list[list[float]]: ...


@dataclass(frozen=True)
class Context:
    """What a check may consult beyond the output: the test's variables, and model services."""

    vars: dict[str, Any]
    services: Services
    prompt: str  # the last user message sent, for judges
    judge: str | None = None  # the suite's default judge route
    embedding: str | None = None  # the suite's default embeddings route


class Options(BaseModel):
    """An assertion's own fields (``type``, ``not`` and ``weight`` are common and handled outside)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def templates(self) -> list[str]:
        """Strings that may hold ``{{var}}`` placeholders."""
        value = getattr(self, "value", None)
        return [value] if isinstance(value, str) else []

    def rendered(self, variables: dict[str, Any]) -> Options:
        """A copy with the placeholders filled in (itself when it has none), validated again."""
        if not any("{{" in text for text in self.templates()):
            return self
        return type(self).model_validate(self.fill(self.model_dump(), variables))

    def fill(self, data: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
        """Fill the fields :meth:`templates` names (``value``, or each string of a list ``value``)."""
        value = data.get("value")
        if isinstance(value, str):
            data["value"] = render(value, variables)
        elif isinstance(value, list):
            data["value"] = [render(v, variables) if isinstance(v, str) else v for v in value]
        return data


Check = Callable[[Any, Output, Context], "Grade | Awaitable[Grade]"]


@dataclass(frozen=True)
class Kind:
    """An assertion type: its options, its check, and whether it calls a model."""

    name: str
    options: type[Options]
    check: Check
    route: tuple[str, str] | None = None  # (its option naming a route, the `defaults` key used when unset)
