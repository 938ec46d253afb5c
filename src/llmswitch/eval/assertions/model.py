"""Assertions that ask a model: ``similar`` (embeddings, cosine) and ``llm-rubric`` (a judge grades).

Both reach their routes through the runner's :class:`~.base.Services`, so their calls are cached and
counted like the cells' own.
"""

from __future__ import annotations

import json
import math

from pydantic import Field

from .base import Context, Grade, Kind, Options, Output

__all__ = ["JUDGE_SCHEMA", "KINDS", "cosine"]

JUDGE_SCHEMA = {
    "type": "object",
    "properties": {
        "pass": {"type": "boolean"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "reason": {"type": "string"},
    },
    "required": ["pass", "score", "reason"],
    "additionalProperties": False,
}

_JUDGE_SYSTEM = (
    "You grade an AI assistant's answer against a rubric. Reply with a JSON object only: "
    '{"pass": true|false, "score": a number from 0 to 1, "reason": "one sentence"}.'
)


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class Similar(Options):
    value: str
    threshold: float = Field(default=0.8, ge=-1, le=1)
    route: str | None = None  # default: the suite's `defaults.embedding`


class Rubric(Options):
    value: str
    judge: str | None = None  # default: the suite's `defaults.judge`
    threshold: float | None = Field(default=None, ge=0, le=1)  # pass on score ≥ this instead of the judge's pass


async def _similar(opts: Similar, out: Output, ctx: Context) -> Grade:
    route = opts.route or ctx.embedding
    assert route is not None  # checked when the file was loaded
    expected, got = await ctx.services.embed(route, [opts.value, out.text])
    score = cosine(expected, got)
    ok = score >= opts.threshold
    return Grade(ok, max(0.0, score), f"cosine similarity {score:.3f} {'≥' if ok else '<'} {opts.threshold:g}")


async def _rubric(opts: Rubric, out: Output, ctx: Context) -> Grade:
    route = opts.judge or ctx.judge
    assert route is not None  # checked when the file was loaded
    answer = out.text if not out.tool_calls else f"{out.text}\n(tool calls: {json.dumps(out.tool_calls)})"
    messages = [
        {"role": "system", "content": _JUDGE_SYSTEM},
        {"role": "user", "content": f"Rubric:\n{opts.value}\n\nQuestion:\n{ctx.prompt}\n\nAnswer:\n{answer}"},
    ]
    verdict = await ctx.services.judge(route, messages, JUDGE_SCHEMA)
    score = float(verdict["score"])
    passed = bool(verdict["pass"]) if opts.threshold is None else score >= opts.threshold
    return Grade(passed, score, f"judge {route}: {verdict['reason']}")


KINDS = [
    Kind("similar", Similar, _similar, route=("route", "embedding")),
    Kind("llm-rubric", Rubric, _rubric, route=("judge", "judge")),
]
