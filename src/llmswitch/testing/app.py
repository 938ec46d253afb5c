"""The mock provider app: mounts of vendor protocols, each with its own fault script and log.

Hosted two ways with identical behaviour: in-process behind an httpx2 transport
(:mod:`.transport`, the ``mock`` provider type, no network) and on a loopback HTTP server
(:mod:`.server`, for end-to-end tests and ``llmswitch mock serve``).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..errors import kind_for_status
from .protocols import mock_protocol
from .protocols.base import MockProtocol, MockRequest, Rendered
from .scenario import Fault, MockCall, Script, reply_for

__all__ = ["MockApp", "Mount", "Planned"]


@dataclass
class Planned:
    """What to write back, and how: the transports follow this plan byte for byte."""

    status: int
    headers: dict[str, str]
    parts: list[bytes]
    stream: bool = False
    delay_before: float = 0.0  # before the status line
    between: float = 0.0  # before every part
    stall_at: int | None = None  # index of the part before which to stall
    stall_seconds: float = 0.0
    cut_after: int | None = None  # drop the connection after this many parts
    drop: bool = False  # drop the connection without answering
    trickle_head: float | None = None  # seconds between the bytes of the head
    trickle_body: float | None = None  # seconds between the bytes of the body
    endless: bool = False  # repeat the parts forever (the loopback server bounds it at ENDLESS_BYTES)


@dataclass
class Mount:
    """One mock provider endpoint: a protocol, its script of faults, and what it received."""

    name: str
    protocol: MockProtocol
    script: Script = field(default_factory=Script)
    latency: float = 0.0
    completion_tokens: int | None = None
    api_key: str | None = None
    requests: list[MockRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fail(self, *faults: Fault | str) -> None:
        self.script.extend(faults)

    def record(self, request: MockRequest) -> None:
        with self._lock:
            self.requests.append(request)


class MockApp:
    def __init__(self, mounts: Mapping[str, str] | Iterable[str] | None = None) -> None:
        """``mounts`` maps mount names to protocol names; a list mounts each protocol by its name."""
        if mounts is None:
            mounts = {"openai": "openai"}
        if not isinstance(mounts, Mapping):
            mounts = {name: name for name in mounts}
        self.mounts: dict[str, Mount] = {name: Mount(name, mock_protocol(p)) for name, p in mounts.items()}

    def mount(self, name: str) -> Mount:
        return self.mounts[name]

    def handle(self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
               body: bytes) -> Planned:
        name, _, rest = path.lstrip("/").partition("/")
        mount = self.mounts.get(name)
        if mount is None:
            return Planned(404, {"content-type": "text/plain"}, [f"no mock mounted at /{name}".encode()])
        request = MockRequest(method, "/" + rest, query, headers, body)
        mount.record(request)
        return self._answer(mount, request)

    def _answer(self, mount: Mount, request: MockRequest) -> Planned:
        protocol = mount.protocol
        try:
            call = protocol.parse(request)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return _plain(protocol.error("bad_request", 400, f"mock could not parse the request: {exc}"))
        if call is None:
            found = protocol.resource(request)
            if found is not None and protocol.authorized(request, mount.api_key):
                return _plain(found)
            return _plain(protocol.error("not_found", 404, f"unknown path {request.path}"))
        if not protocol.authorized(request, mount.api_key):
            return _plain(protocol.error("auth", 401, "invalid api key"))
        fault = mount.script.next()
        header_fault = request.headers.get("x-mock-fault")
        if fault is None and header_fault:
            fault = Fault.parse(header_fault)
        planned = self._render(mount, protocol, call, fault)
        planned.delay_before += mount.latency
        return planned

    def _render(self, mount: Mount, protocol: MockProtocol, call: MockCall, fault: Fault | None) -> Planned:
        if fault is not None and fault.kind not in _STREAM_FAULTS:
            return _fault_response(protocol, fault)
        if call.operation == "embeddings":
            return _plain(protocol.embeddings(call, [_vector(text) for text in call.inputs]))
        reply = reply_for(call, tag=mount.name, completion_tokens=mount.completion_tokens)
        if not call.stream:
            planned = _plain(protocol.chat(call, reply))
            if fault is not None and fault.kind == "stall":
                planned.delay_before += fault.seconds
            return planned
        finish = fault is None or fault.kind not in ("no_terminator",)
        parts = protocol.stream(call, reply, finish=finish)
        planned = Planned(200, {"content-type": protocol.stream_content_type}, parts, stream=True)
        if fault is None or fault.kind == "no_terminator":
            return planned
        at = fault.after_chunks
        if fault.kind == "cut_stream":
            planned.cut_after = at if at is not None else len(parts) // 2
        elif fault.kind == "stream_error":
            at = at if at is not None else 1
            kind = fault.error or kind_for_status(fault.status)
            event = protocol.stream_error(kind, fault.status, fault.message or f"mock {kind}")
            planned.parts = [*parts[:at], event]
        elif fault.kind == "stall":
            if at is None:
                planned.delay_before += fault.seconds
            else:
                planned.stall_at, planned.stall_seconds = at, fault.seconds
        elif fault.kind == "slow":
            planned.between = fault.seconds
        return planned


_STREAM_FAULTS = frozenset({"cut_stream", "no_terminator", "stream_error", "stall", "slow"})


def _plain(rendered: Rendered) -> Planned:
    return Planned(rendered.status, dict(rendered.headers), [rendered.body])


def _fault_response(protocol: MockProtocol, fault: Fault) -> Planned:
    kind = fault.error or kind_for_status(fault.status)
    message = fault.message or f"mock {kind} ({fault.status})"
    if fault.kind == "close":
        return Planned(0, {}, [], drop=True)
    if fault.kind == "malformed_json":
        return Planned(200, {"content-type": "application/json"}, [b'{"id": "x", "choices": [nope'])
    if fault.kind == "truncated_body":
        return Planned(200, {"content-type": "application/json"}, [b'{"id":"chatcmpl-1","choices":[{"ind'])
    if fault.kind == "html":
        page = f"<html><body><h1>{fault.status} Bad Gateway</h1></body></html>".encode()
        return Planned(fault.status, {"content-type": "text/html"}, [page])
    if fault.kind in ("header_trickle", "body_trickle"):
        pad = b'{"id": "chatcmpl-trickle"' + b" " * 4096 + b"}"
        planned = Planned(200, {"content-type": "application/json"}, [pad])
        setattr(planned, "trickle_head" if fault.kind == "header_trickle" else "trickle_body", fault.seconds or 0.2)
        return planned
    if fault.kind == "endless_body":
        return Planned(200, {"content-type": "application/json"}, [b"[" + b"0," * 32767], stream=True, endless=True)
    if fault.kind == "redirect":
        status = fault.status if 300 <= fault.status < 400 else 307
        return Planned(status, {"content-type": "application/json", **fault.headers}, [b"{}"])
    if fault.kind == "wrong_content_type":
        return Planned(200, {"content-type": "text/plain"}, [b"upstream says hello"])
    rendered = protocol.error_in_body(kind, fault.status, message) if fault.kind == "error_in_body" \
        else protocol.error(kind, fault.status, message)
    planned = _plain(rendered)
    planned.headers.update(fault.headers)
    return planned


def _vector(text: str, dims: int = 8) -> list[float]:
    """A deterministic unit-ish vector per input text."""
    digest = hashlib.sha256(text.encode()).digest()
    return [round((b - 128) / 128, 6) for b in digest[:dims]]
