"""A bad eval file gets one error naming file, line and field, and nothing is sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_support import invoke, upstream_calls

from llmswitch.testing import MockServer

GOOD_TEST = """\
  - description: greets
    vars: {name: Ada}
    assert:
      - type: contains
        value: Ada
"""

# name: (the file, the one expected error line: file:LINE: FIELD: message fragment)
CASES = {
    "unknown-assertion": (
        "prompts: ['Hi {{name}}']\ntargets: [alpha/m-1]\ntests:\n" + GOOD_TEST.replace("contains", "contanis"),
        "suite.yaml:7: tests.0.assert.0.type: unknown assertion type 'contanis' (did you mean 'contains'?)"),
    "missing-var": (
        "prompts: ['Hi {{name}} from {{city}}']\ntargets: [alpha/m-1]\ntests:\n" + GOOD_TEST,
        "suite.yaml:5: tests.0.vars: missing var 'city'"),
    "bad-regex": (
        "prompts: ['Hi {{name}}']\ntargets: [alpha/m-1]\ntests:\n" + GOOD_TEST
        + "      - type: regex\n        value: '([a-z'\n",
        "suite.yaml:10: tests.0.assert.1.value: bad regex '([a-z'"),
    "unknown-target": (
        "prompts: ['Hi {{name}}']\ntargets:\n  - alpha/m-1\n  - omega/m-9\ntests:\n" + GOOD_TEST,
        "suite.yaml:4: targets.1: unknown model 'omega/m-9'"),
    "vendor-param-outside-extra-body": (
        "prompts: ['Hi {{name}}']\ntargets:\n  - target: alpha/m-1\n    params: {top_k: 5}\ntests:\n" + GOOD_TEST,
        "suite.yaml:4: targets.0.params.top_k: unknown parameter 'top_k': vendor-specific parameters go in "
        "extra_body"),
    "alias-bomb": (  # nine levels of nine aliases: 9**9 values once expanded
        "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
        + "prompts: ['Hi {{name}}']\ntargets: [alpha/m-1]\ntests:\n" + GOOD_TEST,
        "suite.yaml:6: (file): YAML aliases expand to more than 100000 values; refusing the file"),
    "option-of-another-type": (
        "prompts: ['Hi {{name}}']\ntargets: [alpha/m-1]\ntests:\n" + GOOD_TEST + "        path: $.x\n",
        "suite.yaml:9: tests.0.assert.0.path: unknown key"),
}


def _run(workdir: Path, server: MockServer, providers: Path, text: str, name: str = "suite.yaml") -> list[str]:
    (workdir / name).write_text(text, encoding="utf-8")
    result = invoke("eval", name, "--config", str(providers), "-o", "out.json")
    assert result.exit_code == 1, result.output
    assert upstream_calls(server) == 0  # nothing sent
    assert not (workdir / "out.json").exists()
    return [line for line in result.output.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("case", list(CASES))
def test_one_error_naming_file_line_and_field(workdir: Path, server: MockServer, providers: Path, case: str) -> None:
    text, expected = CASES[case]
    errors = _run(workdir, server, providers, text)
    assert len(errors) == 1, errors
    assert errors[0].startswith("error: " + expected), errors


def test_json_files_too(workdir: Path, server: MockServer, providers: Path) -> None:
    data = {"prompts": ["Hi {{name}}"], "targets": ["alpha/m-1"],
            "tests": [{"vars": {"name": "Ada"}, "assert": [{"type": "regex", "value": "(unclosed"}]}]}
    errors = _run(workdir, server, providers, json.dumps(data, indent=2), "suite.json")
    assert errors == ["error: suite.json:16: tests.0.assert.0.value: bad regex '(unclosed': missing ), unterminated "
                      "subpattern at position 0"]


def test_every_problem_at_once(workdir: Path, server: MockServer, providers: Path) -> None:
    text = ("prompts: ['Hi {{name}} {{city}}']\ntargets: [alpha/m-1, omega/x]\ntests:\n"
            + GOOD_TEST.replace("contains", "contanis"))
    (workdir / "suite.yaml").write_text(text, encoding="utf-8")
    result = invoke("eval", "suite.yaml", "--config", str(providers))
    assert result.exit_code == 1
    assert "suite.yaml: 3 problem(s) in the eval file" in result.output
    assert upstream_calls(server) == 0


def test_not_yaml_and_no_such_file(workdir: Path, server: MockServer, providers: Path) -> None:
    errors = _run(workdir, server, providers, "prompts: [unclosed\ntargets: x\n")
    assert len(errors) == 1 and errors[0].startswith("error: suite.yaml:2: (file): not valid YAML"), errors
    result = invoke("eval", "missing.yaml", "--config", str(providers))
    assert result.exit_code == 2 and "missing.yaml: no such eval file" in result.output


def test_secrets_never_printed(workdir: Path, server: MockServer, providers: Path) -> None:
    text = "prompts: ['Hi']\ntargets: [alpha/m-1]\ntests:\n  - assert: [{type: contains, value: sk-test}]\n"
    (workdir / "suite.yaml").write_text(text, encoding="utf-8")
    server.mount("alpha").fail("401:message=bad key sk-test-alpha-secret")
    result = invoke("eval", "suite.yaml", "--config", str(providers), "--no-cache", "-o", "r.json")
    assert result.exit_code == 1
    assert "sk-test-alpha-secret" not in result.output
    assert "sk-test-alpha-secret" not in (workdir / "r.json").read_text(encoding="utf-8")
