"""The bridge costs nothing until used: ``import llmswitch`` does not load it."""

from __future__ import annotations

import subprocess
import sys


def test_import_llmswitch_leaves_the_bridge_unloaded() -> None:
    code = ("import sys, llmswitch; print(','.join(m for m in ('llmswitch.responses', 'llmswitch.routing_responses')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
