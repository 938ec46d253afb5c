"""The bridge's refusals, as openai's exception classes so callers' ``except`` clauses keep working.

Each is raised before anything is sent: a request the bridge cannot express as a chat call (400),
or a response id it does not hold (404). Messages name the field and, where known, the target.
"""

from __future__ import annotations

from typing import Any

import httpx2

from .. import errors

__all__ = ["BuiltinToolError", "bad_request", "not_found"]

_URL = "http://llmswitch.invalid/v1/responses"


def _reply(status: int, method: str, url: str, message: str, param: str | None, code: str | None) -> tuple[
        httpx2.Response, dict[str, Any]]:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    return httpx2.Response(status, json=body, request=httpx2.Request(method, url)), body


class BuiltinToolError(errors.UnsupportedParameterError):
    """A tool only OpenAI runs (web_search, file_search, computer use, …) asked of a bridged target."""

    def __init__(self, tool: str, *, param: str = "tools", provider: str | None = None,
                 model: str | None = None) -> None:
        message = (f"{param}: the built-in tool {tool!r} runs only on targets that serve OpenAI's Responses API; "
                   "this target is reached through chat completions, which cannot run it")
        response, body = _reply(400, "POST", _URL, message, param, "unsupported_tool")
        super().__init__(message, response=response, body=body, provider=provider, model=model,
                         code="unsupported_tool")
        self.tool = tool


def bad_request(message: str, param: str, *, model: str | None = None) -> errors.BadRequestError:
    """A request the bridge cannot translate; ``param`` is the path of the field at fault."""
    response, body = _reply(400, "POST", _URL, f"{param}: {message}", param, "invalid_value")
    return errors.BadRequestError(f"{param}: {message}", response=response, body=body, model=model,
                                  code="invalid_value")


def not_found(response_id: str, why: str, *, param: str | None = None) -> errors.NotFoundError:
    """openai's NotFoundError for a response id the store does not hold (unknown, expired or deleted)."""
    message = f"Response with id {response_id!r} not found: {why}."
    code = "previous_response_not_found" if param == "previous_response_id" else "not_found"
    method = "POST" if param else "GET"
    url = _URL if param else f"{_URL}/{response_id}"
    response, body = _reply(404, method, url, message, param, code)
    return errors.NotFoundError(message, response=response, body=body, code=code)
