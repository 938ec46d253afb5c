"""TC3-HMAC-SHA256 (Tencent) and the Baidu v1 token exchange, as pure functions and httpx2 auth flows."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest

import llmswitch
from llmswitch._secret import Secret
from llmswitch.adapters.qianfan import token_url_for
from llmswitch.auth import QianfanTokenAuth, TC3Auth, qianfan_token_request, tc3_sign
from support import VECTORS

HUNYUAN = json.loads((VECTORS / "hunyuan.json").read_text())
QIANFAN = json.loads((VECTORS / "qianfan.json").read_text())
HY = HUNYUAN["inputs"]
QF = QIANFAN["inputs"]
TOKEN_URL = "https://aip.baidubce.com/oauth/2.0/token"
CHAT_URL = "https://aip.baidubce.com/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions_pro"


# -- TC3 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("variant", "action"), [("signed_headers_content_type_host", None),
                                                 ("signed_headers_with_x_tc_action", HY["action"])])
def test_tc3_sign_reproduces_every_step_of_the_vector(variant: str, action: str | None) -> None:
    expected = HUNYUAN[variant]
    signed = tc3_sign(HY["secret_id"], HY["secret_key"], timestamp=HY["timestamp"], payload=HY["payload"],
                      host=HY["host"], content_type=HY["content_type"], action=action)
    assert signed.canonical_request == expected["canonical_request"]
    assert signed.string_to_sign == expected["string_to_sign"]
    assert signed.signature == expected["signature"]
    assert signed.authorization == expected["authorization"]


def test_tc3_signs_the_exact_body_bytes() -> None:
    same = tc3_sign(HY["secret_id"], HY["secret_key"], timestamp=HY["timestamp"], payload=HY["payload"].encode(),
                    host=HY["host"])
    spaced = tc3_sign(HY["secret_id"], HY["secret_key"], timestamp=HY["timestamp"],
                      payload=json.dumps(json.loads(HY["payload"]), ensure_ascii=False), host=HY["host"])
    assert same.signature == HUNYUAN["signed_headers_content_type_host"]["signature"]
    assert spaced.signature != same.signature  # re-serialised JSON is another body


@pytest.fixture
def shanghai_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("shanghai_tz")
def test_tc3_date_scope_is_utc_even_when_local_date_differs() -> None:
    # 1700000000 is 22:13 UTC on 2023-11-14, already 2023-11-15 in Shanghai
    assert time.strftime("%Y-%m-%d", time.localtime(HY["timestamp"])) == "2023-11-15"
    signed = tc3_sign(HY["secret_id"], HY["secret_key"], timestamp=HY["timestamp"], payload=HY["payload"],
                      host=HY["host"])
    assert signed.date == "2023-11-14"
    assert signed.authorization == HUNYUAN["signed_headers_content_type_host"]["authorization"]


def _hunyuan_request(**headers: str) -> httpx2.Request:
    return httpx2.Request("POST", f"https://{HY['host']}/", content=HY["payload"].encode(),
                          headers={"Content-Type": HY["content_type"], **headers})


def _run(auth: httpx2.Auth, request: httpx2.Request) -> httpx2.Request:
    return next(auth.sync_auth_flow(request))


@pytest.mark.parametrize(("sign_action", "variant"), [(False, "signed_headers_content_type_host"),
                                                      (True, "signed_headers_with_x_tc_action")])
def test_tc3_auth_flow_sets_the_vector_headers(sign_action: bool, variant: str) -> None:
    auth = TC3Auth(Secret(HY["secret_id"]), Secret(HY["secret_key"]), sign_action=sign_action,
                   clock=lambda: HY["timestamp"] + 0.9)
    signed = _run(auth, _hunyuan_request())
    assert signed.headers["Authorization"] == HUNYUAN[variant]["authorization"]
    for name, value in HUNYUAN["other_headers_to_send"].items():
        assert signed.headers[name] == value
    assert "X-TC-Region" not in signed.headers
    assert "X-TC-Token" not in signed.headers


def test_tc3_auth_takes_the_action_from_the_request_and_adds_region_and_token() -> None:
    auth = TC3Auth(Secret("AKIDx"), Secret("key"), region="ap-guangzhou", token=Secret("tmp-token"),
                   clock=lambda: 1_700_000_000)
    signed = _run(auth, _hunyuan_request(**{"X-TC-Action": "GetEmbedding"}))
    assert signed.headers["X-TC-Action"] == "GetEmbedding"
    assert signed.headers["X-TC-Region"] == "ap-guangzhou"
    assert signed.headers["X-TC-Token"] == "tmp-token"
    expected = tc3_sign("AKIDx", "key", timestamp=1_700_000_000, payload=HY["payload"], host=HY["host"])
    assert signed.headers["Authorization"] == expected.authorization
    assert "key" not in repr(auth)


def test_tc3_auth_signs_the_port_in_host_and_the_real_path() -> None:
    auth = TC3Auth(Secret("AKIDx"), Secret("key"), clock=lambda: 1_700_000_000)
    request = httpx2.Request("POST", "http://127.0.0.1:8123/hunyuan/", content=b"{}",
                             headers={"Content-Type": "application/json"})
    signed = _run(auth, request)
    expected = tc3_sign("AKIDx", "key", timestamp=1_700_000_000, payload=b"{}", host="127.0.0.1:8123",
                        path="/hunyuan/")
    assert signed.headers["Authorization"] == expected.authorization


# -- Qianfan token exchange ----------------------------------------------------------------------
def test_token_request_matches_the_vector() -> None:
    request = qianfan_token_request(TOKEN_URL, QF["api_key"], QF["secret_key"])
    assert request.method == QIANFAN["token_request"]["method"]
    assert str(request.url) == QIANFAN["token_request"]["url"]
    assert request.content.decode() == QIANFAN["token_request"]["body"]


def test_token_url_is_derived_from_the_base_url() -> None:
    assert token_url_for("https://aip.baidubce.com/rpc/2.0/ai_custom/v1/wenxinworkshop") == TOKEN_URL
    assert token_url_for("http://127.0.0.1:9/qf/rpc/2.0/ai_custom/v1/wenxinworkshop") == \
        "http://127.0.0.1:9/qf/oauth/2.0/token"
    assert token_url_for("http://proxy.local:8080") == "http://proxy.local:8080/oauth/2.0/token"


class LazyBody(httpx2.SyncByteStream):
    """A response body that records whether anyone started reading it."""

    started = False

    def __iter__(self) -> Iterator[bytes]:
        self.started = True
        yield b'data: {"result":"hi","is_end":true}\n\n'


class FakeBaidu:
    """An httpx2 handler: the token endpoint plus a chat endpoint that checks ``access_token``."""

    def __init__(self, *, expires_in: int = 2_592_000, delay: float = 0.0) -> None:
        self.expires_in = expires_in
        self.delay = delay
        self.serial = 0
        self.valid: set[str] = set()
        self.log: list[str] = []
        self.reject_always: int | None = None
        self.token_reply: tuple[int, dict[str, Any]] | None = None
        self.stream = False
        self.invalid_code = 111
        self.body = LazyBody()
        self._lock = threading.Lock()

    def _token(self, request: httpx2.Request) -> httpx2.Response:
        if self.token_reply is not None:
            return httpx2.Response(self.token_reply[0], json=self.token_reply[1])
        with self._lock:
            self.serial += 1
            token = QF["access_token"] if self.serial == 1 else f"24.fresh{self.serial}"
            self.valid.add(token)
        return httpx2.Response(200, json={"access_token": token, "expires_in": self.expires_in})

    def _chat(self, request: httpx2.Request) -> httpx2.Response:
        token = request.url.params.get("access_token")
        if self.reject_always is not None:
            return httpx2.Response(200, json={"error_code": self.reject_always, "error_msg": "token rejected"})
        if token not in self.valid:
            return httpx2.Response(200, json={"error_code": self.invalid_code, "error_msg": "bad token"})
        if self.stream:
            return httpx2.Response(200, stream=self.body, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json={"result": f"ok with {token}"})

    def sync(self, request: httpx2.Request) -> httpx2.Response:
        self.log.append(request.url.path)
        if request.url.path == "/oauth/2.0/token":
            assert str(request.url) == QIANFAN["token_request"]["url"]
            if self.delay:
                time.sleep(self.delay)
            return self._token(request)
        return self._chat(request)

    async def aio(self, request: httpx2.Request) -> httpx2.Response:
        self.log.append(request.url.path)
        if request.url.path == "/oauth/2.0/token":
            await asyncio.sleep(self.delay)
            return self._token(request)
        await asyncio.sleep(0)
        return self._chat(request)

    def count(self, kind: str) -> int:
        return sum(1 for path in self.log if (path == "/oauth/2.0/token") == (kind == "token"))

    def revoke(self) -> None:
        with self._lock:
            self.valid.clear()


def qianfan_auth(clock: Callable[[], float] = time.time, margin: float = 300.0) -> QianfanTokenAuth:
    return QianfanTokenAuth(Secret(QF["api_key"]), Secret(QF["secret_key"]), token_url=TOKEN_URL,
                            provider="qf", refresh_margin=margin, clock=clock)


def test_token_is_exchanged_once_added_to_the_query_and_cached() -> None:
    fake, auth = FakeBaidu(), qianfan_auth()
    with httpx2.Client(transport=httpx2.MockTransport(fake.sync), auth=auth) as client:
        first = client.post(CHAT_URL, json={"messages": []})
        second = client.post(CHAT_URL, json={"messages": []})
    assert str(first.request.url) == QIANFAN["chat_requests"]["ERNIE-4.0-8K"]["url"]
    assert first.json()["result"] == second.json()["result"] == f"ok with {QF['access_token']}"
    assert (fake.count("token"), fake.count("chat"), auth.exchanges) == (1, 2, 1)


def test_token_is_refreshed_before_it_expires() -> None:
    now = [1000.0]
    fake, auth = FakeBaidu(expires_in=100), qianfan_auth(clock=lambda: now[0], margin=300.0)
    with httpx2.Client(transport=httpx2.MockTransport(fake.sync), auth=auth) as client:
        client.post(CHAT_URL, json={})
        now[0] += 49  # the margin is capped at half the lifetime: refresh from t+50
        client.post(CHAT_URL, json={})
        assert auth.exchanges == 1
        now[0] += 2
        reply = client.post(CHAT_URL, json={})
    assert auth.exchanges == 2
    assert reply.json()["result"] == "ok with 24.fresh2"


@pytest.mark.parametrize("code", [110, 111])
def test_error_110_111_in_a_200_body_refreshes_and_retries_once(code: int) -> None:
    fake, auth = FakeBaidu(), qianfan_auth()
    fake.invalid_code = code
    chat = "/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions_pro"
    token = "/oauth/2.0/token"
    with httpx2.Client(transport=httpx2.MockTransport(fake.sync), auth=auth) as client:
        client.post(CHAT_URL, json={})
        fake.revoke()
        reply = client.post(CHAT_URL, json={})
        assert reply.json()["result"] == "ok with 24.fresh2"
        assert fake.log == [token, chat, chat, token, chat]
        fake.reject_always = code  # a second rejection is handed back, not retried forever
        stuck = client.post(CHAT_URL, json={})
    assert stuck.json()["error_code"] == code
    assert fake.log[5:] == [chat, token, chat]


def test_stream_replies_are_not_read_by_the_auth_flow() -> None:
    fake, auth = FakeBaidu(), qianfan_auth()
    fake.stream = True
    with httpx2.Client(transport=httpx2.MockTransport(fake.sync), auth=auth) as client:
        request = client.build_request("POST", CHAT_URL, json={"stream": True})
        response = client.send(request, stream=True)
        assert not fake.body.started
        assert b"".join(response.iter_bytes()).startswith(b"data: ")
        assert fake.body.started
        response.close()


@pytest.mark.parametrize(("status", "body", "cls"), [
    (401, {"error": "invalid_client", "error_description": "unknown client id"}, llmswitch.AuthenticationError),
    (200, {"error": "invalid_client", "error_description": "Client authentication failed"},
     llmswitch.AuthenticationError),
    (503, {"error": "busy"}, llmswitch.InternalServerError),
    (429, {"error": "slow down"}, llmswitch.RateLimitError),
])
def test_failed_exchange_raises_without_the_secret(status: int, body: dict[str, Any], cls: type[Exception]) -> None:
    fake, auth = FakeBaidu(), qianfan_auth()
    fake.token_reply = (status, body)
    with httpx2.Client(transport=httpx2.MockTransport(fake.sync), auth=auth) as client, \
            pytest.raises(cls) as info:
        client.post(CHAT_URL, json={})
    assert "[qf]" in str(info.value)
    assert QF["secret_key"] not in str(info.value)
    assert fake.count("chat") == 0
    assert auth.cached() is None


def test_concurrent_sync_calls_share_one_exchange_and_one_refresh() -> None:
    fake, auth = FakeBaidu(delay=0.05), qianfan_auth()
    results: list[str] = []
    with httpx2.Client(transport=httpx2.MockTransport(fake.sync), auth=auth) as client:
        def call() -> None:
            results.append(client.post(CHAT_URL, json={}).json()["result"])

        def burst() -> None:
            threads = [threading.Thread(target=call) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        burst()
        assert fake.count("token") == 1
        fake.revoke()  # every cached token now fails with 111: only one refresh may follow
        burst()
    assert fake.count("token") == 2
    assert len(results) == 16
    assert set(results[8:]) == {"ok with 24.fresh2"}


async def test_concurrent_async_calls_share_one_exchange_and_one_refresh() -> None:
    fake, auth = FakeBaidu(delay=0.02), qianfan_auth()
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(fake.aio), auth=auth) as client:
        replies = await asyncio.gather(*(client.post(CHAT_URL, json={}) for _ in range(8)))
        assert {r.json()["result"] for r in replies} == {f"ok with {QF['access_token']}"}
        assert fake.count("token") == 1
        fake.revoke()
        replies = await asyncio.gather(*(client.post(CHAT_URL, json={}) for _ in range(8)))
    assert {r.json()["result"] for r in replies} == {"ok with 24.fresh2"}
    assert fake.count("token") == 2


def test_one_auth_serves_two_event_loops() -> None:
    fake, auth = FakeBaidu(), qianfan_auth()

    async def once() -> str:
        async with httpx2.AsyncClient(transport=httpx2.MockTransport(fake.aio), auth=auth) as client:
            auth.invalidate()
            return str((await client.post(CHAT_URL, json={})).json()["result"])

    assert asyncio.run(once()) == f"ok with {QF['access_token']}"
    assert asyncio.run(once()) == "ok with 24.fresh2"
