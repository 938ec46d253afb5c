"""``llmswitch config validate`` and ``config show``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from cli_support import Invoke, Run, clean_output, write_config

BROKEN = """\
providers:
  fast:
    type: openai
    base_url: ftp://example.com/v1
  slow:
    type: mock
    colour: blue
routes:
  main:
    targets: [fast/m, missing/m]
    strategy: sideways
default_route: nope
"""


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_validate_reports_every_problem_with_file_line_field(run: Run, workdir: Path) -> None:
    path = workdir / "providers.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    result = run("config", "validate", str(path))
    assert result.returncode == 1
    clean_output(result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"✗ {path}:") and "problem(s)" in lines[0]
    problems = lines[1:]
    assert problems and all(re.match(rf"^{re.escape(str(path))}:\d+: [\w.]+: ", p) for p in problems), problems
    expected = {
        "providers.fast.base_url": _line_of(BROKEN, "base_url"),
        "routes.main.strategy": _line_of(BROKEN, "strategy"),
    }
    for field, line in expected.items():
        assert any(p.startswith(f"{path}:{line}: {field}: ") for p in problems), (field, problems)


def test_validate_reports_route_and_provider_problems_together(invoke: Invoke, workdir: Path) -> None:
    text = "providers:\n  a:\n    type: mock\n    colour: blue\nroutes:\n  main:\n    targets: [a/x, b/y]\n"
    path = workdir / "p.yaml"
    path.write_text(text, encoding="utf-8")
    result = invoke("config", "validate", str(path))
    assert result.exit_code == 1
    assert f"{path}:7: routes.main.targets.1: unknown provider 'b'" in result.stdout
    assert f"{path}:4: providers.a.colour: unknown key" in result.stdout


def test_validate_a_good_file_and_discovery(invoke: Invoke, workdir: Path, fast_config: Path) -> None:
    result = invoke("config", "validate", str(fast_config))
    assert result.exit_code == 0, result.output
    assert f"✓ {fast_config} is valid: 2 provider(s), 1 route(s), default route main" in result.stdout
    # no FILE: $LLMSWITCH_CONFIG, then ./providers.yaml, then the demo
    assert "built-in demo config is valid: 3 provider(s)" in invoke("config", "validate").stdout
    (workdir / "providers.yaml").write_text(fast_config.read_text(), encoding="utf-8")
    assert "✓ providers.yaml is valid" in invoke("config", "validate").stdout
    env = {"LLMSWITCH_CONFIG": str(workdir / "elsewhere.yaml")}
    missing = invoke("config", "validate", env=env)
    assert missing.exit_code == 1 and "elsewhere.yaml" in missing.stdout


def test_validate_missing_or_unparsable_file(invoke: Invoke, workdir: Path) -> None:
    missing = invoke("config", "validate", "nowhere.yaml")
    assert missing.exit_code == 1
    assert "nowhere.yaml: cannot read the providers file" in missing.stdout
    bad = workdir / "bad.yaml"
    bad.write_text("providers:\n  a: [unclosed\n", encoding="utf-8")
    result = invoke("config", "validate", str(bad))
    assert result.exit_code == 1 and "not valid YAML" in result.stdout


def test_validate_warns_about_unused_providers_without_failing(invoke: Invoke, workdir: Path) -> None:
    config = write_config(workdir / "p.yaml", {"providers": {"ds": {"type": "deepseek"}}})
    result = invoke("config", "validate", str(config))
    assert result.exit_code == 0
    assert "warning:" in result.stderr and "missing credential 'api_key'" in result.stderr


def test_show_resolves_and_redacts(invoke: Invoke, workdir: Path) -> None:
    config = write_config(workdir / "p.yaml", {
        "providers": {
            "mine": {"type": "openai", "api_key": "${MY_TEST_KEY}", "base_url": "https://h.example/v1?key=q-secret-1",
                     "headers": {"X-Api-Key": "hdr-secret-2", "X-Trace": "visible"}},
            "env": {"type": "deepseek"},
            "local": {"type": "mock"},
        },
        "routes": {"main": {"targets": ["mine/gpt-x"], "timeouts": {"idle": 5}}},
    })
    env = {"MY_TEST_KEY": "sk-file-secret-3", "DEEPSEEK_API_KEY": "sk-env-secret-4"}
    result = invoke("config", "show", str(config), env=env)
    assert result.exit_code == 0, result.output
    for secret in ("q-secret-1", "hdr-secret-2", "sk-file-secret-3", "sk-env-secret-4"):
        assert secret not in result.output
    assert result.stdout.startswith(f"# source: {config}\n")
    data = yaml.safe_load(result.stdout)
    mine = data["providers"]["mine"]
    assert mine["api_key"] == "<redacted>"
    assert mine["headers"] == {"X-Api-Key": "<redacted>", "X-Trace": "visible"}
    assert mine["base_url"].startswith("https://h.example/v1?key=")
    assert data["providers"]["env"]["api_key"] == "<redacted> (from $DEEPSEEK_API_KEY)"
    assert data["providers"]["env"]["base_url"].startswith("https://")  # resolved from the catalog
    assert data["routes"]["main"]["timeouts"]["idle"] == 5
    assert "defaults" in data and "retry" in data["defaults"]  # defaults filled in
    as_json = json.loads(invoke("config", "show", str(config), "--format", "json", env=env).stdout)
    assert as_json["source"] == str(config)
    assert as_json["config"]["providers"]["mine"]["api_key"] == "<redacted>"


def test_show_the_demo(invoke: Invoke) -> None:
    result = invoke("config", "show")
    assert result.exit_code == 0
    data = yaml.safe_load(result.stdout)
    assert set(data["providers"]) == {"swift", "steady", "thrifty"}
    assert data["default_route"] == "chat"
    assert result.stdout.startswith("# source: built-in demo config")
