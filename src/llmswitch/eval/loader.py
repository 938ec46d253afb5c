"""Read an eval file (YAML or JSON) and remember the line of every field, for ``file:line: field`` errors.

YAML's node marks give each path its line (:mod:`llmswitch._lines`, shared with the providers file);
a JSON file is read by :mod:`json` and its lines are taken from YAML's marks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .._lines import FieldPath, Lines, where, yaml_with_lines
from ..errors import ConfigError

__all__ = ["FieldPath", "Lines", "read", "where"]

def _error_line(exc: Exception) -> int:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    return int(getattr(exc, "lineno", 1) or 1)


def read(source: str | Path) -> tuple[dict[str, Any], Lines, str]:
    """The file as a mapping, its lines, and its name; any problem is a ConfigError naming file and line."""
    path = Path(source)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}: cannot read the eval file: {getattr(exc, 'strerror', None) or exc}") from None
    lines = Lines()
    is_json = path.suffix.lower() == ".json"
    try:
        data = json.loads(text) if is_json else yaml_with_lines(text, lines, name)
    except ConfigError:
        raise
    except Exception as exc:  # the parsers' errors carry their line
        detail = str(exc).strip().replace("\n", " ")
        raise ConfigError(f"{name}:{_error_line(exc)}: (file): not valid {'JSON' if is_json else 'YAML'}: "
                          f"{detail}") from None
    if is_json:
        _json_lines(text, lines, name)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{name}:1: (top level): an eval file is a mapping with 'prompts', 'targets' and 'tests'")
    return data, lines, name


def _json_lines(text: str, lines: Lines, name: str) -> None:
    """Line numbers for a JSON file, from YAML's marks (the data itself comes from :mod:`json`, whose numbers
    YAML 1.1 would read differently). Duplicate keys are still errors; anything else YAML cannot read
    (tabs as indentation) costs only the line numbers."""
    try:
        yaml_with_lines(text, lines, name)
    except ConfigError:
        raise
    except Exception:
        lines.lines.clear()
