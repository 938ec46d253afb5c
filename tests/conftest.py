from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from llmswitch.testing import MockServer

# What a developer's shell may hold that would steer clients built in the tests: a providers file,
# openai's endpoint and credentials, vendors' keys. Cleared once, before collection (some modules
# build clients at import time), so the suite sees the same environment everywhere.
_STEERING_PREFIXES = ("LLMSWITCH_", "OPENAI_", "ANTHROPIC_", "AZURE_OPENAI_")


def _steers(name: str) -> bool:
    return name.startswith(_STEERING_PREFIXES) or name.endswith(("_API_KEY", "_SECRET_KEY", "_SECRET_ID"))


def pytest_configure(config: pytest.Config) -> None:
    for name in [n for n in os.environ if _steers(n)]:
        del os.environ[name]
    # A suite started in the background by a script (`pytest &`) is handed SIGINT ignored, and the
    # commands it starts would inherit that: the Ctrl-C tests need what a terminal gives them.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def server() -> Iterator[MockServer]:
    """A loopback server with two OpenAI-protocol mounts, 'primary' and 'backup'."""
    with MockServer({"primary": "openai", "backup": "openai"}) as srv:
        yield srv
