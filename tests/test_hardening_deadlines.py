"""Issue #14: one deadline bounds every byte, a response cannot grow without limit, no sleep is
unbounded — against a real loopback server that trickles or floods, sync, async and streaming.

Each deadline test asserts the exception class and the time bound (deadline + 0.5 s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

import llmswitch
from llmswitch import errors
from llmswitch.testing import Fault, MockServer

KEY = "sk-hardening-deadline-key-0123456789"
TOTAL = 0.8
SLACK = 0.5
MESSAGES = [{"role": "user", "content": "hello there"}]
MODES = ("sync", "async")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's environment must not leak in (a config, a key, a proxy)."""
    for name in ("LLMSWITCH_CONFIG", "OPENAI_API_KEY", "OPENAI_BASE_URL", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer({"primary": "openai", "backup": "openai"}) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(server: MockServer) -> None:
    for name in ("primary", "backup"):
        server.mount(name).script.clear()
        server.mount(name).requests.clear()


def config(server: MockServer, *, total: float | None = TOTAL, **provider: Any) -> dict[str, Any]:
    def spec(name: str) -> dict[str, Any]:
        return {"type": "openai", "base_url": server.base_url(name), "api_key": KEY, **provider}

    return {"providers": {"primary": spec("primary"), "backup": spec("backup")},
            "defaults": {"timeouts": {"total": total}, "retry": {"max_attempts": 1}}}


def call(mode: str, cfg: dict[str, Any], *, stream: bool = False, model: str = "primary/gpt-4o",
         http_client: Any = None, sleeps: list[float] | None = None, **params: Any) -> tuple[Any, float]:
    """One chat call on a fresh client (a stream read to its end): (result or exception, seconds)."""
    record = sleeps if sleeps is not None else []
    if mode == "sync":
        with llmswitch.OpenAI(config=cfg, http_client=http_client, sleep=record.append) as client:
            started = time.monotonic()  # the call only: a first client pays for importing openai
            try:
                result = client.chat.completions.create(model=model, messages=MESSAGES, stream=stream, **params)
                return (list(result) if stream else result), time.monotonic() - started
            except Exception as exc:
                return exc, time.monotonic() - started

    async def main() -> Any:
        async def sleep(seconds: float) -> None:
            record.append(seconds)

        async with llmswitch.AsyncOpenAI(config=cfg, http_client=http_client, sleep=sleep) as client:
            started = time.monotonic()
            try:
                result = await client.chat.completions.create(model=model, messages=MESSAGES, stream=stream,
                                                              **params)
                return ([c async for c in result] if stream else result), time.monotonic() - started
            except Exception as exc:
                return exc, time.monotonic() - started

    outcome: tuple[Any, float] = asyncio.run(main())
    return outcome


# -- one deadline bounds connect, upload, head and body -------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("fault", ["header_trickle", "body_trickle"])
def test_a_trickling_server_cannot_outlive_the_total(server: MockServer, mode: str, stream: bool,
                                                     fault: str) -> None:
    server.mount("primary").fail(Fault(kind=fault, seconds=0.1))  # well under every per-read timeout
    outcome, elapsed = call(mode, config(server), stream=stream)
    assert isinstance(outcome, errors.APITimeoutError), outcome
    assert elapsed < TOTAL + SLACK
    assert "deadline" in str(outcome) and "[primary/gpt-4o]" in str(outcome)


def test_a_callers_own_sync_client_gets_the_watchdog_over_the_body(server: MockServer) -> None:
    """A client we did not make has no deadline-aware sockets: the watchdog bounds its body read."""
    server.mount("primary").fail(Fault(kind="body_trickle", seconds=0.1))
    with httpx2.Client() as http:
        outcome, elapsed = call("sync", config(server), http_client=http)
    assert isinstance(outcome, errors.APITimeoutError), outcome
    assert elapsed < TOTAL + SLACK


@pytest.mark.parametrize("mode", MODES)
def test_the_total_is_a_timeout_the_route_falls_back_on(server: MockServer, mode: str) -> None:
    """A provider's own total cuts its attempt; the route's fallback rules then apply."""
    cfg = config(server, total=None)
    cfg["providers"]["primary"]["timeouts"] = {"total": 0.4}
    cfg["defaults"]["timeouts"]["total"] = 3.0
    cfg["routes"] = {"chat": {"targets": ["primary/gpt-4o", "backup/gpt-4o"]}}
    server.mount("primary").fail(Fault(kind="header_trickle", seconds=0.1))
    outcome, elapsed = call(mode, cfg, model="chat")
    assert not isinstance(outcome, Exception), outcome
    info = llmswitch.route_info(outcome)
    assert info is not None and [(a.target, a.kind) for a in info.attempts] == [
        ("primary/gpt-4o", "timeout"), ("backup/gpt-4o", None)]
    assert elapsed < 0.4 + SLACK


def test_with_no_config_a_call_is_bounded_like_openais() -> None:
    client = llmswitch.OpenAI(api_key=KEY, base_url="http://127.0.0.1:9/v1")
    try:
        plan = client.router.plan("gpt-4o", {})
        assert plan.total == 600.0
        assert plan.policy.retry.max_wait == 60.0
    finally:
        client.close()


# -- response size -------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_an_endless_body_is_cut_at_the_size_limit(server: MockServer, mode: str, stream: bool) -> None:
    cfg = config(server, total=5.0, max_response_bytes=2**20)
    server.mount("primary").fail("endless_body")
    started = time.monotonic()
    outcome, _ = call(mode, cfg, stream=stream)
    assert isinstance(outcome, errors.InternalServerError), outcome
    assert "max_response_bytes" in str(outcome) and "1 MiB" in str(outcome)
    assert time.monotonic() - started < 2.0  # cut at the limit, not at the deadline
    healthy, _ = call(mode, cfg, stream=stream)  # the flooding connection was released, not reused
    assert not isinstance(healthy, Exception), healthy


@pytest.mark.parametrize("mode", MODES)
def test_the_limit_is_per_provider_and_the_default_admits_normal_answers(server: MockServer, mode: str) -> None:
    outcome, _ = call(mode, config(server))
    assert not isinstance(outcome, Exception), outcome
    small, _ = call(mode, config(server, max_response_bytes=100))
    assert isinstance(small, errors.InternalServerError) and "100 bytes" in str(small)


# -- every sleep is capped -------------------------------------------------------------------------

def retry_config(server: MockServer, *, total: float | None, **retry: Any) -> dict[str, Any]:
    cfg = config(server, total=total)
    cfg["defaults"]["retry"] = {"max_attempts": 2, "backoff": {"initial": 0.5, "max": 8}, **retry}
    return cfg


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("retry_after", ["1000000000", "inf", "300", "nan"])
def test_a_huge_or_unusable_retry_after_never_hangs_the_call(server: MockServer, mode: str,
                                                            retry_after: str) -> None:
    """Even with no total at all, no wait exceeds max_wait (60 s): a longer ask is not retried,
    a non-number is ignored (backoff)."""
    server.mount("primary").fail(f"429:retry-after={retry_after}")
    sleeps: list[float] = []
    outcome, elapsed = call(mode, retry_config(server, total=None), sleeps=sleeps)
    assert all(0 < s <= 60 for s in sleeps), sleeps
    if retry_after in ("nan", "inf"):  # unusable: backoff, then the retry succeeds
        assert not isinstance(outcome, Exception) and len(sleeps) == 1 and sleeps[0] <= 0.5
    else:
        assert isinstance(outcome, errors.RateLimitError) and sleeps == []
    assert elapsed < 2.0


@pytest.mark.parametrize("retry_after", ["-5", "0", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_a_negative_or_past_retry_after_backs_off_as_openai_does(server: MockServer, retry_after: str) -> None:
    server.mount("primary").fail(Fault(status=429, headers={"retry-after": retry_after}))
    sleeps: list[float] = []
    outcome, _ = call("sync", retry_config(server, total=None), sleeps=sleeps)
    assert not isinstance(outcome, Exception), outcome
    assert len(sleeps) == 1 and 0.375 <= sleeps[0] <= 0.5  # the first backoff step with openai's jitter


def test_max_wait_is_configurable_and_caps_retry_after(server: MockServer) -> None:
    server.mount("primary").fail("429:retry-after=30")
    sleeps: list[float] = []
    obeyed, _ = call("sync", retry_config(server, total=None), sleeps=sleeps)
    assert not isinstance(obeyed, Exception) and sleeps == [30.0]  # within the default 60 s
    sleeps.clear()
    server.mount("primary").fail("429:retry-after=30")
    refused, _ = call("sync", retry_config(server, total=None, max_wait=5), sleeps=sleeps)
    assert isinstance(refused, errors.RateLimitError) and sleeps == []


def test_a_retry_after_past_the_remaining_deadline_is_not_waited_for(server: MockServer) -> None:
    server.mount("primary").fail("429:retry-after=10")
    sleeps: list[float] = []
    outcome, _ = call("async", retry_config(server, total=5.0), sleeps=sleeps)
    assert isinstance(outcome, errors.RateLimitError) and sleeps == []
