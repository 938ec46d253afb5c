"""Running the gateway: one event loop per process, SIGTERM drains, ``--workers N`` forks N.

A single worker serves in this process. Several workers are forked children, each with its own
router and listening socket on the same port (``SO_REUSEPORT``: the kernel spreads connections
evenly); the parent forwards SIGTERM/SIGINT and waits for them. State (breakers, limits, metrics)
is per process until a shared store is configured.

Draining on SIGTERM (aiohttp's runner): the listening socket closes at once (new connections are
refused), idle keep-alive connections close, in-flight requests and streams get ``grace`` seconds
to finish, and what is left after that is cancelled (their upstream requests are closed too).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import sys
from types import FrameType

from aiohttp import web

from ..config import Settings
from .app import Gateway

__all__ = ["serve"]

log = logging.getLogger("llmswitch.gateway")


async def _serve(settings: Settings, host: str, port: int, *, reuse_port: bool, access_log: bool) -> None:
    gateway = Gateway(settings, access_log=access_log)
    grace = settings.config.gateway.grace_period
    runner = web.AppRunner(gateway.app(), handler_cancellation=True, shutdown_timeout=grace, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_port=reuse_port, backlog=2048)
    await site.start()
    # what exists now (config, router, catalog, imported modules) lives as long as the process:
    # keep the cyclic collector from scanning it again on every full collection
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("listening", extra={"fields": {"url": f"http://{host}:{port}/v1", "pid": os.getpid(),
                                            "source": settings.source}})
    await stop.wait()
    gateway.draining = True
    log.info("draining", extra={"fields": {"pid": os.getpid(), "grace_seconds": grace}})
    await runner.cleanup()
    log.info("stopped", extra={"fields": {"pid": os.getpid()}})


def _run(settings: Settings, host: str, port: int, reuse_port: bool, access_log: bool) -> None:
    try:
        if os.environ.get("LLMSWITCH_LOOP") == "asyncio":
            raise ImportError("asyncio's own loop asked for")
        import uvloop
    except ImportError:
        asyncio.run(_serve(settings, host, port, reuse_port=reuse_port, access_log=access_log))
    else:
        uvloop.run(_serve(settings, host, port, reuse_port=reuse_port, access_log=access_log))


def serve(settings: Settings, *, host: str = "127.0.0.1", port: int = 8080, workers: int = 1,
          access_log: bool = True) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit code."""
    if workers <= 1:
        _run(settings, host, port, False, access_log)
        return 0
    context = multiprocessing.get_context("fork")  # children inherit the loaded settings, nothing started yet
    children = [context.Process(target=_run, args=(settings, host, port, True, access_log), daemon=False)
                for _ in range(workers)]
    for child in children:
        child.start()

    def forward(signum: int, frame: FrameType | None) -> None:
        for child in children:
            if child.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()
    failed = [c.exitcode for c in children if c.exitcode]
    if failed:
        print(f"llmswitch serve: {len(failed)} worker(s) exited with an error", file=sys.stderr)
    return 1 if failed else 0
