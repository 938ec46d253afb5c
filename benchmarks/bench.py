"""llmswitch's performance budget, measured side by side in one run: ``python benchmarks/bench.py``.

Every contestant talks to the same canned answer on a local upstream (nginx; see upstream.py)
that is never the bottleneck. Each figure is the median of several rounds; within a round the
contestants take turns (in a rotating order), so drift on the machine hits them alike. Every
load loop is bounded in count and in time, and only 127.0.0.1 is ever contacted.

Figures: CPU per non-streaming call and per streamed chunk (process CPU time over sequential
calls), requests/s at 64 concurrent calls, import time over interpreter start-up, RSS over
20,000 calls, and the CPU a native adapter adds over the OpenAI-compatible path. The table
goes to stdout, the numbers to benchmarks/results/ (JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import contestants as c  # noqa: E402
from upstream import MODEL, Upstream, exit_on_signal, native_protocols  # noqa: E402

RESULTS = HERE / "results"
CONCURRENCY = 64


@dataclass
class Settings:
    rounds: int = 5
    plain_calls: int = 1000  # sequential non-streaming calls per contestant per round
    stream_calls: int = 150  # sequential streams per round (each ~67 chunks)
    async_calls: int = 2000  # calls per round at 64 in flight
    import_runs: int = 15  # fresh interpreters per snippet
    rss_calls: int = 20_000
    native_plain: int = 400
    native_stream: int = 60
    max_seconds: float = 60.0  # cap on any one measured loop


QUICK = Settings(rounds=3, plain_calls=300, stream_calls=40, async_calls=600, import_runs=7, rss_calls=5000,
                 native_plain=150, native_stream=20, max_seconds=30.0)


@dataclass
class Figure:
    """One contestant's per-round values (lower is better unless ``higher_is_better``)."""

    name: str
    unit: str
    values: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")


# -- measuring ------------------------------------------------------------------------------------

def cpu_per_unit(call: Callable[[], Any], calls: int, max_seconds: float, *, counts: bool = False) -> float:
    """CPU seconds per call (or per returned unit, e.g. chunk, with ``counts``) over a bounded loop."""
    gc.collect()
    deadline = time.monotonic() + max_seconds
    units = done = 0
    start = time.process_time()
    for _ in range(calls):
        result = call()
        units += result if counts else 1
        done += 1
        if time.monotonic() > deadline:
            break
    spent = time.process_time() - start
    if done < calls:
        print(f"  (time cap: {done}/{calls} calls)", file=sys.stderr)
    return spent / max(units, 1)


def rotate(items: list[Any], by: int) -> list[Any]:
    by %= len(items)
    return items[by:] + items[:by]


def sync_rounds(up: Upstream, builders: Mapping[str, Callable[[Upstream], c.Built]], calls: int, s: Settings, *,
                counts: bool, unit: str, scale: float = 1e6, warmup: int = 30) -> dict[str, Figure]:
    figures = {name: Figure(name, unit) for name in builders}
    built = {name: build(up) for name, build in builders.items()}
    try:
        for b in built.values():  # connections, lazy imports, caches
            for _ in range(warmup):
                b.call()
        for r in range(s.rounds):
            for name in rotate(list(built), r):
                figures[name].values.append(cpu_per_unit(built[name].call, calls, s.max_seconds, counts=counts) * scale)
    finally:
        for b in built.values():
            b.close()
    return figures


async def _throughput(build: Callable[[Upstream], c.Built], up: Upstream, calls: int,
                      max_seconds: float) -> tuple[float, float]:
    built = build(up)
    try:
        await asyncio.gather(*(built.call() for _ in range(CONCURRENCY)))  # open the connections
        await asyncio.gather(*(built.call() for _ in range(CONCURRENCY)))
        gc.collect()
        started, cpu = time.perf_counter(), time.process_time()
        deadline = time.monotonic() + max_seconds
        issued = done = 0

        async def worker() -> None:
            nonlocal issued, done
            while issued < calls and time.monotonic() < deadline:
                issued += 1
                await built.call()
                done += 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        if done < calls:
            print(f"  (time cap: {done}/{calls} calls)", file=sys.stderr)
        return done / wall, cpu / done * 1e6
    finally:
        await built.close()


