"""The contract of a mock protocol: one vendor's wire format, spoken by the mock server.

A protocol turns its native request into a :class:`MockCall` and renders a :class:`Reply`, an
error or a stream in the vendor's exact shapes. Faults (cuts, stalls, delays) are applied by the
app around it, so a protocol only knows bytes of its own format.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..scenario import MockCall, Reply

__all__ = ["MockProtocol", "MockRequest", "Rendered", "dumps", "forced_function", "sse"]


@dataclass
class MockRequest:
    method: str
    path: str  # below the mount, e.g. "/v1/chat/completions"
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Rendered:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})


def forced_function(tools: Any, choice: Any) -> tuple[str | None, Any]:
    """OpenAI-shaped ``tool_choice: {type: function, function: {name}}`` and that function's
    parameters schema (how instructor's tools mode and langchain ask for structured output)."""
    if not isinstance(choice, Mapping) or choice.get("type") != "function":
        return None, None
    name = (choice.get("function") or {}).get("name")
    for tool in tools or []:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and function.get("name") == name:
            return str(name), function.get("parameters") or {"type": "object"}
    raise ValueError(f"tool_choice.function.name: no tool named {name!r} in tools")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def sse(data: Any, *, event: str | None = None, space: bool = True, id: str | None = None) -> bytes:
    """One SSE event; ``space=False`` writes ``data:{...}`` as some vendors do."""
    payload = data if isinstance(data, str) else dumps(data).decode()
    head = f"id:{id}\n" if id is not None else ""
    if event:
        head += f"event:{event}\n"
    return f"{head}data:{' ' if space else ''}{payload}\n\n".encode()


class MockProtocol:
    """Base class. ``root`` is appended to the mount URL to give the provider's base_url."""

    name: ClassVar[str] = ""
    root: ClassVar[str] = ""
    stream_content_type: ClassVar[str] = "text/event-stream"
    errors_in_200: ClassVar[bool] = False  # does the vendor report errors inside HTTP 200 bodies?

    def parse(self, request: MockRequest) -> MockCall | None:
        """The call this request makes, or None when the path is not one of this protocol's."""
        raise NotImplementedError

    def resource(self, request: MockRequest) -> Rendered | None:
        """An answer to a request that is not a model call (model listings), or None."""
        return None

    def authorized(self, request: MockRequest, api_key: str | None) -> bool:
        """With ``api_key`` set on the server, requests must carry it the vendor's way."""
        if api_key is None:
            return True
        return request.headers.get("authorization") == f"Bearer {api_key}"

    def chat(self, call: MockCall, reply: Reply) -> Rendered:
        raise NotImplementedError

    def stream(self, call: MockCall, reply: Reply, *, finish: bool = True) -> list[bytes]:
        """Every event of the streamed reply; ``finish=False`` leaves out finish reason and terminator."""
        raise NotImplementedError

    def embeddings(self, call: MockCall, vectors: list[list[float]]) -> Rendered:
        raise NotImplementedError

    def error(self, kind: str, status: int, message: str) -> Rendered:
        """The vendor's error response for a failure class (rate_limit, auth, context_window, …)."""
        raise NotImplementedError

    def error_in_body(self, kind: str, status: int, message: str) -> Rendered:
        """The vendor's error as it arrives inside an HTTP 200, for vendors that do that."""
        rendered = self.error(kind, status, message)
        return Rendered(200, rendered.body, rendered.headers)

    def stream_error(self, kind: str, status: int, message: str) -> bytes:
        """An in-band error event in the middle of a stream."""
        return sse(json.loads(self.error(kind, status, message).body))
