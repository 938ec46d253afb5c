"""OpenAI's Responses API on every provider: a pure bridge to and from chat completions.

No I/O here. :func:`to_chat` turns a ``/responses`` create body into chat params (and a context),
:func:`from_chat` turns the chat answer into a Response, :class:`ResponseEvents` turns chat
chunks into Responses stream events, and :class:`ResponseStore` keeps responses for
``previous_response_id``, ``retrieve`` and ``delete``. :func:`responses_url` says which targets
serve ``/responses`` themselves and are passed through instead. Not imported by ``import llmswitch``.
"""

from __future__ import annotations

from .errors import BuiltinToolError, bad_request, not_found
from .events import ResponseEvents
from .output import from_chat
from .request import BUILTIN_TOOLS, BridgeContext, new_id, to_chat
from .store import ResponseStore, StoredResponse
from .target import responses_url

__all__ = [
    "BUILTIN_TOOLS",
    "BridgeContext",
    "BuiltinToolError",
    "ResponseEvents",
    "ResponseStore",
    "StoredResponse",
    "bad_request",
    "from_chat",
    "new_id",
    "not_found",
    "responses_url",
    "to_chat",
]
