"""Failover cost: what a broken primary adds to each call, and what the router costs when all is well.

    python benchmarks/failover.py [--calls 200] [--async]

A small keep-alive HTTP server on loopback (faster and steadier than the mock server, so the
numbers are the client's) answers under three prefixes: ``/ok`` (a chat completion), ``/e500``
(500) and ``/e429`` (429 with ``Retry-After: 0``); a closed port stands in for a provider that
refuses connections. For each broken primary, a route ``[bad, good]`` serves N sequential calls
with the default policy (breaker: 5 failures open it for 30 s). Reported per scenario: the median
and p95 added latency against a direct healthy call, failed calls, and requests that reached the
bad target — bounded by the breaker (a second run with a 20 ms cooldown shows the probes). The
healthy-path table compares raw httpx2, the openai SDK, and llmswitch (direct and through a route).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import socketserver
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx2
import openai

import llmswitch

COMPLETION = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong", "refusal": None},
                 "finish_reason": "stop", "logprobs": None}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}).encode()
ERRORS = {
    "e500": (500, b"Internal Server Error", {}, b'{"error":{"message":"boom","type":"server_error","code":null}}'),
    "e429": (429, b"Too Many Requests", {"retry-after": "0"},
             b'{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}'),
}
MESSAGES: list[Any] = [{"role": "user", "content": "ping"}]


class _Handler(socketserver.StreamRequestHandler):
    """HTTP/1.1 keep-alive, just enough for one POST per request."""

    server: _Server

    def handle(self) -> None:
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            line = self.rfile.readline()
            if not line:
                return
            path = line.split(b" ")[1].decode()
            length = 0
            while True:
                header = self.rfile.readline()
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            self.rfile.read(length)
            prefix = path.strip("/").split("/")[0]
            self.server.hits[prefix] += 1
            status, reason, headers, body = ERRORS.get(prefix, (200, b"OK", {}, COMPLETION))
            extra = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())
            self.wfile.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s"
                             % (status, reason, len(body), extra, body))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: Counter[str] = Counter()

    def url(self, prefix: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{prefix}/v1"


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def config(server: _Server, refused: int, breaker: dict[str, Any] | None = None) -> dict[str, Any]:
    def provider(url: str) -> dict[str, Any]:
        return {"type": "openai", "api_key": "sk-bench-0123456789", "base_url": url}

    route: dict[str, Any] = {"circuit_breaker": breaker} if breaker else {}
    return {
        "providers": {"good": provider(server.url("ok")), "e500": provider(server.url("e500")),
                      "e429": provider(server.url("e429")), "refused": provider(f"http://127.0.0.1:{refused}/v1")},
        "routes": {**{f"via_{bad}": {**route, "targets": [f"{bad}/m", "good/m"]}
                      for bad in ("refused", "e500", "e429")},
                   "healthy": {"targets": ["good/m", "e500/m"]}},
    }


def timed(calls: int, fn: Callable[[], Any]) -> tuple[list[float], int]:
    """Per-call seconds and the number of calls that raised."""
    out: list[float] = []
    failed = 0
    for _ in range(calls):
        start = time.perf_counter()
        try:
            fn()
        except Exception:
            failed += 1
        out.append(time.perf_counter() - start)
    return out, failed


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f}"


def p95(values: list[float]) -> float:
    return sorted(values)[max(int(len(values) * 0.95) - 1, 0)]


class Result:
    """One scenario: the route's call times, each paired with a direct healthy call made just before."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.direct: list[float] = []
        self.routed: list[float] = []
        self.failed = 0
        self.bad_hits = 0
        self.seconds = 0.0

    def row(self, cooldown: float | None) -> str:
        base = statistics.median(self.direct)
        added = statistics.median([r - d for r, d in zip(self.routed, self.direct, strict=True)])
        bound = "" if cooldown is None else f"  ≤ {5 + int(self.seconds / cooldown) + 1}"
        return (f"  {self.name:<24} {ms(base)} {ms(statistics.median(self.routed))} {ms(added)} "
                f"{ms(p95(self.routed) - base)} {self.failed:>7} {self.bad_hits:>8}{bound}")


HEADER = ("  primary                  direct ms  route ms  added ms  p95 add  failed  bad hits"
          "\n  " + "-" * 86)


def _bad_attempts(info: Any, bad: str) -> int:
    return sum(1 for a in info.attempts if a.target == f"{bad}/m" and a.error is not None)


