"""``{{var}}`` placeholders: the only templating an eval file has (no logic, so nothing to misread)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["placeholders", "render"]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")


def placeholders(texts: Iterable[str]) -> list[str]:
    """Every variable named in ``texts``, first use first."""
    found: dict[str, None] = {}
    for text in texts:
        for match in _PLACEHOLDER.finditer(text):
            found.setdefault(match.group(1))
    return list(found)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def render(template: str, variables: Mapping[str, Any]) -> str:
    """Fill the placeholders (every one was checked to have a value when the file was loaded)."""
    if "{{" not in template:
        return template
    return _PLACEHOLDER.sub(lambda m: _text(variables[m.group(1)]), template)
