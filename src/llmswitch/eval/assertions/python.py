"""``python``: a ``module:function`` the user writes grades the output.

The function receives the output text and a context dict (vars, the prompt, the whole output
record) and returns a bool, a score in [0, 1] (passing at 0.5 or more, or at ``threshold``), or a
dict ``{"pass": bool, "score": float, "reason": str}``. It is resolved when the file is loaded (the
eval file's directory is importable), so a typo is a load-time error.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from functools import cached_property
from typing import Any

from pydantic import Field, field_validator

from .base import Context, Grade, Kind, Options, Output

__all__ = ["KINDS", "resolve"]


def resolve(spec: str) -> Callable[..., Any]:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected 'module:function', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r}: {exc}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ValueError(f"{module_name!r} has no function {attr!r}")
    return fn  # type: ignore[no-any-return]


class Function(Options):
    value: str
    threshold: float = Field(default=0.5, ge=0, le=1)

    @field_validator("value")
    @classmethod
    def _resolves(cls, value: str) -> str:
        resolve(value)
        return value

    @cached_property
    def function(self) -> Callable[..., Any]:
        return resolve(self.value)

    def templates(self) -> list[str]:
        return []


async def _python(opts: Function, out: Output, ctx: Context) -> Grade:
    context = {"vars": ctx.vars, "prompt": ctx.prompt, "output": out.as_dict()}
    try:
        result = opts.function(out.text, context)
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:  # the user's code failing is a failed assertion, with its reason
        return Grade(False, 0.0, f"{opts.value} raised {type(exc).__name__}: {exc}")
    if isinstance(result, bool):
        return Grade(result, float(result), f"{opts.value} returned {result}")
    if isinstance(result, (int, float)):
        score = float(result)
        return Grade(score >= opts.threshold, score, f"{opts.value} scored {score:.3g}")
    if isinstance(result, dict) and "pass" in result:
        passed = bool(result["pass"])
        return Grade(passed, float(result.get("score", float(passed))), str(result.get("reason", "")))
    return Grade(False, 0.0, f"{opts.value} returned {result!r}: expected a bool, a number or "
                             "{'pass', 'score', 'reason'}")


KINDS = [Kind("python", Function, _python)]