def failover_sync(server: _Server, refused: int, calls: int, breaker: dict[str, Any] | None) -> list[Result]:
    results = []
    with llmswitch.OpenAI(config=config(server, refused, breaker)) as client:
        def direct() -> Any:
            return client.chat.completions.create(model="good/m", messages=MESSAGES)

        timed(50, direct)  # warm-up: connection, imports, caches
        for bad in ("refused", "e500", "e429"):
            result, route, before = Result(f"{bad} → fallback"), f"via_{bad}", server.hits[bad]
            started = time.perf_counter()
            for _ in range(calls):  # interleaved, so machine noise hits both sides alike
                result.direct += timed(1, direct)[0]
                start = time.perf_counter()
                try:
                    response = client.chat.completions.create(model=route, messages=MESSAGES)
                    result.bad_hits += _bad_attempts(llmswitch.route_info(response), bad)
                except Exception:
                    result.failed += 1
                result.routed.append(time.perf_counter() - start)
            result.seconds = time.perf_counter() - started
            if bad != "refused":
                assert result.bad_hits == server.hits[bad] - before  # the server saw what the router recorded
            results.append(result)
    return results


async def failover_async(server: _Server, refused: int, calls: int) -> list[Result]:
    results = []
    async with llmswitch.AsyncOpenAI(config=config(server, refused)) as client:
        for _ in range(50):
            await client.chat.completions.create(model="good/m", messages=MESSAGES)
        for bad in ("refused", "e500", "e429"):
            result, route = Result(f"{bad} → fallback"), f"via_{bad}"
            for _ in range(calls):
                start = time.perf_counter()
                await client.chat.completions.create(model="good/m", messages=MESSAGES)
                result.direct.append(time.perf_counter() - start)
                start = time.perf_counter()
                try:
                    response = await client.chat.completions.create(model=route, messages=MESSAGES)
                    result.bad_hits += _bad_attempts(llmswitch.route_info(response), bad)
                except Exception:
                    result.failed += 1
                result.routed.append(time.perf_counter() - start)
            results.append(result)
    return results


def healthy_path(server: _Server, refused: int, calls: int) -> list[str]:
    url = server.url("ok")
    body = {"model": "m", "messages": MESSAGES}
    rows = []
    with httpx2.Client() as raw, openai.OpenAI(api_key="sk-bench-0123456789", base_url=url, max_retries=0) as sdk, \
            llmswitch.OpenAI(config=config(server, refused)) as client:
        contenders: dict[str, Callable[[], Any]] = {
            "raw httpx2 (POST + json)": lambda: raw.post(url + "/chat/completions", json=body,
                                                         headers={"Authorization": "Bearer x"}).json(),
            "openai SDK (bare client)": lambda: sdk.chat.completions.create(model="m", messages=MESSAGES),
            "llmswitch provider/model": lambda: client.chat.completions.create(model="good/m", messages=MESSAGES),
            "llmswitch route (2 targets)": lambda: client.chat.completions.create(model="healthy", messages=MESSAGES),
        }
        for fn in contenders.values():
            timed(50, fn)
        medians: dict[str, float] = {name: 0.0 for name in contenders}
        for _ in range(3):  # interleave rounds so drift hits every contender alike
            for name, fn in contenders.items():
                lat, failed = timed(calls, fn)
                assert failed == 0, name
                medians[name] += statistics.median(lat) / 3
        sdk_median = medians["openai SDK (bare client)"]
        raw_median = medians["raw httpx2 (POST + json)"]
        for name, median in medians.items():
            rows.append(f"  {name:<30} {ms(median)}  {median / sdk_median:6.2f}×  {median / raw_median:6.2f}×")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--async", dest="run_async", action="store_true", help="also run the async client")
    args = parser.parse_args()
    server = _Server()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    refused = closed_port()
    print(f"\nFailover: {args.calls} sequential calls per scenario, sync client, default policy "
          f"(breaker: 5 failures open it for 30 s)")
    print(HEADER)
    for result in failover_sync(server, refused, args.calls, None):
        print(result.row(None))
    cooldown = 0.02
    print(f"\nThe same with a {cooldown * 1000:.0f} ms cooldown (last column: 5 + one probe per cooldown elapsed)")
    print(HEADER)
    for result in failover_sync(server, refused, args.calls, {"failures": 5, "cooldown": cooldown}):
        print(result.row(cooldown))
    if args.run_async:
        print("\nFailover, async client, default policy")
        print(HEADER)
        for result in asyncio.run(failover_async(server, refused, args.calls)):
            print(result.row(None))
    print(f"\nHealthy path: median of {args.calls} sequential calls × 3 interleaved rounds")
    print("  client                          median ms   vs SDK   vs raw")
    for row in healthy_path(server, refused, args.calls):
        print(row)
    server.shutdown()


if __name__ == "__main__":
    main()
