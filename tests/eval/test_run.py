"""Running: the cache, exit codes, outputs against their schemas, baseline marks, --filter, --max-cost."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from eval_support import JUNIT_XSD, invoke, results, upstream_calls, validate_results, write_yaml
from judge_server import JudgeServer

from llmswitch.testing import MockServer


def suite(workdir: Path, *, second: str = "Bob", threshold: float | None = None, repeat: int = 1) -> Path:
    """2 tests × 2 targets; 'names Bob' fails on every target unless ``second`` says otherwise."""
    second_test: dict[str, object] = {"description": "names Bob", "vars": {"name": second}, "repeat": repeat,
                                      "assert": [{"type": "contains", "value": "Bob"}]}
    if threshold is not None:
        second_test["threshold"] = threshold
    return write_yaml(workdir / "suite.yaml", {
        "description": "greetings",
        "prompts": ["Say hello to {{name}}"],
        "targets": ["alpha/m-1", {"target": "beta/m-1", "label": "beta", "params": {"temperature": 0}}],
        "defaults": {"judge": "judge/grader"},
        "tests": [
            {"description": "names Ada", "vars": {"name": "Ada"},
             "assert": [{"type": "icontains", "value": "{{name}}"},
                        {"type": "llm-rubric", "value": "The answer must mention 'Ada'"}]},
            second_test,
        ],
    })


def test_second_run_is_served_by_the_cache_and_no_cache_sends_everything(
        workdir: Path, server: MockServer, judge: JudgeServer, providers: Path) -> None:
    path = suite(workdir, second="Ada")
    first = invoke("eval", str(path), "--config", str(providers), "-o", "one.json")
    assert first.exit_code == 1, first.output
    assert upstream_calls(server) == 4 and len(judge.requests) == 2
    assert (workdir / "xdg-cache" / "llmswitch" / "eval" / "responses.sqlite3").is_file()  # the platform's cache dir

    second = invoke("eval", str(path), "--config", str(providers), "-o", "two.json")
    assert second.exit_code == 1
    assert upstream_calls(server) == 4 and len(judge.requests) == 2  # 0 upstream calls
    data = results(workdir / "two.json")
    assert data["summary"]["calls"] == 0 and data["summary"]["cache_hits"] == 6  # 4 cells, 2 verdicts
    assert all(run["output"]["cached"] for cell in data["cells"] for run in cell["runs"])
    assert [c["status"] for c in data["cells"]] == [c["status"] for c in results(workdir / "one.json")["cells"]]

    third = invoke("eval", str(path), "--config", str(providers), "--no-cache")
    assert third.exit_code == 1
    assert upstream_calls(server) == 8 and len(judge.requests) == 4  # all of them again


def test_editing_an_assertion_costs_nothing_but_editing_a_request_sends_it(
        workdir: Path, server: MockServer, judge: JudgeServer, providers: Path) -> None:
    path = suite(workdir)
    invoke("eval", str(path), "--config", str(providers))
    sent = upstream_calls(server)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("value: Bob", "value: hello"), encoding="utf-8")
    assert invoke("eval", str(path), "--config", str(providers)).exit_code == 0  # now everything passes
    assert upstream_calls(server) == sent
    path.write_text(text.replace("temperature: 0", "temperature: 0.5"), encoding="utf-8")
    invoke("eval", str(path), "--config", str(providers))
    assert upstream_calls(server) == sent + 2  # beta's two cells changed their request


def test_exit_codes(workdir: Path, server: MockServer, judge: JudgeServer, providers: Path) -> None:
    assert invoke("eval", str(suite(workdir, second="Bob")), "--config", str(providers)).exit_code == 0
    assert invoke("eval", str(suite(workdir, second="Eve")), "--config", str(providers)).exit_code == 1
    assert invoke("eval", str(suite(workdir, second="Eve", threshold=0)), "--config",
                  str(providers)).exit_code == 0  # a threshold of 0 tolerates failures
    usage = invoke("eval", str(suite(workdir)), "--config", str(providers), "-o", "out.txt")
    assert usage.exit_code == 2 and "the extension picks the format" in usage.output


def test_threshold_is_a_pass_rate_over_repeats(workdir: Path, server: MockServer, judge: JudgeServer,
                                               providers: Path) -> None:
    server.mount("alpha").fail("400")  # alpha's first 'names Bob' run fails (a 400 is not retried)
    path = suite(workdir, second="Bob", threshold=0.6, repeat=3)
    result = invoke("eval", str(path), "--config", str(providers), "--filter", "test:Bob", "-o", "r.json")
    cells = {c["target"]: c for c in results(workdir / "r.json")["cells"]}
    assert cells["alpha/m-1"]["pass_rate"] == pytest.approx(2 / 3) and cells["alpha/m-1"]["status"] == "pass"
    assert cells["beta"]["pass_rate"] == 1.0
    assert result.exit_code == 0
    assert "(2/3)" in result.output  # the matrix shows runs passed of runs


def test_outputs_validate_against_their_schemas(workdir: Path, server: MockServer, judge: JudgeServer,
                                                providers: Path) -> None:
    import xmlschema

    result = invoke("eval", str(suite(workdir, second="Eve")), "--config", str(providers), "-o", "r.json",
                    "-o", "junit.xml", "-o", "r.csv")
    assert result.exit_code == 1
    data = results(workdir / "r.json")
    validate_results(data)
    assert [c["status"] for c in data["cells"]] == ["pass", "pass", "fail", "fail"]
    assert data["summary"]["targets"][0]["pass_rate"] == 0.5

    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(workdir / "junit.xml"))
    root = ET.parse(workdir / "junit.xml").getroot()
    assert root.get("tests") == "4" and root.get("failures") == "2"
    assert [s.get("name") for s in root] == ["alpha/m-1", "beta"]
    failure = root.find("testsuite/testcase[@name='names Bob']/failure")
    assert failure is not None and "'Bob' not found" in (failure.get("message") or "")

    rows = list(csv.DictReader(io.StringIO((workdir / "r.csv").read_text(encoding="utf-8"))))
    assert [(r["test"], r["target"], r["status"]) for r in rows] == [
        ("names Ada", "alpha/m-1", "pass"), ("names Ada", "beta", "pass"),
        ("names Bob", "alpha/m-1", "fail"), ("names Bob", "beta", "fail")]
    assert rows[0]["output"] == "[alpha:m-1] Say hello to Ada"


def test_a_broken_results_file_fails_the_schema() -> None:
    """The schema is strict enough to catch a wrong shape (so validating against it means something)."""
    import jsonschema

    data = {"$schema": "urn:llmswitch:eval:results:1", "version": 1, "cells": []}
    with pytest.raises(jsonschema.ValidationError):
        validate_results(data)


def test_baseline_marks_regressions_and_improvements(workdir: Path, server: MockServer, judge: JudgeServer,
                                                     providers: Path) -> None:
    invoke("eval", str(suite(workdir, second="Bob")), "--config", str(providers), "-o", "old.json")
    path = suite(workdir, second="Eve")  # 'names Bob' now fails everywhere
    text = path.read_text(encoding="utf-8").replace("value: '{{name}}'", "value: '[beta:'")
    path.write_text(text, encoding="utf-8")  # and 'names Ada' now passes only on beta
    old = results(workdir / "old.json")
    old["cells"][1]["status"] = "fail"  # pretend beta used to fail 'names Ada'
    (workdir / "old.json").write_text(__import__("json").dumps(old), encoding="utf-8")
    result = invoke("eval", str(path), "--config", str(providers), "--baseline", "old.json", "-o", "new.json")
    data = results(workdir / "new.json")
    marks = {(c["test"], c["target"]): c["baseline"] for c in data["cells"]}
    assert marks == {("names Ada", "alpha/m-1"): "regression", ("names Ada", "beta"): "improvement",
                     ("names Bob", "alpha/m-1"): "regression", ("names Bob", "beta"): "regression"}
    assert data["summary"]["regressions"] == 3 and data["summary"]["improvements"] == 1
    assert "▼" in result.output and "▲" in result.output
    sent = upstream_calls(server)
    (workdir / "broken.json").write_text("{}", encoding="utf-8")
    bad = invoke("eval", str(path), "--config", str(providers), "--baseline", "broken.json", "--no-cache")
    assert bad.exit_code == 1 and "broken.json: not a results file" in bad.output
    assert upstream_calls(server) == sent  # checked before anything is sent


def test_filter_selects_tests_or_targets(workdir: Path, server: MockServer, judge: JudgeServer,
                                         providers: Path) -> None:
    path = suite(workdir)
    invoke("eval", str(path), "--config", str(providers), "--filter", "target:beta", "-o", "r.json")
    assert {(c["test"], c["target"]) for c in results(workdir / "r.json")["cells"]} == {
        ("names Ada", "beta"), ("names Bob", "beta")}
    assert len(server.mount("alpha").requests) == 0
    invoke("eval", str(path), "--config", str(providers), "--filter", "Bob", "--no-cache", "-o", "r.json")
    assert {c["test"] for c in results(workdir / "r.json")["cells"]} == {"names Bob"}
    none = invoke("eval", str(path), "--config", str(providers), "--filter", "test:nothing*")
    assert none.exit_code == 2 and "no cell matches" in none.output


def test_max_cost_aborts_before_sending(workdir: Path, server: MockServer, judge: JudgeServer,
                                        providers: Path) -> None:
    path = suite(workdir)
    result = invoke("eval", str(path), "--config", str(providers), "--max-cost", "0.00001")
    assert result.exit_code == 1
    assert "over --max-cost 1e-05 USD; nothing was sent" in result.output
    assert upstream_calls(server) == 0
    assert invoke("eval", str(path), "--config", str(providers), "--max-cost", "1").exit_code == 0
    assert upstream_calls(server) == 4
    # everything is cached now: the estimate covers only what would be sent, so a tiny limit passes
    assert invoke("eval", str(path), "--config", str(providers), "--max-cost", "0.00001").exit_code == 0


def test_concurrency_is_limited_per_provider(workdir: Path, server: MockServer, judge: JudgeServer,
                                             providers: Path) -> None:
    """4 calls of 0.25 s to one provider at --concurrency 2 take at least two rounds of 0.25 s."""
    server.mount("alpha").latency = 0.25
    path = write_yaml(workdir / "suite.yaml", {
        "prompts": ["Say {{word}}"], "targets": ["alpha/m-1"],
        "tests": [{"vars": {"word": f"w{i}"}, "assert": [{"type": "contains", "value": f"w{i}"}]} for i in range(4)]})
    result = invoke("eval", str(path), "--config", str(providers), "--concurrency", "2", "-o", "r.json")
    assert result.exit_code == 0, result.output
    assert results(workdir / "r.json")["duration_s"] >= 0.5
    assert upstream_calls(server) == 4
