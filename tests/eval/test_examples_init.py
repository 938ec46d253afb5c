"""The shipped examples and ``llmswitch eval init``."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_support import ROOT, invoke, results, validate_results

from llmswitch import load_config
from llmswitch.cli._common import target_problem
from llmswitch.eval.spec import load_suite

EXAMPLES = ROOT / "examples" / "eval"


def test_basic_example_runs_on_the_demo_config_with_no_keys(workdir: Path) -> None:
    result = invoke("eval", str(EXAMPLES / "basic.yaml"), "-o", "r.json")
    assert result.exit_code == 0, result.output
    data = results(workdir / "r.json")
    validate_results(data)
    assert data["config"] == "built-in demo config"
    assert data["summary"]["passed"] == 9 and data["summary"]["cells"] == 9


def test_migration_example_is_valid_for_its_providers_file(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "DEEPSEEK_API_KEY", "DASHSCOPE_API_KEY", "TENCENTCLOUD_SECRET_ID",
                 "TENCENTCLOUD_SECRET_KEY"):
        monkeypatch.setenv(name, "placeholder-for-the-check")
    settings = load_config(EXAMPLES / "providers.yaml")
    suite = load_suite(EXAMPLES / "migration.yaml", lambda name: target_problem(settings, name))
    assert [t.label for t in suite.targets] == ["DeepSeek", "Qwen", "Hunyuan"]
    assert len(suite.tests) == 5 and (suite.judge, suite.embedding) == ("judge", "embed")


def test_init_writes_a_starter_for_the_configured_targets(workdir: Path) -> None:
    result = invoke("eval", "init", "starter.yaml")
    assert result.exit_code == 0, result.output
    text = (workdir / "starter.yaml").read_text(encoding="utf-8")
    assert '"swift/swift-1"' in text and '"thrifty/thrifty-mini"' in text  # the demo route's targets
    run = invoke("eval", "starter.yaml", "-o", "r.json")
    assert run.exit_code in (0, 1), run.output
    assert {c["target"] for c in results(workdir / "r.json")["cells"]} == {
        "swift/swift-1", "steady/steady-pro", "thrifty/thrifty-mini"}
    again = invoke("eval", "init", "starter.yaml")
    assert again.exit_code == 2 and "exists; pass --force" in again.output
    assert invoke("eval", "init", "starter.yaml", "--force").exit_code == 0


def test_progress_bar_on_a_terminal(workdir: Path) -> None:
    """On a terminal (forced here), stderr shows cells done, failures so far and spend so far."""
    import os
    import subprocess

    from eval_support import SCRIPT, write_yaml

    if not SCRIPT.exists():
        pytest.skip("the llmswitch console script is not installed in this environment")
    suite = write_yaml(workdir / "suite.yaml", {  # on the demo's fastest provider
        "prompts": ["Say {{word}}"], "targets": ["swift/swift-1"],
        "tests": [{"vars": {"word": word}, "assert": [{"type": "contains", "value": "hello"}]}
                  for word in ("hello", "bye", "hello again")]})
    env = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": "120"}
    done = subprocess.run([str(SCRIPT), "eval", str(suite), "--no-cache"], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "3/3" in done.stderr and "1 failed" in done.stderr and "$0.000" in done.stderr


def test_eval_help_imports_nothing_heavy(workdir: Path) -> None:
    """``llmswitch eval --help`` keeps the CLI's start-up budget: the eval machinery loads only to run."""
    import subprocess
    import sys

    heavy = ("rich", "openai", "yaml", "pydantic", "jsonschema", "platformdirs", "sqlite3", "llmswitch.eval")
    code = ("import sys\nfrom llmswitch.cli import main\nsys.argv = ['llmswitch', 'eval', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print(','.join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=workdir, timeout=30)
    assert "Usage: llmswitch eval" in result.stdout
    assert result.stderr.strip() == "", result.stderr
