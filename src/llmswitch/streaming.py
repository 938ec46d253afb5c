"""Incremental decoders for the two stream framings vendors use: SSE and NDJSON.

They take bytes as they arrive (in any split) and give back whole events. Adapters then turn
events into OpenAI chunk dicts; nothing here knows about any vendor.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = ["NDJSONDecoder", "SSEDecoder", "SSEEvent", "decoder_for"]


@dataclass(slots=True)
class SSEEvent:
    """One server-sent event. ``event`` is None when the server named none ("message")."""

    data: str
    event: str | None = None
    id: str | None = None


class SSEDecoder:
    """SSE per the WHATWG rules: CR/LF/CRLF line ends, ``data:`` with or without a space,
    comment lines (``: keep-alive``) ignored, multi-line data joined with newlines."""

    __slots__ = ("_buffer", "_data", "_event", "_id", "_text")

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        text = self._buffer + self._text.decode(chunk)
        if "\r" in text:
            # a lone trailing CR may be the first half of CRLF: keep it for the next chunk
            keep_cr = text.endswith("\r")
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            if keep_cr:
                text = text[:-1]
                lines = text.split("\n")
                self._buffer = lines.pop() + "\r"
                return self._lines(lines)
        lines = text.split("\n")
        self._buffer = lines.pop()
        return self._lines(lines)

    def close(self) -> list[SSEEvent]:
        """End of input: a final event without its blank line still counts."""
        tail = self._buffer.rstrip("\r") + self._text.decode(b"", final=True)
        self._buffer = ""
        events = self._lines([tail, ""]) if tail else []
        if self._data:
            events += self._lines([""])
        return events

    def _lines(self, lines: list[str]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        for line in lines:
            if not line:
                if self._data:
                    events.append(SSEEvent("\n".join(self._data), self._event, self._id))
                self._data = []
                self._event = None
                continue
            if line[0] == ":":
                continue
            name, sep, value = line.partition(":")
            if sep and value[:1] == " ":
                value = value[1:]
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
            elif name == "id":
                self._id = value
        return events


class NDJSONDecoder:
    """Newline-delimited JSON (Ollama): each non-blank line is one event's data."""

    __slots__ = ("_buffer", "_text")

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        lines = (self._buffer + self._text.decode(chunk)).split("\n")
        self._buffer = lines.pop()
        return [SSEEvent(line.strip()) for line in lines if line.strip()]

    def close(self) -> list[SSEEvent]:
        tail = (self._buffer + self._text.decode(b"", final=True)).strip()
        self._buffer = ""
        return [SSEEvent(tail)] if tail else []


def decoder_for(stream_format: str) -> SSEDecoder | NDJSONDecoder:
    if stream_format == "ndjson":
        return NDJSONDecoder()
    return SSEDecoder()
