"""Structured logs: one JSON object per line on stderr, credentials masked.

Access lines carry who called (the key's *name*, never its value), what was routed where, the
status, attempts, latency, tokens and cost. Request bodies (prompts) appear only with
``gateway.log_prompts: true``. Every line passes through the router's redaction, so a provider
credential echoed in an upstream error message is masked too.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import IO, Any

__all__ = ["ACCESS", "JsonLines", "setup"]

ACCESS = logging.getLogger("llmswitch.gateway.access")


class JsonLines(logging.Formatter):
    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                                "logger": record.name, "msg": record.getMessage()}
        fields = getattr(record, "fields", None)
        if fields:
            data.update(fields)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(data, ensure_ascii=False, default=str))


def setup(redact: Callable[[str], str], *, level: str = "info", access: bool = True,
          stream: IO[str] | None = None) -> None:
    """Send llmswitch's loggers (the router's and the gateway's) to ``stream`` as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines(redact))
    root = logging.getLogger("llmswitch")
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    root.propagate = False
    # the access line already says what each call did (route, target, attempts, tokens, cost):
    # the per-call record of ``llmswitch.calls`` would repeat it, so it is on only at debug
    logging.getLogger("llmswitch.calls").setLevel(logging.DEBUG if level.lower() == "debug" else logging.WARNING)
    ACCESS.disabled = not access
    for name in ("aiohttp.access", "aiohttp.server", "aiohttp.web"):
        aio = logging.getLogger(name)
        aio.handlers = [handler]
        aio.propagate = False
