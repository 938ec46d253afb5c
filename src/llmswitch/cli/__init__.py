"""The ``llmswitch`` command line: compare, chat, providers, config, mock.

``main`` is the console-script entry point. Importing this package costs nothing; the command
tree (typer) loads in ``main`` and each command loads its own dependencies when it runs.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Run the CLI (``llmswitch = "llmswitch.cli:main"``)."""
    from .app import app

    app(prog_name="llmswitch")
