from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eval_support import providers_file
from judge_server import JudgeServer, judge_server

from llmswitch.testing import MockServer

_SCRUBBED = ("LLMSWITCH_CONFIG", "FORCE_COLOR", "NO_COLOR", "COLUMNS", "OPENAI_API_KEY", "OPENAI_BASE_URL",
             "LLMSWITCH_DEBUG")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cwd, and a private user cache directory (platformdirs honours XDG_CACHE_HOME)."""
    for name in _SCRUBBED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer({"alpha": "openai", "beta": "openai"}) as srv:
        yield srv


@pytest.fixture
def judge() -> Iterator[JudgeServer]:
    with judge_server() as srv:
        yield srv


@pytest.fixture
def providers(workdir: Path, server: MockServer, judge: JudgeServer) -> Path:
    return providers_file(workdir / "providers.yaml", server, judge.base_url)
