"""The exception tree: openai's classes, extended with who raised them and why.

Every API error subclasses the openai exception of the same meaning, so ``except
openai.RateLimitError`` in an existing app keeps working. Each one also says which provider and
model raised it, and carries ``kind`` — the failure class the router's ``fallback_on`` speaks.
Status → class mapping lives here and nowhere else; adapters classify vendor codes into a kind.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import openai

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AllTargetsFailedError",
    "Attempt",
    "AuthenticationError",
    "BadRequestError",
    "ConfigError",
    "ConflictError",
    "ContentFilterError",
    "ContextWindowExceededError",
    "ErrorKind",
    "InternalServerError",
    "LLMSwitchError",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "StreamInterruptedError",
    "UnprocessableEntityError",
    "UnsupportedParameterError",
    "error_for_kind",
    "error_for_status",
    "parse_retry_after",
]

ErrorKind = Literal[
    "bad_request",
    "auth",
    "permission",
    "not_found",
    "conflict",
    "unprocessable",
    "rate_limit",
    "server_error",
    "context_window",
    "content_filter",
    "timeout",
    "connection",
    "stream_interrupted",
    "quota",
    "other",
]


class LLMSwitchError(openai.OpenAIError):
    """Base of the errors that are ours alone (config, routing, streaming)."""


class _Located:
    """Mixin: which provider and model raised an API error, and which failure class it is."""

    kind: ErrorKind
    provider: str | None = None
    model: str | None = None
    retry_after: float | None = None


def _where(provider: str | None, model: str | None) -> str:
    if provider and model:
        return f"[{provider}/{model}] "
    if provider:
        return f"[{provider}] "
    return ""


class APIStatusError(_Located, openai.APIStatusError):
    kind: ErrorKind = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        response: httpx2.Response,
        body: object | None,
        provider: str | None = None,
        model: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        status = status_code if status_code is not None else response.status_code
        if isinstance(body, Mapping) and "error" in body:  # openai keeps the inner error object
            body = body["error"]
        text = f"{_where(provider, model)}Error code: {status} - {message}"
        super().__init__(text, response=response, body=body)
        self.provider = provider
        self.model = model
        if code is not None:
            self.code = code
        if status_code is not None:  # an error that came inside an HTTP 200 body
            self.status_code = status_code
        self.retry_after = retry_after if retry_after is not None else parse_retry_after(response.headers)


class BadRequestError(APIStatusError, openai.BadRequestError):
    kind: ErrorKind = "bad_request"


class ContextWindowExceededError(BadRequestError):
    kind: ErrorKind = "context_window"


class ContentFilterError(BadRequestError):
    kind: ErrorKind = "content_filter"


class UnsupportedParameterError(BadRequestError):
    """A parameter the target cannot take, rejected before sending (strict mode)."""


class AuthenticationError(APIStatusError, openai.AuthenticationError):
    kind: ErrorKind = "auth"


class PermissionDeniedError(APIStatusError, openai.PermissionDeniedError):
    kind: ErrorKind = "permission"


class NotFoundError(APIStatusError, openai.NotFoundError):
    kind: ErrorKind = "not_found"


class ConflictError(APIStatusError, openai.ConflictError):
    kind: ErrorKind = "conflict"


class UnprocessableEntityError(APIStatusError, openai.UnprocessableEntityError):
    kind: ErrorKind = "unprocessable"


class RateLimitError(APIStatusError, openai.RateLimitError):
    kind: ErrorKind = "rate_limit"


class QuotaExceededError(RateLimitError):
    """Quota exhausted or account in arrears, as openai reports it: a ``RateLimitError`` (apps
    catching rate limits catch it too); ``code`` is the vendor's, else ``insufficient_quota``.
    Never retried (no wait refills a quota); routes fall back on it."""

    kind: ErrorKind = "quota"


class InternalServerError(APIStatusError, openai.InternalServerError):
    kind: ErrorKind = "server_error"


class APIConnectionError(_Located, openai.APIConnectionError):
    kind: ErrorKind = "connection"

    def __init__(
        self,
        *,
        message: str = "Connection error.",
        request: httpx2.Request,
        provider: str | None = None,
        model: str | None = None,
    ) -> None:
        openai.APIConnectionError.__init__(self, message=_where(provider, model) + message, request=request)
        self.provider = provider
        self.model = model


class APITimeoutError(APIConnectionError, openai.APITimeoutError):
    kind: ErrorKind = "timeout"

    def __init__(
        self,
        request: httpx2.Request,
        *,
        message: str = "Request timed out.",
        provider: str | None = None,
        model: str | None = None,
    ) -> None:
        APIConnectionError.__init__(self, message=message, request=request, provider=provider, model=model)


class ConfigError(LLMSwitchError, ValueError):
    """A providers file (or dict) that cannot be used; the message names file, line and field."""

    def __init__(self, message: str, *, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems) or [message]


@dataclass(frozen=True)
class Attempt:
    """One try of one target, as recorded by the router."""

    target: str
    error: BaseException | None
    elapsed: float = 0.0
    kind: str | None = None


class AllTargetsFailedError(LLMSwitchError):
    """Every target of a route failed; ``attempts`` lists each try and the error it raised."""

    def __init__(self, route: str, attempts: Sequence[Attempt]) -> None:
        lines = [f"all targets of {route!r} failed after {len(attempts)} attempt(s):"]
        lines += [f"  {a.target}: {type(a.error).__name__}: {a.error}" for a in attempts]
        super().__init__("\n".join(lines))
        self.route = route
        self.attempts = list(attempts)

    @property
    def last_error(self) -> BaseException | None:
        return self.attempts[-1].error if self.attempts else None


@dataclass
class _Partial:
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


class StreamInterruptedError(LLMSwitchError):
    """A stream failed after output reached the caller; what was delivered is kept here."""

    kind: ErrorKind = "stream_interrupted"

    def __init__(
        self,
        message: str,
        *,
        partial_text: str,
        partial_tool_calls: Sequence[dict[str, Any]] = (),
        provider: str | None = None,
        model: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(_where(provider, model) + message)
        self.partial_text = partial_text
        self.partial_tool_calls = list(partial_tool_calls)
        self.provider = provider
        self.model = model
        self.__cause__ = cause


_STATUS_KIND: Mapping[int, ErrorKind] = {
    400: "bad_request",
    401: "auth",
    402: "quota",
    403: "permission",
    404: "not_found",
    408: "timeout",
    409: "conflict",
    413: "context_window",
    422: "unprocessable",
    429: "rate_limit",
}

_KIND_CLASS: Mapping[str, type[APIStatusError]] = {
    "bad_request": BadRequestError,
    "auth": AuthenticationError,
    "permission": PermissionDeniedError,
    "not_found": NotFoundError,
    "conflict": ConflictError,
    "unprocessable": UnprocessableEntityError,
    "rate_limit": RateLimitError,
    "quota": QuotaExceededError,
    "server_error": InternalServerError,
    "context_window": ContextWindowExceededError,
    "content_filter": ContentFilterError,
}


def kind_for_status(status: int) -> ErrorKind:
    if status >= 500:
        return "server_error"
    return _STATUS_KIND.get(status, "other")


def error_for_kind(
    kind: ErrorKind,
    message: str,
    *,
    response: httpx2.Response,
    body: object | None = None,
    provider: str | None = None,
    model: str | None = None,
    code: str | None = None,
    status_code: int | None = None,
    retry_after: float | None = None,
) -> APIStatusError:
    """Build the exception for a failure class; 408 'timeout' keeps openai's generic status class."""
    cls = _KIND_CLASS.get(kind, APIStatusError)
    if cls is QuotaExceededError and code is None:  # openai's code; a vendor's own code is kept
        code = "insufficient_quota"
    err = cls(
        message,
        response=response,
        body=body,
        provider=provider,
        model=model,
        code=code,
        status_code=status_code,
        retry_after=retry_after,
    )
    if cls is APIStatusError:
        err.kind = kind
    return err


def error_for_status(
    status: int,
    message: str,
    *,
    response: httpx2.Response,
    body: object | None = None,
    provider: str | None = None,
    model: str | None = None,
    code: str | None = None,
) -> APIStatusError:
    """The plain mapping openai uses (400→BadRequest, …, ≥500→InternalServer)."""
    return error_for_kind(
        kind_for_status(status), message, response=response, body=body, provider=provider, model=model, code=code
    )


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``retry-after`` (seconds or HTTP-date); None if absent
    or unusable (not a number, NaN, infinite). A date in the past gives 0."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            if 0 <= value < _INF:
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        seconds = email.utils.mktime_tz(parsed) - (time.time() if now is None else now)
    return max(seconds, 0.0) if -_INF < seconds < _INF else None


_INF = float("inf")
