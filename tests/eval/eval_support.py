"""Helpers for the eval tests: providers files on the loopback mock server, eval files, running the CLI."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner, Result

from llmswitch.cli.app import app
from llmswitch.testing import MockServer

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "src" / "llmswitch" / "eval" / "results.schema.json"
JUNIT_XSD = Path(__file__).with_name("junit.xsd")
SCRIPT = Path(sys.executable).with_name("llmswitch")
PRICE = {"input": 2.0, "output": 6.0, "currency": "USD"}


def write_yaml(path: Path, data: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def providers_file(path: Path, server: MockServer, judge_url: str | None = None) -> Path:
    """``alpha`` and ``beta`` (OpenAI protocol, priced) on the mock server, and ``judge`` when given."""
    providers: dict[str, Any] = {
        name: {"type": "openai", "api_key": f"sk-test-{name}-secret", "base_url": server.base_url(name),
               "models": ["m-1", "emb-1"], "prices": {"m-1": PRICE}}
        for name in ("alpha", "beta")
    }
    if judge_url is not None:
        providers["judge"] = {"type": "openai", "api_key": "sk-judge-secret", "base_url": judge_url,
                              "models": ["grader"]}
    return write_yaml(path, {"providers": providers, "routes": {"both": {"targets": ["alpha/m-1", "beta/m-1"]}}})


def upstream_calls(server: MockServer) -> int:
    return sum(len(server.mount(name).requests) for name in ("alpha", "beta"))


def invoke(*args: str) -> Result:
    """The CLI in this process (typer's runner)."""
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def results(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def validate_results(data: dict[str, Any]) -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(data)
