"""Every script in examples/ runs as a user would run it, with no keys and no way out to the network.

The examples start together (each is its own process) and each test waits for its own, so the
whole file costs about as much as the slowest example.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCRIPTS = ("migrate_from_openai.py", "failover_route.py", "streaming_tools.py", "async_fanout.py")
PYTEST_EXAMPLE = "test_with_mock_providers.py"
_KEYS = re.compile(r"(_API_KEY|_SECRET|_TOKEN|^LLMSWITCH_|^OPENAI_)", re.IGNORECASE)


def _env() -> dict[str, str]:
    """No credentials, and a dead proxy for anything that is not loopback: the network is unreachable."""
    env = {k: v for k, v in os.environ.items() if not _KEYS.search(k)}
    dead = "http://127.0.0.1:9"
    env.update(HTTP_PROXY=dead, HTTPS_PROXY=dead, ALL_PROXY=dead, http_proxy=dead, https_proxy=dead,
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", PYTHONWARNINGS="error::ResourceWarning")
    return env


@pytest.fixture(scope="module")
def outputs() -> Iterator[dict[str, subprocess.Popen[str]]]:
    commands = {name: [sys.executable, str(EXAMPLES / name)] for name in SCRIPTS}
    commands[PYTEST_EXAMPLE] = [sys.executable, "-m", "pytest", str(EXAMPLES / PYTEST_EXAMPLE),
                                "-p", "no:cacheprovider"]
    processes = {name: subprocess.Popen(command, cwd=ROOT, env=_env(), text=True, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE) for name, command in commands.items()}
    yield processes
    for process in processes.values():
        if process.poll() is None:
            process.kill()
        process.communicate()


def _finish(outputs: dict[str, subprocess.Popen[str]], name: str) -> str:
    out, err = outputs[name].communicate(timeout=60)
    assert outputs[name].returncode == 0, f"{name} failed:\n{out}\n{err}"
    assert "Traceback" not in err and "Exception ignored" not in err, err
    return out


def test_migrate_from_openai(outputs: dict[str, subprocess.Popen[str]]) -> None:
    lines = _finish(outputs, "migrate_from_openai.py").splitlines()
    assert lines == [
        "type: openai.types.chat.chat_completion.ChatCompletion",
        "answer: [openai:gpt-4o-mini] llmswitch keeps the openai interface",
        "streamed: [openai:gpt-4o-mini] stream this",
        "caught openai.RateLimitError: RateLimitError (status 429)",
        "deepseek: [deepseek:deepseek-chat] one import changed",
    ]


def test_failover_route(outputs: dict[str, subprocess.Popen[str]]) -> None:
    lines = [line.strip() for line in _finish(outputs, "failover_route.py").splitlines()]
    prompt = "Explain failover in one sentence"
    assert lines[0] == f"1st call: [claude:claude-3-5-haiku-latest] {prompt}"
    assert lines[1] == ("served by claude/claude-3-5-haiku-latest after 2 fallback(s) [primary/gpt-4o-mini → "
                        "RateLimitError, secondary/deepseek-chat → InternalServerError, "
                        "claude/claude-3-5-haiku-latest → ok]")
    assert lines[2] == f"2nd call (streamed): [primary:gpt-4o-mini] {prompt}"
    assert lines[3] == "served by primary/gpt-4o-mini after 0 fallback(s) [primary/gpt-4o-mini → ok]"


def test_streaming_tools(outputs: dict[str, subprocess.Popen[str]]) -> None:
    out = _finish(outputs, "streaming_tools.py")
    call = re.search(r"^tool call: get_weather\((?P<args>.*)\) id=(?P<id>\S+)$", out, re.MULTILINE)
    assert call is not None, out
    query = json.loads(call["args"])["query"]
    assert "Paris" in query and call["id"]
    assert f"tool result: sunny, 21°C ({query})" in out
    assert out.rstrip().endswith(f"final answer: Tool results: sunny, 21°C ({query})")


def test_async_fanout(outputs: dict[str, subprocess.Popen[str]]) -> None:
    lines = _finish(outputs, "async_fanout.py").splitlines()
    answers, summary = lines[:-1], lines[-1]
    expected = {f"[{m.split('/')[0]}:{m.split('/')[1]}] {p}"
                for p in ("What is failover?", "What is a circuit breaker?", "What is a retry budget?")
                for m in ("fast/mock-small", "medium/mock-small", "slow/mock-large")}
    assert {line.split(None, 1)[1] for line in answers} == expected
    timing = re.fullmatch(r"9 calls in ([\d.]+)s \(one after another: at least ([\d.]+)s\)", summary)
    assert timing is not None, summary
    assert float(timing[1]) < float(timing[2])  # the calls overlapped


def test_pytest_example(outputs: dict[str, subprocess.Popen[str]]) -> None:
    out = _finish(outputs, PYTEST_EXAMPLE)
    assert re.search(r"\b5 passed\b", out), out
