"""Every assertion type passes and fails where it should, graded on real calls to the mock providers.

One suite holds every case as a test (one target, so outputs are predictable: the mock echoes
``[alpha:m-1] <prompt>``); it runs once per module through the CLI, and each case checks its cell.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eval_support import invoke, providers_file, results, validate_results, write_yaml
from judge_server import JudgeServer, judge_server

from llmswitch.testing import MockServer

HELLO = "hello world"
OUT = f"[alpha:m-1] {HELLO}"
JSON_MODE = {"response_format": {"type": "json_object"}}
TOOLS = {"tools": [{"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
                   for name in ("get_weather", "search")]}
WEATHER = "get_weather for Paris"

# id: (assertions, params, question, expected status, expected score or None)
CASES: dict[str, tuple[list[dict[str, Any]], dict[str, Any], str, str, float | None]] = {
    "equals-pass": ([{"type": "equals", "value": OUT}], {}, HELLO, "pass", 1.0),
    "equals-fail": ([{"type": "equals", "value": HELLO}], {}, HELLO, "fail", 0.0),
    "contains-pass": ([{"type": "contains", "value": "hello"}], {}, HELLO, "pass", None),
    "contains-fail": ([{"type": "contains", "value": "HELLO"}], {}, HELLO, "fail", None),
    "icontains-pass": ([{"type": "icontains", "value": "HELLO"}], {}, HELLO, "pass", None),
    "icontains-fail": ([{"type": "icontains", "value": "goodbye"}], {}, HELLO, "fail", None),
    "not-contains-pass": ([{"type": "not-contains", "value": "goodbye"}], {}, HELLO, "pass", None),
    "not-contains-fail": ([{"type": "not-contains", "value": "hello"}], {}, HELLO, "fail", None),
    "contains-any-pass": ([{"type": "contains-any", "value": ["nope", "world"]}], {}, HELLO, "pass", None),
    "contains-any-fail": ([{"type": "contains-any", "value": ["nope", "moon"]}], {}, HELLO, "fail", None),
    "contains-all-pass": ([{"type": "contains-all", "value": ["hello", "world"]}], {}, HELLO, "pass", None),
    "contains-all-fail": ([{"type": "contains-all", "value": ["hello", "moon"]}], {}, HELLO, "fail", 0.5),
    "regex-pass": ([{"type": "regex", "value": r"h.llo\s+w"}], {}, HELLO, "pass", None),
    "regex-fail": ([{"type": "regex", "value": "^hello"}], {}, HELLO, "fail", None),
    "starts-with-pass": ([{"type": "starts-with", "value": "[alpha:m-1]"}], {}, HELLO, "pass", None),
    "starts-with-fail": ([{"type": "starts-with", "value": "hello"}], {}, HELLO, "fail", None),
    "is-json-pass": ([{"type": "is-json"}], JSON_MODE, HELLO, "pass", None),
    "is-json-fail": ([{"type": "is-json"}], {}, HELLO, "fail", None),
    "json-schema-pass": ([{"type": "json-schema", "value": {"type": "object", "required": ["echo"],
                                                             "properties": {"echo": {"type": "string"}}}}],
                         JSON_MODE, HELLO, "pass", None),
    "json-schema-fail": ([{"type": "json-schema", "value": {"type": "object", "required": ["answer"]}}],
                         JSON_MODE, HELLO, "fail", None),
    "json-path-pass": ([{"type": "json-path", "path": "$.echo", "value": HELLO}], JSON_MODE, HELLO, "pass", None),
    "json-path-fail": ([{"type": "json-path", "path": "$.echo", "value": "goodbye"}], JSON_MODE, HELLO, "fail",
                       None),
    "tool-call-pass": ([{"type": "tool-call", "name": "get_weather", "arguments": {"query": WEATHER},
                         "schema": {"type": "object", "required": ["query"],
                                    "properties": {"query": {"type": "string"}}}}], TOOLS, WEATHER, "pass", None),
    "tool-call-templated-pass": ([{"type": "tool-call", "name": "get_weather", "arguments": {"query": "{{q}}"}}],
                                 TOOLS, WEATHER, "pass", None),
    "tool-call-fail-name": ([{"type": "tool-call", "name": "search"}], TOOLS, WEATHER, "fail", None),
    "tool-call-fail-args": ([{"type": "tool-call", "name": "get_weather", "arguments": {"query": "London"}}],
                            TOOLS, WEATHER, "fail", None),
    "tool-call-fail-schema": ([{"type": "tool-call", "name": "get_weather",
                                "schema": {"type": "object", "required": ["city"]}}], TOOLS, WEATHER, "fail", None),
    "latency-pass": ([{"type": "latency", "threshold": 10}], {}, HELLO, "pass", None),
    "latency-fail": ([{"type": "latency", "threshold": 1e-9}], {}, HELLO, "fail", None),
    "ttft-pass": ([{"type": "ttft", "threshold": 10}], {}, HELLO, "pass", None),
    "ttft-fail": ([{"type": "ttft", "threshold": 1e-9}], {}, HELLO, "fail", None),
    "cost-pass": ([{"type": "cost", "threshold": 0.01}], {}, HELLO, "pass", None),
    "cost-fail": ([{"type": "cost", "threshold": 1e-9}], {}, HELLO, "fail", None),
    "tokens-pass": ([{"type": "tokens", "threshold": 1000}], {}, HELLO, "pass", None),
    "tokens-fail": ([{"type": "tokens", "threshold": 2, "count": "completion"}], {}, HELLO, "fail", None),
    "similar-pass": ([{"type": "similar", "value": OUT, "threshold": 0.999}], {}, HELLO, "pass", 1.0),
    "similar-fail": ([{"type": "similar", "value": "a different sentence", "threshold": 0.999}], {}, HELLO, "fail",
                     None),
    "llm-rubric-pass": ([{"type": "llm-rubric", "value": "The answer must mention 'hello'"}], {}, HELLO, "pass", 0.9),
    "llm-rubric-fail": ([{"type": "llm-rubric", "value": "The answer must mention 'goodbye'"}], {}, HELLO, "fail",
                        0.1),
    "python-pass": ([{"type": "python", "value": "graders:mentions_hello"}], {}, HELLO, "pass", None),
    "python-fail": ([{"type": "python", "value": "graders:mentions_goodbye"}], {}, HELLO, "fail", None),
    "not-pass": ([{"type": "contains", "value": "goodbye", "not": True}], {}, HELLO, "pass", None),
    "not-fail": ([{"type": "contains", "value": "hello", "not": True}], {}, HELLO, "fail", None),
    "not-prefix-pass": ([{"type": "not-regex", "value": "^hello"}], {}, HELLO, "pass", None),
    "not-prefix-fail": ([{"type": "not-is-json"}], JSON_MODE, HELLO, "fail", None),
    "weight-score": ([{"type": "contains", "value": "hello", "weight": 3},
                      {"type": "contains", "value": "goodbye", "weight": 1}], {}, HELLO, "fail", 0.75),
    "weight-zero-informs": ([{"type": "contains", "value": "hello"},
                             {"type": "contains", "value": "goodbye", "weight": 0}], {}, HELLO, "pass", 1.0),
}

GRADERS = '''
def mentions_hello(output, context):
    return {"pass": "hello" in output, "score": 1.0 if "hello" in output else 0.0, "reason": "looked for hello"}


def mentions_goodbye(output, context):
    assert context["vars"]["q"]
    return "goodbye" in output
'''


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], JudgeServer, MockServer]]:
    """The whole suite, run once through the CLI; yields the results file's cells by test."""
    folder = tmp_path_factory.mktemp("assertions")
    (folder / "graders.py").write_text(GRADERS, encoding="utf-8")
    tests = [{"description": case, "vars": {"q": question}, "assert": asserts, "params": params}
             for case, (asserts, params, question, _, _) in CASES.items()]
    suite = write_yaml(folder / "suite.yaml", {
        "prompts": ["{{q}}"], "targets": ["alpha/m-1"], "tests": tests,
        "defaults": {"judge": "judge/grader", "embedding": "alpha/emb-1"},
    })
    with MockServer({"alpha": "openai", "beta": "openai"}) as server, judge_server() as judge:
        config = providers_file(folder / "providers.yaml", server, judge.base_url)
        out = folder / "results.json"
        result = invoke("eval", str(suite), "--config", str(config), "--cache-dir", str(folder / "cache"),
                        "-o", str(out))
        assert result.exit_code == 1, result.output  # the failing cases fail the run
        data = results(out)
        validate_results(data)
        yield data, judge, server


