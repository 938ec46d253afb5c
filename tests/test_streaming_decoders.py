"""SSE and NDJSON framing, fed in every kind of byte split."""

from __future__ import annotations

import random

import pytest

from llmswitch.streaming import NDJSONDecoder, SSEDecoder, SSEEvent

SSE = (b": comment\r\n"
       b"id: 1\r\nevent: result\r\ndata:{\"a\":1}\r\n\r\n"
       b"data: {\"b\":\"\xe4\xbd\xa0\xe5\xa5\xbd\"}\n\n"
       b"data: line1\ndata: line2\n\n"
       b"data:[DONE]\n\n")
EXPECTED = [SSEEvent('{"a":1}', "result", "1"), SSEEvent('{"b":"你好"}', None, "1"),
            SSEEvent("line1\nline2", None, "1"), SSEEvent("[DONE]", None, "1")]


def _split(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, min(20, len(data) - 1))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


@pytest.mark.parametrize("seed", range(40))
def test_sse_random_splits(seed: int) -> None:
    decoder = SSEDecoder()
    events = []
    for piece in _split(SSE, random.Random(seed)):
        events += decoder.feed(piece)
    events += decoder.close()
    assert events == EXPECTED


def test_sse_byte_by_byte_and_cr_only() -> None:
    decoder = SSEDecoder()
    events = []
    for i in range(len(SSE)):
        events += decoder.feed(SSE[i : i + 1])
    assert events + decoder.close() == EXPECTED
    cr = SSEDecoder()
    assert cr.feed(b"data: x\r\rdata: y\r\r") == [SSEEvent("x")]  # a trailing CR may start a CRLF
    assert cr.close() == [SSEEvent("y")]


def test_sse_final_event_without_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: tail") == []
    assert decoder.close() == [SSEEvent("tail")]


@pytest.mark.parametrize("seed", range(10))
def test_ndjson_random_splits(seed: int) -> None:
    data = '{"a":1}\n\n{"b":"你好"}\r\n{"done":true}'.encode()
    decoder = NDJSONDecoder()
    events = []
    for piece in _split(data, random.Random(seed)):
        events += decoder.feed(piece)
    events += decoder.close()
    assert [e.data for e in events] == ['{"a":1}', '{"b":"你好"}', '{"done":true}']
