"""A gateway started as a real subprocess (``python -m llmswitch serve``) on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2
import yaml

from llmswitch.testing import MockServer

STARTUP_SECONDS = 60.0  # imports alone can take seconds on a busy 2-core machine
UPSTREAM_SECRET = "sk-upstream-7f3a9c1e5b"  # what the gateway sends the mock providers
CLIENT_KEYS = {"full": "gw-key-full-0a1b2c3d", "narrow": "gw-key-narrow-4e5f6a7b", "budget": "gw-key-budget-8c9d0e1f"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LLMSWITCH_"))}
    out["GW_UPSTREAM_SECRET"] = UPSTREAM_SECRET
    out.update({f"GW_KEY_{name.upper()}": value for name, value in CLIENT_KEYS.items()})
    return out


def providers_file(mock: MockServer, path: Path, *, keys: bool = True, grace: float = 10.0) -> Path:
    """Routes for each scenario use their own model names, so breakers never mix between tests."""
    def provider(mount: str, **extra: Any) -> dict[str, Any]:
        return {"type": "openai", "base_url": mock.base_url(mount), "api_key": "${GW_UPSTREAM_SECRET}",
                "responses": False, **extra}  # the mock speaks chat completions: Responses are translated

    two = {"retry": {"backoff": {"initial": 0.01, "max": 0.02}}}
    config: dict[str, Any] = {
        "providers": {
            "primary": provider("primary"),
            "backup": provider("backup", prices={"metered": {"input": 1000.0, "output": 1000.0}}),
            "down": {"type": "openai", "base_url": f"http://127.0.0.1:{free_port()}/v1", "api_key": "x"},
        },
        "routes": {
            "chat": {"targets": ["primary/gpt-test"]},
            "slow": {"targets": ["primary/slow-model"], "timeouts": {"idle": 30, "total": 60}},
            "failover-down": {"targets": ["down/m-down", "backup/m-down"]},
            "failover-429": {"targets": ["primary/m-429", "backup/m-429"], **two},
            "cut-before": {"targets": ["primary/m-cut0", "backup/m-cut0"]},
            "cut-after": {"targets": ["primary/m-cut2", "backup/m-cut2"]},
            "all-fail": {"targets": ["primary/m-all", "backup/m-all"], "retry": {"max_attempts": 1}},
            "metered": {"targets": ["backup/metered"]},
            "limited": {"targets": ["backup/limited"]},
            "counted": {"targets": ["backup/counted"]},
        },
        "passthrough": "primary",
        "gateway": {"max_body_bytes": 65536, "max_messages": 50, "grace_period": grace},
    }
    if keys:
        config["gateway"]["keys"] = {
            "full": {"key": "${GW_KEY_FULL}", "passthrough": True},
            "narrow": {"key": "${GW_KEY_NARROW}", "routes": ["limited"], "rpm": 3},
            "budget": {"key": "${GW_KEY_BUDGET}", "routes": ["metered"],
                       "budget": {"amount": 0.001, "currency": "USD", "per": "day"}},
        }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class Gateway:
    """``llmswitch serve --config FILE`` in a child process; stderr (the JSON log) goes to a file."""

    def __init__(self, config: Path, log: Path, *extra: str) -> None:
        self.port = free_port()
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llmswitch", "serve", "--config", str(config), "--port", str(self.port), *extra],
            stdout=subprocess.DEVNULL, stderr=self._log, env=env())
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = self.url + "/v1"
        self._wait_ready()

    def _wait_ready(self) -> None:
        due = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < due:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited ({self.proc.returncode}): {self.log_path.read_text()}")
            try:
                if httpx2.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx2.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("gateway did not start in time")

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
