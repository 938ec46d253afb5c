"""One structured, JSON-able log record per call, at INFO on the ``llmswitch.calls`` logger.

The record is the data the hooks get (:class:`~llmswitch.router.RouteInfo`): which target
served the call, every attempt with its failure class, latency, tokens and cost. It never holds a
credential or any prompt or completion text: errors appear as their class and failure kind only.
The message is the record as compact JSON; handlers that want the dict find it as
``record.llmswitch``. When the logger is not enabled at INFO (the default), building it is skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..router import RouteInfo

__all__ = ["call_record", "logger", "on_end"]

logger = logging.getLogger("llmswitch.calls")


def call_record(info: RouteInfo, error: BaseException | None) -> dict[str, Any]:
    """``info`` as plain JSON types: what one call did, without content or secrets."""
    served = f"{info.provider}/{info.model}" if info.provider is not None else None
    record: dict[str, Any] = {
        "route": info.route,
        "target": served,
        "outcome": "ok" if error is None else "error",
        "attempts": [{"target": a.target, "kind": a.kind, "elapsed": round(a.elapsed, 6)} for a in info.attempts],
        "fallbacks": info.fallbacks,
        "retries": info.retries,
        "latency": _rounded(info.latency),
        "first_token_latency": _rounded(info.first_token_latency),
        "usage": dict(info.usage) if info.usage else None,
        "cost_usd": info.cost_usd,
        "cost_cny": info.cost_cny,
    }
    if info.hedges:
        record["hedges"] = info.hedges
    if error is not None:
        record["error"] = type(error).__name__
        record["error_kind"] = getattr(error, "kind", None)
    return record


def on_end(info: RouteInfo, error: BaseException | None, response: Mapping[str, Any] | None = None) -> None:
    """The ``on_end`` hook every router has: log the call when someone listens."""
    if logger.isEnabledFor(logging.INFO):
        record = call_record(info, error)
        logger.info("%s", json.dumps(record, separators=(",", ":"), default=str), extra={"llmswitch": record})


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
