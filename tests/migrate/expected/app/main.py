"""Runs each feature once and prints what came back, as JSON."""

import asyncio
import json

from .chat import ask
from .embeddings import embed
from .streaming import stream_answer


def main() -> None:
    results = {
        "main": ask("What is a circuit breaker?"),
        "cheap": ask("Summarise failover", kind="cheap"),
        "qwen": ask("Say hello", kind="qwen"),
        "vectors": [len(v) for v in embed(["one", "two"])],
        "stream": asyncio.run(stream_answer("Count to three")),
    }
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
