"""The router's decisions, step by step (no I/O, an injected clock), and end to end over loopback HTTP:
retries and fallbacks, deadlines, breakers across calls, capability filtering, strategies, hooks,
route info, cost, logging and secret redaction."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import pytest

import llmswitch
from llmswitch import errors
from llmswitch.config import load
from llmswitch.router import Fail, Router, Sleep, Try
from llmswitch.testing import MockServer

CTX = ssl.create_default_context()
KEY_A = "sk-AaAaAaAa1111222233334444555566667777"
KEY_B = "sk-BbBbBbBb8888999900001111222233334444"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_settings(routes: dict[str, Any], *, defaults: dict[str, Any] | None = None,
                  providers: dict[str, Any] | None = None) -> Any:
    base = {name: {"type": "openai", "api_key": key, "base_url": f"http://127.0.0.1:9/{name}/v1"}
            for name, key in (("a", KEY_A), ("b", KEY_B), ("c", "sk-CcCcCcCc5555666677778888999900001111"))}
    return load({"providers": {**base, **(providers or {})}, "routes": routes, "defaults": defaults or {}})


def status_error(status: int, headers: dict[str, str] | None = None, *, kind: str | None = None,
                 message: str = "boom") -> errors.APIStatusError:
    response = httpx2.Response(status, headers=headers, request=httpx2.Request("POST", "http://x/v1"))
    if kind is not None:
        return errors.error_for_kind(kind, message, response=response, provider="x", model="m")  # type: ignore[arg-type]
    return errors.error_for_status(status, message, response=response, provider="x", model="m")


def connection_error() -> errors.APIConnectionError:
    return errors.APIConnectionError(request=httpx2.Request("POST", "http://x/v1"), provider="x", model="m")


def expect_try(step: object, key: str, retry: int = 0) -> Try:
    assert isinstance(step, Try), step
    assert (step.target.key, step.retry) == (key, retry)
    return step


ROUTE = {"targets": ["a/gpt-4o", "b/gpt-4o", "c/gpt-4o"],
         "retry": {"max_attempts": 3, "backoff": {"initial": 0.5, "max": 8, "jitter": 0}}}


def plan_for(routes: dict[str, Any] | None = None, model: str = "chat", *, clock: Clock | None = None,
             hooks: dict[str, Any] | None = None, **kw: Any) -> Any:
    router = Router(make_settings(routes or {"chat": ROUTE}), clock=clock or Clock(), hooks=hooks)
    return router.plan(model, {"messages": [{"role": "user", "content": "hi"}]}, **kw)


# -- the state machine ----------------------------------------------------------------------------------

def test_retryable_failures_move_on_at_once_and_the_last_target_is_retried_with_backoff() -> None:
    plan = plan_for()
    plan.failed(expect_try(plan.next_step(), "a/gpt-4o"), status_error(500), 0.1)
    plan.failed(expect_try(plan.next_step(), "b/gpt-4o"), status_error(429), 0.1)
    step = expect_try(plan.next_step(), "c/gpt-4o")
    plan.failed(step, connection_error(), 0.1)
    assert plan.next_step() == Sleep(0.5)
    plan.failed(expect_try(plan.next_step(), "c/gpt-4o", 1), status_error(503), 0.1)
    assert plan.next_step() == Sleep(1.0)
    plan.failed(expect_try(plan.next_step(), "c/gpt-4o", 2), status_error(502), 0.1)
    final = plan.next_step()
    assert isinstance(final, Fail) and isinstance(final.error, errors.AllTargetsFailedError)
    assert [a.kind for a in final.error.attempts] == ["server_error", "rate_limit", "connection",
                                                      "server_error", "server_error"]
    assert (plan.info.fallbacks, plan.info.retries) == (2, 2)


def test_retry_in_place_retries_each_target_before_moving_on() -> None:
    plan = plan_for({"chat": {**ROUTE, "retry": {**ROUTE["retry"], "in_place": True, "max_attempts": 2}}})
    plan.failed(expect_try(plan.next_step(), "a/gpt-4o"), status_error(500), 0.1)
    assert isinstance(plan.next_step(), Sleep)
    plan.failed(expect_try(plan.next_step(), "a/gpt-4o", 1), status_error(500), 0.1)
    expect_try(plan.next_step(), "b/gpt-4o")


def test_retry_after_is_honoured_exactly_when_it_fits_the_deadline() -> None:
    plan = plan_for(model="a/gpt-4o")
    plan.failed(expect_try(plan.next_step(), "a/gpt-4o"), status_error(429, {"retry-after-ms": "1500"}), 0.1)
    assert plan.next_step() == Sleep(1.5)


def test_a_retry_after_longer_than_the_deadline_moves_on_or_fails_at_once() -> None:
    clock = Clock()
    plan = plan_for(clock=clock, timeout=10.0)
    plan.failed(expect_try(plan.next_step(), "a/gpt-4o"), status_error(429, {"retry-after": "20"}), 0.1)
    expect_try(plan.next_step(), "b/gpt-4o")  # not retried in place, not waited for

    solo = plan_for(model="a/gpt-4o", clock=clock, timeout=10.0)
    error = status_error(429, {"retry-after": "20"})
    solo.failed(expect_try(solo.next_step(), "a/gpt-4o"), error, 0.1)
    assert solo.next_step() == Fail(error)  # a lone target raises its own error
    assert error.route_info is solo.info  # type: ignore[attr-defined]


def test_x_should_retry_overrides_the_status() -> None:
    plan = plan_for(model="a/gpt-4o")
    plan.failed(expect_try(plan.next_step(), "a/gpt-4o"), status_error(400, {"x-should-retry": "true"}), 0.1)
    assert isinstance(plan.next_step(), Sleep)
    plan = plan_for(model="a/gpt-4o")
    error = status_error(503, {"x-should-retry": "false"})
    plan.failed(expect_try(plan.next_step(), "a/gpt-4o"), error, 0.1)
    assert plan.next_step() == Fail(error)


def test_a_class_outside_fallback_on_is_retried_in_place_then_raised() -> None:
    plan = plan_for({"chat": {**ROUTE, "fallback_on": ["server_error"]}})
    for retry in range(3):
        step = expect_try(plan.next_step() if retry == 0 else _after_sleep(plan), "a/gpt-4o", retry)
        last = status_error(429)
        plan.failed(step, last, 0.1)
    assert plan.next_step() == Fail(last)


def _after_sleep(plan: Any) -> object:
    assert isinstance(plan.next_step(), Sleep)
    return plan.next_step()


def test_a_bad_request_is_raised_at_once() -> None:
    plan = plan_for()
    error = status_error(400)
    plan.failed(expect_try(plan.next_step(), "a/gpt-4o"), error, 0.1)
    assert plan.next_step() == Fail(error)
    assert len(plan.info.attempts) == 1


def test_a_parameter_one_target_cannot_take_moves_on_without_counting_against_it() -> None:
    plan = plan_for()
    step = expect_try(plan.next_step(), "a/gpt-4o")
    response = httpx2.Response(400, request=httpx2.Request("POST", "http://x"))
    plan.failed(step, errors.UnsupportedParameterError("no", response=response, body=None), 0.0)
    expect_try(plan.next_step(), "b/gpt-4o")
    assert plan.router.breaker("a/gpt-4o", "chat").state == "closed"


def test_after_a_context_window_failure_only_larger_windows_are_tried() -> None:
    routes = {"chat": {"targets": ["a/gpt-4o", "b/gpt-4o-mini", "c/gpt-4.1"],
                       "fallback_on": ["context_window"]}}
    plan = plan_for(routes)
    plan.failed(expect_try(plan.next_step(), "a/gpt-4o"), status_error(400, kind="context_window"), 0.1)
    expect_try(plan.next_step(), "c/gpt-4.1")  # gpt-4o-mini has the same 128k window
    assert ("b/gpt-4o-mini", "skipped: context window 128000 is not larger than 128000") in plan.info.reasons


def test_the_retry_budget_stops_retry_storms() -> None:
    router = Router(make_settings({}, defaults={"retry": {"budget": 0.0}}), clock=Clock())
    retried = 0
    for _ in range(15):
        plan = router.plan("c/gpt-4o", {})
        plan.failed(expect_try(plan.next_step(), "c/gpt-4o"), status_error(500), 0.1)
        step = plan.next_step()
        retried += isinstance(step, Sleep)
    assert retried == 10  # the reserve; with a 0% budget, nothing refills it


def test_the_total_deadline_ends_the_call() -> None:
    clock = Clock()
    plan = plan_for(clock=clock, timeout=5.0)
    step = expect_try(plan.next_step(), "a/gpt-4o")
    clock.advance(5.0)
    plan.failed(step, connection_error(), 5.0)
    final = plan.next_step()
    assert isinstance(final, Fail) and "total deadline" in str(final.error)


def test_open_breakers_are_skipped_but_a_direct_call_is_always_attempted() -> None:
    router = Router(make_settings({"chat": ROUTE}), clock=Clock())
    for _ in range(5):
        router.breaker("a/gpt-4o", "chat").record_failure()
    plan = router.plan("chat", {})
    expect_try(plan.next_step(), "b/gpt-4o")
    assert plan.info.reasons == [("a/gpt-4o", "circuit_open")]
    direct = router.plan("a/gpt-4o", {})
    expect_try(direct.next_step(), "a/gpt-4o")


def test_a_lone_target_behind_an_open_breaker_is_not_retried_when_the_breaker_opens() -> None:
    clock = Clock()
    routes = {"chat": {**ROUTE, "circuit_breaker": {"failures": 1}}}
    router = Router(make_settings(routes), clock=clock)
    plan = router.plan("chat", {})
    for key in ("a/gpt-4o", "b/gpt-4o", "c/gpt-4o"):
        plan.failed(expect_try(plan.next_step(), key), status_error(500), 0.1)
    assert isinstance(plan.next_step(), Sleep)  # c was the last target standing when it failed…
    final = plan.next_step()  # …but its breaker opened meanwhile
    assert isinstance(final, Fail) and isinstance(final.error, errors.AllTargetsFailedError)
    assert plan.info.reasons[-1] == ("c/gpt-4o", "circuit_open")


def test_auth_failures_open_the_breaker_at_once() -> None:
    router = Router(make_settings({"chat": {**ROUTE, "fallback_on": ["auth"]}}), clock=Clock())
    plan = router.plan("chat", {})
    plan.failed(expect_try(plan.next_step(), "a/gpt-4o"), status_error(401), 0.1)
    expect_try(plan.next_step(), "b/gpt-4o")
    assert router.breaker("a/gpt-4o", "chat").state == "open"


def test_hedge_steps_take_the_next_target_and_released_probes_are_freed() -> None:
    clock = Clock()
    router = Router(make_settings({"chat": {**ROUTE, "hedge_after": 0.2, "circuit_breaker": {"failures": 1,
                                                                                           "cooldown": 1}}}),
                    clock=clock)
    router.breaker("a/gpt-4o", "chat").record_failure()
    clock.advance(1)
    plan = router.plan("chat", {})
    first = expect_try(plan.next_step(), "a/gpt-4o")
    assert first.permit.probe
    hedge = plan.hedge_step()
    assert hedge is not None and hedge.target.key == "b/gpt-4o" and hedge.hedge
    plan.succeeded(hedge, 0.1)
    plan.released(first, 0.3)
    assert plan.info.reasons == [("a/gpt-4o", "cancelled")]
    assert (plan.info.provider, plan.info.hedges) == ("b", 1)
    assert router.breaker("a/gpt-4o", "chat").acquire() is not None  # the probe slot came back


def test_max_retries_applies_to_direct_calls_and_routes_that_do_not_set_it() -> None:
    router = Router(make_settings({"chat": ROUTE, "loose": {"targets": ["a/gpt-4o"]}}), clock=Clock())
    assert router.plan("a/gpt-4o", {}, max_retries=0).policy.retry.max_attempts == 1
    assert router.plan("loose", {}, max_retries=5).policy.retry.max_attempts == 6
    assert router.plan("chat", {}, max_retries=0).policy.retry.max_attempts == 3  # the file says 3


def test_attempt_limits_stack_defaults_provider_route_call_and_are_cut_to_what_is_left() -> None:
    clock = Clock()
    settings = make_settings(
        {"chat": {"targets": ["a/gpt-4o", "b/gpt-4o"], "timeouts": {"idle": 7, "total": 50}}},
        defaults={"timeouts": {"connect": 3, "first_token": 20, "read": 40}},
        providers={"b": {"type": "openai", "api_key": KEY_B, "base_url": "http://127.0.0.1:9/b/v1",
                         "timeouts": {"first_token": 9, "connect": 1, "total": 30}}})
    router = Router(settings, clock=clock)
    plan = router.plan("chat", {}, stream=True, timeout={"connect": 2})
    a = plan.deadline(plan.targets[0])
    b = plan.deadline(plan.targets[1])
    assert (a.connect, a.first_token, a.idle, a.total) == (2, 20, 7, 50)
    assert (b.connect, b.first_token, b.idle, b.total) == (2, 9, 7, 30)  # b's own total caps its attempts
    clock.advance(45)
    assert plan.deadline(plan.targets[0]).first_token == pytest.approx(5)  # only 5 s of the call are left
    plain = router.plan("chat", {}, timeout=12.0)
    assert plain.deadline(plain.targets[0]).read == 12


# -- capability filtering and strategies ---------------------------------------------------------------------

def test_targets_that_cannot_take_the_request_are_skipped_not_tried() -> None:
    providers = {"c": {"type": "openai", "api_key": "sk-x" * 4, "base_url": "http://127.0.0.1:9/c/v1",
                       "models": {"plain": {"capabilities": ["chat", "stream"]}}}}
    router = Router(make_settings({"chat": {"targets": ["c/plain", "a/gpt-4o"]}}, providers=providers))
    plan = router.plan("chat", {"messages": [], "tools": [{"type": "function", "function": {"name": "f"}}]})
    expect_try(plan.next_step(), "a/gpt-4o")
    assert plan.info.reasons == [("c/plain", "skipped: lacks tools")]
    huge = {"messages": [{"role": "user", "content": "x" * 4 * 200_000}]}
    plan = router.plan("chat", huge)
    with pytest.raises(errors.ConfigError, match="no target can take this request"):
        router.plan("chat", {**huge, "tools": [{"type": "function"}]})


def test_round_robin_and_cheapest_order_targets() -> None:
    providers = {"c": {"type": "openai", "api_key": "sk-x" * 4, "base_url": "http://127.0.0.1:9/c/v1",
                       "prices": {"gpt-4o": {"input": 0.1, "output": 0.2, "currency": "CNY"}}}}
    router = Router(make_settings({"rr": {"strategy": "round_robin", "targets": ["a/gpt-4o", "b/gpt-4o"]},
                                   "cheap": {"strategy": "cheapest", "targets": ["a/gpt-4o", "c/gpt-4o"]}},
                                  providers=providers))
    firsts = [router.plan("rr", {}).targets[0].key for _ in range(4)]
    assert firsts == ["a/gpt-4o", "b/gpt-4o", "a/gpt-4o", "b/gpt-4o"]
    assert [t.key for t in router.plan("cheap", {}).targets] == ["c/gpt-4o", "a/gpt-4o"]


def test_least_latency_prefers_the_target_measured_fastest() -> None:
    router = Router(make_settings({"fast": {"strategy": "least_latency", "targets": ["a/gpt-4o", "b/gpt-4o"]}}))
    for key, seconds in (("a/gpt-4o", 0.9), ("b/gpt-4o", 0.2)):
        plan = router.plan(key, {})
        plan.succeeded(plan.next_step(), seconds)
    assert [t.key for t in router.plan("fast", {}).targets] == ["b/gpt-4o", "a/gpt-4o"]


def test_nested_routes_flatten_and_a_repeated_target_is_tried_once() -> None:
    router = Router(make_settings({"inner": {"targets": ["b/gpt-4o", "a/gpt-4o"]},
                                   "outer": {"targets": ["a/gpt-4o", "inner"]}}))
    assert [t.key for t in router.plan("outer", {}).targets] == ["a/gpt-4o", "b/gpt-4o"]


def test_an_unknown_model_lists_what_is_known() -> None:
    router = Router(make_settings({"chat": ROUTE}))
    with pytest.raises(errors.ConfigError, match=r"use a route \(chat\).*\(a, b, c\)"):
        router.plan("nope", {})


# -- hooks, route info, cost -----------------------------------------------------------------------------------

def test_hooks_see_every_attempt_fallback_and_the_outcome() -> None:
    events: list[tuple[Any, ...]] = []
    hooks = {
        "on_attempt": lambda info, attempt: events.append(("attempt", attempt.target, attempt.kind)),
        "on_fallback": lambda info, failed, to: events.append(("fallback", failed.target, to)),
        "on_success": lambda info: events.append(("success", info.provider)),
        "on_failure": lambda info, error: events.append(("failure", type(error).__name__)),
    }
    plan = plan_for(hooks=hooks)
    plan.failed(expect_try(plan.next_step(), "a/gpt-4o"), status_error(500), 0.1)
    plan.succeeded(expect_try(plan.next_step(), "b/gpt-4o"), 0.2)
    assert events == [("attempt", "a/gpt-4o", "server_error"), ("fallback", "a/gpt-4o", "b/gpt-4o"),
                      ("attempt", "b/gpt-4o", None), ("success", "b")]
    events.clear()
    plan = plan_for(hooks=hooks)
    plan.failed(expect_try(plan.next_step(), "a/gpt-4o"), status_error(400), 0.1)
    plan.next_step()
    assert events == [("attempt", "a/gpt-4o", "bad_request"), ("failure", "BadRequestError")]


def test_a_broken_hook_is_logged_and_never_breaks_the_call(caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("hook bug")

    plan = plan_for(hooks={"on_attempt": broken, "on_success": broken})
    plan.succeeded(expect_try(plan.next_step(), "a/gpt-4o"), 0.1)
    assert "hook on_attempt raised" in caplog.text and "hook bug" in caplog.text


def test_unknown_hooks_are_refused() -> None:
    with pytest.raises(ValueError, match="on_retry"):
        Router(make_settings({}), hooks={"on_retry": print})


def test_cost_is_reported_in_both_currencies() -> None:
    providers = {"c": {"type": "openai", "api_key": "sk-x" * 4, "base_url": "http://127.0.0.1:9/c/v1",
                       "prices": {"m": {"input": 2.0, "output": 8.0, "currency": "CNY"}}}}
    settings = make_settings({}, providers=providers)
    router = Router(settings)
    plan = router.plan("c/m", {})
    plan.succeeded(plan.next_step(), 0.1)
    plan.priced({"prompt_tokens": 1_000_000, "completion_tokens": 500_000, "total_tokens": 1_500_000})
    assert plan.info.cost_cny == pytest.approx(6.0)
    assert plan.info.cost_usd == pytest.approx(6.0 / settings.config.cny_per_usd)
    assert plan.info.usage == {"prompt_tokens": 1_000_000, "completion_tokens": 500_000, "total_tokens": 1_500_000}


def test_credentials_echoed_by_a_vendor_are_masked_in_errors_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="llmswitch")
    plan = plan_for()
    error = status_error(401, message=f"Incorrect API key provided: {KEY_A}")
    error.body = {"error": {"message": f"bad key {KEY_A}"}}
    plan.failed(expect_try(plan.next_step(), "a/gpt-4o"), error, 0.1)
    final = plan.next_step()
    assert isinstance(final, Fail)
    for text in (str(final.error), repr(final.error), str(error.body), caplog.text):
        assert KEY_A not in text
    assert "**********" in str(final.error)


# -- end to end over loopback HTTP -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer({"a": "openai", "b": "openai"}) as running:
        yield running


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(verify=CTX) as client:
        yield client


@pytest.fixture
async def ahttp() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(verify=CTX) as client:
        yield client


@pytest.fixture(autouse=True)
def _fresh(server: MockServer) -> None:
    for name in ("a", "b"):
        server.mount(name).script.clear()
        server.mount(name).requests.clear()


def e2e_config(server: MockServer, **route: Any) -> dict[str, Any]:
    return {
        "providers": {"a": {"type": "openai", "api_key": KEY_A, "base_url": server.base_url("a")},
                      "b": {"type": "openai", "api_key": KEY_B, "base_url": server.base_url("b")}},
        "routes": {"chat": {"targets": ["a/gpt-4o", "b/gpt-4o-mini"], **route}},
    }


MESSAGES = [{"role": "user", "content": "ping"}]


def test_breaker_bounds_hits_on_a_failing_target_then_one_probe_per_cooldown(server: MockServer,
                                                                             http: httpx2.Client) -> None:
    clock = Clock()
    server.mount("a").fail("500*1000")
    cfg = e2e_config(server, circuit_breaker={"failures": 3, "cooldown": 30})
    with llmswitch.OpenAI(config=cfg, clock=clock, http_client=http) as client:
        for _ in range(10):
            response = client.chat.completions.create(model="chat", messages=MESSAGES)
            assert llmswitch.route_info(response).provider == "b"  # type: ignore[union-attr]
        assert len(server.mount("a").requests) == 3
        clock.advance(30)
        for _ in range(5):
            client.chat.completions.create(model="chat", messages=MESSAGES)
        assert len(server.mount("a").requests) == 4  # one probe, which failed and reopened the breaker
        server.mount("a").script.clear()
        clock.advance(30)
        response = client.chat.completions.create(model="chat", messages=MESSAGES)
        assert llmswitch.route_info(response).provider == "a"  # type: ignore[union-attr]
        assert client.router.breaker("a/gpt-4o", "chat").state == "closed"


async def test_half_open_admits_one_probe_among_concurrent_async_callers(server: MockServer,
                                                                        ahttp: httpx2.AsyncClient) -> None:
    clock = Clock()
    cfg = e2e_config(server, circuit_breaker={"failures": 1, "cooldown": 10})
    async with llmswitch.AsyncOpenAI(config=cfg, clock=clock, http_client=ahttp) as client:
        client.router.breaker("a/gpt-4o", "chat").record_failure()
        clock.advance(10)
        server.mount("a").fail("slow:seconds=0.05")  # the probe takes a while: others arrive meanwhile
        results = await asyncio.gather(*(
            client.chat.completions.create(model="chat", messages=MESSAGES, stream=True) for _ in range(8)))
        served = [llmswitch.route_info(r).provider for r in results]  # type: ignore[union-attr]
        for stream in results:
            await stream.close()
    assert served.count("a") == 1 and served.count("b") == 7
    assert len(server.mount("a").requests) == 1


def test_route_info_is_on_the_response_but_not_in_model_dump(server: MockServer, http: httpx2.Client) -> None:
    server.mount("a").fail("503")
    with llmswitch.OpenAI(config=e2e_config(server), http_client=http) as client:
        response = client.chat.completions.create(model="chat", messages=MESSAGES)
    info = llmswitch.route_info(response)
    assert info is not None
    assert (info.route, info.provider, info.model, info.fallbacks, info.attempt_count) == (
        "chat", "b", "gpt-4o-mini", 1, 2)
    assert info.reasons == [("a/gpt-4o", "server_error")]
    assert info.usage == response.usage.model_dump(exclude_none=True)  # type: ignore[union-attr]
    assert info.cost_usd is not None and info.cost_cny == pytest.approx(info.cost_usd * 7.2)
    assert "llmswitch" not in str(response.model_dump())


def test_streams_report_usage_cost_and_success_when_complete(server: MockServer, http: httpx2.Client) -> None:
    done: list[Any] = []
    with llmswitch.OpenAI(config=e2e_config(server), http_client=http,
                          hooks={"on_success": done.append}) as client:
        stream = client.chat.completions.create(model="chat", messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True})
        assert done == []  # not before the stream completed
        chunks = list(stream)
    assert done == [stream.route_info]
    assert stream.route_info.usage == chunks[-1].usage.model_dump(exclude_none=True)  # type: ignore[union-attr]
    assert stream.route_info.cost_usd is not None and stream.route_info.latency is not None


def test_fallback_and_breaker_events_are_logged_without_secrets(server: MockServer, http: httpx2.Client,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.mount("a").fail("401")
    cfg = e2e_config(server, fallback_on=["auth", "server_error"])
    with llmswitch.OpenAI(config=cfg, http_client=http) as client:
        client.chat.completions.create(model="chat", messages=MESSAGES)
    records = [(r.name, r.levelname, r.getMessage()) for r in caplog.records if r.name == "llmswitch"]
    assert ("llmswitch", "WARNING", "circuit for a/gpt-4o opened for 30s after auth") in records
    assert any(level == "INFO" and "falling back to b/gpt-4o-mini" in msg for _, level, msg in records)
    assert KEY_A not in caplog.text and KEY_B not in caplog.text


@pytest.mark.parametrize(("timeout", "served"), [
    (0.3, None),  # seconds bound the whole call: nothing is left for the backup
    (httpx2.Timeout(5.0, read=0.3), "b"),  # per-read limits bound each attempt
    ({"read": 0.3}, "b"),
    ({"total": 0.3}, None),
], ids=["seconds", "httpx-timeout", "mapping-read", "mapping-total"])
def test_every_per_call_timeout_form_bounds_a_stalled_attempt(server: MockServer, http: httpx2.Client,
                                                              timeout: Any, served: str | None) -> None:
    server.mount("a").fail("stall:seconds=2")
    with llmswitch.OpenAI(config=e2e_config(server), http_client=http) as client:
        try:
            response = client.chat.completions.create(model="chat", messages=MESSAGES, timeout=timeout)
        except errors.AllTargetsFailedError as exc:
            info, provider = exc.route_info, None  # type: ignore[attr-defined]
        else:
            info = llmswitch.route_info(response)
            provider = info.provider if info else None
    assert provider == served
    assert info is not None and info.reasons[0] == ("a/gpt-4o", "timeout")
    assert info.latency is not None and info.latency < 0.8


def test_provider_timeouts_apply_to_its_attempts(server: MockServer, http: httpx2.Client) -> None:
    cfg = e2e_config(server)
    cfg["providers"]["a"]["timeouts"] = {"read": 0.2}
    server.mount("a").fail("stall:seconds=2")
    with llmswitch.OpenAI(config=cfg, http_client=http) as client:
        response = client.chat.completions.create(model="chat", messages=MESSAGES)
    info = llmswitch.route_info(response)
    assert info is not None and info.provider == "b" and info.attempts[0].elapsed < 0.6


async def test_embeddings_fall_back_too(server: MockServer, ahttp: httpx2.AsyncClient) -> None:
    cfg = e2e_config(server)
    cfg["routes"]["embed"] = {"targets": ["a/text-embedding-3-small", "b/text-embedding-3-small"]}
    server.mount("a").fail("429:retry-after=0")
    async with llmswitch.AsyncOpenAI(config=cfg, http_client=ahttp) as client:
        result = await client.embeddings.create(model="embed", input=["x", "y"])
    assert len(result.data) == 2
    assert llmswitch.route_info(result).provider == "b"  # type: ignore[union-attr]
