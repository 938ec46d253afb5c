"""Streaming with tool calls: assemble the streamed call, run the tool, stream the final answer.

Tool-call deltas arrive in pieces (id and name first, then the JSON arguments in fragments);
this is the loop an openai app already has, and it works unchanged on every llmswitch provider.
Uses the in-process ``mock`` provider type: no keys, no network, no server.

    python examples/streaming_tools.py
"""

from __future__ import annotations

import json
from typing import Any

from llmswitch import OpenAI

TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    },
}]


def get_weather(query: str) -> str:
    """The local tool (a stand-in for a real weather API)."""
    return f"sunny, 21°C ({query})"


def stream_turn(client: OpenAI, messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Stream one assistant turn; returns its text and its tool calls, assembled from the deltas."""
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    stream = client.chat.completions.create(model="demo/mock-small", messages=messages, tools=TOOLS, stream=True)
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        if delta.content:
            text.append(delta.content)
            print(delta.content, end="", flush=True)
        for call in delta.tool_calls or ():
            slot = calls.setdefault(call.index, {"id": "", "type": "function",
                                                 "function": {"name": "", "arguments": ""}})
            if call.id:
                slot["id"] = call.id
            if call.function and call.function.name:
                slot["function"]["name"] = call.function.name
            if call.function and call.function.arguments:
                slot["function"]["arguments"] += call.function.arguments
    if text:
        print()
    return "".join(text), [calls[i] for i in sorted(calls)]


def main() -> None:
    client = OpenAI(config={"providers": {"demo": {"type": "mock"}}})
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What is the weather in Paris? Use get_weather."}]
    text, calls = stream_turn(client, messages)
    for call in calls:
        print(f"tool call: {call['function']['name']}({call['function']['arguments']}) id={call['id']}")
    messages.append({"role": "assistant", "content": text or None, "tool_calls": calls})
    for call in calls:
        arguments = json.loads(call["function"]["arguments"])
        result = get_weather(**arguments)
        print(f"tool result: {result}")
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
    print("final answer: ", end="")
    stream_turn(client, messages)
    client.close()


if __name__ == "__main__":
    main()
