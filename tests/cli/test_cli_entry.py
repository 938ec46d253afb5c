"""The entry point itself: help, version, what start-up imports, colour only on a terminal."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_support import ANSI, SCRIPT, Run, clean_env, clean_output, interrupt_when, server_config

import llmswitch
from llmswitch.testing import MockServer

HEAVY = ("rich", "openai", "yaml", "pydantic", "httpx2")


def test_help_lists_every_command(run: Run) -> None:
    result = run("--help")
    assert result.returncode == 0
    clean_output(result.stdout, result.stderr)
    for command in ("compare", "chat", "providers", "config", "mock"):
        assert f"  {command}  " in result.stdout
    assert "built-in demo config" in result.stdout
    bare = run()  # no command: the same help, as a usage error
    assert "Usage: llmswitch [OPTIONS] COMMAND" in bare.stdout + bare.stderr
    clean_output(bare.stdout, bare.stderr)


def test_version(run: Run) -> None:
    result = run("--version")
    assert (result.returncode, result.stdout) == (0, f"llmswitch {llmswitch.__version__}\n")


@pytest.mark.parametrize("args", [["--help"], ["compare", "--help"], ["providers", "--help"],
                                  ["config", "validate", "--help"], ["mock", "--help"]])
def test_help_imports_nothing_heavy(args: list[str], workdir: Path) -> None:
    """What keeps ``llmswitch --help`` inside its 300 ms budget: no rich, openai, YAML or pydantic."""
    code = ("import sys\nfrom llmswitch.cli import main\nsys.argv = ['llmswitch', *sys.argv[1:]]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=workdir,
                            env=clean_env(), timeout=30)
    assert "Usage: llmswitch" in result.stdout
    assert result.stderr.strip().splitlines()[-1:] in ([], [""]), result.stderr


def test_without_the_cli_extra_says_what_to_install(workdir: Path) -> None:
    code = ("import sys\nsys.modules['typer'] = None  # as if llmswitch were installed without [cli]\n"
            "sys.argv = ['llmswitch', '--help']\nfrom llmswitch.cli import main\nmain()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=workdir,
                            env=clean_env(), timeout=30)
    assert result.returncode == 1
    assert result.stderr == "error: the llmswitch CLI needs typer: pip install 'llmswitch[cli]'\n"


def test_python_dash_m(workdir: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "llmswitch.cli", "--version"], capture_output=True, text=True,
                            cwd=workdir, env=clean_env(), timeout=30)
    assert result.stdout == f"llmswitch {llmswitch.__version__}\n"


def _read_until(fd: int, needle: bytes, buffer: bytearray, *, count: int = 1, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while buffer.count(needle) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"{needle!r} never appeared in {bytes(buffer)!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                pytest.fail(f"{needle!r} never appeared before EOF in {bytes(buffer)!r}")
            buffer += chunk


def test_interactive_session_on_a_terminal(mock_server: MockServer, workdir: Path) -> None:
    """On a real terminal: a prompt, colour, Ctrl-C stops an answer (the session goes on), and
    Ctrl-C at the prompt leaves cleanly."""
    if not SCRIPT.exists():
        pytest.skip("the llmswitch console script is not installed")
    config = server_config(workdir / "srv.yaml", mock_server)
    primary = mock_server.mount("primary")
    primary.latency = 10  # the first answer hangs until interrupted
    master, slave = pty.openpty()
    env = clean_env({"TERM": "xterm-256color", "COLUMNS": "120"})
    process = subprocess.Popen([str(SCRIPT), "chat", "-m", "primary/m-1", "--config", str(config)],
                               stdin=slave, stdout=slave, stderr=slave, cwd=workdir, env=env, close_fds=True)
    os.close(slave)
    seen = bytearray()
    try:
        _read_until(master, b"you> ", seen)
        os.write(master, b"never answered\n")
        interrupt_when(process, lambda: bool(primary.requests))
        _read_until(master, b"[answer interrupted]", seen)
        _read_until(master, b"you> ", seen, count=2)  # the session goes on
        primary.latency = 0
        os.write(master, b"hello over a tty\n")
        _read_until(master, b"[primary:m-1] hello over a tty", seen)
        _read_until(master, "↳ primary/m-1".encode(), seen)  # who served the turn
        _read_until(master, b"you> ", seen, count=3)  # back at the prompt ...
        # ... and give readline a moment to block on the terminal: a signal that lands between its
        # printing the prompt and its select() is only seen at the next keypress (a CPython limit)
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        _drain(master, seen)
        os.close(master)
    text = seen.decode("utf-8", "replace")
    assert "Traceback" not in text
    assert ANSI in text  # colour is for terminals only (every other test checks its absence)
    sent = [r.json()["messages"] for r in primary.requests]
    assert sent[-1] == [{"role": "user", "content": "hello over a tty"}]  # the interrupted turn was dropped


def _drain(fd: int, buffer: bytearray) -> None:
    try:
        while select.select([fd], [], [], 0.2)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                return
            buffer += chunk
    except OSError:  # the child closed the terminal
        pass


def test_python_dash_m_runs_the_cli() -> None:
    """The README's main command uses ``python3 -m llmswitch``: it must reach the same CLI."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "llmswitch", "--help"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "compare" in result.stdout and "chat" in result.stdout
