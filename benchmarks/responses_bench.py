"""What the Responses bridge costs per call, beside the chat call it wraps.

For each protocol, side by side in one run against the benchmark upstream (see README.md):

- ``chat``: ``llmswitch.OpenAI(config=…).chat.completions.create`` end to end over loopback, CPU per
  call (plain) or per whole stream (67 chunks);
- ``bridge``: the work the bridge adds to that call, with no I/O: ``to_chat`` on a Responses body
  (string input, instructions, one function tool), then ``from_chat`` on the adapter's answer and
  the Response encoded as JSON (plain), or ``ResponseEvents`` over the adapter's chunks with every
  event encoded as an SSE frame (streamed). The store is live (LRU, 1,000 entries).

``--e2e`` adds the whole calls through openai's machinery and llmswitch's routing transport, side by
side: ``responses.create`` against ``chat.completions.with_raw_response.create(...).parse()`` (the
transport path of a chat call), plain and streamed, on the same target.

The budget (issue #10) is bridge ≤ 15 % of chat. Medians over rounds, contestants interleaved;
every loop is bounded in count and time. Usage: ``python benchmarks/responses_bench.py [--rounds N]
[--protocols openai,anthropic,…]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic_core

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contestants as c
from bench import cpu_per_unit
from upstream import Upstream

from llmswitch.responses import ResponseEvents, ResponseStore, from_chat, to_chat

BODY = {"input": "Say something.", "instructions": "Be brief.",
        "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}]}


def bridge_plain(up: Upstream, protocol: str) -> Callable[[], Any]:
    completion = c.adapter_parse(up, protocol, stream=False).call()
    store = ResponseStore()
    body = {**BODY, "model": "m"}

    def call() -> Any:
        _, ctx = to_chat(body, store)
        return pydantic_core.to_json(from_chat(completion, ctx))
    return call


def bridge_stream(up: Upstream, protocol: str) -> Callable[[], Any]:
    chunks = _chunks(up, protocol)
    store = ResponseStore()
    body = {**BODY, "model": "m", "stream": True}

    def call() -> Any:
        _, ctx = to_chat(body, store)
        bridge = ResponseEvents(ctx)
        out = []
        for chunk in chunks:
            for event in bridge.feed(chunk):
                out.append(b"event: " + event["type"].encode() + b"\ndata: " + pydantic_core.to_json(event) + b"\n\n")
        for event in bridge.close():
            out.append(b"event: " + event["type"].encode() + b"\ndata: " + pydantic_core.to_json(event) + b"\n\n")
        return len(out)
    return call


def _chunks(up: Upstream, protocol: str) -> list[dict[str, Any]]:
    """The adapter's chat chunks for the canned stream, as the chat core hands them over."""
    import httpx2

    from llmswitch.adapters import adapter_class
    from llmswitch.config import load
    from llmswitch.streaming import decoder_for

    settings = load({"providers": {"p": c.provider_spec(up, protocol, stream=True)}})
    adapter = adapter_class(settings.providers["p"].preset.protocol)(settings.providers["p"])
    translator = adapter.stream_translator(httpx2.Response(200, request=httpx2.Request("POST", "http://x")), "m")
    decoder = decoder_for(adapter.stream_format)
    body = up.canned[(protocol, up.stream_fmt(protocol))].body
    chunks = [chunk for event in decoder.feed(body) + decoder.close() for chunk in translator.feed(event)]
    return chunks + translator.close()


def e2e(up: Upstream, protocol: str, *, stream: bool, responses: bool) -> c.Built:
    """A whole call through openai's client and the routing transport."""
    import llmswitch

    spec = c.provider_spec(up, protocol, stream=stream)
    if protocol == "openai":
        spec["responses"] = False  # the canned upstream speaks chat completions only: bridge it too
    client = llmswitch.OpenAI(config={"providers": {"p": spec}})
    model = f"p/{c.model_for(protocol)}"
    if responses:
        def call() -> Any:
            if stream:
                return sum(1 for _ in client.responses.create(model=model, input="Say something.", stream=True))
            return client.responses.create(model=model, input="Say something.")
    else:
        raw = client.chat.completions.with_raw_response

        def call() -> Any:
            if stream:
                return sum(1 for _ in raw.create(model=model, messages=c.MESSAGES, stream=True).parse())
            return raw.create(model=model, messages=c.MESSAGES).parse()
    return c.Built(call, client.close)


def side_by_side(first: Callable[[], Any], second: Callable[[], Any], rounds: int, calls: tuple[int, int],
                 ) -> tuple[list[float], list[float]]:
    """CPU µs per call of two contestants, interleaved round by round (alternating which goes first)."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(5):
        first()
        second()
    for n in range(rounds):
        pair = [(first, a, calls[0]), (second, b, calls[1])]
        for run, into, count in (pair if n % 2 == 0 else pair[::-1]):
            into.append(cpu_per_unit(run, count, max_seconds=30.0) * 1e6)
    return a, b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--protocols", default="openai,anthropic,gemini,dashscope,hunyuan")
    parser.add_argument("--calls", type=int, default=400, help="end-to-end chat calls per round")
    parser.add_argument("--e2e", action="store_true", help="also whole calls through openai's client")
    args = parser.parse_args()
    protocols = args.protocols.split(",")
    with Upstream() as up:
        print(f"upstream: {up.kind}", file=sys.stderr)
        print(f"{'protocol':<10} {'kind':<6} {'chat µs/call':>13} {'bridge µs/call':>15} {'bridge/chat':>12}")
        worst = 0.0
        for protocol in protocols:
            for stream in (False, True):
                chat = c.llmswitch_native(up, protocol, stream=stream)
                bridge = (bridge_stream if stream else bridge_plain)(up, protocol)
                chat_cpu, bridge_cpu = side_by_side(chat.call, bridge, args.rounds, (args.calls, args.calls * 5))
                chat.close()
                chat_med, bridge_med = statistics.median(chat_cpu), statistics.median(bridge_cpu)
                share = bridge_med / chat_med
                worst = max(worst, share)
                kind = "stream" if stream else "plain"
                print(f"{protocol:<10} {kind:<6} {chat_med:>13.1f} {bridge_med:>15.1f} {share:>11.1%}"
                      f"   [bridge {min(bridge_cpu):.1f} … {max(bridge_cpu):.1f}]")
        print(f"worst bridge/chat: {worst:.1%} (budget ≤ 15%)")
        if args.e2e:
            print(f"\n{'protocol':<10} {'kind':<6} {'chat µs/call':>13} {'responses µs/call':>18} {'ratio':>7}")
            for protocol in protocols:
                for stream in (False, True):
                    chat = e2e(up, protocol, stream=stream, responses=False)
                    resp = e2e(up, protocol, stream=stream, responses=True)
                    chat_cpu, resp_cpu = side_by_side(chat.call, resp.call, args.rounds, (args.calls, args.calls))
                    chat.close()
                    resp.close()
                    ratio = statistics.median(resp_cpu) / statistics.median(chat_cpu)
                    print(f"{protocol:<10} {'stream' if stream else 'plain':<6} {statistics.median(chat_cpu):>13.1f} "
                          f"{statistics.median(resp_cpu):>18.1f} {ratio:>6.2f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
