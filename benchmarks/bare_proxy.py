"""The floor for a Python gateway: aiohttp's server and client with nothing between them.

    python benchmarks/bare_proxy.py UPSTREAM_URL PORT

Each ``POST /v1/chat/completions`` is parsed as JSON, re-encoded and POSTed to ``UPSTREAM_URL``
over one pooled ``aiohttp.ClientSession``; the answer is parsed and re-encoded back (a gateway must
at least read both bodies to route and account). No routing, keys, limits, metrics or logs: what
``llmswitch serve`` costs beyond this is ours. Runs on uvloop, as the gateway does.
"""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp
import uvloop
from aiohttp import web


async def main(upstream: str, port: int) -> None:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000))

    async def chat(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        async with session.post(upstream, data=json.dumps(body).encode(),
                                headers={"content-type": "application/json", "authorization": "Bearer bench"}) as reply:
            answer = json.loads(await reply.read())
        return web.Response(body=json.dumps(answer).encode(), content_type="application/json")

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=2048).start()
    try:
        await asyncio.Event().wait()
    finally:
        await session.close()
        await runner.cleanup()


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1], int(sys.argv[2])))
