"""One chat or embeddings call, decided and translated without I/O.

A :class:`Call` holds what the caller asked for (the body, the transport extras) and the router's
:class:`~llmswitch.plan.CallPlan`. For each ``Try`` it builds the wire request and parses the
reply; the drivers in :mod:`._engine` only send, sleep and wait. The direct ``create()`` path,
the routing transport under openai's client and the gateway all build their calls here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx2
import openai

from . import errors
from .adapters.base import Adapter, WireRequest
from .plan import CallPlan
from .router import Router, Try

__all__ = ["Call", "Operation", "given", "prepare", "timeout_overrides"]

Operation = Literal["chat", "embeddings"]
_TRANSPORT_KEYS = ("extra_headers", "extra_query", "extra_body", "timeout")
_TIMEOUT_FIELDS = frozenset({"connect", "read", "first_token", "idle", "total"})
_SENTINELS = (openai.NotGiven, openai.Omit)


def given(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop openai's NOT_GIVEN / omit sentinels so apps passing them keep working."""
    return {k: v for k, v in params.items() if not isinstance(v, _SENTINELS)}


def timeout_overrides(value: Any) -> dict[str, float | None] | None:
    """A ``timeout=`` as limit overrides: seconds bound the whole call (every attempt, backoff and
    fallback); an ``httpx2.Timeout`` sets connect and the per-read waits (read, first_token,
    idle); a mapping names fields of the providers file's ``timeouts``."""
    if value is None or isinstance(value, _SENTINELS):
        return None
    if isinstance(value, Mapping):
        unknown = set(value) - _TIMEOUT_FIELDS
        if unknown:
            raise ValueError(f"unknown timeout field(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(sorted(_TIMEOUT_FIELDS))}")
        return {k: None if v is None else float(v) for k, v in value.items()}
    if hasattr(value, "connect") and hasattr(value, "read"):  # httpx2.Timeout (or httpx.Timeout)
        read = value.read
        return {"connect": value.connect, "read": read, "first_token": read, "idle": read}
    return {"total": float(value)}


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """extra_body lands inside native sections too: {"parameters": {...}} adds to DashScope's."""
    out = dict(base)
    for key, value in extra.items():
        nested = isinstance(value, Mapping) and isinstance(out.get(key), dict)
        out[key] = _deep_merge(out[key], value) if nested else value
    return out


@dataclass(slots=True)
class Call:
    """A call's request, its plan, and the per-attempt translation both drivers share."""

    operation: Operation
    body: dict[str, Any]
    extras: dict[str, Any]
    stream: bool
    plan: CallPlan

    def wire(self, step: Try) -> WireRequest:
        """The native request for this attempt, with the caller's escape hatches applied last."""
        params = {**self.body, "model": step.target.model}
        adapter = step.target.adapter
        if self.operation == "embeddings":
            wire = adapter.embeddings_request(params)
        else:
            wire = adapter.chat_request(params, stream=self.stream)
        query = step.target.provider.options.get("default_query")
        if query:
            wire.params = {**query, **(wire.params or {})}
        extras = self.extras
        if extras.get("extra_headers"):
            wire.headers = {**wire.headers, **given(extras["extra_headers"])}
        if extras.get("extra_query"):
            wire.params = {**(wire.params or {}), **extras["extra_query"]}
        if extras.get("extra_body") and isinstance(wire.json, dict):
            wire.json = _deep_merge(wire.json, extras["extra_body"])
        return wire

    def parse(self, step: Try, response: httpx2.Response) -> dict[str, Any]:
        """A whole (non-stream) reply as OpenAI wire JSON, or the typed error it carries."""
        adapter, model = step.target.adapter, step.target.model
        if response.status_code >= 400:
            raise adapter.parse_error(response, model)
        if self.operation == "embeddings":
            return adapter.parse_embeddings(response, model)
        return adapter.parse_chat(response, model)

    def finish(self, data: dict[str, Any]) -> dict[str, Any]:
        """Price the usage of the answer that served the call."""
        self.plan.priced(data.get("usage"), data)
        return data


def not_a_stream(response: httpx2.Response) -> bool:
    """An error status, or a plain JSON body where events were asked for (vendors' in-body errors)."""
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return response.status_code >= 400 or ctype == "application/json"


def refusal(adapter: Adapter, response: httpx2.Response, model: str) -> Exception:
    """The typed error a stream request was answered with instead of a stream."""
    if response.status_code >= 400:
        return adapter.parse_error(response, model)
    adapter.parse_chat(response, model)  # raises the vendor's error inside the 200 body, if any
    return errors.APIConnectionError(message="a stream was asked for but a plain JSON body came back",
                                     request=response.request, provider=adapter.provider.name, model=model)


def prepare(router: Router, operation: Operation, params: Mapping[str, Any], *,
            timeout: Mapping[str, float | None] | None, max_retries: int | None) -> Call:
    """Split transport options from the body and ask the router for a plan.

    ``timeout`` is the client's own limit override; a ``timeout=`` in ``params`` wins over it.
    """
    body = given(params)
    extras = {k: body.pop(k) for k in _TRANSPORT_KEYS if k in body}
    stream = bool(body.pop("stream", False)) if operation == "chat" else False
    own = timeout_overrides(extras.get("timeout"))
    plan = router.plan(str(body.get("model", "")), body, operation=operation, stream=stream,
                       timeout=own if own is not None else timeout, max_retries=max_retries)
    return Call(operation, body, extras, stream, plan)