@pytest.mark.parametrize("case", list(CASES))
def test_assertion(run: tuple[dict[str, Any], JudgeServer, MockServer], case: str) -> None:
    data = run[0]
    cell = next(c for c in data["cells"] if c["test"] == case)
    _, _, _, status, score = CASES[case]
    assertions = cell["runs"][0]["assertions"]
    assert cell["status"] == status, assertions
    assert all(a["reason"] for a in assertions)
    if score is not None:
        assert cell["score"] == pytest.approx(score)


def test_the_judge_was_asked_for_structured_output(run: tuple[dict[str, Any], JudgeServer, MockServer]) -> None:
    judge = run[1]
    assert len(judge.requests) == 2  # one per llm-rubric case
    for body in judge.requests:
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["schema"]["required"] == ["pass", "score", "reason"]
        assert "[alpha:m-1] hello world" in body["messages"][-1]["content"]
    reasons = [a["reason"] for c in run[0]["cells"] if c["test"].startswith("llm-rubric")
               for a in c["runs"][0]["assertions"]]
    assert reasons == ["judge judge/grader: the answer mentions 'hello'",
                       "judge judge/grader: the answer does not mention 'goodbye'"]


def test_cells_stream_and_embeddings_go_to_the_embedding_route(
        run: tuple[dict[str, Any], JudgeServer, MockServer]) -> None:
    requests = run[2].mount("alpha").requests
    chats = [r.json() for r in requests if r.path.endswith("/chat/completions")]
    embeddings = [r.json() for r in requests if r.path.endswith("/embeddings")]
    assert len(chats) == len(CASES) and all(body["stream"] for body in chats)
    assert len(embeddings) == 2 and {e["model"] for e in embeddings} == {"emb-1"}


