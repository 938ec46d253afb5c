from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gw_harness import CLIENT_KEYS, Gateway, providers_file

from llmswitch.testing import MockServer


@pytest.fixture(scope="session")
def mock() -> Iterator[MockServer]:
    with MockServer({"primary": "openai", "backup": "openai"}) as server:
        yield server


@pytest.fixture(scope="session")
def config_path(mock: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return providers_file(mock, tmp_path_factory.mktemp("gw") / "providers.yaml")


@pytest.fixture(scope="session")
def gateway(config_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One gateway for the session (start-up is the slow part); tests use distinct routes."""
    gw = Gateway(config_path, tmp_path_factory.mktemp("gwlog") / "gateway.log")
    yield gw
    gw.stop()


@pytest.fixture(autouse=True)
def _clean_scripts(mock: MockServer) -> Iterator[None]:
    yield
    for name in ("primary", "backup"):
        mock.mount(name).script.clear()


@pytest.fixture
def key() -> str:
    return CLIENT_KEYS["full"]
