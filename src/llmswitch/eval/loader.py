"""Read an eval file (YAML or JSON) and remember the line of every field, for ``file:line: field`` errors.

The providers file's reader (:mod:`llmswitch.config`) speaks of "the providers file" in its messages
and keeps its line builder private, so this is its small twin for eval files: YAML's node marks give
each path its line; a JSON file is read by :mod:`json` and its lines are taken from YAML's marks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["FieldPath", "Lines", "read", "where"]

FieldPath = tuple[str | int, ...]


class Lines:
    """Line numbers by field path; a path not recorded falls back to its nearest recorded parent."""

    def __init__(self) -> None:
        self.lines: dict[FieldPath, int] = {}

    def find(self, path: FieldPath) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


def where(name: str, lines: Lines, path: FieldPath) -> str:
    """``file:line: field`` (dotted, as the providers file's errors are)."""
    line = lines.find(path)
    field_name = ".".join(str(p) for p in path) or "(top level)"
    return f"{name}:{line}: {field_name}" if line else f"{name}: {field_name}"


def _compose(text: str, lines: Lines, name: str) -> Any:
    import yaml

    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None:
        return None

    def build(n: Any, path: FieldPath) -> Any:
        lines.lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in n.value:
                key = yaml.safe_load(yaml.serialize(key_node))
                line = key_node.start_mark.line + 1
                if key in out:
                    dotted = ".".join(str(p) for p in (*path, key))
                    raise ConfigError(f"{name}:{line}: {dotted}: duplicate key {key!r} "
                                      f"(first at line {lines.lines[(*path, key)]})")
                lines.lines[(*path, key)] = line
                out[key] = build(value_node, (*path, key))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(n.value)]
        return yaml.safe_load(yaml.serialize(n))

    return build(node, ())


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
        data = json.loads(text) if is_json else _compose(text, lines, name)
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
        _compose(text, lines, name)
    except ConfigError:
        raise
    except Exception:
        lines.lines.clear()
