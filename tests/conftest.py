from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmswitch.testing import MockServer

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def server() -> Iterator[MockServer]:
    """A loopback server with two OpenAI-protocol mounts, 'primary' and 'backup'."""
    with MockServer({"primary": "openai", "backup": "openai"}) as srv:
        yield srv
