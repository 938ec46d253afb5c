"""The benchmark upstream: canned chat answers on 127.0.0.1, served by nginx (or a raw asyncio server).

``Upstream()`` writes the canned bodies and a filled-in copy of ``benchmarks/nginx.conf`` to a run
directory, starts nginx in the foreground as a child process and stops it on exit. A request to
``/<fmt>/<name>/<any path>`` gets the body ``<name>.<fmt>`` (fmt: json, sse or ndjson), whatever its
method, so every client under test talks to the same bytes. When nginx is missing and cannot be
installed (``benchmarks/upstream.sh``), a single-process asyncio server with the same URL scheme
takes its place; the results record which one served.

Run ``python benchmarks/upstream.py`` to keep one up by hand (Ctrl-C stops it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

HERE = Path(__file__).resolve().parent
WORDS = 64  # streamed content chunks per answer (plus role, finish and usage chunks)
MODEL = "bench-model"
# what Baidu's OAuth endpoint answers (PROTOCOLS.md §3), for the qianfan adapter's token exchange
TOKEN_BODY = b'{"access_token":"24.bench.2592000.1700000000.0-0","expires_in":2592000,"scope":"public"}'


def model_for(protocol: str) -> str:
    """A model the protocol's preset knows (some adapters map models to endpoints)."""
    if protocol == "openai":
        return MODEL
    from llmswitch.catalog import get_preset

    preset = get_preset(protocol)
    if preset is None:
        return MODEL
    return preset.default_model or next(iter(preset.models), MODEL)


def reply_text(words: int = WORDS) -> str:
    vocabulary = ("the", "quick", "model", "answers", "with", "tokens", "streamed", "over", "a", "wire",
                  "in", "small", "pieces", "while", "callers", "wait")
    return " ".join(vocabulary[i % len(vocabulary)] + ("." if i % 12 == 11 else "") for i in range(words))


@dataclass(frozen=True)
class Canned:
    name: str  # URL segment and file stem
    fmt: str  # json | sse | ndjson
    body: bytes
    chunks: int  # JSON events in a stream (0 for a plain body)


def canned_bodies() -> list[Canned]:
    """The OpenAI answer, and each native protocol's rendering of the same reply (via the mocks)."""
    from llmswitch.testing.protocols import mock_protocol
    from llmswitch.testing.scenario import MockCall, Reply

    reply = Reply(text=reply_text(), prompt_tokens=25, completion_tokens=WORDS)
    out: list[Canned] = []
    for name in native_protocols(with_openai=True):
        try:
            protocol = mock_protocol(name)
        except (ImportError, KeyError):
            continue
        model = model_for(name)
        try:
            plain = protocol.chat(MockCall("chat", model, messages=[{"role": "user", "content": "hi"}]), reply)
            events = protocol.stream(MockCall("chat", model, stream=True, include_usage=True,
                                              messages=[{"role": "user", "content": "hi"}]), reply)
        except Exception as exc:  # a mock being written elsewhere: leave its protocol out
            print(f"upstream: no canned {name} answer ({type(exc).__name__}: {exc})", file=sys.stderr)
            continue
        fmt = "ndjson" if "ndjson" in protocol.stream_content_type else "sse"
        out.append(Canned(name, "json", plain.body, 0))
        out.append(Canned(name, fmt, b"".join(events), sum(1 for e in events if b"[DONE]" not in e)))
    out.append(Canned("token", "json", TOKEN_BODY, 0))
    return out


def native_protocols(*, with_openai: bool = False) -> list[str]:
    """Protocols whose adapter module exists in this tree (others are being written elsewhere)."""
    from importlib.util import find_spec

    from llmswitch.adapters import protocols

    names = [p for p in protocols() if p not in ("openai", "azure", "mock")]
    present = [p for p in names if find_spec(f"llmswitch.adapters.{p}") is not None
               and find_spec(f"llmswitch.testing.protocols.{p}") is not None]
    return (["openai"] if with_openai else []) + present


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"upstream exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"upstream did not listen on 127.0.0.1:{port} within {seconds} s")


def ensure_nginx() -> str | None:
    """The nginx binary; tries ``upstream.sh install`` (apt-get) once when it is missing."""
    found = shutil.which("nginx") or (Path("/usr/sbin/nginx").is_file() and "/usr/sbin/nginx") or None
    if found or os.environ.get("BENCH_NO_INSTALL"):
        return found or None
    subprocess.run(["bash", str(HERE / "upstream.sh"), "install"], check=False)
    return shutil.which("nginx") or (Path("/usr/sbin/nginx").is_file() and "/usr/sbin/nginx") or None


