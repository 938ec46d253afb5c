"""Operator guarantees: a client hang-up cancels the upstream at once; SIGTERM drains."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from gw_harness import CLIENT_KEYS, Gateway

from llmswitch.testing import MockServer

STREAM_BODY = json.dumps({"model": "slow", "stream": True,
                          "messages": [{"role": "user", "content": "one two three four five six seven eight"}]})


def _open_stream(gateway: Gateway, key: str) -> tuple[socket.socket, bytes]:
    """A raw HTTP/1.1 streaming request; returns the socket once the first SSE event arrived."""
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
    body = STREAM_BODY.encode()
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                 b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: " + str(len(body)).encode()
                 + b"\r\n\r\n" + body)
    seen = b""
    while b"data: " not in seen:
        part = sock.recv(65536)
        assert part, "the gateway closed the stream early"
        seen += part
    return sock, seen


def _circuit_states(gateway: Gateway, route: str) -> list[float]:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx2.get(gateway.url + "/metrics", timeout=10).text
    return [s.value for family in text_string_to_metric_families(text) if family.name == "llmswitch_circuit_state"
            for s in family.samples if s.labels["route"] == route]


def test_client_disconnect_cancels_upstream_within_100ms(mock: MockServer, gateway: Gateway, key: str) -> None:
    delays = []
    for _ in range(6):  # more hang-ups than the breaker's failure threshold (5)
        mock.mount("primary").fail("slow:seconds=0.3")
        before = len(mock.disconnects)
        sock, _ = _open_stream(gateway, key)
        sock.close()
        hung_up = time.monotonic()
        due = hung_up + 5
        while len(mock.disconnects) == before and time.monotonic() < due:
            time.sleep(0.002)
        assert len(mock.disconnects) > before, "the upstream request was never closed"
        path, at = mock.disconnects[-1]
        assert path.endswith("/chat/completions")
        delays.append(at - hung_up)
    print("hang-up → upstream closed (s):", [round(d, 4) for d in delays])
    assert max(delays) < 0.1, delays
    assert _circuit_states(gateway, "slow") == [0.0]  # cancellations are not failures of the target
    ok = httpx2.post(gateway.base_url + "/chat/completions", headers={"authorization": f"Bearer {key}"},
                     json={"model": "slow", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
    assert ok.status_code == 200


@pytest.fixture
def own_gateway(config_path: Path, tmp_path: Path) -> Iterator[Gateway]:
    gw = Gateway(config_path, tmp_path / "gateway.log")
    yield gw
    gw.stop()


def test_sigterm_drains_streams_and_refuses_new_connections(mock: MockServer, own_gateway: Gateway) -> None:
    key = CLIENT_KEYS["full"]
    mock.mount("primary").fail("slow:seconds=0.15")
    sock, first = _open_stream(own_gateway, key)
    received: dict[str, Any] = {}

    def read_rest() -> None:
        data = first
        while True:
            part = sock.recv(65536)
            if not part:
                break
            data += part
            if b"0\r\n\r\n" in data:
                break
        received["data"] = data

    reader = threading.Thread(target=read_rest)
    reader.start()
    own_gateway.terminate()
    refused = False
    due = time.monotonic() + 5
    while time.monotonic() < due and not refused:
        try:
            httpx2.get(own_gateway.url + "/health", timeout=1)
            time.sleep(0.02)
        except httpx2.ConnectError:
            refused = True
    assert refused, "the gateway kept accepting connections after SIGTERM"
    reader.join(timeout=20)
    sock.close()
    assert b"data: [DONE]" in received["data"], received["data"][-300:]
    assert own_gateway.proc.wait(timeout=20) == 0
    assert '"msg": "draining"' in own_gateway.logs()