def async_rounds(up: Upstream, builders: Mapping[str, Callable[[Upstream], c.Built]], s: Settings) -> dict[str, Figure]:
    rates = {name: Figure(name, "req/s") for name in builders}
    cpus = {name: Figure(name, "µs CPU/call") for name in builders}
    for r in range(s.rounds):
        for name in rotate(list(builders), r):
            rate, cpu = asyncio.run(_throughput(builders[name], up, s.async_calls, s.max_seconds))
            rates[name].values.append(rate)
            cpus[name].values.append(cpu)
    for name in builders:
        rates[name].note = f"{statistics.median(cpus[name].values):.0f} µs CPU/call"
    return rates


def import_times(s: Settings) -> dict[str, Figure]:
    snippets = {
        "python -c pass": "pass",
        "import llmswitch": "import llmswitch",
        "import llmswitch; llmswitch.OpenAI (first use)": "import llmswitch; llmswitch.OpenAI",
        "import openai": "import openai",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    for code in snippets.values():  # compile the .pyc files outside the timing
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
    raw: dict[str, list[float]] = {name: [] for name in snippets}
    for r in range(s.import_runs):
        for name in rotate(list(snippets), r):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", snippets[name]], check=True, env=env)
            raw[name].append((time.perf_counter() - started) * 1e3)
    base = statistics.median(raw["python -c pass"])
    figures = {}
    for name, values in raw.items():
        fig = Figure(name, "ms")
        fig.values = values if name == "python -c pass" else [v - base for v in values]
        figures[name] = fig
    return figures


def rss_run(up: Upstream, s: Settings) -> dict[str, Any]:
    """A fresh interpreter makes the calls, so nothing measured before weighs on its RSS."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--rss-child", up.base_url("openai"),
                          str(s.rss_calls)], check=True, capture_output=True, text=True,
                         timeout=max(120.0, s.max_seconds * 4))
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def rss_child(base_url: str, calls: int) -> None:
    import llmswitch

    page = os.sysconf("SC_PAGE_SIZE")

    def rss_mib() -> float:
        gc.collect()
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page / 2**20

    client = llmswitch.OpenAI(api_key=c.API_KEY, base_url=base_url)
    marks = sorted({10, min(2000, calls), calls // 4, calls // 2, calls})
    samples: dict[str, float] = {}
    deadline = time.monotonic() + 600
    for i in range(1, calls + 1):
        client.chat.completions.create(model=MODEL, messages=c.MESSAGES)
        if i in marks:
            samples[str(i)] = round(rss_mib(), 2)
        if time.monotonic() > deadline:
            samples["stopped_at"] = i
            break
    client.close()
    print(json.dumps({"calls": calls, "rss_mib": samples}))


def native_rounds(up: Upstream, s: Settings) -> dict[str, Any]:
    """llmswitch over each native adapter vs over the OpenAI adapter, for the same reply."""
    protocols = ["openai", *[p for p in native_protocols() if (p, "json") in up.canned]]
    usable: list[str] = []
    skipped: dict[str, str] = {}
    for protocol in protocols:  # one checked call each: a native adapter in progress may not work yet
        try:
            for stream in (False, True):
                built = c.llmswitch_native(up, protocol, stream=stream)
                result = built.call()
                built.close()
                if stream and not result:
                    raise AssertionError("stream gave no chunks")
                if not stream and "the quick model" not in (result.choices[0].message.content or ""):
                    raise AssertionError(f"unexpected content {result.choices[0].message.content!r}")
            usable.append(protocol)
        except Exception as exc:
            skipped[protocol] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    out: dict[str, Any] = {"skipped": skipped}
    if "openai" not in usable:
        return out
    for kind, calls, stream in (("plain", s.native_plain, False), ("stream", s.native_stream, True)):
        e2e = {p: partial(c.llmswitch_native, protocol=p, stream=stream) for p in usable}
        parse = {p: partial(c.adapter_parse, protocol=p, stream=stream) for p in usable}
        out[kind] = sync_rounds(up, e2e, calls, s, counts=False, unit="µs CPU/call", warmup=10)
        out[f"{kind}_parse"] = sync_rounds(up, parse, calls * 5, s, counts=False, unit="µs CPU/parse", warmup=20)
    return out


# -- reporting ------------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    from importlib.metadata import version

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    versions: dict[str, str | None] = {}
    for dist in ("llmswitch", "httpx2", "openai", "aiohttp", "pydantic", "pydantic-core"):
        try:
            versions[dist] = version(dist)
        except Exception:
            versions[dist] = None
    commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "versions": versions, "commit": commit or None}


class Table:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.verdicts: list[tuple[str, bool, str]] = []

    def section(self, title: str, figures: Iterable[Figure], baseline: str | None, *, higher_better: bool = False,
                fmt: str = "{:,.1f}") -> None:
        figs = list(figures)
        base = next((f.median for f in figs if f.name == baseline), None)
        self.lines += ["", title, "-" * len(title)]
        for f in figs:
            ratio = ""
            if base:
                ratio = f"{f.median / base:5.2f}×"
            spread = f"[{fmt.format(min(f.values))} … {fmt.format(max(f.values))}]" if len(f.values) > 1 else ""
            note = f"  {f.note}" if f.note else ""
            self.lines.append(f"  {f.name:<48} {fmt.format(f.median):>10} {f.unit:<12} {ratio:>7}  {spread}{note}")

    def budget(self, what: str, ok: bool, detail: str) -> None:
        self.verdicts.append((what, ok, detail))

    def render(self) -> str:
        out = list(self.lines)
        out += ["", "Budgets", "-------"]
        out += [f"  {'PASS' if ok else 'FAIL'}  {what}: {detail}" for what, ok, detail in self.verdicts]
        return "\n".join(out)


def ratio(figs: dict[str, Figure], name: str, baseline: str) -> float:
    return figs[name].median / figs[baseline].median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and calls (a smoke run, ~1 min)")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--only", default="plain,machinery,stream,async,import,rss,native",
                        help="comma-separated subset of: plain,machinery,stream,async,import,rss,native")
    parser.add_argument("--upstream", default="auto", choices=["auto", "nginx", "asyncio"])
    parser.add_argument("--rss-child", nargs=2, metavar=("BASE_URL", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child[0], int(args.rss_child[1]))
        return 0
    signal.signal(signal.SIGTERM, exit_on_signal)
    s = QUICK if args.quick else Settings()
    if args.rounds:
        s.rounds = args.rounds
    only = set(args.only.split(","))
    table = Table()
    results: dict[str, Any] = {"machine": machine(), "settings": s.__dict__,
                               "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with Upstream(kind=args.upstream) as up:
        results["upstream"] = up.kind
        chunks = up.chunks("openai")
        print(f"upstream: {up.kind} on 127.0.0.1:{up.port}; {s.rounds} rounds; a stream carries {chunks} chunks",
              file=sys.stderr)

        if "plain" in only:
            print("non-streaming CPU per call …", file=sys.stderr)
            figs = sync_rounds(up, {"raw httpx2 (POST + json.loads)": c.httpx2_plain, "openai.OpenAI": c.openai_plain,
                                    "llmswitch.OpenAI": c.llmswitch_plain}, s.plain_calls, s, counts=False,
                               unit="µs CPU/call")
            table.section("Non-streaming: CPU per call (sequential)", figs.values(), "raw httpx2 (POST + json.loads)")
            r = ratio(figs, "llmswitch.OpenAI", "raw httpx2 (POST + json.loads)")
            table.budget("non-streaming CPU ≤ 1.5× raw httpx2", r <= 1.5, f"{r:.2f}×")
            results["plain"] = figs

        if "machinery" in only:
            print("openai's machinery (raw response, parse) …", file=sys.stderr)
            figs = sync_rounds(up, {"openai.OpenAI": c.openai_machinery, "llmswitch.OpenAI": c.llmswitch_machinery},
                               max(s.plain_calls // 2, 1), s, counts=False, unit="µs CPU/pair")
            table.section("openai's machinery: with_raw_response.create().parse() + parse(), CPU per pair",
                          figs.values(), "openai.OpenAI")
            r = ratio(figs, "llmswitch.OpenAI", "openai.OpenAI")
            table.budget("openai-machinery paths ≤ openai's own + 10%", r <= 1.10, f"{r:.2f}×")
            results["machinery"] = figs

        if "stream" in only:
            print("streaming CPU per chunk …", file=sys.stderr)
            figs = sync_rounds(up, {"raw httpx2 (iter_lines + json.loads)": c.httpx2_stream_lines,
                                    "httpx2 client.sse (+ json)": c.httpx2_stream_sse,
                                    "openai.OpenAI stream": c.openai_stream,
                                    "llmswitch.OpenAI stream": c.llmswitch_stream}, s.stream_calls, s, counts=True,
                               unit="µs CPU/chunk", warmup=5)
            table.section(f"Streaming: CPU per chunk ({chunks} chunks per stream)", figs.values(),
                          "raw httpx2 (iter_lines + json.loads)")
            r = ratio(figs, "llmswitch.OpenAI stream", "raw httpx2 (iter_lines + json.loads)")
            table.budget("streaming CPU per chunk ≤ 2.5× raw httpx2 SSE parsing", r <= 2.5, f"{r:.2f}×")
            results["stream"] = figs

        if "async" in only:
            print(f"async throughput at {CONCURRENCY} concurrent calls …", file=sys.stderr)
            builders = {"raw aiohttp": c.aiohttp_raw, "raw httpx2.AsyncClient": c.httpx2_async,
                        "raw httpx2.AsyncClient + AiohttpTransport": c.httpx2_async_aiohttp,
                        "openai.AsyncOpenAI": c.openai_async,
                        "openai.AsyncOpenAI + DefaultAioHttpClient": c.openai_async_aiohttp,
                        "llmswitch.AsyncOpenAI (default transport)": c.llmswitch_async,
                        "llmswitch.AsyncOpenAI + AiohttpTransport": c.llmswitch_async_aiohttp}
            figs = async_rounds(up, builders, s)
            table.section(f"Async throughput at {CONCURRENCY} concurrent calls ({s.async_calls} calls/round)",
                          figs.values(), "raw aiohttp", higher_better=True, fmt="{:,.0f}")
            for name in ("llmswitch.AsyncOpenAI (default transport)", "llmswitch.AsyncOpenAI + AiohttpTransport"):
                r = ratio(figs, name, "raw aiohttp")
                table.budget(f"async throughput ≥ 0.5× raw aiohttp — {name}", r >= 0.5, f"{r:.2f}×")
            results["async"] = figs

        if "import" in only:
            print("import time …", file=sys.stderr)
            figs = import_times(s)
            table.section("Import time (median wall time of a fresh interpreter, minus `python -c pass`)",
                          figs.values(), None)
            value = figs["import llmswitch"].median
            table.budget("`import llmswitch` ≤ 150 ms over interpreter start-up", value <= 150, f"{value:.1f} ms")
            first = figs["import llmswitch; llmswitch.OpenAI (first use)"].median
            table.lines.append(f"  (first use loads the client and openai's types: {first:.0f} ms; "
                               f"`import openai` alone: {figs['import openai'].median:.0f} ms)")
            results["import"] = figs

        if "rss" in only:
            print(f"RSS over {s.rss_calls:,} calls …", file=sys.stderr)
            rss = rss_run(up, s)
            samples = rss["rss_mib"]
            marks = [k for k in samples if k.isdigit()]
            title = f"RSS of llmswitch.OpenAI over {s.rss_calls:,} sequential calls (fresh process)"
            table.lines += ["", title, "-" * len(title)]
            table.lines += [f"  after {int(k):>6,} calls: {samples[k]:8.2f} MiB" for k in marks]
            start = samples[str(min(2000, s.rss_calls))]
            growth = samples[str(s.rss_calls)] - start
            per_call = growth * 2**20 / max(s.rss_calls - min(2000, s.rss_calls), 1)
            table.budget(f"RSS flat over {s.rss_calls:,} calls (≤ 1 MiB growth after the first 2,000)",
                         growth <= 1.0, f"{growth:+.2f} MiB ({per_call:+.0f} B/call)")
            results["rss"] = rss

        if "native" in only:
            print("native adapters vs the OpenAI-compatible path …", file=sys.stderr)
            native = native_rounds(up, s)
            for kind in ("plain", "stream"):
                if kind not in native:
                    continue
                figs = native[kind]
                parse = native[f"{kind}_parse"]
                for name, fig in figs.items():
                    fig.note = f"translation alone {parse[name].median:,.1f} µs"
                label = "non-streaming call" if kind == "plain" else f"streamed call (~{chunks} chunks)"
                table.section(f"Native adapters: llmswitch CPU per {label}, vs the OpenAI adapter",
                              figs.values(), "openai")
                for name in figs:
                    if name != "openai":
                        r = ratio(figs, name, "openai")
                        table.budget(f"native translation ≤ 15% CPU over OpenAI path — {name} ({kind})",
                                     r <= 1.15, f"{(r - 1) * 100:+.1f}%")
            if native["skipped"]:
                table.lines.append("  skipped: " + "; ".join(f"{k} ({v})" for k, v in native["skipped"].items()))
            results["native"] = native

    report = table.render()
    print(report)
    RESULTS.mkdir(exist_ok=True)
    results["table"] = report
    payload = json.dumps(results, default=lambda o: o.__dict__, indent=1, ensure_ascii=False)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"bench-{stamp}.json").write_text(payload)
    (RESULTS / "latest.json").write_text(payload)
    (RESULTS / "latest.txt").write_text(report + "\n")
    print(f"\nresults: {RESULTS / f'bench-{stamp}.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
