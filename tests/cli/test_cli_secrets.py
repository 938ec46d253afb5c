"""No command ever prints a credential: keys are set in the file and the environment, every
command runs (successes and failures), and all of their output is searched for the values."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import Invoke, write_config

from llmswitch.testing import MockServer

FILE_KEY = "sk-live-FILEKEY-0123456789abcdef"
ENV_KEY = "sk-live-ENVKEY-fedcba9876543210"
WRONG_KEY = "sk-live-WRONGKEY-5555555555"
TENCENT_ID = "AKIDsecretid00112233"
TENCENT_KEY = "tencent-secret-key-445566"
SECRETS = (FILE_KEY, ENV_KEY, WRONG_KEY, TENCENT_ID, TENCENT_KEY)


@pytest.fixture
def keyed(workdir: Path) -> Iterator[tuple[Path, MockServer]]:
    server = MockServer({"vault": "openai", "locked": "openai"}).start()
    server.mount("vault").api_key = FILE_KEY
    server.mount("locked").api_key = "the-right-one"
    config = write_config(workdir / "keys.yaml", {
        "providers": {
            "vault": {"type": "openai", "api_key": FILE_KEY, "base_url": server.base_url("vault"), "models": ["m"],
                      "headers": {"X-Api-Key": FILE_KEY}},
            "locked": {"type": "openai", "api_key": WRONG_KEY, "base_url": server.base_url("locked"),
                       "models": ["m"]},
            "ds": {"type": "deepseek", "base_url": server.base_url("vault")},
            "hy": {"type": "hunyuan", "secret_id": TENCENT_ID, "secret_key": TENCENT_KEY},
        },
        "routes": {"main": {"targets": ["locked/m", "vault/m"], "fallback_on": ["auth", "server_error"]}},
        "default_route": "main",
    })
    yield config, server
    server.stop()


def test_no_command_prints_a_secret(invoke: Invoke, keyed: tuple[Path, MockServer]) -> None:
    config, server = keyed
    env = {"DEEPSEEK_API_KEY": ENV_KEY}
    commands = [
        ("compare", "hello", "--allow-failures"),
        ("compare", "hello", "-m", "locked/m", "-m", "ds/m", "-o", "json", "--allow-failures"),
        ("compare", "hello", "-o", "csv", "--full", "--allow-failures"),
        ("chat", "hello"),
        ("chat", "-m", "locked/m", "hello"),
        ("providers",),
        ("providers", "-o", "json"),
        ("providers", "check", "--timeout", "2"),
        ("config", "show"),
        ("config", "show", "--format", "json"),
        ("config", "validate"),
    ]
    outputs = []
    for command in commands:
        result = invoke(*command, env={**env, "LLMSWITCH_CONFIG": str(config)})
        outputs.append((command, result.exit_code, result.stdout + result.stderr))
    for command, _, text in outputs:
        for secret in SECRETS:
            assert secret not in text, (command, secret)
    # the runs really used the keys and really failed where they should
    by_command = {c: (code, text) for c, code, text in outputs}
    assert "AuthenticationError" in by_command[("chat", "-m", "locked/m", "hello")][1]
    assert by_command[("chat", "hello")][0] == 0
    assert "[vault:m] hello" in by_command[("chat", "hello")][1]
    assert any(r.headers.get("authorization") == f"Bearer {FILE_KEY}" for r in server.mount("vault").requests)
    assert any(r.headers.get("authorization") == f"Bearer {ENV_KEY}" for r in server.mount("vault").requests)
