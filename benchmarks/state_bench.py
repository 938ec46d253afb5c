"""What shared state (Redis on loopback) adds per call over memory state: p50 and p90 per call.

Same route (two targets, primary with an rpm and a tpm quota, so both are checked), same upstream:
benchmarks/upstream.py's nginx, in its own processes (an in-process mock server's thread would share
the client's GIL and add its own wake-ups to every Redis reply). The memory-state and the redis-state client
alternate call by call (so both see the same machine load, which drifts on a shared box); the
figure is the median over rounds of each round's p50. Starts its own redis-server (no persistence)
on a free port.

``--gateway``: ``llmswitch serve`` (one worker) with memory vs redis state, side by side, against
benchmarks/upstream.py's nginx; wrk at 32 connections in flight (gateway_bench.py's harness), the
contestants taking turns each round; requests/s medians and their ratio (the budget: redis ≥ 80%).

    python benchmarks/state_bench.py --rounds 5 --calls 300
    python benchmarks/state_bench.py --gateway --rounds 5 --seconds 8
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import llmswitch

MESSAGES = [{"role": "user", "content": "ping"}]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config(base_url: str, state: dict[str, Any]) -> dict[str, Any]:
    return {"providers": {"a": {"type": "openai", "api_key": "sk", "base_url": base_url, "rpm": 10**9,
                                "tpm": 10**12},
                          "b": {"type": "openai", "api_key": "sk", "base_url": base_url}},
            "routes": {"chat": {"targets": ["a/m", "b/m"]}}, "state": state}


def side_by_side(configs: dict[str, dict[str, Any]], calls: int) -> dict[str, list[float]]:
    """Each client's call latencies, sorted; the clients take turns call by call."""
    clients = {name: llmswitch.OpenAI(config=cfg) for name, cfg in configs.items()}
    out: dict[str, list[float]] = {name: [] for name in clients}
    try:
        for i in range(20 + calls):  # 20 warm-up calls: connections, scripts loaded
            for name, client in clients.items():
                start = time.perf_counter()
                client.chat.completions.create(model="chat", messages=MESSAGES)  # type: ignore[arg-type]
                if i >= 20:
                    out[name].append(time.perf_counter() - start)
    finally:
        for client in clients.values():
            client.close()
    if len(out) == 2:  # the per-pair difference: calls made back to back see the same load
        first, second = out.values()
        out["added"] = [b - a for a, b in zip(first, second, strict=True)]
    return {name: sorted(lat) for name, lat in out.items()}


def gateway(states: dict[str, dict[str, Any]], rounds: int, seconds: float) -> None:
    """Gateway requests/s with each state backend (one worker each, 32 in flight)."""
    import yaml
    from gateway_bench import BODY, LUA, Served, ensure_wrk, wrk
    from upstream import MODEL, Upstream

    ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="llmswitch-statebench-"))
    lua = work / "chat.lua"
    lua.write_text(LUA.format(body=json.dumps(BODY)))
    rps: dict[str, list[float]] = {name: [] for name in states}
    cpu: dict[str, list[float]] = {name: [] for name in states}  # gateway CPU µs per request: steadier
    with Upstream(kind="nginx") as up:
        served = {}
        try:
            for name, state in states.items():
                path = work / f"{name}.yaml"
                path.write_text(yaml.safe_dump({
                    "providers": {"up": {"type": "openai", "base_url": up.base_url(), "api_key": "upstream-key",
                                         "rpm": 10**9, "tpm": 10**12}},
                    "routes": {"chat": {"targets": [f"up/{MODEL}"]}}, "gateway": {"grace_period": 1},
                    "state": state}))
                served[name] = Served(path, work)
                wrk(served[name].url + "/v1/chat/completions", lua, 8, 2)  # warm up
            for r in range(rounds):
                for name in (list(states) if r % 2 == 0 else list(states)[::-1]):
                    before = served[name].cpu_seconds()
                    got = wrk(served[name].url + "/v1/chat/completions", lua, 32, seconds)
                    rps[name].append(got["rps"])
                    cpu[name].append((served[name].cpu_seconds() - before) / got["requests"] * 1e6)
        finally:
            for one in served.values():
                one.stop()
    for name, values in rps.items():
        print(f"gateway {name:7s} {statistics.median(values):9.0f} req/s   (rounds: "
              + " ".join(f"{v:.0f}" for v in values) + f")   CPU {statistics.median(cpu[name]):.0f} µs/request")
    print(f"redis / memory: {statistics.median(rps['redis']) / statistics.median(rps['memory']):.2f} req/s; "
          f"{statistics.median(cpu['memory']) / statistics.median(cpu['redis']):.2f} by gateway CPU per request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--gateway", action="store_true", help="gateway requests/s instead of per-call latency")
    parser.add_argument("--seconds", type=float, default=8.0, help="per wrk measurement (--gateway)")
    args = parser.parse_args()
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no"], stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    states = {"memory": {"backend": "memory"}, "redis": {"backend": "redis", "url": f"redis://127.0.0.1:{port}/0"}}
    try:
        if args.gateway:
            gateway(states, args.rounds, args.seconds)
            return
        from upstream import Upstream

        with Upstream(kind="nginx") as up:  # in its own processes: no server thread shares our GIL
            p50: dict[str, list[float]] = {k: [] for k in [*states, "added"]}
            p90: dict[str, list[float]] = {k: [] for k in [*states, "added"]}
            for _ in range(args.rounds):
                found = side_by_side({name: config(up.base_url(), states[name]) for name in states}, args.calls)
                for name, lat in found.items():
                    p50[name].append(lat[len(lat) // 2])
                    p90[name].append(lat[int(len(lat) * 0.9)])
        for name in states:
            print(f"{name:7s} p50 {statistics.median(p50[name]) * 1e3:.3f} ms   p90 "
                  f"{statistics.median(p90[name]) * 1e3:.3f} ms   (rounds: "
                  + " ".join(f"{v * 1e3:.3f}" for v in p50[name]) + ")")
        added = statistics.median(p50["redis"]) - statistics.median(p50["memory"])
        paired = statistics.median(p50["added"])
        print(f"redis adds {added * 1e3:.3f} ms p50 per call (difference of the p50s); "
              f"{paired * 1e3:.3f} ms (p50 of the call-by-call difference)")
    finally:
        redis.kill()
        redis.wait()


if __name__ == "__main__":
    main()
