"""A credential that never prints: repr/str show a mask, only ``get()`` returns the value."""

from __future__ import annotations


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


class LiveSecret(Secret):
    """A credential that changes between requests (openai's callable ``api_key``): the client
    stores each fresh value with :meth:`set` before the request is built."""

    __slots__ = ()

    def set(self, value: str) -> None:
        self._value = value

    def __bool__(self) -> bool:
        return True
