"""``llmswitch compare``: the demo one-liner, machine outputs, options on the wire, failures, Ctrl-C."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cli_support import Invoke, Run, clean_output, interrupt_when, popen, server_config, write_config

import llmswitch
from llmswitch.demo import DEMO_CONFIG
from llmswitch.testing import MockServer

PROMPT = "Explain failover in one sentence"


def _results(text: str) -> dict[str, dict[str, Any]]:
    document = json.loads(text)
    return {row["target"]: row for row in document["results"]}


def _price(provider: str, model: str) -> dict[str, Any]:
    price: dict[str, Any] = DEMO_CONFIG["providers"][provider]["prices"][model]
    return price


def test_readme_command_works_with_no_config_no_keys(run: Run) -> None:
    """The README's main command: demo config, a table with the route and each target, failover shown."""
    result = run("compare", PROMPT)
    assert result.returncode == 0, result.stderr
    clean_output(result.stdout, result.stderr)
    assert "built-in demo config" in result.stderr
    for target in ("swift/swift-1", "steady/steady-pro", "thrifty/thrifty-mini"):
        assert target in result.stdout
    # the route's primary fails its first request, so the route row is served by the next target
    assert "chat → steady/steady-pro" in result.stdout
    for header in ("TTFT", "latency", "tokens", "tok/s", "CNY", "USD", "answer"):
        assert header in result.stdout
    assert "Explain failover" in result.stdout  # the mock echoes the prompt in its answer


def test_json_output_measures_and_prices_each_target(invoke: Invoke) -> None:
    result = invoke("compare", PROMPT, "--output", "json")
    assert result.exit_code == 0, result.output
    rows = _results(result.stdout)
    rate = llmswitch.load_config(DEMO_CONFIG).config.cny_per_usd
    assert list(rows) == ["chat", "swift/swift-1", "steady/steady-pro", "thrifty/thrifty-mini"]
    route = rows["chat"]
    assert (route["provider"], route["model"], route["fallbacks"], route["attempts"]) == ("steady", "steady-pro", 1, 2)
    assert rows["swift/swift-1"]["attempts"] == 1  # the route met the scripted failure first
    for target, row in rows.items():
        assert row["status"] == "ok" and row["error"] is None, target
        provider, model = row["provider"], row["model"]
        spec = DEMO_CONFIG["providers"][provider]
        assert row["completion_tokens"] == spec["completion_tokens"]
        assert row["answer"] == f"[{provider}:{model}] {PROMPT}"
        assert 0 < row["ttft_s"] <= row["latency_s"]
        assert row["latency_s"] >= spec["latency"]
        assert row["tokens_per_s"] == pytest.approx(row["completion_tokens"] / row["latency_s"], rel=0.01)
        price = _price(provider, model)
        amount = (row["prompt_tokens"] * price["input"] + row["completion_tokens"] * price["output"]) / 1e6
        usd, cny = (amount, amount * rate) if price["currency"] == "USD" else (amount / rate, amount)
        assert row["cost_usd"] == pytest.approx(usd) and row["cost_cny"] == pytest.approx(cny)


def test_repeat_reports_median_and_p95(invoke: Invoke, fast_config: Path) -> None:
    result = invoke("compare", "hi", "-m", "beta/b-1", "--repeat", "3", "-o", "json", "--config", str(fast_config))
    assert result.exit_code == 0, result.output
    row = _results(result.stdout)["beta/b-1"]
    assert (row["runs"], row["ok_runs"]) == (3, 3)
    assert row["latency_p95_s"] >= row["latency_s"] > 0
    table = invoke("compare", "hi", "-m", "beta/b-1", "-n", "2", "--config", str(fast_config))
    assert "p95" in table.stdout and "ok 2/2" in table.stdout


def test_prompt_file_makes_a_matrix(invoke: Invoke, fast_config: Path, workdir: Path) -> None:
    prompts = workdir / "prompts.txt"
    prompts.write_text("first question\n\n# a comment\nsecond question\n", encoding="utf-8")
    result = invoke("compare", "-f", str(prompts), "-m", "alpha/a-1", "-m", "beta/b-1", "-o", "json",
                    "--config", str(fast_config))
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["prompts"] == ["first question", "second question"]
    cells = {(r["prompt_index"], r["target"]): r["answer"] for r in document["results"]}
    assert cells == {
        (0, "alpha/a-1"): "[alpha:a-1] first question", (0, "beta/b-1"): "[beta:b-1] first question",
        (1, "alpha/a-1"): "[alpha:a-1] second question", (1, "beta/b-1"): "[beta:b-1] second question",
    }


def test_csv_and_markdown_outputs(invoke: Invoke, fast_config: Path) -> None:
    args = ("compare", "hello", "-m", "alpha/a-1", "-m", "main", "--config", str(fast_config))
    table = list(csv.DictReader(io.StringIO(invoke(*args, "-o", "csv").stdout)))
    assert [r["target"] for r in table] == ["alpha/a-1", "main"]
    assert table[0]["answer"] == "[alpha:a-1] hello" and table[0]["completion_tokens"] == "12"
    assert table[1]["provider"] == "alpha" and table[1]["status"] == "ok"
    markdown = invoke(*args, "-o", "markdown").stdout.splitlines()
    assert markdown[0].startswith("| target | served by | status |")
    assert markdown[1].startswith("|---|")
    assert len(markdown) == 4 and "[alpha:a-1] hello" in markdown[2]


