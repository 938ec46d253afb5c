"""The Responses store in shared state, so ``previous_response_id`` continues on any replica.

Records are JSON with Redis's own TTL (``ttl`` seconds, like the in-process store); Redis's memory
policy, not an LRU count, bounds their number. During a Redis outage records go to this process's
memory (:class:`~.redis.FailOpen`), so a conversation continues on the replica that started it.
"""

from __future__ import annotations

import json
from typing import Any

from ..responses.errors import not_found
from ..responses.store import ResponseStore, StoredResponse
from .memory import State

__all__ = ["SharedResponseStore"]


class SharedResponseStore(ResponseStore):
    def __init__(self, state: State, ttl: float = 3600.0) -> None:
        super().__init__(ttl=ttl)
        self.state = state

    @staticmethod
    def _key(response_id: str) -> str:
        return f"resp:{response_id}#"

    def put(self, response: dict[str, Any], conversation: list[dict[str, Any]]) -> None:
        record = json.dumps({"response": response, "conversation": conversation}, separators=(",", ":"))
        self.state.put(self._key(response["id"]), record, self.ttl)

    def get(self, response_id: str, *, param: str | None = None) -> StoredResponse:
        found = self.state.fetch(self._key(response_id))
        if found is None:
            raise not_found(response_id, f"no stored response has this id (unknown, expired after {self.ttl:g} s, "
                            "deleted, or created with store=false)", param=param)
        record = json.loads(found)
        return StoredResponse(record["response"], record["conversation"], 0.0)

    def delete(self, response_id: str) -> dict[str, Any]:
        if not self.state.delete(self._key(response_id)):
            raise not_found(response_id, "no stored response has this id (unknown, expired or deleted)")
        return {"id": response_id, "object": "response.deleted", "deleted": True}
