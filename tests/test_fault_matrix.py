"""The failover fault matrix: every fault of issue #3 against real loopback HTTP, sync and async.

Each row scripts one fault on the primary target of a two-target route and checks that the call
is served by the healthy backup (no lost request), with exactly the attempts and waits expected,
within the deadline, and that no credential appears in any error, repr or log line. Rows that a
route does not fall back on are raised at once; a target standing alone is retried in place with
the server's Retry-After or the backoff. Nothing sleeps for real: the clients get ``sleep=``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

import llmswitch
from llmswitch.testing import Fault, MockServer
from llmswitch.testing.scenario import split_words

CTX = ssl.create_default_context()  # one SSL context for every test client (creating one costs ~50 ms)
KEYS = {
    "primary": "sk-proj-Pr1mAryK3yAbCdEfGhIjKlMnOpQrStUvWxYz0123",
    "backup": "sk-B4ckUpK3yZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210",
    "refused": "sk-R3fus3dK3yQwErTyUiOpAsDfGhJkLzXcVbNm55555",
    "blackhole": "sk-Bl4ckH0leK3yMnBvCxZlKjHgFdSaPoIuYtReWq77777",
}
PROMPT = "hello there world"
TIGHT = {"connect": 0.2, "read": 0.5, "first_token": 0.4, "idle": 0.3, "total": 3.0}
FAST_RETRY = {"max_attempts": 3, "backoff": {"initial": 0.01, "max": 0.02}}
ALL_CLASSES = ["rate_limit", "server_error", "timeout", "connection", "auth", "context_window", "content_filter"]
MODES = ("sync", "async")


# -- fixtures ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer({"primary": "openai", "backup": "openai"}) as running:
        for name in ("primary", "backup"):
            running.mount(name).api_key = KEYS[name]  # requests must carry the right key
        yield running


@pytest.fixture(autouse=True)
def _fresh(server: MockServer) -> None:
    for name in ("primary", "backup"):
        server.mount(name).script.clear()
        server.mount(name).requests.clear()


@pytest.fixture(scope="module")
def refused_port() -> int:
    """A port nothing listens on: connecting is refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


