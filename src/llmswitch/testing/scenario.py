"""What a mock provider answers: deterministic replies and scripted faults, protocol-free.

A :class:`MockCall` is the protocol-neutral view of one request (each mock protocol builds it
from its own wire format). :func:`reply_for` decides the answer from it deterministically, so a
test can predict every byte. :class:`Fault` describes one scripted failure; a :class:`Script`
hands them out in order, request by request, thread-safely.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .instances import instance_of, schema_in_text, shapeless

__all__ = ["Fault", "MockCall", "Reply", "Script", "ToolCall", "function_schemas", "reply_for", "split_words"]


@dataclass
class MockCall:
    """One request as a mock protocol understood it."""

    operation: Literal["chat", "embeddings"]
    model: str
    stream: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)  # OpenAI-shaped
    tools: list[str] = field(default_factory=list)  # tool names offered
    tool_schemas: Mapping[str, Any] = field(default_factory=dict)  # name → parameters schema, where known
    json_mode: bool = False
    # structured output: the JSON Schema the answer must follow (a native field, or JSON mode whose
    # schema the protocol found); with ``forced_tool``, the answer is a call of that tool instead
    schema: Mapping[str, Any] | None = None
    forced_tool: str | None = None
    max_tokens: int | None = None
    inputs: list[str] = field(default_factory=list)  # embeddings
    include_usage: bool = True  # whether a streamed answer should end with usage


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text


@dataclass
class Reply:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = "stop"  # OpenAI vocabulary; each protocol maps it to its own
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning: str | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


FaultKind = Literal[
    "status",  # answer `status` with the protocol's error body (kind chosen by status unless given)
    "error_in_body",  # HTTP 200 carrying the protocol's error envelope (vendors that do this)
    "malformed_json",  # 200 with a body that is not JSON
    "truncated_body",  # 200 with half a JSON body
    "html",  # an HTML error page from a proxy, with the given status
    "wrong_content_type",  # 200 text/plain body
    "cut_stream",  # stream stops after `after_chunks` events, without terminator
    "no_terminator",  # stream sends everything but the finish reason and terminator
    "stream_error",  # in-band error event after `after_chunks` events
    "stall",  # stop sending for `seconds` after `after_chunks` events (or before headers if None)
    "slow",  # `seconds` between every event
    "close",  # drop the connection without a response
    "header_trickle",  # the response head, one byte every `seconds` (default 0.2)
    "body_trickle",  # a 200 head at once, then its body one byte every `seconds` (default 0.2)
    "endless_body",  # a 200 head, then body bytes as fast as the client takes them, without end
    "redirect",  # answer `status` (a 3xx; default 307) with a Location header (`location=URL`, last option)
]


@dataclass
class Fault:
    """One scripted failure. ``error`` is an error kind (rate_limit, context_window, …)."""

    kind: FaultKind = "status"
    status: int = 500
    error: str | None = None
    message: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    after_chunks: int | None = None
    seconds: float = 0.0
    times: int = 1

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """``429``, ``429:retry-after=0``, ``cut_stream:after=2``, ``stall:seconds=5``, ``500*3``,
        ``redirect:location=http://127.0.0.1:8001/v1/chat/completions``."""
        spec, _, location = spec.partition(":location=")  # a URL holds ':' itself: always last
        spec, _, times = spec.partition("*")
        if "*" in location:
            location, _, times = location.rpartition("*")
        head, *opts = spec.split(":")
        fault = cls(kind="status", status=int(head)) if head.isdigit() else cls(kind=head)  # type: ignore[arg-type]
        headers: dict[str, str] = {}
        for opt in opts:
            key, _, value = opt.partition("=")
            if key == "after":
                fault.after_chunks = int(value)
            elif key == "seconds":
                fault.seconds = float(value)
            elif key == "status":
                fault.status = int(value)
            elif key == "error":
                fault.error = value
            elif key == "message":
                fault.message = value
            else:
                headers[key] = value
        if location:
            headers["location"] = location
        fault.headers = headers
        fault.times = int(times) if times else 1
        return fault


class Script:
    """Faults handed out in order, one per request; an empty script means healthy answers."""

    def __init__(self, faults: Iterable[Fault | str] = ()) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self.requests = 0
        self.extend(faults)

    def extend(self, faults: Iterable[Fault | str]) -> None:
        with self._lock:
            for fault in faults:
                self._queue.append(Fault.parse(fault) if isinstance(fault, str) else fault)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def next(self) -> Fault | None:
        with self._lock:
            self.requests += 1
            if not self._queue:
                return None
            fault = self._queue[0]
            fault.times -= 1
            if fault.times <= 0:
                self._queue.popleft()
            return fault

    @property
    def pending(self) -> int:
        return len(self._queue)


