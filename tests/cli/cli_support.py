"""Helpers for the CLI tests (fixtures are in conftest.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import Result

from llmswitch.testing import MockServer

SCRIPT = Path(sys.executable).with_name("llmswitch")
ANSI = "\x1b["
SCRUBBED = ("LLMSWITCH_CONFIG", "FORCE_COLOR", "NO_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "TTY_INTERACTIVE",
            "COLUMNS", "LINES", "OPENAI_API_KEY", "OPENAI_BASE_URL", "DEEPSEEK_API_KEY", "LLMSWITCH_DEBUG")


Run = Callable[..., "subprocess.CompletedProcess[str]"]  # the console script in a subprocess
Invoke = Callable[..., Result]  # typer's CliRunner, in this process


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(extra or {})
    return env


def popen(args: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """The console script, started with pipes, for tests that interrupt it (use ``communicate``)."""
    return subprocess.Popen([str(SCRIPT), *args], cwd=cwd, env=clean_env(env), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@contextlib.contextmanager
def started(args: list[str], cwd: Path) -> Iterator[tuple[subprocess.Popen[str], Lines, Lines]]:
    """The console script with its output read line by line; killed and its pipes closed at exit."""
    process = popen(args, cwd)
    assert process.stdout is not None and process.stderr is not None and process.stdin is not None
    out, err = Lines(process.stdout), Lines(process.stderr)
    try:
        yield process, out, err
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        out.join()
        err.join()
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()


def write_config(path: Path, data: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False), encoding="utf-8")
    return path


def server_config(path: Path, server: MockServer, **extra: Any) -> Path:
    """Providers of ``type: openai`` on the loopback mock server, named after its mounts."""
    providers = {name: {"type": "openai", "api_key": "sk-test", "base_url": server.base_url(name),
                        "models": ["m-1"]} for name in ("primary", "backup")}
    return write_config(path, {"providers": providers,
                               "routes": {"main": {"targets": ["primary/m-1", "backup/m-1"]}},
                               "default_route": "main", **extra})


def interrupt_when(process: subprocess.Popen[str], ready: Callable[[], bool], *, within: float = 15) -> None:
    """Send SIGINT once ``ready()`` holds (the command is mid-call), failing if it never does."""
    deadline = time.monotonic() + within
    while not ready():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the command ended before it could be interrupted: rc={process.returncode}\n{out}\n{err}")
        if time.monotonic() > deadline:
            process.kill()
            process.communicate()
            pytest.fail("the command never reached the point to interrupt")
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)


def clean_output(*texts: str) -> None:
    """No traceback and no colour codes (the output is not a terminal)."""
    for text in texts:
        assert "Traceback" not in text, text
        assert ANSI not in text, repr(text)


class Lines:
    """Collects a pipe's lines on a thread, so a test can wait for one without blocking forever."""

    def __init__(self, stream: Any) -> None:
        import threading

        self.lines: list[str] = []
        self._stream = stream
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        for line in self._stream:
            self.lines.append(line)

    def wait_for(self, predicate: Callable[[str], bool], *, within: float = 15) -> str:
        deadline = time.monotonic() + within
        seen = 0
        while time.monotonic() < deadline:
            for line in self.lines[seen:]:
                if predicate(line):
                    return line
            seen = len(self.lines)
            if not self._thread.is_alive() and seen == len(self.lines):
                break
            time.sleep(0.02)
        pytest.fail(f"no matching line; got: {''.join(self.lines)!r}")

    def join(self) -> None:
        self._thread.join(timeout=5)

    def text(self) -> str:
        self.join()
        return "".join(self.lines)
