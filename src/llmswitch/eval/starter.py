"""``llmswitch eval init``: a starter eval file for the targets the providers file configures."""

from __future__ import annotations

import json
from collections.abc import Sequence

__all__ = ["starter"]

_TEMPLATE = """\
# llmswitch eval file: every prompt x target x test is one cell of the matrix.
# Run it:  llmswitch eval {name}      (-o report.html -o results.json -o junit.xml)
# Docs: the README's "llmswitch eval" section. Assertion types: equals, contains, icontains,
# not-contains, contains-any, contains-all, regex, starts-with, is-json, json-schema, json-path,
# tool-call, latency, ttft, cost, tokens, similar, llm-rubric, python; `not: true` and `weight:` fit any.
description: Starter suite

prompts:
  - "Answer in one short sentence: {{{{question}}}}"

targets:  # routes or provider/model, from your providers file
{targets}

defaults:
  params: {{temperature: 0, max_tokens: 200}}
  assert:
    - type: latency
      threshold: 30          # seconds, failover included

tests:
  - description: capital city
    vars: {{question: "What is the capital of France?"}}
    assert:
      - type: icontains
        value: Paris
  - description: no apology boilerplate
    vars: {{question: "What is 2 + 2?"}}
    assert:
      - type: not-contains
        value: "As an AI"
      - type: regex
        value: "\\\\b4\\\\b|four"
"""


def starter(targets: Sequence[str], name: str = "eval.yaml") -> str:
    lines = [f"  - {json.dumps(t)}" for t in targets] or ["  - provider/model   # e.g. deepseek/deepseek-chat"]
    return _TEMPLATE.format(name=name, targets="\n".join(lines))
