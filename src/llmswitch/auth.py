"""Request signers for vendors whose auth is more than a static header, as ``httpx2.Auth`` flows.

Each signer takes its clock as a parameter so the vectors in ``shared/providers/vectors`` are
reproduced exactly in tests; in use, the clock is ``time.time``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import functools
import hashlib
import hmac
import json
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from typing import Any

import httpx2

from ._secret import Secret

__all__ = [
    "QianfanTokenAuth",
    "SenseNovaJWTAuth",
    "Signer",
    "TC3Auth",
    "TC3Signature",
    "ZhipuJWTAuth",
    "jwt_hs256",
    "qianfan_token_request",
    "sensenova_jwt",
    "tc3_sign",
    "zhipu_jwt",
]

Clock = Callable[[], float]
AsyncFlow = AsyncGenerator[httpx2.Request, httpx2.Response]


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


class Signer(httpx2.Auth):
    """Auth that needs no I/O: it only rewrites the request. The transport calls ``sign`` directly
    (skipping httpx2's auth-flow machinery, ~100 µs a call); as an ``httpx2.Auth`` it works on any
    client too."""

    def sign(self, request: httpx2.Request) -> None:
        raise NotImplementedError

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        self.sign(request)
        yield request


class _CachedBearer(Signer):
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

    def sign(self, request: httpx2.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self.token()}"


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


# -- Tencent Cloud TC3-HMAC-SHA256 (PROTOCOLS.md §4; vectors/hunyuan.json) ----------------------

TC3_ALGORITHM = "TC3-HMAC-SHA256"


@dataclass(frozen=True)
class TC3Signature:
    """Every intermediate of one TC3 signature, so a test can pin each step to the vector."""

    canonical_request: str
    string_to_sign: str
    signature: str
    authorization: str
    date: str


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_sign(
    secret_id: str,
    secret_key: str,
    *,
    timestamp: int,
    payload: bytes | str,
    host: str,
    service: str = "hunyuan",
    content_type: str = "application/json",
    action: str | None = None,
    method: str = "POST",
    path: str = "/",
    query: str = "",
) -> TC3Signature:
    """Sign a request the way Tencent Cloud API 3.0 checks it.

    The body is hashed byte for byte, so sign exactly what is sent. The credential scope's date is
    the *UTC* date of ``timestamp`` (a local date breaks signing near midnight). With ``action``
    the ``x-tc-action`` header is signed too (one-api's variant); without it, only
    ``content-type;host`` (the official SDK's), both accepted by the server.
    """
    body = payload.encode() if isinstance(payload, str) else payload
    headers = {"content-type": content_type, "host": host}
    if action is not None:
        headers["x-tc-action"] = action.lower()
    signed_headers = ";".join(sorted(headers))
    canonical_headers = "".join(f"{name}:{headers[name]}\n" for name in sorted(headers))
    canonical_request = "\n".join(
        [method.upper(), path, query, canonical_headers, signed_headers, _sha256_hex(body)]
    )
    date = _utc_date(timestamp // 86400)
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        [TC3_ALGORITHM, str(timestamp), scope, _sha256_hex(canonical_request.encode())]
    )
    key = _tc3_key(secret_key, date, service)
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"{TC3_ALGORITHM} Credential={secret_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return TC3Signature(canonical_request, string_to_sign, signature, authorization, date)


@functools.lru_cache(maxsize=4)
def _utc_date(day: int) -> str:
    return datetime.datetime.fromtimestamp(day * 86400, datetime.UTC).strftime("%Y-%m-%d")


@functools.lru_cache(maxsize=16)
def _tc3_key(secret_key: str, date: str, service: str) -> bytes:
    """The derived signing key changes once a day: three HMACs saved on every other request."""
    return _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")


def _json_error_body(response: httpx2.Response) -> bool:
    """A reply that is not an event stream: small (an answer or an error envelope), safe to read."""
    return "event-stream" not in response.headers.get("content-type", "")


class TC3Auth(Signer):
    """Signs each request with TC3-HMAC-SHA256 over its exact body bytes.

    The action comes from the request's ``X-TC-Action`` header when the adapter set one (chat
    and embeddings are different actions on the same URL), else from ``action``. Non-stream
    replies are read inside the flow so that an error envelope sent as plain JSON to a stream
    request is still readable by the stream translator.
    """

    requires_request_body = True

    def __init__(
        self,
        secret_id: Secret,
        secret_key: Secret,
        *,
        service: str = "hunyuan",
        version: str = "2023-09-01",
        action: str = "ChatCompletions",
        region: str | None = None,
        token: Secret | None = None,
        sign_action: bool = False,
        clock: Clock = time.time,
    ) -> None:
        self._id, self._key, self._token = secret_id, secret_key, token
        self.service, self.version, self.action, self.region = service, version, action, region
        self.sign_action = sign_action
        self._clock = clock

    def sign(self, request: httpx2.Request) -> None:
        timestamp = int(self._clock())
        action = request.headers.get("x-tc-action") or self.action
        content_type = request.headers.get("content-type") or "application/json"
        request.headers["Content-Type"] = content_type
        signature = tc3_sign(
            self._id.get(),
            self._key.get(),
            timestamp=timestamp,
            payload=request.content,
            host=request.headers.get("host") or request.url.netloc.decode("ascii"),
            service=self.service,
            content_type=content_type,
            action=action if self.sign_action else None,
            method=request.method,
            path=request.url.path or "/",
            query=request.url.query.decode("ascii"),
        )
        extra = {"X-TC-Action": action, "X-TC-Version": request.headers.get("x-tc-version") or self.version,
                 "X-TC-Timestamp": str(timestamp), "Authorization": signature.authorization}
        if self.region:
            extra["X-TC-Region"] = self.region
        if self._token:
            extra["X-TC-Token"] = self._token.get()
        request.headers.update(extra)

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        request.read()
        self.sign(request)
        yield request

    async def async_auth_flow(self, request: httpx2.Request) -> AsyncFlow:
        await request.aread()
        self.sign(request)
        yield request


# -- Baidu Qianfan v1: OAuth client_credentials token exchange (PROTOCOLS.md §3) ------------------

#: error_code values meaning "this access_token is invalid (110) / expired (111)": refresh, retry once
QIANFAN_TOKEN_CODES = frozenset({110, 111})


def qianfan_token_request(token_url: str, api_key: str, secret_key: str) -> httpx2.Request:
    """The exchange request exactly as the vector pins it: POST, credentials in the query, empty body."""
    params = {"grant_type": "client_credentials", "client_id": api_key, "client_secret": secret_key}
    return httpx2.Request("POST", token_url, params=params)


class QianfanTokenAuth(httpx2.Auth):
    """Baidu v1 auth: exchange AK/SK for an ``access_token`` and add it to every request's query.

    The exchange is itself a step of the auth flow (it goes through the caller's client, with its
    transport and timeouts), so the same object serves sync and async clients. The token is cached
    and refreshed ``refresh_margin`` before it expires; concurrent callers wait for one exchange
    (a thread lock for sync clients, a per-event-loop lock for async ones). A reply whose body says
    ``error_code`` 110/111 — an HTTP 200 — makes one refresh and one retry; a second rejection is
    returned as is, for the adapter to raise.
    """

    def __init__(
        self,
        api_key: Secret,
        secret_key: Secret,
        *,
        token_url: str,
        provider: str | None = None,
        refresh_margin: float = 300.0,
        clock: Clock = time.time,
    ) -> None:
        self._ak, self._sk = api_key, secret_key
        self.token_url = token_url
        self.provider = provider
        self._margin = refresh_margin
        self._clock = clock
        self._lock = threading.Lock()  # held across a sync exchange: one refresh at a time
        self._state = threading.Lock()  # guards the fields below, never held across I/O
        self._token: str | None = None
        self._refresh_at = 0.0
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self.exchanges = 0  # how many token requests were made (observability, tests)

    # -- cache --------------------------------------------------------------------------------
        self._urls: dict[tuple[str, str], httpx2.URL] = {}

    def cached(self) -> str | None:
        """The token if it is still good for a while, else None."""
        with self._state:
            if self._token is not None and self._clock() < self._refresh_at:
                return self._token
            return None

    def invalidate(self, token: str | None = None) -> None:
        """Forget the token (only if it is still ``token``, so a newer one survives)."""
        with self._state:
            if token is None or self._token == token:
                self._token = None

    def _store(self, response: httpx2.Response) -> str:
        body = _json_or_none(response.content)
        token = body.get("access_token") if isinstance(body, dict) else None
        if response.status_code >= 400 or not isinstance(token, str) or not token:
            raise self._failure(response, body)
        expires_in = body.get("expires_in") if isinstance(body, dict) else None
        lifetime = float(expires_in) if isinstance(expires_in, (int, float)) and expires_in > 0 else 3600.0
        with self._state:
            self._token = token
            self._refresh_at = self._clock() + lifetime - min(self._margin, lifetime / 2)
            self.exchanges += 1
        return token

    def _failure(self, response: httpx2.Response, body: Any) -> Exception:
        from . import errors

        status = response.status_code
        detail = ""
        if isinstance(body, dict):
            detail = str(body.get("error_description") or body.get("error") or body.get("error_msg") or "")
        if status >= 500:
            kind: errors.ErrorKind = "server_error"
        elif status == 429:
            kind = "rate_limit"
        else:  # invalid_client / unknown client id (HTTP status of these: UNCONFIRMED)
            kind = "auth"
        message = f"access token exchange failed (HTTP {status}): {detail or 'no access_token in reply'}"
        return errors.error_for_kind(kind, message, response=response, body=body, provider=self.provider,
                                     status_code=status if status >= 400 else 401)

    def _exchange_request(self) -> httpx2.Request:
        return qianfan_token_request(self.token_url, self._ak.get(), self._sk.get())

    def _with_token(self, request: httpx2.Request, token: str) -> httpx2.Request:
        """The URL with the token, cached: re-parsing a URL costs more than the rest of the flow."""
        key = (str(request.url), token)
        url = self._urls.get(key)
        if url is None:
            if len(self._urls) > 64:
                self._urls.clear()
            url = self._urls[key] = request.url.copy_set_param("access_token", token)
        request.url = url
        return request

    @staticmethod
    def _token_rejected(response: httpx2.Response) -> bool:
        body = _json_or_none(response.content)
        return isinstance(body, dict) and body.get("error_code") in QIANFAN_TOKEN_CODES

    # -- flows --------------------------------------------------------------------------------
    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        token = self.cached()
        if token is None:
            with self._lock:
                token = self.cached()
                if token is None:
                    reply = yield self._exchange_request()
                    reply.read()
                    token = self._store(reply)
        response = yield self._with_token(request, token)
        if not _json_error_body(response):
            return
        response.read()
        if not self._token_rejected(response):
            return
        with self._lock:
            self.invalidate(token)
            fresh = self.cached()
            if fresh is None:
                reply = yield self._exchange_request()
                reply.read()
                fresh = self._store(reply)
        response = yield self._with_token(request, fresh)
        if _json_error_body(response):
            response.read()

    async def async_auth_flow(self, request: httpx2.Request) -> AsyncFlow:
        token = self.cached()
        if token is None:
            async with self._loop_lock():
                token = self.cached()
                if token is None:
                    reply = yield self._exchange_request()
                    await reply.aread()
                    token = self._store(reply)
        response = yield self._with_token(request, token)
        if not _json_error_body(response):
            return
        await response.aread()
        if not self._token_rejected(response):
            return
        async with self._loop_lock():
            self.invalidate(token)
            fresh = self.cached()
            if fresh is None:
                reply = yield self._exchange_request()
                await reply.aread()
                fresh = self._store(reply)
        response = yield self._with_token(request, fresh)
        if _json_error_body(response):
            await response.aread()

    def _loop_lock(self) -> asyncio.Lock:
        """asyncio locks belong to one event loop; keep one per loop that uses this auth."""
        loop = asyncio.get_running_loop()
        with self._state:
            lock = self._async_locks.get(loop)
            if lock is None:
                lock = self._async_locks[loop] = asyncio.Lock()
            return lock


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None
