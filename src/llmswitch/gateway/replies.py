"""Failures as openai-shaped JSON error bodies with the status an OpenAI client maps to its class."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .. import errors

__all__ = ["Reply", "error_type", "from_exception", "reply"]

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 409: "conflict_error", 413: "invalid_request_error",
          422: "invalid_request_error", 429: "rate_limit_error"}


@dataclass(frozen=True, slots=True)
class Reply:
    """An error answer: status, openai-shaped body, extra headers (Retry-After)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def error_type(status: int) -> str:
    return _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def reply(status: int, message: str, code: str | None = None, *, retry_after: float | None = None,
          **extra: Any) -> Reply:
    body = {"error": {"message": message, "type": error_type(status), "param": None, "code": code, **extra}}
    headers = {"retry-after": str(max(1, math.ceil(retry_after)))} if retry_after is not None else {}
    return Reply(status, body, headers)


def _status_of(error: BaseException) -> int:
    if isinstance(error, errors.APIStatusError):
        return int(error.status_code)
    return 502  # connection failures and timeouts: the upstream, not the client, failed


def _attempt(attempt: errors.Attempt) -> dict[str, Any]:
    error = attempt.error
    entry: dict[str, Any] = {"target": attempt.target, "kind": attempt.kind, "elapsed": round(attempt.elapsed, 4)}
    if error is not None:
        entry["status"] = _status_of(error)
        entry["message"] = str(error)[:500]
    return entry


def from_exception(error: BaseException) -> Reply | None:
    """The reply for a routing failure, or None when it is not one (a bug: answered with 500)."""
    if isinstance(error, errors.AllTargetsFailedError):
        last = error.last_error
        status = _status_of(last) if last is not None else 502
        retry = getattr(last, "retry_after", None) if status == 429 else None
        return reply(status, str(error), "all_targets_failed", retry_after=retry,
                     attempts=[_attempt(a) for a in error.attempts])
    if isinstance(error, errors.APIStatusError):
        status = int(error.status_code)
        code = getattr(error, "code", None) or error.kind
        retry = error.retry_after if status == 429 else None
        return reply(status, str(error), str(code), retry_after=retry)
    if isinstance(error, errors.APIConnectionError):
        return reply(502, str(error), error.kind)
    if isinstance(error, errors.ConfigError):
        if str(error).startswith("unknown model"):
            return reply(404, str(error), "model_not_found")
        return reply(500, "the gateway's providers file cannot serve this request: " + str(error), "config")
    if isinstance(error, (ValueError, TypeError)):
        return reply(400, str(error), "invalid_request")
    return None
