"""A loopback HTTP server hosting a :class:`MockApp`: real sockets, real chunked streams, real cuts."""

from __future__ import annotations

import select
import socket
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .app import MockApp, Mount, Planned

__all__ = ["MockServer"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:  # quiet: tests read the mount logs
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        planned = self.server.app.handle(self.command, url.path, dict(parse_qsl(url.query)), headers, body)
        self._write(planned)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def _wait(self, seconds: float) -> None:
        """Sleep, but notice at once when the client hangs up (recorded in ``MockServer.disconnects``)."""
        if seconds <= 0:
            return
        due = time.monotonic() + seconds
        while not self.server.stopping.is_set():
            left = due - time.monotonic()
            if left <= 0:
                return
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.05))
            if readable:
                if self.connection.recv(1, socket.MSG_PEEK) == b"":
                    self.server.disconnects.append((self.path, time.monotonic()))
                    raise BrokenPipeError("the client closed the connection")
                self.server.stopping.wait(left)  # a pipelined request is waiting: plain sleep
                return

    def _write(self, planned: Planned) -> None:
        self._wait(planned.delay_before)
        if planned.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if planned.trickle_head is not None:
            self._trickle_head(planned, planned.trickle_head)
            return
        self.send_response(planned.status)
        for name, value in planned.headers.items():
            self.send_header(name, value)
        if not planned.stream:
            payload = b"".join(planned.parts)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            if planned.trickle_body is not None:
                self._trickle(payload, planned.trickle_body)
            else:
                self.wfile.write(payload)
            return
        self.send_header("transfer-encoding", "chunked")
        self.send_header("cache-control", "no-cache")
        self.end_headers()
        self.wfile.flush()
        if planned.endless:
            self._endless(planned.parts[0])
            return
        for index, part in enumerate(planned.parts):
            if planned.cut_after is not None and index >= planned.cut_after:
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if planned.stall_at == index:
                self._wait(planned.stall_seconds)
            self._wait(planned.between)
            if self.server.stopping.is_set():
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


    def _trickle(self, data: bytes, seconds: float) -> None:
        """One byte per ``seconds`` until the data ends, the client hangs up or the server stops."""
        self.close_connection = True
        for i in range(len(data)):
            self._wait(seconds)
            if self.server.stopping.is_set():
                return
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()

    def _trickle_head(self, planned: Planned, seconds: float) -> None:
        payload = b"".join(planned.parts)
        head = [f"HTTP/1.1 {planned.status} OK", *(f"{k}: {v}" for k, v in planned.headers.items()),
                f"content-length: {len(payload)}", "x-trickle: " + "t" * 2048, "", ""]
        self.wfile.write(head[0].encode() + b"\r\n")
        self.wfile.flush()
        self._trickle("\r\n".join(head[1:]).encode() + payload, seconds)

    def _endless(self, part: bytes) -> None:
        """The same chunk over and over, as fast as the client reads, up to ENDLESS_BYTES."""
        self.close_connection = True
        frame = b"%x\r\n%s\r\n" % (len(part), part)
        for _ in range(ENDLESS_BYTES // len(part)):
            if self.server.stopping.is_set():
                return
            self.wfile.write(frame)


ENDLESS_BYTES = 8 * 2**30  # a bound for "endless": far past any response limit, never reached in a test


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return  # the client hung up (a cut or closed stream): expected in fault tests
        super().handle_error(request, client_address)

    def __init__(self, address: tuple[str, int], app: MockApp) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.disconnects: list[tuple[str, float]] = []  # (path, time.monotonic()) of client hang-ups
        super().__init__(address, _Handler)


class MockServer:
    """``with MockServer({"primary": "openai", "qwen": "dashscope"}) as server: server.base_url("qwen")``.

    Binds 127.0.0.1 only; port 0 picks a free port.
    """

    def __init__(self, mounts: Mapping[str, str] | Iterable[str] | None = None, *, port: int = 0,
                 host: str = "127.0.0.1") -> None:
        self.app = MockApp(mounts)
        self._server = _Server((host, port), self.app)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def base_url(self, mount: str) -> str:
        """The provider base_url (API root) for a mount, e.g. ``http://127.0.0.1:PORT/primary/v1``."""
        return f"{self.url}/{mount}{self.app.mount(mount).protocol.root}"

    def mount(self, name: str) -> Mount:
        return self.app.mount(name)

    @property
    def disconnects(self) -> list[tuple[str, float]]:
        """(request path, ``time.monotonic()``) each time a client hung up while a reply was pending."""
        return self._server.disconnects

    def start(self) -> MockServer:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="llmswitch-mock", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
