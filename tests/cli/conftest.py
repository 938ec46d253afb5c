"""Running the CLI two ways: the installed ``llmswitch`` script in a subprocess, and typer's runner.

Both run in an empty working directory with no ``LLMSWITCH_CONFIG`` and no colour forcing, so
config discovery falls through to the built-in demo unless a test passes ``--config``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from cli_support import SCRIPT, SCRUBBED, Invoke, Run, clean_env, write_config
from typer.testing import CliRunner, Result

from llmswitch.cli.app import app
from llmswitch.testing import MockServer


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cwd (no ./providers.yaml) for both the runner and subprocesses."""
    for name in SCRUBBED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def run(workdir: Path) -> Run:
    """``run("compare", "hi", input=None, env={...})`` through the installed console script."""
    if not SCRIPT.exists():
        pytest.skip("the llmswitch console script is not installed in this environment")

    def go(*args: str, input: str | None = None, env: Mapping[str, str] | None = None,
           timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SCRIPT), *args], input=input, capture_output=True, text=True, cwd=workdir,
                              env=clean_env(env), timeout=timeout)

    return go


@pytest.fixture
def invoke(workdir: Path) -> Invoke:
    """``invoke("compare", "hi", input=None)`` through typer's CliRunner, in this process."""
    runner = CliRunner()

    def go(*args: str, input: str | None = None, env: Mapping[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, env=dict(env or {}), catch_exceptions=False)

    return go


@pytest.fixture
def fast_config(workdir: Path) -> Path:
    """Two instant mock providers with prices, and a fallback route over them."""
    return write_config(workdir / "fast.yaml", {
        "providers": {
            "alpha": {"type": "mock", "completion_tokens": 12, "models": ["a-1"],
                      "prices": {"a-1": {"input": 2.0, "output": 6.0, "currency": "USD"}}},
            "beta": {"type": "mock", "completion_tokens": 30, "models": ["b-1"],
                     "prices": {"b-1": {"input": 1.0, "output": 3.0, "currency": "CNY"}}},
        },
        "routes": {"main": {"targets": ["alpha/a-1", "beta/b-1"]}},
        "default_route": "main",
    })


@pytest.fixture
def mock_server() -> Iterator[MockServer]:
    with MockServer({"primary": "openai", "backup": "openai"}) as server:
        yield server
