"""``llmswitch mock serve``: a real loopback server, scripted faults, clean stop on Ctrl-C."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cli_support import Invoke, clean_output, interrupt_when, popen, started

import llmswitch
from llmswitch.cli.mockserve import available_protocols
from llmswitch.testing.protocols import mock_protocols


def test_serve_prints_base_urls_applies_faults_and_stops_on_ctrl_c(workdir: Path) -> None:
    args = ["mock", "serve", "--port", "0", "--mount", "a=openai", "--mount", "anthropic",
            "--faults", "a=429:retry-after=0", "--faults", "500:message=boom"]
    with started(args, workdir) as (process, out, err):
        line = out.wait_for(lambda s: s.strip().startswith("a ") and "http://127.0.0.1:" in s)
        base_url = line.split()[2]
        assert base_url.endswith("/a/v1")
        out.wait_for(lambda s: s.strip().startswith("anthropic ") and "http://127.0.0.1:" in s)
        out.wait_for(lambda s: "a: {type: openai, api_key: test, base_url: " + base_url in s)
        messages = [{"role": "user", "content": "hi"}]
        with llmswitch.OpenAI(api_key="test", base_url=base_url, max_retries=0) as client:
            with pytest.raises(llmswitch.RateLimitError):  # the mount's own fault first ...
                client.chat.completions.create(model="m", messages=messages)
            with pytest.raises(llmswitch.InternalServerError, match="boom"):  # ... then the one for all mounts
                client.chat.completions.create(model="m", messages=messages)
            answer = client.chat.completions.create(model="m", messages=messages)
        assert answer.choices[0].message.content == "[a:m] hi"
        out.wait_for(lambda s: " a POST /v1/chat/completions" in s)  # the request log
        interrupt_when(process, lambda: True)
        process.wait(timeout=10)
        assert process.returncode == 0
        assert "mock server stopped" in err.text()
        clean_output(out.text(), err.text())


def test_port_in_use_is_one_clear_error(workdir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = popen(["mock", "serve", "--port", str(port)], workdir)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err
    clean_output(out, err)


@pytest.mark.parametrize(("args", "expected"), [
    (("--mount", "x=nope"), "'nope' is not a protocol"),
    (("--mount", "bad name=openai"), "the mount name must be"),
    (("--faults", "explode"), "unknown fault"),
    (("--faults", "cut_stream:after=soon"), "--faults 'cut_stream:after=soon'"),
    (("--mount", "a=openai", "--faults", "b=500"), "no mount named 'b'"),
    (("--port", "70000"), "Invalid value for '--port'"),
])
def test_bad_mounts_and_faults(invoke: Invoke, args: tuple[str, ...], expected: str) -> None:
    result = invoke("mock", "serve", *args)
    assert result.exit_code == 2
    assert expected in result.stderr


def test_default_mounts_are_the_available_protocols() -> None:
    found = available_protocols()
    assert "openai" in found
    assert set(found) <= set(mock_protocols())


def test_mock_serve_help_lists_its_options(invoke: Invoke) -> None:
    result = invoke("mock", "serve", "--help")
    assert result.exit_code == 0
    for option in ("--port", "--mount", "--faults", "--api-key"):
        assert option in result.stdout
