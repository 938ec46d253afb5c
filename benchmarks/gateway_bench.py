"""``llmswitch serve`` against calling nginx directly, side by side in one run (issue #11's budgets).

    python benchmarks/gateway_bench.py            # 3 rounds of everything (~4 min); table on stdout
    python benchmarks/gateway_bench.py --rounds 5 --only throughput,latency

The upstream is benchmarks/upstream.py's nginx (canned chat answers). The load generator is wrk
(Debian's ``wrk``; installed with apt when missing), one thread, POSTing a small chat request.
Figures, each the median over rounds (contestants take turns within a round):

- the floor: ``bare_proxy.py``, aiohttp's server and client with nothing between them (no routing,
  keys, limits, metrics or logs), is measured beside the gateway: what we add is gateway / floor;
- throughput: requests/s at 32 connections in flight, non-streaming: nginx direct, the gateway
  with one worker, and (``workers2``) with ``--workers 2`` (its ratio to one worker is the scaling);
- latency: wrk's p50 and p99 at 1 in flight, nginx direct and through the gateway (the difference
  is what the gateway adds: one more loopback hop, our parsing, routing and logging);
- stream: the gateway process's CPU time (utime+stime from /proc) per streamed chunk, over a
  bounded number of streams, against ``llmswitch.OpenAI``'s CPU per chunk iterating the same stream
  in this process;
- rss: the gateway's resident set after 2,000 requests and after ``--long`` (100,000) requests.

The gateway runs as ``python -m llmswitch serve`` with its default access log (JSON lines to a file).
LiteLLM's proxy is measured when ``--litellm PATH`` names a ``litellm`` executable (its own venv:
``python3 -m venv /tmp/litellm && /tmp/litellm/bin/pip install 'litellm[proxy]'``), one worker.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import yaml
from upstream import MODEL, Upstream, free_port

BODY = {"model": "chat", "messages": [{"role": "user", "content": "Say hello in one short sentence."}]}
LUA = """wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench"
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is None and os.geteuid() == 0:
        subprocess.run("apt-get update -qq && apt-get install -y -qq wrk", shell=True, check=False,
                       stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
    if found is None:
        sys.exit("wrk is needed (apt-get install wrk)")
    return found


class Served:
    """``llmswitch serve`` (or another proxy's command) on a free port, its output to a file."""

    def __init__(self, config: Path, workdir: Path, workers: int = 1, command: list[str] | None = None,
                 health: str = "/health", port_flag: bool = True) -> None:
        self.port = free_port()
        self.log = (workdir / f"gateway-{self.port}.log").open("wb")
        command = command or [sys.executable, "-m", "llmswitch", "serve", "--config", str(config),
                              "--workers", str(workers)]
        env = {**os.environ, "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true"}  # LiteLLM, loopback only
        port = [*(["--port"] if port_flag else []), str(self.port)]
        self.proc = subprocess.Popen([*command, *port], stdout=self.log, stderr=self.log,
                                     start_new_session=True, env=env)
        self.url = f"http://127.0.0.1:{self.port}"
        due = time.monotonic() + 300
        while time.monotonic() < due:
            try:
                if httpx2.get(self.url + health, timeout=5).status_code == 200:
                    break
            except httpx2.TransportError:
                if self.proc.poll() is not None:  # it died: say why instead of waiting out the clock
                    self.log.flush()
                    tail = (workdir / f"gateway-{self.port}.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{command[0]} exited with {self.proc.returncode}:\n{tail}") from None
                time.sleep(0.5)
        else:
            raise RuntimeError(f"{command[0]} did not start")

    def pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        kids = [int(p) for p in children.read_text().split()] if children.exists() else []
        return [self.proc.pid, *kids]

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        return total / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()


def machine_idle(since: tuple[float, float] | None = None) -> Any:
    """/proc/stat's idle time and the clock; with ``since``, the cores left idle in between
    (how much CPU a contestant could still have had: with none, it is the box that is full)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    now = (int(fields[3]) / os.sysconf("SC_CLK_TCK"), time.monotonic())
    if since is None:
        return now
    return (now[0] - since[0]) / (now[1] - since[1])


def wrk(url: str, lua: Path, connections: int, seconds: float, threads: int = 1) -> dict[str, float]:
    duration = f"-d{max(1, round(seconds))}s"
    command = [shutil.which("wrk") or "wrk", f"-t{threads}", f"-c{connections}", duration, "--latency",
               "-s", str(lua), url]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if found is None or total is None:
        raise RuntimeError(out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} failed responses from {url}:\n{out}")
    result = {"rps": float(found.group(1)), "requests": float(total.group(1))}
    for pct, value, unit in re.findall(r"\s(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\b", out):
        result[f"p{pct}_ms"] = float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    return result


def client_cpu_per_chunk(up: Upstream, streams: int) -> float:
    import llmswitch

    client = llmswitch.OpenAI(api_key="bench", base_url=up.base_url(stream=True))
    chunks = 0
    for _ in range(20):  # warm up
        for _chunk in client.chat.completions.create(model=MODEL, messages=BODY["messages"], stream=True):
            pass
    started = time.process_time()
    for _ in range(streams):
        for _chunk in client.chat.completions.create(model=MODEL, messages=BODY["messages"], stream=True):
            chunks += 1
    used = time.process_time() - started
    client.close()
    return used / chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="per wrk measurement")
    parser.add_argument("--long", type=int, default=100_000, help="requests for the RSS run")
    parser.add_argument("--streams", type=int, default=400, help="streams for the CPU-per-chunk figure")
    parser.add_argument("--only", default="throughput,latency,stream,rss,workers2")
    parser.add_argument("--litellm", metavar="PATH", help="the litellm executable of a separate venv")
    args = parser.parse_args()
    only = set(args.only.split(","))
    ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="llmswitch-gwbench-"))
    results: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    with Upstream(kind="nginx") as up:
        config = work / "providers.yaml"
        config.write_text(yaml.safe_dump({
            "providers": {"up": {"type": "openai", "base_url": up.base_url(), "api_key": "upstream-key"},
                          "sse": {"type": "openai", "base_url": up.base_url(stream=True), "api_key": "upstream-key"}},
            "routes": {"chat": {"targets": [f"up/{MODEL}"]}, "stream": {"targets": [f"sse/{MODEL}"]}},
            "gateway": {"grace_period": 1},
        }))
        lua = work / "chat.lua"
        lua.write_text(LUA.format(body=json.dumps(BODY)))
        stream_lua = work / "stream.lua"
        stream_lua.write_text(LUA.format(body=json.dumps({**BODY, "model": "stream", "stream": True})))
        direct_url = up.base_url() + "/chat/completions"
        one = Served(config, work)
        bare = Served(config, work, command=[sys.executable, str(Path(__file__).parent / "bare_proxy.py"),
                                             up.base_url() + "/chat/completions"], port_flag=False)
        two = litellm = None
        try:
            if "workers2" in only and "throughput" in only:
                two = Served(config, work, workers=2)
            if args.litellm:
                params = {"model": f"openai/{MODEL}", "api_base": up.base_url(), "api_key": "upstream-key"}
                (work / "litellm.yaml").write_text(yaml.safe_dump({"model_list": [
                    {"model_name": "chat", "litellm_params": params}]}))
                litellm = Served(config, work, command=[args.litellm, "--config", str(work / "litellm.yaml"),
                                                        "--num_workers", "1"], health="/health/liveliness")
            for url in (direct_url, bare.url + "/v1/chat/completions", one.url + "/v1/chat/completions"):  # warm up
                wrk(url, lua, 8, 2)
            chat = "/v1/chat/completions"
            urls = {"nginx": direct_url, "bare-aiohttp": bare.url + chat, "gateway": one.url + chat}
            if litellm is not None:
                urls["litellm"] = litellm.url + chat
            throughput = dict(urls)
            if two is not None:
                throughput["gateway-2-workers"] = two.url + chat

            servers = {"bare-aiohttp": bare, "gateway": one, "gateway-2-workers": two, "litellm": litellm}

            def rps(name: str, url: str) -> Callable[[], None]:
                def run() -> None:
                    server = servers.get(name)
                    before = server.cpu_seconds() if server is not None else 0.0
                    idle = machine_idle()
                    got = wrk(url, lua, 32, args.seconds)
                    add(f"throughput/{name}", got["rps"])
                    add(f"idle_cores/{name}", machine_idle(since=idle))
                    if server is not None:  # CPU per request: linear scaling keeps it flat
                        add(f"cpu_us_per_request/{name}", (server.cpu_seconds() - before) / got["requests"] * 1e6)
                return run

            def latency(name: str, url: str) -> Callable[[], None]:
                def run() -> None:
                    got = wrk(url, lua, 1, args.seconds)
                    add(f"latency/{name}/p50_ms", got["p50_ms"])
                    add(f"latency/{name}/p99_ms", got["p99_ms"])
                return run

            for rnd in range(args.rounds):
                print(f"round {rnd + 1}/{args.rounds}", file=sys.stderr)
                contestants: list[Callable[[], None]] = []
                if "throughput" in only:
                    contestants += [rps(name, url) for name, url in throughput.items()]
                if "latency" in only:
                    contestants += [latency(name, url) for name, url in urls.items()]
                shift = rnd % max(len(contestants), 1)
                for run in contestants[shift:] + contestants[:shift]:
                    run()
                if "stream" in only:
                    before = one.cpu_seconds()
                    got = wrk(one.url + "/v1/chat/completions", stream_lua, 4, args.seconds / 2)
                    add("stream/gateway_cpu_us_per_chunk",
                        (one.cpu_seconds() - before) / (got["requests"] * up.chunks()) * 1e6)
                    add("stream/client_cpu_us_per_chunk", client_cpu_per_chunk(up, args.streams) * 1e6)
            if "rss" in only:
                measured = 0.0
                while measured < 2000:
                    measured += wrk(one.url + "/v1/chat/completions", lua, 32, 1)["requests"]
                add("rss/after_2k_MiB", one.rss_mib())
                add("rss/after_2k_requests", measured)
                while measured < args.long:
                    measured += wrk(one.url + "/v1/chat/completions", lua, 32, 10)["requests"]
                add("rss/after_long_MiB", one.rss_mib())
                add("rss/after_long_requests", measured)
        finally:
            one.stop()
            for other in (bare, two, litellm):
                if other is not None:
                    other.stop()
    table = {name: {"median": statistics.median(v), "min": min(v), "max": max(v), "rounds": len(v)}
             for name, v in results.items()}
    for name, row in table.items():
        print(f"{name:42s} {row['median']:12.3f}   [{row['min']:.3f} … {row['max']:.3f}] n={row['rounds']}")
    med = {k: v["median"] for k, v in table.items()}
    if "throughput/gateway" in med and "throughput/gateway-2-workers" in med:
        print(f"{'workers 2 / workers 1':42s} {med['throughput/gateway-2-workers'] / med['throughput/gateway']:12.2f}")
        cpu = "cpu_us_per_request/gateway"
        if cpu in med and cpu + "-2-workers" in med:
            print(f"{'CPU per request, workers 2 / workers 1':42s} {med[cpu + '-2-workers'] / med[cpu]:12.2f}")
    if "throughput/bare-aiohttp" in med and "throughput/gateway" in med:
        print(f"{'gateway / bare aiohttp proxy (throughput)':42s} "
              f"{med['throughput/gateway'] / med['throughput/bare-aiohttp']:12.2f}")
    if "latency/gateway/p50_ms" in med:
        for pct in ("p50", "p99"):
            added = med[f"latency/gateway/{pct}_ms"] - med[f"latency/nginx/{pct}_ms"]
            print(f"{'added latency ' + pct + ' (ms)':42s} {added:12.3f}")
    if "stream/gateway_cpu_us_per_chunk" in med:
        ratio = med["stream/gateway_cpu_us_per_chunk"] / med["stream/client_cpu_us_per_chunk"]
        print(f"{'stream CPU/chunk: gateway / client':42s} {ratio:12.2f}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "gateway-latest.json").write_text(json.dumps({"results": results, "table": table}, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
