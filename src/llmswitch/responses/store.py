"""A bounded in-process store of bridged responses, so ``previous_response_id`` can continue them.

Each entry keeps the Response dict and the conversation up to and including its output, as
Responses input items (JSON-ready, so a shared store can hold the same records). Bounded twice:
at most ``max_entries`` (least recently used evicted first) and at most ``ttl`` seconds old. An id
that is unknown, expired, evicted or deleted is openai's NotFoundError, never a silent fresh start.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import not_found

__all__ = ["ResponseStore", "StoredResponse"]


@dataclass(frozen=True, slots=True)
class StoredResponse:
    response: dict[str, Any]
    conversation: list[dict[str, Any]]  # input items so far plus this response's output items
    expires_at: float


class ResponseStore:
    """LRU with a size bound and a TTL; ``clock`` is injectable so tests never sleep."""

    def __init__(self, max_entries: int = 1000, ttl: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        if ttl <= 0:
            raise ValueError(f"ttl must be positive, got {ttl}")
        self.max_entries = max_entries
        self.ttl = ttl
        self.clock = clock
        self._entries: OrderedDict[str, StoredResponse] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, response: dict[str, Any], conversation: list[dict[str, Any]]) -> None:
        entry = StoredResponse(response, conversation, self.clock() + self.ttl)
        with self._lock:
            self._entries[response["id"]] = entry
            self._entries.move_to_end(response["id"])
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get(self, response_id: str, *, param: str | None = None) -> StoredResponse:
        """The entry, refreshed as most recently used; NotFoundError naming why it is missing."""
        with self._lock:
            entry = self._entries.get(response_id)
            if entry is not None and entry.expires_at <= self.clock():
                del self._entries[response_id]
                raise not_found(response_id, f"it expired (responses are kept {self.ttl:g} s)", param=param)
            if entry is None:
                raise not_found(response_id, "no stored response has this id (unknown, evicted, deleted, "
                                "or created with store=false)", param=param)
            self._entries.move_to_end(response_id)
            return entry

    def retrieve(self, response_id: str) -> dict[str, Any]:
        """``responses.retrieve``: the stored Response dict."""
        return self.get(response_id).response

    def delete(self, response_id: str) -> dict[str, Any]:
        """``responses.delete``: OpenAI's deletion record; a second delete is NotFoundError."""
        self.get(response_id)
        with self._lock:
            self._entries.pop(response_id, None)
        return {"id": response_id, "object": "response.deleted", "deleted": True}
