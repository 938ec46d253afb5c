"""Observers of calls: the per-call log record, OpenTelemetry, and the switch that turns them on.

Every :class:`~llmswitch.router.Router` asks :func:`hooks_for` for its hooks when it is made, so
the client and the gateway are observed the same way. What is always there is one cheap
``on_end`` hook writing the call's JSON-able record to the ``llmswitch.calls`` logger (skipped
unless that logger is enabled at INFO). OpenTelemetry is added when the providers file says
``telemetry: {otel: true}`` or after :func:`instrument`; until then nothing from ``opentelemetry``
is imported, and this module imports nothing heavy either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .calllog import on_end as _log_call

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from ..router import Router

__all__ = ["hooks_for", "instrument", "instrumented", "uninstrument"]

Hook = Callable[..., None]
HookFactory = Callable[["Router"], Mapping[str, Hook]]
log = logging.getLogger("llmswitch")

_installed: dict[str, HookFactory] = {}  # name → factory, consulted by every Router made afterwards


def instrument(*, tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None,
               capture_content: bool = False) -> None:
    """Trace every call of clients (and gateways) created from now on with OpenTelemetry.

    Spans and metrics go to the given providers, or to the global ones the application set up.
    ``capture_content`` puts prompts and completions on spans (off by default: they may be private).
    Needs the ``otel`` extra.
    """
    try:
        from . import otel
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("llmswitch.instrument() needs OpenTelemetry: pip install 'llmswitch[otel]'") from exc

    def factory(router: Router) -> Mapping[str, Hook]:
        return otel.OtelHooks(router, tracer_provider=tracer_provider, meter_provider=meter_provider,
                              capture_content=capture_content).hooks()

    _installed["otel"] = factory


def uninstrument() -> None:
    """Stop tracing clients created from now on (those already made keep their hooks)."""
    _installed.pop("otel", None)


def instrumented() -> bool:
    return "otel" in _installed


def hooks_for(router: Router, hooks: Mapping[str, Hook]) -> dict[str, Hook]:
    """The router's hooks: the call log, OpenTelemetry when enabled, then the caller's own."""
    sets: list[Mapping[str, Hook]] = [{"on_end": _log_call}]
    factory = _installed.get("otel")
    if factory is None and router.settings.config.telemetry.otel:
        from . import otel

        telemetry = router.settings.config.telemetry
        sets.append(otel.OtelHooks(router, capture_content=telemetry.capture_content).hooks())
    elif factory is not None:
        sets.append(factory(router))
    sets.append(hooks)
    merged: dict[str, list[Hook]] = {}
    for found in sets:
        for name, fn in found.items():
            merged.setdefault(name, []).append(fn)
    return {name: fns[0] if len(fns) == 1 else _chain(name, fns) for name, fns in merged.items()}


def _chain(name: str, fns: list[Hook]) -> Hook:
    """Several observers of one event: each runs, and one that raises does not silence the others."""

    def call_all(*args: Any) -> None:
        for fn in fns:
            try:
                fn(*args)
            except Exception:
                log.exception("llmswitch hook %s raised", name)

    return call_all
