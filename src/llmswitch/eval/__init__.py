"""``llmswitch eval``: test prompts across providers with assertions, cached runs, CI exit codes and reports.

Read a suite with :func:`load_suite`, run it with :func:`run_suite`, write reports with
:mod:`.report_files`. Optional: needs ``pip install 'llmswitch[eval]'`` (jsonschema, platformdirs).
"""

from __future__ import annotations

from .cache import Cache
from .runner import RunOptions, run_suite
from .spec import Suite, load_suite

__all__ = ["Cache", "RunOptions", "Suite", "load_suite", "run_suite"]
