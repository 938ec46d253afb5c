"""Client keys: the bearer token a client sends, checked against the digests in the file."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from ..config import ClientKey

__all__ = ["Client", "KeyRing", "bearer"]


@dataclass(frozen=True, slots=True)
class Client:
    """An authenticated caller: the key's name in the file (logged) and what it may do."""

    name: str
    spec: ClientKey | None  # None: the gateway has no keys configured (open, for loopback use)

    def allows(self, model: str) -> bool:
        """A route alias or 'provider/model' this key may call (unset lists allow everything)."""
        spec = self.spec
        if spec is None or (spec.routes is None and spec.models is None):
            return True
        return model in (spec.routes or ()) or model in (spec.models or ())

    @property
    def passthrough(self) -> bool:
        return self.spec is None or self.spec.passthrough


OPEN = Client("-", None)


def bearer(authorization: str | None, api_key: str | None = None) -> str | None:
    """The token of ``Authorization: Bearer …`` (or an ``api-key`` header, as Azure clients send)."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return api_key or None


class KeyRing:
    """Matches a presented key against every configured digest in constant time (no early exit)."""

    def __init__(self, keys: Mapping[str, ClientKey]) -> None:
        self._keys = [(name, bytes.fromhex(spec.sha256), spec) for name, spec in keys.items()]

    @property
    def open(self) -> bool:
        return not self._keys

    def authenticate(self, token: str | None) -> Client | None:
        if not self._keys:
            return OPEN
        if not token:
            return None
        digest = hashlib.sha256(token.encode()).digest()
        found: Client | None = None
        for name, expected, spec in self._keys:
            if hmac.compare_digest(digest, expected) and found is None:
                found = Client(name, spec)
        return found
