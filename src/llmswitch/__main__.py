"""``python -m llmswitch …``: the CLI, for environments where the ``llmswitch`` script is not on PATH."""

from .cli import main

main()
