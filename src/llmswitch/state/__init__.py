"""Where routing state lives: this process (:mod:`.memory`) or Redis, shared by a fleet (:mod:`.redis`).

Both speak the :class:`~.memory.State` operations; :func:`open_state` picks one from ``state:`` in the
providers file. The router admits attempts through a gate (:mod:`.gate` in this process,
:mod:`.admission` for the fleet: one script per attempt), with :mod:`.breaker` and :mod:`.spread`
(round-robin turns, latency statistics) in Redis. Imported lazily: nothing here loads at
``import llmswitch``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import StateConfig
    from .memory import State

__all__ = ["open_state"]


def open_state(config: StateConfig) -> State:
    """The state store ``config`` asks for; Redis is wrapped so its failures fall back to memory."""
    from .memory import MemoryState

    if config.backend == "memory":
        return MemoryState()
    from .redis import FailOpen, RedisState

    assert config.url is not None  # checked when the file was loaded
    return FailOpen(RedisState(config.url, prefix=config.prefix, timeout=config.timeout), MemoryState())
