"""What OpenTelemetry costs per call: ``python benchmarks/otel_bench.py [--quick]``.

The same llmswitch client call, side by side in one run against the local upstream (see
upstream.py): with tracing off, and with ``llmswitch.instrument()`` onto the OpenTelemetry SDK with
an in-memory span exporter (SimpleSpanProcessor: spans are exported in the calling thread, so their
cost is all counted) and an in-memory metric reader. "sdk floor" is the client plus the same amount of
SDK work done directly (two spans with as many attributes, three histogram records): the least any
tracing of a call costs with the Python SDK. Also: the JSON call log at INFO, to a handler that
formats and drops it. Figures are CPU microseconds per call (process CPU time over sequential
calls; a stream is one call of 67 chunks), the median of several rounds taken in rotating order.
The budget: tracing adds at most 10% CPU per call.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import contestants as c  # noqa: E402
from bench import QUICK, Figure, Settings, cpu_per_unit, rotate  # noqa: E402
from upstream import Upstream  # noqa: E402


class _Drop(logging.Handler):
    """Formats every record (as a real handler would) and keeps none."""

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)


def _sdk() -> tuple[Any, Any, Any]:
    """OpenTelemetry SDK providers exporting to memory: (tracer provider, meter provider, span exporter)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    return tracer_provider, MeterProvider(metric_readers=[InMemoryMetricReader()]), spans


def _floor(build: Callable[[Upstream], c.Built]) -> Callable[[Upstream], c.Built]:
    """``build`` plus the SDK work our tracing asks for, done directly: two spans (call, attempt) with as many
    attributes as ours and three histogram records. What tracing costs at the least, whoever writes it."""

    def direct(up: Upstream) -> c.Built:
        from opentelemetry import trace

        tracer_provider, meter_provider, spans = _sdk()
        tracer = tracer_provider.get_tracer("floor")
        histogram = meter_provider.get_meter("floor").create_histogram("h")
        call_attrs = {f"call.{i}": "value" for i in range(11)}
        attempt_attrs = {f"attempt.{i}": "value" for i in range(14)}
        metric_attrs = {f"metric.{i}": "value" for i in range(4)}
        built = build(up)
        calls = 0

        def call() -> object:
            nonlocal calls
            calls += 1
            if calls % 500 == 0:
                spans.clear()
            result = built.call()
            span = tracer.start_span("call", attributes=call_attrs)
            tracer.start_span("attempt", trace.set_span_in_context(span), attributes=attempt_attrs).end()
            span.end()
            for value in (0.5, 10, 20):
                histogram.record(value, metric_attrs)
            return result

        return c.Built(call, built.close)

    return direct


def _otel(build: Callable[[Upstream], c.Built]) -> Callable[[Upstream], c.Built]:
    """``build`` with tracing on: clients made after instrument() are traced."""

    def traced(up: Upstream) -> c.Built:
        from llmswitch import telemetry

        tracer_provider, meter_provider, spans = _sdk()
        telemetry.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
        try:
            built = build(up)
        finally:
            telemetry.uninstrument()
        calls = 0

        def call() -> object:
            nonlocal calls
            calls += 1
            if calls % 500 == 0:
                spans.clear()  # bounded memory; clearing is not what we measure
            return built.call()

        def close() -> None:
            built.close()
            assert spans.get_finished_spans() or calls % 500 == 0, "tracing was not on"
            tracer_provider.shutdown()
            meter_provider.shutdown()

        return c.Built(call, close)

    return traced


def _logged(build: Callable[[Upstream], c.Built]) -> Callable[[Upstream], c.Built]:
    def logged(up: Upstream) -> c.Built:
        logger = logging.getLogger("llmswitch.calls")
        handler = _Drop()
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        built = build(up)

        def close() -> None:
            built.close()
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)

        return c.Built(built.call, close)

    return logged


def measure(up: Upstream, builders: dict[str, Callable[[Upstream], c.Built]], calls: int, s: Settings,
            batch: int) -> dict[str, Figure]:
    """Per round, the contestants take turns in small batches (rotating who goes first), so load from
    elsewhere on the machine lands on all of them alike; a round's figure is CPU over its calls."""
    figures = {name: Figure(name, "µs CPU/call") for name in builders}
    built = {name: build(up) for name, build in builders.items()}
    try:
        for b in built.values():
            for _ in range(30):  # connections, lazy imports, caches
                b.call()
        for r in range(s.rounds):
            spent = dict.fromkeys(built, 0.0)
            deadline = time.monotonic() + s.max_seconds
            for turn in range(max(calls // batch, 1)):
                for name in rotate(list(built), r + turn):
                    spent[name] += cpu_per_unit(built[name].call, batch, s.max_seconds) * batch
                if time.monotonic() > deadline:
                    print(f"  (time cap: {(turn + 1) * batch}/{calls} calls)", file=sys.stderr)
                    calls = (turn + 1) * batch
                    break
            for name in built:
                figures[name].values.append(spent[name] / max(calls // batch, 1) / batch * 1e6)
    finally:
        for b in built.values():
            b.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3 rounds, fewer calls")
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    s = QUICK if args.quick else Settings()
    if args.rounds:
        s.rounds = args.rounds
    with Upstream() as up:
        print(f"upstream: {up.kind}; {s.rounds} rounds")
        for label, build, calls in (("plain", c.llmswitch_plain, s.plain_calls),
                                    ("stream", c.llmswitch_stream, s.stream_calls)):
            figures = measure(up, {"off": build, "otel": _otel(build), "sdk floor": _floor(build),
                                   "call log": _logged(build)}, calls, s,
                              batch=20 if label == "plain" else 5)
            base = figures["off"].median
            for figure in figures.values():
                extra = (figure.median / base - 1) * 100
                spread = f"[{min(figure.values):.0f} … {max(figure.values):.0f}]"
                print(f"{label:7} {figure.name:9} {figure.median:8.1f} µs CPU/call {spread:>16}  {extra:+6.1f}%")


if __name__ == "__main__":
    main()
