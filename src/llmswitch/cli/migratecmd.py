"""``llmswitch migrate``: print (or apply) the codemod's diff and summary; draft the providers file."""

from __future__ import annotations

import sys
from pathlib import Path

from ._common import CliError

__all__ = ["run"]


def run(paths: list[str], *, write: bool, providers_file: str | None) -> int:
    """Dry run by default: the unified diff on stdout, the summary on stderr. ``write`` applies both."""
    try:
        from ..migrate import migrate
        from ..migrate.drafter import draft, render
    except ImportError as exc:
        raise CliError("llmswitch migrate needs libcst: pip install 'llmswitch[migrate]'") from exc

    target = Path(providers_file) if providers_file else None
    if write and target is not None and target.exists():
        raise CliError(f"{target} exists: not overwriting it; move it away or pass another --providers-file")
    try:
        plan = migrate(paths or ["."])
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    sys.stdout.write(plan.diff())
    summary = [plan.summary()]
    if target is not None:
        text = render(draft(plan.facts), plan.scanned)
        if write:
            target.write_text(text, encoding="utf-8")
            summary.append(f"wrote {target}")
        else:
            sys.stdout.write(f"--- {target} (draft, not written)\n{text}")
    if write:
        plan.write()
        summary.append(f"rewrote {len(plan.files)} file(s)")
    elif plan.files or target is not None:
        summary.append("dry run: nothing written; --write applies it")
    sys.stdout.flush()  # the diff before the summary, also when both go to one terminal
    print("\n".join(summary), file=sys.stderr)
    return 0
