"""Async fan-out: many prompts across several providers at once, with bounded concurrency.

``llmswitch.AsyncOpenAI`` is the awaitable twin of ``OpenAI``. Each provider here is an
in-process mock with its own latency, so the wall time shows the calls overlapping. No keys,
no network.

    python examples/async_fanout.py
"""

from __future__ import annotations

import asyncio
import time

import llmswitch

CONFIG = {
    "providers": {
        "fast": {"type": "mock", "latency": 0.05},
        "medium": {"type": "mock", "latency": 0.1},
        "slow": {"type": "mock", "latency": 0.2},
    },
}
MODELS = ["fast/mock-small", "medium/mock-small", "slow/mock-large"]
PROMPTS = ["What is failover?", "What is a circuit breaker?", "What is a retry budget?"]


async def ask(client: llmswitch.AsyncOpenAI, gate: asyncio.Semaphore, model: str, prompt: str) -> str:
    async with gate:
        response = await client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}])
    info = llmswitch.route_info(response)
    served = f"{info.provider}/{info.model}" if info else model
    return f"{served:<20} {response.choices[0].message.content}"


async def main() -> None:
    gate = asyncio.Semaphore(8)  # at most 8 requests in flight
    async with llmswitch.AsyncOpenAI(config=CONFIG) as client:
        await ask(client, gate, MODELS[0], "warm-up")  # the first call loads adapters and opens connections
        started = time.perf_counter()
        answers = await asyncio.gather(*(ask(client, gate, m, p) for p in PROMPTS for m in MODELS))
        elapsed = time.perf_counter() - started
    for line in answers:
        print(line)
    serial = len(PROMPTS) * sum(CONFIG["providers"][m.split("/")[0]]["latency"] for m in MODELS)  # type: ignore[index]
    print(f"{len(answers)} calls in {elapsed:.2f}s (one after another: at least {serial:.2f}s)")


if __name__ == "__main__":
    asyncio.run(main())