def split_words(text: str) -> list[str]:
    """Stream pieces: words with their following space, so that ''.join(pieces) == text."""
    pieces: list[str] = []
    start = 0
    for i, ch in enumerate(text):
        if ch == " ":
            pieces.append(text[start : i + 1])
            start = i + 1
    if start < len(text):
        pieces.append(text[start:])
    return pieces or [""]


def _count_tokens(text: str) -> int:
    return max(1, len(text.split()))


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def reply_for(call: MockCall, *, tag: str = "mock", completion_tokens: int | None = None) -> Reply:
    """The deterministic answer to a call.

    - the last message is a tool result → a text answer quoting it;
    - a tool was forced (structured output by tool) → call it with an instance of its schema;
    - tools were offered → call every offered tool named in the last user text (or the first);
    - a schema (native, or quoted in a system prompt asking for JSON) → an instance of it, as text;
      a bare "some JSON" schema defers to one quoted in the prompt, as a model reading it would;
    - JSON mode → a JSON object echoing the prompt;
    - otherwise → ``"[tag:model] <last user text>"``, cut to ``max_tokens`` words.
    """
    prompt_tokens = sum(_count_tokens(_content_text(m.get("content"))) for m in call.messages) or 1
    last = call.messages[-1] if call.messages else {"role": "user", "content": ""}
    user_text = _content_text(last.get("content")).strip()
    if last.get("role") == "tool":
        results = [_content_text(m.get("content")) for m in call.messages if m.get("role") == "tool"]
        tail = [r for r in results][-_trailing_tools(call.messages) :]
        text = "Tool results: " + "; ".join(tail)
        return Reply(text, prompt_tokens=prompt_tokens, completion_tokens=_count_tokens(text))
    schema = call.schema
    if shapeless(schema):  # no schema, or a bare "some JSON": a schema in the prompt says the shape
        schema = _prompted_schema(call) or schema
    if call.forced_tool is not None:
        arguments = json.dumps(instance_of(schema or {"type": "object"}), ensure_ascii=False)
        forced = ToolCall(id=f"call_0_{call.forced_tool}", name=call.forced_tool, arguments=arguments)
        return Reply("", [forced], "tool_calls", prompt_tokens, _count_tokens(arguments))
    if call.tools:
        wanted = [name for name in call.tools if name in user_text] or call.tools[:1]
        calls = [ToolCall(id=f"call_{i}_{name}", name=name,
                          arguments=_tool_arguments(call.tool_schemas.get(name), user_text))
                 for i, name in enumerate(wanted)]
        return Reply("", calls, "tool_calls", prompt_tokens, 5 * len(calls))
    if schema is not None:
        text = json.dumps(instance_of(schema), ensure_ascii=False)
    elif call.json_mode:
        text = f'{{"model": "{_json_safe(call.model)}", "echo": "{_json_safe(user_text)}"}}'
    else:
        text = f"[{tag}:{call.model}] {user_text}".strip()
    words = split_words(text)
    finish = "stop"
    if call.max_tokens is not None and len(words) > call.max_tokens:
        text = "".join(words[: call.max_tokens])
        finish = "length"
    tokens = completion_tokens if completion_tokens is not None else _count_tokens(text)
    return Reply(text, finish_reason=finish, prompt_tokens=prompt_tokens, completion_tokens=tokens)


def _prompted_schema(call: MockCall) -> Mapping[str, Any] | None:
    """A schema quoted in a system prompt, as a model obeying it would follow (JSON mode or not)."""
    for message in call.messages:
        text = _content_text(message.get("content")) if message.get("role") == "system" else ""
        if "json" in text.lower():
            schema = schema_in_text(text)
            if schema is not None:
                return schema  # type: ignore[no-any-return]
    return None


def function_schemas(tools: Any) -> dict[str, Any]:
    """name → parameters schema of OpenAI-shaped ``tools`` (what most protocols send)."""
    return {t["function"]["name"]: t["function"].get("parameters") for t in tools or ()
            if isinstance(t, Mapping) and isinstance(t.get("function"), Mapping) and "name" in t["function"]}


def _tool_arguments(schema: Any, user_text: str) -> str:
    """A tool call's arguments: an instance of its parameters schema whose top-level strings echo
    the user's text (a schema-less tool gets ``{"query": text}``), so tests can predict them."""
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if not isinstance(properties, Mapping) or not properties:
        return json.dumps({"query": user_text}, ensure_ascii=False)
    arguments = instance_of(schema)
    if isinstance(arguments, dict):
        for name, spec in properties.items():
            if isinstance(spec, Mapping) and spec.get("type") == "string" and "enum" not in spec:
                arguments[name] = user_text
    return json.dumps(arguments, ensure_ascii=False)


def _trailing_tools(messages: list[dict[str, Any]]) -> int:
    count = 0
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        count += 1
    return count


def _json_safe(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
