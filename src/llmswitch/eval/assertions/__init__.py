"""Assertion types by name. Each grades one call's output: pass or fail, a score in [0, 1], a reason.

Any type can be negated (``not: true``, or a ``not-`` prefix on its name) and weighted (``weight``).
"""

from __future__ import annotations

from . import budget, jsonish, model, python, text
from .base import Context, Grade, Kind, Options, Output, Services

__all__ = ["KINDS", "Context", "Grade", "Kind", "Options", "Output", "Services"]

KINDS: dict[str, Kind] = {kind.name: kind for module in (text, jsonish, budget, model, python)
                          for kind in module.KINDS}
