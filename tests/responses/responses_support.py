"""Helpers for the Responses bridge tests: strict type checks, deterministic ids, event summaries."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pydantic
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent

from llmswitch.responses import ResponseEvents

EVENT = pydantic.TypeAdapter(ResponseStreamEvent)


def counter_ids() -> Callable[[str], str]:
    """Deterministic ids: resp_1, msg_2, fc_3, … so golden outputs can be compared exactly."""
    count = itertools.count(1)
    return lambda prefix: f"{prefix}_{next(count)}"


def extras(model: Any, path: str = "") -> list[str]:
    """Every field that is not one of the openai type's own, at any depth."""
    found: list[str] = []
    if isinstance(model, pydantic.BaseModel):
        found += [f"{path}.{key}" for key in (model.__pydantic_extra__ or {})]
        for name in type(model).model_fields:
            found += extras(getattr(model, name), f"{path}.{name}")
    elif isinstance(model, list):
        for i, value in enumerate(model):
            found += extras(value, f"{path}[{i}]")
    elif isinstance(model, dict):
        for key, value in model.items():
            found += extras(value, f"{path}.{key}")
    return found


def strict_response(data: dict[str, Any]) -> Response:
    """``data`` as openai's Response: required fields present (validation) and nothing extra."""
    response = Response.model_validate(data)
    assert not extras(response), extras(response)
    return response


def strict_events(events: list[dict[str, Any]], *, tools: Any = openai.omit,
                  text_format: Any = openai.omit) -> Any:
    """Each event validates as openai's type with nothing extra; sequence numbers run 0, 1, 2, …;
    openai's own stream accumulator (what ``responses.stream()`` runs) accepts the sequence.
    Returns the final parsed response the accumulator built."""
    state = ResponseStreamState(input_tools=tools, text_format=text_format)
    for position, raw in enumerate(events):
        assert raw["sequence_number"] == position, (position, raw)
        event = EVENT.validate_python(raw)
        # the OpenAPI spec requires ``name`` on function_call_arguments.done (OpenAI sends it);
        # openai-python's type has not caught up, so it is the one extra field allowed
        allowed = [".name"] if raw["type"] == "response.function_call_arguments.done" else []
        assert extras(event) == allowed, (raw["type"], extras(event))
        state.handle_event(event)
    return state._completed_response


def random_splits(data: bytes, rng: random.Random) -> Iterator[bytes]:
    i = 0
    while i < len(data):
        step = rng.randint(1, 29)
        yield data[i:i + step]
        i += step


def summary(event: dict[str, Any]) -> tuple[Any, ...]:
    """An event as a short tuple: its number, type, and what it says (ids left out)."""
    kind = event["type"].removeprefix("response.")
    head: tuple[Any, ...] = (event["sequence_number"], kind)
    if "response" in event:
        return (*head, event["response"]["status"])
    if kind.startswith("output_item."):
        item = event["item"]
        said = {"message": lambda: "".join(p.get("text", "") for p in item["content"]),
                "reasoning": lambda: "".join(p["text"] for p in item["content"]),
                "function_call": lambda: f"{item['name']}({item['arguments']})"}[item["type"]]()
        return (*head, event["output_index"], item["type"], item["status"], said)
    if kind.startswith("content_part."):
        return (*head, event["output_index"], event["part"]["type"], event["part"]["text"])
    for key in ("delta", "text", "arguments"):
        if key in event:
            return (*head, event["output_index"], event[key])
    raise AssertionError(f"unexpected event {event}")


def bridge_stream(chunks: list[dict[str, Any]], events: ResponseEvents) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for chunk in chunks:
        out += events.feed(chunk)
    return out + events.close()
