"""``llmswitch providers`` / ``providers list`` / ``providers check``."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from cli_support import Invoke, Run, clean_output, write_config

from llmswitch.testing import MockServer


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_lists_the_demo_providers(run: Run) -> None:
    result = run("providers")
    assert result.returncode == 0, result.stderr
    clean_output(result.stdout, result.stderr)
    for name, model in (("swift", "swift-1"), ("steady", "steady-pro"), ("thrifty", "thrifty-mini")):
        assert name in result.stdout and model in result.stdout
    assert "in-process (no network)" in result.stdout
    assert "none needed" in result.stdout


def test_list_json_reports_credential_status_not_values(invoke: Invoke, workdir: Path) -> None:
    config = write_config(workdir / "p.yaml", {"providers": {
        "given": {"type": "openai", "api_key": "sk-given-0123456789", "base_url": "http://127.0.0.1:9/v1"},
        "from_env": {"type": "deepseek"},
        "without": {"type": "moonshot", "models": ["moonshot-v1-8k"]},
    }})
    result = invoke("providers", "list", "-o", "json", "--config", str(config),
                    env={"DEEPSEEK_API_KEY": "sk-env-9876543210", "MOONSHOT_API_KEY": ""})
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)["providers"]}
    assert rows["given"]["credentials"] == {"api_key": "present"}
    assert rows["given"]["base_url"] == "http://127.0.0.1:9/v1"
    assert rows["from_env"]["credentials"] == {"api_key": "present (from $DEEPSEEK_API_KEY)"}
    assert rows["from_env"]["base_url"].startswith("https://")
    assert rows["without"]["credentials"]["api_key"].startswith("missing")
    assert rows["without"]["models"][0] == "moonshot-v1-8k"
    assert rows["without"]["problems"]  # listed, with why it cannot be used
    assert "sk-given" not in result.output and "sk-env" not in result.output


def test_list_still_works_when_a_routed_provider_lacks_its_key(invoke: Invoke, workdir: Path) -> None:
    config = write_config(workdir / "p.yaml", {
        "providers": {"ds": {"type": "deepseek", "api_key": "${NOT_SET_ANYWHERE_KEY}"}},
        "routes": {"main": {"targets": ["ds/deepseek-chat"]}},
    })
    result = invoke("providers", "--config", str(config))
    assert result.exit_code == 1
    assert "ds" in result.stdout and "deepseek" in result.stdout
    assert "NOT_SET_ANYWHERE_KEY is not set" in result.stderr
    clean_output(result.stdout, result.stderr)


def test_check_reports_reachability_auth_and_latency_in_parallel(invoke: Invoke, workdir: Path) -> None:
    with MockServer({"good": "openai", "guarded": "openai", "slow": "openai"}) as server:
        server.mount("guarded").api_key = "right-key"
        server.mount("slow").latency = 5
        providers = {
            "good": {"type": "openai", "api_key": "k", "base_url": server.base_url("good"), "models": ["m"]},
            "guarded": {"type": "openai", "api_key": "wrong-key", "base_url": server.base_url("guarded"),
                        "models": ["m"]},
            "slow": {"type": "openai", "api_key": "k", "base_url": server.base_url("slow"), "models": ["m"]},
            "gone": {"type": "openai", "api_key": "k", "base_url": f"http://127.0.0.1:{_closed_port()}/v1",
                     "models": ["m"]},
            "nokey": {"type": "deepseek"},
        }
        config = write_config(workdir / "p.yaml", {"providers": providers})
        started = time.monotonic()
        result = invoke("providers", "check", "--timeout", "0.5", "-o", "json", "--config", str(config))
        elapsed = time.monotonic() - started
    assert result.exit_code == 1
    checks = {c["provider"]: c for c in json.loads(result.stdout)["results"]}
    assert (checks["good"]["ok"], checks["good"]["reachable"], checks["good"]["auth"]) == (True, "yes", "ok")
    assert checks["good"]["latency_s"] > 0
    assert (checks["guarded"]["reachable"], checks["guarded"]["auth"]) == ("yes", "rejected")
    assert "AuthenticationError" in checks["guarded"]["detail"]
    assert checks["slow"]["reachable"] == "timeout"
    assert checks["gone"]["reachable"] == "no" and "APIConnectionError" in checks["gone"]["detail"]
    assert (checks["nokey"]["reachable"], checks["nokey"]["auth"]) == ("not sent", "missing")
    assert len(server.mount("good").requests) == 1
    assert server.mount("good").requests[0].json()["messages"][0]["content"] == "ping"
    assert elapsed < 4  # in parallel: the 0.5 s timeout and the slow mount do not add up


def test_check_named_provider_on_the_demo_retries_a_blip(invoke: Invoke) -> None:
    result = invoke("providers", "check", "swift")
    assert result.exit_code == 0, result.output
    clean_output(result.stdout, result.stderr)
    assert "swift" in result.stdout and "answered after 1 retry" in result.stdout
    assert "steady" not in result.stdout


def test_check_unknown_provider_is_a_usage_error(invoke: Invoke) -> None:
    result = invoke("providers", "check", "nowhere")
    assert result.exit_code == 2
    assert "unknown provider 'nowhere'" in result.stderr
    clean_output(result.stderr)
