"""Request signers for vendors whose auth is more than a static header, as ``httpx2.Auth`` flows.

Each signer takes its clock as a parameter so the vectors in ``shared/providers/vectors`` are
reproduced exactly in tests; in use, the clock is ``time.time``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import httpx2

from ._secret import Secret

__all__ = ["SenseNovaJWTAuth", "ZhipuJWTAuth", "jwt_hs256", "sensenova_jwt", "zhipu_jwt"]

Clock = Callable[[], float]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _compact(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def jwt_hs256(header: dict[str, Any], payload: dict[str, Any], key: str) -> str:
    """A compact JWS; header/payload keys are serialised in the order given."""
    signing_input = f"{_b64url(_compact(header))}.{_b64url(_compact(payload))}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def sensenova_jwt(access_key_id: str, secret_access_key: str, *, now: int, ttl: int = 1800) -> str:
    """SenseNova: iss/exp/nbf in seconds, nbf five seconds in the past (as the official SDK)."""
    payload = {"iss": access_key_id, "exp": now + ttl, "nbf": now - 5}
    return jwt_hs256({"alg": "HS256", "typ": "JWT"}, payload, secret_access_key)


def zhipu_jwt(api_key: str, *, now_ms: int, ttl_ms: int = 210_000) -> str:
    """Zhipu: the ``id.secret`` key split; millisecond timestamps; ``sign_type: SIGN`` header."""
    key_id, sep, secret = api_key.partition(".")
    if not sep or not key_id or not secret:
        raise ValueError("a Zhipu API key has the form '<id>.<secret>'")
    payload = {"api_key": key_id, "exp": now_ms + ttl_ms, "timestamp": now_ms}
    return jwt_hs256({"alg": "HS256", "sign_type": "SIGN", "typ": "JWT"}, payload, secret)


class _CachedBearer(httpx2.Auth):
    """A bearer token minted locally and reused until shortly before it expires."""

    def __init__(self, lifetime: float, clock: Clock) -> None:
        self._lifetime = lifetime
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def _mint(self, now: float) -> str:
        raise NotImplementedError

    def token(self) -> str:
        with self._lock:
            now = self._clock()
            if self._token is None or now >= self._expires - 30:
                self._token = self._mint(now)
                self._expires = now + self._lifetime
            return self._token

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        yield request


class SenseNovaJWTAuth(_CachedBearer):
    def __init__(self, access_key_id: Secret, secret_access_key: Secret, *, ttl: int = 1800,
                 clock: Clock = time.time) -> None:
        super().__init__(ttl, clock)
        self._ak, self._sk, self._ttl = access_key_id, secret_access_key, ttl

    def _mint(self, now: float) -> str:
        return sensenova_jwt(self._ak.get(), self._sk.get(), now=int(now), ttl=self._ttl)


class ZhipuJWTAuth(_CachedBearer):
    def __init__(self, api_key: Secret, *, ttl_ms: int = 210_000, clock: Clock = time.time) -> None:
        super().__init__(ttl_ms / 1000, clock)
        self._key, self._ttl_ms = api_key, ttl_ms

    def _mint(self, now: float) -> str:
        return zhipu_jwt(self._key.get(), now_ms=int(now * 1000), ttl_ms=self._ttl_ms)