class Upstream:
    """``with Upstream() as up: up.base_url("openai")`` → ``http://127.0.0.1:PORT/json/openai/v1``."""

    def __init__(self, *, kind: str = "auto") -> None:
        self.requested = kind
        self.kind = ""
        self.port = 0
        self.canned = {(c.name, c.fmt): c for c in canned_bodies()}
        self._dir = Path(tempfile.mkdtemp(prefix="llmswitch-bench-"))
        self._proc: subprocess.Popen[bytes] | None = None

    def url(self, fmt: str, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{fmt}/{name}"

    def base_url(self, name: str = "openai", *, stream: bool = False) -> str:
        """The API root a client is configured with (streams get their own, as nginx can't read bodies)."""
        fmt = self.stream_fmt(name) if stream else "json"
        return self.url(fmt, name) + "/v1"

    def stream_fmt(self, name: str) -> str:
        return "ndjson" if (name, "ndjson") in self.canned else "sse"

    def chunks(self, name: str = "openai") -> int:
        return self.canned[(name, self.stream_fmt(name))].chunks

    def start(self) -> Upstream:
        canned = self._dir / "canned"
        canned.mkdir(parents=True)
        for c in self.canned.values():
            (canned / f"{c.name}.{c.fmt}").write_bytes(c.body)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self._dir / "tmp" / sub).mkdir(parents=True)
        for path in (self._dir, *self._dir.rglob("*")):  # nginx workers may run as another user
            path.chmod(0o755 if path.is_dir() else 0o644)
        self.port = free_port()
        nginx = ensure_nginx() if self.requested in ("auto", "nginx") else None
        if nginx is None and self.requested == "nginx":
            raise RuntimeError("nginx is not installed and could not be installed (see benchmarks/upstream.sh)")
        if nginx is not None:
            self.kind = "nginx"
            conf = (HERE / "nginx.conf").read_text()
            conf = conf.replace("@RUN@", str(self._dir)).replace("@PORT@", str(self.port))
            conf = conf.replace("@USER@", "user root;" if os.geteuid() == 0 else "")
            (self._dir / "nginx.conf").write_text(conf)
            cmd = [nginx, "-e", str(self._dir / "error.log"), "-p", str(self._dir), "-c", str(self._dir / "nginx.conf")]
        else:
            self.kind = "asyncio"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", str(self.port), str(canned)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for_port(self.port, self._proc)
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGQUIT if self.kind == "nginx" else signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Upstream:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


# -- the fallback server: HTTP/1.1 keep-alive, canned bodies, nothing else ---------------------------

_TYPES = {"json": b"application/json", "sse": b"text/event-stream", "ndjson": b"application/x-ndjson"}


class _Canned(asyncio.Protocol):
    def __init__(self, files: dict[tuple[bytes, bytes], bytes]) -> None:
        self._files = files
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            head_end = self._buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self._buffer[:head_end].split(b"\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            end = head_end + 4 + length
            if len(self._buffer) < end:
                return
            self._buffer = self._buffer[end:]
            self._answer(head[0].split(b" ")[1])

    def _answer(self, path: bytes) -> None:
        assert self._transport is not None
        parts = path.split(b"/")
        body = self._files.get((parts[1], parts[2])) if len(parts) > 3 else None
        if body is None:
            status, ctype, body = b"404 Not Found", b"text/plain", b"not found"
        else:
            status, ctype = b"200 OK", _TYPES[parts[1].decode()]
        self._transport.write(b"HTTP/1.1 %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s"
                              % (status, ctype, len(body), body))


def serve(port: int, directory: Path) -> None:
    files = {(p.suffix[1:].encode(), p.stem.encode()): p.read_bytes() for p in directory.iterdir()}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Canned(files), "127.0.0.1", port, backlog=4096)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        async with server:
            await stop.wait()

    asyncio.run(main())


def exit_on_signal(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so ``with Upstream()`` stops its server instead of orphaning it."""
    raise SystemExit(128 + signum)


def _iter_urls(up: Upstream) -> Iterator[str]:
    for (name, fmt) in sorted(up.canned):
        yield f"  {up.url(fmt, name)}/…  ({len(up.canned[(name, fmt)].body)} bytes)"


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        signal.signal(signal.SIGTERM, exit_on_signal)
        with Upstream(kind=sys.argv[1] if len(sys.argv) > 1 else "auto") as up:
            print(f"{up.kind} upstream on 127.0.0.1:{up.port}; canned answers:", *_iter_urls(up), sep="\n")
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
