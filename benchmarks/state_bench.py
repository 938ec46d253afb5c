"""What shared state (Redis on loopback) adds per call over memory state: p50 and p90 per call.

Same route (two targets, primary with an rpm and a tpm quota, so both are checked), same mock
upstream (llmswitch.testing.MockServer on loopback). The memory-state and the redis-state client
alternate call by call (so both see the same machine load, which drifts on a shared box); the
figure is the median over rounds of each round's p50. Starts its own redis-server (no persistence)
on a free port.

    python benchmarks/state_bench.py --rounds 5 --calls 300
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import time
from typing import Any

import llmswitch
from llmswitch.testing import MockServer

MESSAGES = [{"role": "user", "content": "ping"}]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config(server: MockServer, state: dict[str, Any]) -> dict[str, Any]:
    return {"providers": {"a": {"type": "openai", "api_key": "sk", "base_url": server.base_url("a"), "rpm": 10**9,
                                "tpm": 10**12},
                          "b": {"type": "openai", "api_key": "sk", "base_url": server.base_url("b")}},
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no"], stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    try:
        with MockServer({"a": "openai", "b": "openai"}) as server:
            states = {"memory": {"backend": "memory"},
                      "redis": {"backend": "redis", "url": f"redis://127.0.0.1:{port}/0"}}
            p50: dict[str, list[float]] = {k: [] for k in [*states, "added"]}
            p90: dict[str, list[float]] = {k: [] for k in [*states, "added"]}
            for _ in range(args.rounds):
                found = side_by_side({name: config(server, states[name]) for name in states}, args.calls)
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