def test_a_judge_that_fails_fails_the_assertion_not_the_run(workdir: Path, server: MockServer,
                                                            judge: JudgeServer) -> None:
    """A verdict off the grading schema, or a judge that errors, fails the assertion with the reason."""
    config = providers_file(workdir / "providers.yaml", server, judge.base_url)
    server.mount("beta").fail("500*20")
    suite = write_yaml(workdir / "suite.yaml", {
        "prompts": ["hi"], "targets": ["alpha/m-1"],
        "tests": [{"description": "off-schema", "assert": [{"type": "llm-rubric", "value": "off-schema please",
                                                             "judge": "judge/grader"}]},
                  {"description": "judge down", "assert": [{"type": "llm-rubric", "value": "polite",
                                                             "judge": "beta/m-1"}]},
                  {"description": "no judge needed", "assert": [{"type": "contains", "value": "hi"}]}]})
    out = workdir / "r.json"
    result = invoke("eval", str(suite), "--config", str(config), "-o", str(out))
    assert result.exit_code == 1
    cells = {c["test"]: c for c in results(out)["cells"]}
    assert "does not fit the grading schema" in cells["off-schema"]["runs"][0]["assertions"][0]["reason"]
    assert cells["judge down"]["runs"][0]["assertions"][0]["reason"].startswith("InternalServerError")
    assert [c["status"] for c in cells.values()] == ["fail", "fail", "pass"]
