"""The codemod on a fixture app: exact output, idempotence, a valid draft, and the same results after."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import llmswitch
from llmswitch.migrate import migrate
from llmswitch.migrate.drafter import draft, render
from llmswitch.testing import MockServer

HERE = Path(__file__).parent
FIXTURE, EXPECTED = HERE / "fixture", HERE / "expected"
KEYS = {"OPENAI_API_KEY": "sk-test-openai-0000000000", "DEEPSEEK_API_KEY": "sk-test-deepseek-000000",
        "DASHSCOPE_API_KEY": "sk-test-dashscope-00000", "AZURE_OPENAI_API_KEY": "az-test-key-0000000000",
        "AZURE_OPENAI_ENDPOINT": "https://example.openai.azure.com"}


@pytest.fixture
def app(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE, root)
    return root


def files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_fixture_app_migrates_to_exactly_the_expected_tree(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(app)
    plan = migrate(["."])
    plan.write()
    (app / "providers.yaml").write_text(render(draft(plan.facts), plan.scanned))
    assert files(app) == files(EXPECTED)
    assert (plan.scanned, len(plan.files), len(plan.changed)) == (8, 4, 10)
    assert [str(s) for s in plan.skipped] == [
        "app/entra.py:7: AsyncAzureOpenAI(...) left as it is: Entra ID tokens are not supported by the azure "
        "provider (api_key only)"]


def test_a_second_run_changes_nothing(app: Path) -> None:
    migrate([app]).write()
    again = migrate([app])
    assert (again.files, again.changed, again.diff()) == ([], [], "")


def test_the_draft_validates_and_maps_models_to_catalog_presets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    settings = llmswitch.load_config(str(EXPECTED / "providers.yaml"))
    config = settings.config
    assert {n: p.type for n, p in config.providers.items()} == {
        "openai": "openai", "deepseek": "deepseek", "dashscope": "dashscope", "azure": "azure"}
    assert [t.target for t in config.routes["deepseek-chat"].targets] == [
        "deepseek/deepseek-chat", "openai/gpt-4o-mini", "dashscope/qwen-plus"]
    assert [t.target for t in config.routes["text-embedding-3-small"].targets] == ["openai/text-embedding-3-small"]
    text = (EXPECTED / "providers.yaml").read_text()
    assert not any(value in text for value in KEYS.values())  # only ${VAR} references


def run_app(root: Path, env: dict[str, str]) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LLMSWITCH_"))}
    out = subprocess.run([sys.executable, "-m", "app.main"], cwd=root, env={**clean, **env}, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def untagged(result: dict[str, Any]) -> dict[str, Any]:
    """The mock server tags replies with the mount that served them: '[openai:gpt-4o-mini] …'."""
    return {k: re.sub(r"^\[[\w-]+:", "[", v) if isinstance(v, str) else v for k, v in result.items()}


def test_the_migrated_app_gives_the_same_results_through_the_drafted_providers(app: Path, tmp_path: Path) -> None:
    with MockServer({"openai": "openai", "deepseek": "openai", "dashscope": "dashscope"}) as server:
        env = {**KEYS, "OPENAI_BASE_URL": server.base_url("openai")}
        before = run_app(app, env)
        plan = migrate([app])
        plan.write()
        drafted = yaml.safe_load(render(draft(plan.facts), plan.scanned))
        for name in ("deepseek", "dashscope"):  # the real vendors' URLs, pointed at their mock twins
            drafted["providers"][name]["base_url"] = server.base_url(name)
        config = tmp_path / "providers.yaml"
        config.write_text(yaml.safe_dump(drafted))
        unconfigured = run_app(app, env)
        for mount in server.app.mounts.values():
            mount.requests.clear()
        after = run_app(app, {**env, "LLMSWITCH_CONFIG": str(config)})
        served = {name: len(mount.requests) for name, mount in server.app.mounts.items()}
    assert before["main"] == "[openai:gpt-4o-mini] What is a circuit breaker?"
    assert unconfigured == before  # without a providers file, llmswitch's client behaves as openai's
    assert untagged(after) == untagged(before)
    assert (after["cheap"], after["qwen"]) == ("[deepseek:deepseek-chat] Summarise failover",
                                               "[dashscope:qwen-plus] Say hello")
    assert served == {"openai": 2, "deepseek": 1, "dashscope": 2}  # chat + embeddings; native DashScope protocol
