"""The built-in demo config: three in-process mock providers and a failover route.

The CLI falls back to it when no providers file is found, so ``llmswitch compare "…"`` works on
a fresh machine with no keys and no network. The providers differ in latency, streaming pace,
completion tokens and price, so a comparison has something to show; the route's primary is
scripted to fail its first request, so failover (in ``chat``) and a retry (in ``compare``) are
visible. Mock options are those of the ``mock`` preset (``catalog/compat.py``): ``latency`` before
the answer, ``completion_tokens`` reported in usage, ``faults`` handed out one per request
(``"500"`` fails once; ``"slow:seconds=S*N"`` paces the next N streams at S seconds per event).
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEMO_CONFIG", "demo_config"]

_FOREVER = 1_000_000  # "*N" repeats a fault N times: the pace applies to every later stream

DEMO_CONFIG: dict[str, Any] = {
    "providers": {
        "swift": {
            "type": "mock",
            "latency": 0.05,
            "completion_tokens": 24,
            "faults": ["500", f"slow:seconds=0.01*{_FOREVER}"],  # primary: fails once, then fast
            "models": ["swift-1"],
            "prices": {"swift-1": {"input": 1.0, "output": 4.0, "currency": "USD"}},
        },
        "steady": {
            "type": "mock",
            "latency": 0.15,
            "completion_tokens": 40,
            "faults": [f"slow:seconds=0.03*{_FOREVER}"],
            "models": ["steady-pro"],
            "prices": {"steady-pro": {"input": 4.0, "output": 12.0, "currency": "CNY"}},
        },
        "thrifty": {
            "type": "mock",
            "latency": 0.3,
            "completion_tokens": 64,
            "faults": [f"slow:seconds=0.05*{_FOREVER}"],
            "models": ["thrifty-mini"],
            "prices": {"thrifty-mini": {"input": 0.3, "output": 0.6, "currency": "CNY"}},
        },
    },
    "routes": {
        "chat": {
            "strategy": "fallback",
            "targets": ["swift/swift-1", "steady/steady-pro", "thrifty/thrifty-mini"],
        },
    },
    "default_route": "chat",
    # short backoff so a retried demo call does not sit idle for half a second
    "defaults": {"retry": {"backoff": {"initial": 0.05, "max": 0.2}}},
}


def demo_config() -> dict[str, Any]:
    """A fresh deep copy, safe to modify."""
    import copy

    return copy.deepcopy(DEMO_CONFIG)
