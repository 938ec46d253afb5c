"""``python -m llmswitch.cli``."""

from . import main

main()
