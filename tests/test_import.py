"""``import llmswitch`` is free: no openai, httpx2, pydantic, yaml or CLI until used."""

from __future__ import annotations

import subprocess
import sys


def test_import_loads_nothing_heavy() -> None:
    code = ("import sys, llmswitch; heavy = [m for m in ('openai', 'httpx2', 'pydantic', 'yaml', 'typer', "
            "'rich') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names_resolve() -> None:
    import llmswitch

    for name in llmswitch.__all__:
        assert getattr(llmswitch, name) is not None
    assert issubclass(llmswitch.ContextWindowExceededError, llmswitch.BadRequestError)
