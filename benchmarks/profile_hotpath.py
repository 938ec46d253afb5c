"""Where llmswitch's CPU goes on the hot path: cProfile over sequential calls to the canned upstream.

    python benchmarks/profile_hotpath.py [--calls 2000] [--streams 200] [--top 25] [--async]

Prints, for the non-streaming and the streaming call, the share of CPU by package (llmswitch,
httpx2, openai/pydantic, stdlib …) and the functions with the most time of their own. The same
work by raw httpx2 is profiled alongside, so the difference is what llmswitch adds. Profiles are
also written to benchmarks/results/*.prof for snakeviz / pstats.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import contestants as c  # noqa: E402
from upstream import Upstream  # noqa: E402

RESULTS = HERE / "results"
_PACKAGES = ("llmswitch", "httpx2", "httpcore", "h11", "openai", "pydantic_core", "pydantic", "aiohttp",
             "anyio", "json", "asyncio", "ssl", "socket", "selectors", "typing", "email", "http", "urllib")


def package_of(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C)"
    parts = Path(filename).parts
    for name in _PACKAGES:
        if name in parts:
            return name
    return "stdlib/other" if "site-packages" not in parts else parts[parts.index("site-packages") + 1]


def profile(call: Callable[[], Any], n: int) -> pstats.Stats:
    for _ in range(20):
        call()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        call()
    profiler.disable()
    return pstats.Stats(profiler)


def report(title: str, stats: pstats.Stats, n: int, top: int, per: str = "call") -> str:
    out = io.StringIO()
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    by_package: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in raw.items():
        by_package[package_of(filename)] += tottime
    print(f"\n== {title}: {total / n * 1e6:,.0f} µs profiled CPU per {per} ==", file=out)
    print("  own time by package:", file=out)
    for name, t in sorted(by_package.items(), key=lambda kv: -kv[1])[:12]:
        print(f"    {name:<16} {t / total * 100:5.1f}%  {t / n * 1e6:8.1f} µs/{per}", file=out)
    print(f"  top {top} functions by own time (µs per {per}; cumulative in brackets):", file=out)
    rows = sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]
    for (filename, line, func), (_, ncalls, tottime, cumtime, _) in rows:
        where = f"{package_of(filename)}:{Path(filename).name}:{line}" if not filename.startswith("~") else "C"
        print(f"    {tottime / n * 1e6:7.1f} [{cumtime / n * 1e6:7.1f}]  {ncalls / n:6.1f}×  {func}  ({where})",
              file=out)
    return out.getvalue()


def cumulative(stats: pstats.Stats, n: int, needles: list[str]) -> str:
    """Inclusive time of selected llmswitch functions: the cost of each layer, per call."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    lines = ["  inclusive time of selected layers (µs per call):"]
    for needle in needles:
        best = max(((k, v) for k, v in raw.items() if needle in f"{Path(k[0]).name}:{k[2]}"),
                   key=lambda kv: kv[1][3], default=None)
        if best is not None:
            _, (_, ncalls, _, cumtime, _) = best
            lines.append(f"    {cumtime / n * 1e6:8.1f}  {needle}  ({ncalls / n:.1f}× per call)")
    return "\n".join(lines) + "\n"


LAYERS = ["client.py:_chat", "client.py:_plan", "router.py:plan", "client.py:_wire", "transport.py:send",
          "transport.py:build", "client.py:_parse", "client.py:_finish", "client.py:_build", "_stream.py:feed",
          "_stream.py:_deliver", "_stream.py:track", "streaming.py:feed", "openai.py:feed",
          "_client.py:send", "_client.py:build_request", "main.py:model_validate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--async", dest="async_", action="store_true", help="also profile AsyncOpenAI at 64 in flight")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    with Upstream() as up:
        jobs: list[tuple[str, Callable[[Upstream], c.Built], int, str]] = [
            ("raw httpx2 POST + json.loads", c.httpx2_plain, args.calls, "call"),
            ("llmswitch.OpenAI non-streaming", c.llmswitch_plain, args.calls, "call"),
            ("raw httpx2 stream (iter_lines + json.loads)", c.httpx2_stream_lines, args.streams, "stream"),
            ("llmswitch.OpenAI stream", c.llmswitch_stream, args.streams, "stream"),
        ]
        for title, build, n, per in jobs:
            built = build(up)
            stats = profile(built.call, n)
            built.close()
            stats.dump_stats(str(RESULTS / f"profile-{title.split()[0]}-{per}.prof"))
            print(report(title, stats, n, args.top, per))
            if title.startswith("llmswitch"):
                print(cumulative(stats, n, LAYERS))
        if args.async_:
            for title, build in (("llmswitch.AsyncOpenAI default", c.llmswitch_async),
                                 ("llmswitch.AsyncOpenAI + AiohttpTransport", c.llmswitch_async_aiohttp)):
                stats = asyncio.run(_profile_async(build, up, args.calls))
                print(report(title + " (64 in flight)", stats, args.calls, args.top))


async def _profile_async(build: Callable[[Upstream], c.Built], up: Upstream, n: int) -> pstats.Stats:
    built = build(up)
    await asyncio.gather(*(built.call() for _ in range(64)))
    profiler = cProfile.Profile()
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await built.call()

    profiler.enable()
    await asyncio.gather(*(worker() for _ in range(64)))
    profiler.disable()
    await built.close()
    return pstats.Stats(profiler)


if __name__ == "__main__":
    main()