def test_options_reach_the_wire(invoke: Invoke, mock_server: MockServer, workdir: Path) -> None:
    config = server_config(workdir / "srv.yaml", mock_server)
    result = invoke("compare", "one two three", "-m", "primary/m-1", "--system", "be terse",
                    "--temperature", "0.3", "--json-mode", "-o", "json", "--config", str(config))
    assert result.exit_code == 0, result.output
    body = mock_server.mount("primary").requests[0].json()
    assert body["messages"] == [{"role": "system", "content": "be terse"}, {"role": "user", "content": "one two three"}]
    assert body["temperature"] == 0.3 and body["response_format"] == {"type": "json_object"}
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert json.loads(_results(result.stdout)["primary/m-1"]["answer"])["echo"] == "one two three"

    capped = invoke("compare", "one two three four", "-m", "backup/m-1", "--max-tokens", "2", "-o", "json",
                    "--config", str(config))
    body = mock_server.mount("backup").requests[0].json()
    assert 2 in (body.get("max_tokens"), body.get("max_completion_tokens"))
    assert _results(capped.stdout)["backup/m-1"]["answer"] == "[backup:m-1] one "  # cut to two words


def test_full_shows_whole_answers(invoke: Invoke, fast_config: Path) -> None:
    prompt = " ".join(f"word{i}" for i in range(40))
    short = invoke("compare", prompt, "-m", "alpha/a-1", "--config", str(fast_config))
    full = invoke("compare", prompt, "-m", "alpha/a-1", "--full", "--config", str(fast_config))
    assert "…" in short.stdout and "word39" not in short.stdout
    assert "word39" in full.stdout


def test_no_targets_and_no_default_route(invoke: Invoke, workdir: Path) -> None:
    config = write_config(workdir / "c.yaml", {"providers": {"p": {"type": "mock"}}})
    result = invoke("compare", "hi", "--config", str(config))
    assert result.exit_code == 2
    assert "no models to compare" in result.stderr


def test_failed_target_gives_typed_error_and_exit_code(invoke: Invoke, workdir: Path) -> None:
    config = write_config(workdir / "bad.yaml", {"providers": {
        "ok": {"type": "mock"},
        "locked": {"type": "mock", "faults": ["401"]},
    }})
    args = ("compare", "hi", "-m", "ok/mock-small", "-m", "locked/mock-small", "--config", str(config))
    result = invoke(*args)
    assert result.exit_code == 1
    clean_output(result.stdout, result.stderr)
    assert "AuthenticationError" in result.stdout  # in the table
    assert "locked/mock-small: AuthenticationError:" in result.stderr  # and in full below it
    assert "1 of 2 target(s) failed" in result.stderr
    allowed = invoke(*args, "--allow-failures", "-o", "json")
    assert allowed.exit_code == 0
    rows = _results(allowed.stdout)
    assert rows["ok/mock-small"]["status"] == "ok"
    assert rows["locked/mock-small"]["error"]["type"] == "AuthenticationError"
    assert rows["locked/mock-small"]["error"]["kind"] == "auth"


def _one_error(stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if line.lower().startswith("error")]
    assert len(lines) == 1, stderr  # one clear error, not a cascade
    clean_output(stderr)


@pytest.mark.parametrize(("args", "expected"), [
    (("--repeat", "0"), "Invalid value for '--repeat'"),
    (("--output", "xml"), "'xml' is not one of 'table', 'json', 'csv', 'markdown'"),
    (("-m", "nowhere/model"), "unknown model 'nowhere/model'"),
    (("--file", "missing.txt"), "missing.txt: cannot read the prompts file"),
])
def test_bad_flags_and_files_give_one_clear_error(invoke: Invoke, args: tuple[str, ...], expected: str) -> None:
    result = invoke("compare", "hi", *args)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert result.stdout == ""
    _one_error(result.stderr)


def test_bad_flags_through_the_entry_point(run: Run) -> None:
    for args, expected in ((("--bogus",), "No such option: --bogus"),
                           (("--config", "missing.yaml"), "missing.yaml: no such providers file")):
        result = run("compare", "hi", *args)
        assert (result.returncode, result.stdout) == (2, ""), result.stderr
        assert expected in result.stderr
        _one_error(result.stderr)


def test_broken_config_names_file_line_and_field(invoke: Invoke, workdir: Path) -> None:
    config = workdir / "broken.yaml"
    config.write_text("providers:\n  a:\n    type: mock\n    colour: blue\n", encoding="utf-8")
    result = invoke("compare", "hi", "-m", "a/mock-small", "--config", str(config))
    assert result.exit_code == 1
    assert f"{config}:4: providers.a.colour: unknown key" in result.stderr
    _one_error(result.stderr)
    routed = workdir / "routed.yaml"
    routed.write_text("providers:\n  a: {type: mock}\nroutes:\n  r:\n    targets: [b/x]\n", encoding="utf-8")
    result = invoke("compare", "hi", "--config", str(routed))
    assert result.exit_code == 1
    assert f"{routed}:5: routes.r.targets.0: unknown provider 'b'" in result.stderr


def test_ctrl_c_exits_cleanly(mock_server: MockServer, workdir: Path) -> None:
    mock_server.mount("primary").latency = 10  # the call hangs until interrupted
    config = server_config(workdir / "srv.yaml", mock_server)
    process = popen(["compare", "hi", "-m", "primary/m-1", "--config", str(config)], workdir)
    started = time.monotonic()
    interrupt_when(process, lambda: bool(mock_server.mount("primary").requests))
    out, err = process.communicate(timeout=10)
    assert process.returncode == 130
    assert "interrupted" in err
    assert time.monotonic() - started < 8
    clean_output(out, err)
