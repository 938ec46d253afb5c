"""YAML read with the line of every field, for ``file:line: field`` errors.

The providers file (:mod:`llmswitch.config`) and eval files (:mod:`llmswitch.eval.loader`) both
build their data from YAML's node graph, so every field path keeps the line it was written on;
duplicate keys and alias bombs are refused here, once, for both.
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError

__all__ = ["MAX_EXPANDED", "FieldPath", "Lines", "where", "yaml_with_lines"]

FieldPath = tuple[str | int, ...]
MAX_EXPANDED = 100_000  # values a file may hold once its YAML aliases are expanded


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
    """``file:line: field`` (the field dotted), or ``file: field`` when no line is known."""
    line = lines.find(path)
    field_name = ".".join(str(p) for p in path) or "(top level)"
    return f"{name}:{line}: {field_name}" if line else f"{name}: {field_name}"


def _expanded_size(root: Any, name: str) -> None:
    """Refuse a file whose aliases expand past MAX_EXPANDED values (a "billion laughs" bomb) or
    refer to themselves: sizes are counted over the node graph, each node once (linear time)."""
    import yaml

    def children(node: Any) -> list[Any]:
        if isinstance(node, yaml.MappingNode):
            return [part for pair in node.value for part in pair]
        return list(node.value) if isinstance(node, yaml.SequenceNode) else []

    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:  # post-order without recursion: a deep file cannot exhaust the stack
        node, ready = stack.pop()
        if id(node) in sizes:
            continue
        line = node.start_mark.line + 1
        if not ready:
            if id(node) in open_:
                raise ConfigError(f"{name}:{line}: (file): a YAML alias refers to the value that contains it")
            open_.add(id(node))
            stack.append((node, True))
            stack += [(child, False) for child in children(node) if id(child) not in sizes]
            continue
        open_.discard(id(node))
        sizes[id(node)] = min(1 + sum(sizes[id(child)] for child in children(node)), MAX_EXPANDED + 1)
        if sizes[id(node)] > MAX_EXPANDED:
            raise ConfigError(f"{name}:{line}: (file): YAML aliases expand to more than {MAX_EXPANDED} values; "
                              f"refusing the file")


def yaml_with_lines(text: str, lines: Lines, name: str) -> Any:
    """The document as plain data, each field's line recorded in ``lines``; raises ConfigError for a
    duplicate key or aliases that expand past :data:`MAX_EXPANDED` values (parse errors propagate)."""
    import yaml

    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None:
        return None
    _expanded_size(node, name)

    def build(n: Any, path: FieldPath) -> Any:
        lines.lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in n.value:
                key = yaml.safe_load(yaml.serialize(key_node))
                line = key_node.start_mark.line + 1
                if key in out:
                    where = ".".join(str(p) for p in (*path, key))
                    raise ConfigError(f"{name}:{line}: {where}: duplicate key {key!r} "
                                      f"(first at line {lines.lines[(*path, key)]})")
                lines.lines[(*path, key)] = line
                out[key] = build(value_node, (*path, key))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(n.value)]
        return yaml.safe_load(yaml.serialize(n))

    return build(node, ())
