"""A failover route across three providers, each speaking its own protocol.

The route ``chat`` tries an OpenAI-compatible endpoint, then DeepSeek, then Anthropic's native
Messages API. Here the first is rate-limited and the second is down, so the third answers; the
next call finds the first healthy again. ``llmswitch.route_info`` tells who served each call and
what was tried. Runs against the loopback mock server: no keys, no network.

    python examples/failover_route.py
"""

from __future__ import annotations

import llmswitch
from llmswitch.testing import MockServer


def describe(info: llmswitch.RouteInfo | None) -> str:
    if info is None:
        return "no route info"
    tried = ", ".join(f"{a.target} → {type(a.error).__name__ if a.error else 'ok'}" for a in info.attempts)
    return f"served by {info.provider}/{info.model} after {info.fallbacks} fallback(s) [{tried}]"


def main() -> None:
    with MockServer({"primary": "openai", "secondary": "openai", "claude": "anthropic"}) as server:
        config = {
            "providers": {
                "primary": {"type": "openai", "api_key": "sk-test", "base_url": server.base_url("primary")},
                "secondary": {"type": "deepseek", "api_key": "sk-test", "base_url": server.base_url("secondary")},
                "claude": {"type": "anthropic", "api_key": "sk-ant-test", "base_url": server.base_url("claude")},
            },
            "routes": {
                "chat": {
                    "strategy": "fallback",
                    "targets": ["primary/gpt-4o-mini", "secondary/deepseek-chat", "claude/claude-3-5-haiku-latest"],
                    "fallback_on": ["rate_limit", "server_error", "timeout", "connection"],
                },
            },
        }
        server.mount("primary").fail("429:retry-after=0")  # rate-limited once
        server.mount("secondary").fail("500")  # down once
        messages = [{"role": "user", "content": "Explain failover in one sentence"}]

        with llmswitch.OpenAI(config=config) as client:
            first = client.chat.completions.create(model="chat", messages=messages)
            print(f"1st call: {first.choices[0].message.content}")
            print(f"          {describe(llmswitch.route_info(first))}")

            second = client.chat.completions.create(model="chat", messages=messages, stream=True)
            text = "".join(chunk.choices[0].delta.content or "" for chunk in second if chunk.choices)
            print(f"2nd call (streamed): {text}")
            print(f"          {describe(llmswitch.route_info(second))}")


if __name__ == "__main__":
    main()
