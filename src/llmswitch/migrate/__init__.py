"""``llmswitch migrate``: move an app from openai's clients to llmswitch's, and draft its providers file.

:func:`migrate` reads every ``.py`` file under the given paths (skipping virtualenvs, caches and
hidden folders), rewrites each with :mod:`.codemod`, and returns a :class:`Migration`: the
unified diff, a summary, the facts for :func:`~.drafter.draft`, and :meth:`Migration.write` to
apply it. Nothing is written until asked. Needs the ``migrate`` extra (libcst).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .facts import Facts, Site

__all__ = ["Migration", "migrate"]

_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "venv", "build", "dist"})


@dataclass
class Migration:
    files: list[tuple[Path, str, str]] = field(default_factory=list)  # (path, before, after) of changed files
    scanned: int = 0
    changed: list[Site] = field(default_factory=list)
    skipped: list[Site] = field(default_factory=list)
    facts: Facts = field(default_factory=Facts)

    def diff(self) -> str:
        """A unified diff of every change, file by file."""
        out: list[str] = []
        for path, before, after in self.files:
            name = path.as_posix()
            old, new = (name, name) if path.is_absolute() else (f"a/{name}", f"b/{name}")
            out += difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), old, new)
        return "".join(out)

    def summary(self) -> str:
        lines = [f"{self.scanned} file(s) scanned, {len(self.files)} to change, {len(self.changed)} site(s) changed, "
                 f"{len(self.skipped)} site(s) left as they are"]
        lines += [f"  changed  {site}" for site in self.changed]
        lines += [f"  left     {site}" for site in self.skipped]
        lines += [f"  warning  {site}" for site in self.facts.warnings]
        return "\n".join(lines)

    def write(self) -> None:
        for path, _, after in self.files:
            path.write_text(after, encoding="utf-8")


def migrate(paths: Iterable[str | Path]) -> Migration:
    """Plan the migration of every Python file under ``paths`` (nothing is written)."""
    from libcst import ParserSyntaxError

    from .codemod import rewrite

    result = Migration()
    for path in _python_files(paths):
        result.scanned += 1
        try:
            source = path.read_text(encoding="utf-8")
            done = rewrite(source, path.as_posix())
        except (UnicodeDecodeError, ParserSyntaxError) as exc:
            why = getattr(exc, "message", None) or str(exc).strip().splitlines()[0]
            result.skipped.append(Site(path.as_posix(), getattr(exc, "raw_line", 0) or 0, f"not parsed: {why}"))
            continue
        if done.after != source:
            result.files.append((path, source, done.after))
        result.changed += done.changed
        result.skipped += done.skipped
        result.facts.merge(done.facts)
    return result


def _python_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    for given in paths:
        root = Path(given)
        if not root.exists():
            raise FileNotFoundError(f"{root}: no such file or directory")
        if root.is_file():
            yield root
            continue
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).parts[:-1]
            if not any(p in _SKIP_DIRS or p.startswith(".") for p in parts):
                yield path
