"""llmswitch instrumented onto in-memory OpenTelemetry providers; loopback HTTP clients."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest
from otel_support import Otel, make_otel

from llmswitch import telemetry

CTX = ssl.create_default_context()


@pytest.fixture
def otel() -> Iterator[Otel]:
    """llmswitch.instrument() onto fresh in-memory providers; undone afterwards."""
    found = make_otel()
    telemetry.instrument(tracer_provider=found.tracer_provider, meter_provider=found.meter_provider)
    try:
        yield found
    finally:
        telemetry.uninstrument()
        found.tracer_provider.shutdown()
        found.meter_provider.shutdown()


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(verify=CTX) as client:
        yield client


@pytest.fixture
async def ahttp() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(verify=CTX) as client:
        yield client
