"""Request translation cost with and without ``response_format``: ``python benchmarks/structured.py``.

Structured outputs add work to ``chat_request`` (a schema instruction, a forced tool, Gemini's
schema conversion) that must cost nothing when a request has no ``response_format``. This measures
microseconds of CPU per ``chat_request`` for each adapter family, plain and with a pydantic-style
json_schema, as the median of several rounds (bounded: ``--calls`` per round, ``--rounds`` rounds).
Run it from two checkouts (``PYTHONPATH=<other>/src``) to compare the plain column side by side.
No I/O: adapters only translate.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

from llmswitch._secret import Secret
from llmswitch.adapters import adapter_class
from llmswitch.adapters.base import Provider
from llmswitch.catalog import get_preset

SCHEMA: dict[str, Any] = {
    "$defs": {"Address": {"type": "object", "additionalProperties": False, "required": ["city", "zip"],
                          "properties": {"city": {"type": "string"},
                                         "zip": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}},
    "type": "object", "additionalProperties": False,
    "required": ["name", "age", "tags", "address", "previous"],
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0},
                   "tags": {"type": "array", "items": {"type": "string"}},
                   "address": {"$ref": "#/$defs/Address"},
                   "previous": {"type": "array", "items": {"$ref": "#/$defs/Address"}}},
}
FORMAT = {"type": "json_schema", "json_schema": {"name": "Person", "schema": SCHEMA, "strict": True}}
MESSAGES = [{"role": "system", "content": "Extract the person."}, {"role": "user", "content": "Ada, 36, London."}]
CASES = {  # preset → model
    "openai": "gpt-4o-mini", "deepseek": "deepseek-chat", "anthropic": "claude-3-5-haiku-latest",
    "gemini": "gemini-2.0-flash", "ollama": "llama3.1", "dashscope": "qwen-plus", "zhipu": "glm-4-flash",
    "qianfan": "ERNIE-4.0-8K", "hunyuan": "hunyuan-turbo", "sensenova": "SenseChat-5",
}
CREDENTIALS = {"hunyuan": {"secret_id": "AKID", "secret_key": "s"},
               "zhipu": {"api_key": "0123456789abcdef.secret"}}


def per_call_us(kind: str, params: dict[str, Any], calls: int) -> float:
    preset = get_preset(kind)
    assert preset is not None and preset.base_url is not None
    creds = {k: Secret(v) for k, v in CREDENTIALS.get(kind, {"api_key": "k"}).items()}
    adapter = adapter_class(preset.protocol)(Provider("p", preset, preset.base_url, creds))
    request = adapter.chat_request
    start = time.process_time()
    for _ in range(calls):
        request(params, stream=False)
    return (time.process_time() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # hunyuan / sensenova warn on every structured call
    rows: dict[str, dict[str, list[float]]] = {k: {"plain": [], "structured": []} for k in CASES}
    for _ in range(args.rounds):
        for kind, model in CASES.items():  # contestants take turns within a round
            plain = {"model": model, "messages": MESSAGES, "temperature": 0.2}
            rows[kind]["plain"].append(per_call_us(kind, plain, args.calls))
            rows[kind]["structured"].append(per_call_us(kind, {**plain, "response_format": FORMAT}, args.calls))
    print(f"chat_request CPU per call, µs (median of {args.rounds} rounds × {args.calls} calls)")
    print(f"{'adapter':<12}{'plain':>10}{'structured':>12}")
    for kind, figures in rows.items():
        print(f"{kind:<12}{statistics.median(figures['plain']):>10.2f}"
              f"{statistics.median(figures['structured']):>12.2f}")


if __name__ == "__main__":
    main()
