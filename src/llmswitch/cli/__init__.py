"""The ``llmswitch`` command line: compare, chat, providers, config, mock.

``main`` is the console-script entry point. Importing this package costs nothing; the command
tree (typer) loads in ``main`` and each command loads its own dependencies when it runs.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Run the CLI (``llmswitch = "llmswitch.cli:main"``)."""
    try:
        from .app import app
    except ModuleNotFoundError as exc:  # installed without the extra that brings typer and rich
        if exc.name not in ("typer", "rich"):
            raise
        sys.stderr.write(f"error: the llmswitch CLI needs {exc.name}: pip install 'llmswitch[cli]'\n")
        raise SystemExit(1) from None
    app(prog_name="llmswitch")
