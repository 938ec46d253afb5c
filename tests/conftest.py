from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmswitch.testing import MockServer


@pytest.fixture
def server() -> Iterator[MockServer]:
    """A loopback server with two OpenAI-protocol mounts, 'primary' and 'backup'."""
    with MockServer({"primary": "openai", "backup": "openai"}) as srv:
        yield srv
