"""pytest fixtures for apps that use llmswitch: mock providers over real loopback HTTP.

Registered through the ``pytest11`` entry point, so installing llmswitch makes them available::

    def test_my_app(llmswitch_mock):
        llmswitch_mock.mount("openai").fail("429:retry-after=0")
        client = llmswitch.OpenAI(api_key="test", base_url=llmswitch_mock.base_url("openai"))
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import MockServer


@pytest.fixture
def llmswitch_mock() -> Iterator[MockServer]:
    """A loopback mock server with one mount per protocol, named after the protocol."""
    from .protocols import mock_protocols

    available = []
    for name in mock_protocols():
        try:
            from .protocols import mock_protocol

            mock_protocol(name)
        except ImportError:
            continue
        available.append(name)
    with MockServer(available) as server:
        yield server