@pytest.fixture(scope="module")
def blackhole_port() -> Iterator[int]:
    """A listener whose accept queue is full: new connections hang in SYN, so connect times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.05)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


@pytest.fixture
def config(server: MockServer, refused_port: int, blackhole_port: int) -> dict[str, Any]:
    def provider(name: str, url: str) -> dict[str, Any]:
        return {"type": "openai", "api_key": KEYS[name], "base_url": url}

    route = {"timeouts": TIGHT, "retry": FAST_RETRY}
    return {
        "providers": {
            "primary": provider("primary", server.base_url("primary")),
            "backup": provider("backup", server.base_url("backup")),
            "refused": provider("refused", f"http://127.0.0.1:{refused_port}/v1"),
            "blackhole": provider("blackhole", f"http://127.0.0.1:{blackhole_port}/v1"),
        },
        "routes": {
            # gpt-4.1's window (1M) is larger than gpt-4o's (128k): a context_window fallback may use it
            **{f"via_{p}": {**route, "targets": [f"{p}/gpt-4o", "backup/gpt-4.1"], "fallback_on": ALL_CLASSES}
               for p in ("primary", "refused", "blackhole")},
            "strict": {**route, "targets": ["primary/gpt-4o", "backup/gpt-4.1"]},  # default fallback_on
            "solo": {**route, "targets": ["primary/gpt-4o"]},
            "solo_refused": {**route, "targets": ["refused/gpt-4o"]},
        },
    }


# -- running one call -----------------------------------------------------------------------------

@dataclass
class Outcome:
    text: str | None
    info: llmswitch.RouteInfo | None
    error: BaseException | None
    elapsed: float
    sleeps: list[float] = field(default_factory=list)

    def raised(self) -> BaseException:
        assert self.error is not None, f"expected an error, got {self.text!r}"
        return self.error

    def kinds(self) -> list[tuple[str, str | None]]:
        assert self.info is not None
        return [(a.target, a.kind) for a in self.info.attempts]


def _text(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def run(mode: str, cfg: dict[str, Any], model: str, *, stream: bool = False) -> Outcome:
    """One chat call on a fresh client; the stream (if any) is read to its end."""
    messages = [{"role": "user", "content": PROMPT}]
    sleeps: list[float] = []
    started = time.monotonic()
    if mode == "sync":
        http = httpx2.Client(verify=CTX)
        client = llmswitch.OpenAI(config=cfg, http_client=http, sleep=sleeps.append)
        try:
            response = client.chat.completions.create(model=model, messages=messages, stream=stream)
            text = _text(list(response)) if stream else response.choices[0].message.content
            return Outcome(text, llmswitch.route_info(response), None, time.monotonic() - started, sleeps)
        except Exception as exc:
            return Outcome(None, getattr(exc, "route_info", None), exc, time.monotonic() - started, sleeps)
        finally:
            client.close()
            http.close()

    async def main() -> Outcome:
        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        http = httpx2.AsyncClient(verify=CTX)
        client = llmswitch.AsyncOpenAI(config=cfg, http_client=http, sleep=sleep)
        try:
            response = await client.chat.completions.create(model=model, messages=messages, stream=stream)
            text = _text([c async for c in response]) if stream else response.choices[0].message.content
            return Outcome(text, llmswitch.route_info(response), None, time.monotonic() - started, sleeps)
        except Exception as exc:
            return Outcome(None, getattr(exc, "route_info", None), exc, time.monotonic() - started, sleeps)
        finally:
            await client.close()
            await http.aclose()

    return asyncio.run(main())


def answer(mount: str, model: str) -> str:
    """What the mock answers (its deterministic reply), to check who served a call."""
    return f"[{mount}:{model}] {PROMPT}"


def assert_no_secret(outcome: Outcome, caplog: pytest.LogCaptureFixture) -> None:
    texts = [caplog.text, repr(outcome.info)]
    if outcome.error is not None:
        texts += [str(outcome.error), repr(outcome.error)]
        cause = outcome.error.__cause__
        if cause is not None:
            texts += [str(cause), repr(cause)]
    for attempt in outcome.info.attempts if outcome.info else ():
        texts += [str(attempt.error), repr(attempt.error), str(getattr(attempt.error, "body", ""))]
    for key in KEYS.values():
        for text in texts:
            assert key not in text


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level: none may carry a key


def _http_date(seconds_ahead: float) -> str:
    return email.utils.formatdate(time.time() + seconds_ahead, usegmt=True)


# -- rows: the primary fails, the backup is healthy -----------------------------------------------

@dataclass(frozen=True)
class Row:
    id: str
    fault: str | Callable[[], Fault] | None  # scripted on the primary (None: the provider is the fault)
    kind: str  # failure class recorded for the primary's attempt (plain requests)
    stream_kind: str | None = None  # the class when streaming, if different; "-" = not a stream fault
    primary: str = "primary"
    plain: bool = True  # applies to non-streamed requests


FALLBACK_ROWS = [
    Row("connection-refused", None, "connection", primary="refused"),
    Row("connect-timeout", None, "timeout", primary="blackhole"),
    Row("read-timeout", "stall:seconds=2", "timeout"),
    Row("408", "408", "timeout"),
    Row("409", "409", "conflict"),
    Row("429-no-retry-after", "429", "rate_limit"),
    Row("429-retry-after-0", "429:retry-after=0", "rate_limit"),
    Row("429-retry-after-ms", "429:retry-after-ms=200", "rate_limit"),
    Row("429-retry-after-seconds", "429:retry-after=1", "rate_limit"),
    Row("429-retry-after-date", lambda: Fault(status=429, headers={"retry-after": _http_date(2)}), "rate_limit"),
    Row("429-retry-after-huge", "429:retry-after=86400", "rate_limit"),
    Row("429-retry-after-malformed", "429:retry-after=soon", "rate_limit"),
    Row("500", "500", "server_error"),
    Row("502", "502", "server_error"),
    Row("503", "503:retry-after=1", "server_error"),
    Row("504", "504", "server_error"),
    Row("400-context-length", "400:error=context_window", "context_window"),
    Row("400-content-filter", "400:error=content_filter", "content_filter"),
    Row("401", "401", "auth"),
    Row("403", "403", "permission"),
    Row("malformed-json", "malformed_json", "server_error"),  # a JSON body where a stream was asked for: the same
    Row("truncated-body", "truncated_body", "server_error"),  # a JSON body where a stream was asked for: the same
    Row("html-error-page", "html:status=502", "server_error"),
    Row("wrong-content-type", "wrong_content_type", "server_error", stream_kind="connection"),
    Row("error-in-200-body", "error_in_body", "server_error"),  # a JSON body where a stream was asked for: the same
    Row("connection-dropped", "close", "connection"),
    # streams only: failures before the first token are retried/fallen back silently
    Row("stream-cut-before-first-chunk", "cut_stream:after=0", "-", stream_kind="connection", plain=False),
    Row("stream-cut-after-role-chunk", "cut_stream:after=1", "-", stream_kind="connection", plain=False),
    Row("in-band-error-before-first-token", "stream_error:after=1", "-", stream_kind="server_error", plain=False),
    Row("in-band-content-filter-before-first-token", "stream_error:after=1:error=content_filter:status=400", "-",
        stream_kind="content_filter", plain=False),
    Row("stall-before-first-token", "stall:after=1:seconds=2", "-", stream_kind="timeout", plain=False),
]

CASES = [pytest.param(row, stream, mode, id=f"{row.id}-{'stream' if stream else 'plain'}-{mode}")
         for row in FALLBACK_ROWS for stream in (False, True) for mode in MODES
         if (row.plain if not stream else row.stream_kind != "-")]


@pytest.mark.parametrize(("row", "stream", "mode"), CASES)
def test_fault_falls_back_to_the_healthy_target(row: Row, stream: bool, mode: str, server: MockServer,
                                                config: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    if row.fault is not None:
        server.mount("primary").fail(row.fault() if callable(row.fault) else row.fault)
    outcome = run(mode, config, f"via_{row.primary}", stream=stream)

    assert outcome.error is None, f"request lost: {outcome.error!r}"
    assert outcome.text == answer("backup", "gpt-4.1")
    kind = (row.stream_kind or row.kind) if stream else row.kind
    assert outcome.kinds() == [(f"{row.primary}/gpt-4o", kind), ("backup/gpt-4.1", None)]
    assert outcome.info is not None and outcome.info.fallbacks == 1
    assert outcome.sleeps == []  # another target remained: no waiting, not even for Retry-After: 0
    if row.primary == "primary":
        assert len(server.mount("primary").requests) == 1
    assert len(server.mount("backup").requests) == 1
    assert outcome.elapsed < 1.5  # every limit here is ≤ 0.5 s
    assert_no_secret(outcome, caplog)


# -- interruptions after the commit point --------------------------------------------------------------

def _pieces() -> list[str]:
    return split_words(answer("primary", "gpt-4o"))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("fault", "delivered", "cause"), [
    ("cut_stream:after=3", 2, llmswitch.APIConnectionError),
    ("stall:after=3:seconds=2", 2, llmswitch.APITimeoutError),
    ("stream_error:after=3:error=content_filter:status=400", 2, llmswitch.ContentFilterError),
    ("no_terminator", len(_pieces()), llmswitch.APIConnectionError),
], ids=["cut-mid-way", "stall-mid-way", "in-band-error-mid-way", "no-terminator"])
def test_failure_after_first_token_raises_interrupted_with_the_partial_output(
        fault: str, delivered: int, cause: type[BaseException], mode: str, server: MockServer,
        config: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    server.mount("primary").fail(fault)
    outcome = run(mode, config, "via_primary", stream=True)

    error = outcome.raised()
    assert isinstance(error, llmswitch.StreamInterruptedError)
    assert error.partial_text == "".join(_pieces()[:delivered])  # the role chunk was event 0
    assert isinstance(error.__cause__, cause)
    assert len(server.mount("backup").requests) == 0  # output was delivered: never replayed elsewhere
    assert outcome.elapsed < 1.5
    assert_no_secret(outcome, caplog)


@pytest.mark.parametrize("mode", MODES)
def test_a_slow_trickle_within_the_idle_limit_is_served_by_the_primary(
        mode: str, server: MockServer, config: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    server.mount("primary").fail("slow:seconds=0.03")
    outcome = run(mode, config, "via_primary", stream=True)

    assert outcome.error is None
    assert outcome.text == answer("primary", "gpt-4o")
    assert outcome.kinds() == [("primary/gpt-4o", None)]
    assert_no_secret(outcome, caplog)


# -- a target standing alone is retried in place ------------------------------------------------------

def _backoff(outcome: Outcome) -> None:
    [wait] = outcome.sleeps
    assert 0.01 * 0.75 <= wait <= 0.01  # initial 0.01 s, openai's jitter (up to 25% less)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("fault", "check"), [
    ("429:retry-after-ms=200", lambda o: o.sleeps == [0.2]),
    ("429:retry-after=1", lambda o: o.sleeps == [1.0]),
    (lambda: Fault(status=429, headers={"retry-after": _http_date(2)}),
     lambda o: len(o.sleeps) == 1 and 0 < o.sleeps[0] <= 2),
    ("429", _backoff),
    ("429:retry-after=soon", _backoff),
    ("408", _backoff),
    ("409", _backoff),
    ("500", _backoff),
    ("503:retry-after=0", lambda o: o.sleeps == []),
    ("400:x-should-retry=true", _backoff),
    ("stall:seconds=2", _backoff),
    ("malformed_json", _backoff),
], ids=["retry-after-ms", "retry-after-seconds", "retry-after-date", "retry-after-absent",
        "retry-after-malformed", "408", "409", "500", "503-retry-after-0", "x-should-retry-true", "read-timeout",
        "malformed-json"])
def test_a_lone_target_is_retried_after_the_right_wait(fault: str | Callable[[], Fault], check: Any, mode: str,
                                                       server: MockServer, config: dict[str, Any],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    server.mount("primary").fail(fault() if callable(fault) else fault)
    outcome = run(mode, config, "solo")

    assert outcome.error is None, repr(outcome.error)
    assert outcome.text == answer("primary", "gpt-4o")
    assert len(server.mount("primary").requests) == 2
    assert outcome.info is not None and outcome.info.retries == 1
    check(outcome)
    if check is not _backoff and fault != "503:retry-after=0":
        assert outcome.sleeps  # the server's wait was honoured, not the backoff
    assert_no_secret(outcome, caplog)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("fault", "error"), [
    ("429:retry-after=86400", llmswitch.RateLimitError),  # longer than the deadline: not waited for
    ("500:x-should-retry=false", llmswitch.InternalServerError),
], ids=["retry-after-huge", "x-should-retry-false"])
def test_a_lone_target_is_not_retried_when_it_must_not_be(fault: str, error: type[Exception], mode: str,
                                                           server: MockServer, config: dict[str, Any],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    server.mount("primary").fail(fault)
    outcome = run(mode, config, "solo")

    assert isinstance(outcome.raised(), error)
    assert outcome.sleeps == []
    assert len(server.mount("primary").requests) == 1
    assert outcome.elapsed < 0.5
    assert_no_secret(outcome, caplog)


@pytest.mark.parametrize("mode", MODES)
def test_a_refused_lone_target_is_retried_then_raises_its_own_error(mode: str, config: dict[str, Any],
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    outcome = run(mode, config, "solo_refused")

    error = outcome.raised()
    assert type(error) is llmswitch.APIConnectionError  # a lone target's own error, as openai raises it
    assert len(outcome.sleeps) == 2  # max_attempts 3
    assert outcome.kinds() == [("refused/gpt-4o", "connection")] * 3
    assert error.route_info is outcome.info  # type: ignore[attr-defined]
    assert_no_secret(outcome, caplog)


# -- failures no other target would fix ------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("fault", "error"), [
    ("400", llmswitch.BadRequestError),
    ("400:error=context_window", llmswitch.ContextWindowExceededError),
    ("400:error=content_filter", llmswitch.ContentFilterError),
    ("401", llmswitch.AuthenticationError),
    ("404", llmswitch.NotFoundError),
], ids=["400", "context-length", "content-filter", "401", "404"])
def test_errors_outside_fallback_on_are_raised_at_once(fault: str, error: type[Exception], mode: str,
                                                       server: MockServer, config: dict[str, Any],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    server.mount("primary").fail(fault)
    outcome = run(mode, config, "strict")

    raised = outcome.raised()
    assert type(raised) is error
    assert "primary/gpt-4o" in str(raised)  # says which provider and model
    assert len(server.mount("backup").requests) == 0
    assert outcome.sleeps == []
    assert_no_secret(outcome, caplog)


@pytest.mark.parametrize("mode", MODES)
def test_when_every_target_fails_the_error_lists_every_attempt(mode: str, server: MockServer,
                                                               config: dict[str, Any],
                                                               caplog: pytest.LogCaptureFixture) -> None:
    server.mount("primary").fail("500*10")
    server.mount("backup").fail("503*10")
    outcome = run(mode, config, "strict")

    error = outcome.raised()
    assert isinstance(error, llmswitch.AllTargetsFailedError)
    # moved on from the primary at once; the last target standing was retried with backoff
    assert [(a.target, a.kind) for a in error.attempts] == [
        ("primary/gpt-4o", "server_error"), ("backup/gpt-4.1", "server_error"),
        ("backup/gpt-4.1", "server_error"), ("backup/gpt-4.1", "server_error")]
    assert all(isinstance(a.error, llmswitch.InternalServerError) for a in error.attempts)
    assert len(outcome.sleeps) == 2
    for line in ("primary/gpt-4o", "backup/gpt-4.1"):
        assert line in str(error)
    assert_no_secret(outcome, caplog)


@pytest.mark.parametrize("mode", MODES)
def test_the_total_deadline_bounds_every_attempt_and_wait(mode: str, server: MockServer,
                                                          config: dict[str, Any]) -> None:
    config["routes"]["solo"]["timeouts"] = {"total": 0.4, "connect": 0.2}
    server.mount("primary").fail("stall:seconds=2*3")
    outcome = run(mode, config, "solo")

    assert isinstance(outcome.raised(), llmswitch.APITimeoutError)
    assert outcome.elapsed < 0.8
