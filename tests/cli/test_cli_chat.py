"""``llmswitch chat``: one-shot, stdin, the session's /commands and history, failures, Ctrl-C."""

from __future__ import annotations

import time
from pathlib import Path

from cli_support import Invoke, Run, clean_output, interrupt_when, popen, server_config, write_config

from llmswitch.testing import MockServer


def test_one_shot_on_the_demo_shows_failover(run: Run) -> None:
    result = run("chat", "hello there")
    assert result.returncode == 0, result.stderr
    clean_output(result.stdout, result.stderr)
    # stdout is the answer alone; who served it (after the scripted primary failure) is on stderr
    assert result.stdout == "[steady:steady-pro] hello there\n"
    assert "↳ steady/steady-pro" in result.stderr
    assert "after swift/swift-1 (InternalServerError) failed" in result.stderr
    assert "route chat" in result.stderr


def test_dash_reads_the_prompt_from_stdin(invoke: Invoke) -> None:
    result = invoke("chat", "-m", "thrifty/thrifty-mini", "-q", "-", input="from stdin\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "[thrifty:thrifty-mini] from stdin\n"
    assert "↳" not in result.stderr  # --quiet


def test_session_commands_and_history(invoke: Invoke, mock_server: MockServer, workdir: Path) -> None:
    config = server_config(workdir / "srv.yaml", mock_server)
    lines = ["first", "/model backup/m-1", "second", "/system be brief", "third", "/reset", "fourth",
             "/model nowhere/x", "/bogus", "/exit", "never sent"]
    result = invoke("chat", "-m", "primary/m-1", "--config", str(config), input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["[primary:m-1] first", "[backup:m-1] second", "[backup:m-1] third",
                                          "[backup:m-1] fourth"]
    assert "unknown model 'nowhere/x'" in result.stderr
    assert "unknown command /bogus" in result.stderr
    sent = [r.json()["messages"] for r in mock_server.mount("backup").requests]
    roles = [[(m["role"], m["content"]) for m in messages] for messages in sent]
    assert roles[0] == [("user", "first"), ("assistant", "[primary:m-1] first"), ("user", "second")]
    assert roles[1][0] == ("system", "be brief") and roles[1][-1] == ("user", "third") and len(roles[1]) == 6
    assert roles[2] == [("system", "be brief"), ("user", "fourth")]  # /reset keeps the system message
    assert len(mock_server.mount("primary").requests) == 1


def test_failed_turn_prints_the_typed_error(invoke: Invoke, workdir: Path) -> None:
    config = write_config(workdir / "c.yaml", {"providers": {"p": {"type": "mock", "faults": ["401"]}}})
    result = invoke("chat", "-m", "p/mock-small", "hi", "--config", str(config))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "error: AuthenticationError: [p/mock-small]" in result.stderr
    clean_output(result.stdout, result.stderr)


def test_failed_turn_in_a_session_keeps_going(invoke: Invoke, workdir: Path) -> None:
    config = write_config(workdir / "c.yaml", {"providers": {"p": {"type": "mock", "faults": ["400"]}}})
    result = invoke("chat", "-m", "p/mock-small", "--config", str(config), input="one\ntwo\n")
    assert result.exit_code == 1  # piped sessions report that a turn failed
    assert "BadRequestError" in result.stderr
    assert result.stdout == "[p:mock-small] two\n"


def test_no_model_and_no_default_route_is_a_usage_error(invoke: Invoke, workdir: Path) -> None:
    config = write_config(workdir / "c.yaml", {"providers": {"p": {"type": "mock"}}})
    result = invoke("chat", "hi", "--config", str(config))
    assert result.exit_code == 2
    assert "no model" in result.stderr
    clean_output(result.stderr)


def test_ctrl_c_during_an_answer_exits_cleanly(mock_server: MockServer, workdir: Path) -> None:
    mock_server.mount("primary").latency = 10
    config = server_config(workdir / "srv.yaml", mock_server)
    process = popen(["chat", "-m", "primary/m-1", "hi", "--config", str(config)], workdir)
    started = time.monotonic()
    interrupt_when(process, lambda: bool(mock_server.mount("primary").requests))
    out, err = process.communicate(timeout=10)
    assert process.returncode == 130
    assert time.monotonic() - started < 8
    assert "interrupted" in err
    clean_output(out, err)


def test_ctrl_c_at_the_session_prompt_exits_cleanly(fast_config: Path, workdir: Path) -> None:
    process = popen(["chat", "-m", "alpha/a-1", "--config", str(fast_config)], workdir)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("ping\n")
    process.stdin.flush()
    answer = process.stdout.readline()  # the session answered and now waits for the next line
    interrupt_when(process, lambda: True)
    out, err = process.communicate(timeout=10)
    assert answer == "[alpha:a-1] ping\n"
    assert process.returncode == 130
    clean_output(out, err)
