"""Breakers, retry budgets, backoff and strategies, with an injected clock and randomness."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import pytest

from llmswitch.config import Backoff, BreakerConfig
from llmswitch.policies import (
    ADMITTED,
    Candidate,
    CircuitBreaker,
    LatencyTracker,
    RetryBudget,
    RoundRobin,
    backoff_delay,
    order_targets,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def breaker(clock: Clock, **config: object) -> CircuitBreaker:
    return CircuitBreaker(BreakerConfig.model_validate(config), clock)


# -- backoff --------------------------------------------------------------------------------------

def test_backoff_doubles_from_initial_up_to_max_with_openai_jitter() -> None:
    backoff = Backoff(initial=0.5, max=8.0)
    assert [backoff_delay(backoff, n, rng=lambda: 0.0) for n in range(1, 7)] == [0.5, 1, 2, 4, 8, 8]
    assert backoff_delay(backoff, 1, rng=lambda: 0.999999) == pytest.approx(0.375, rel=1e-5)  # up to 25% less


# -- circuit breaker ---------------------------------------------------------------------------------

def test_breaker_opens_after_n_consecutive_failures_within_the_window() -> None:
    clock = Clock()
    b = breaker(clock, failures=3, window=10, cooldown=30)
    assert not b.record_failure()
    assert not b.record_failure()
    assert b.state == "closed" and b.acquire() is ADMITTED
    assert b.record_failure()  # the third one opens it
    assert b.state == "open" and b.acquire() is None and not b.available()


def test_failures_outside_the_window_do_not_add_up() -> None:
    clock = Clock()
    b = breaker(clock, failures=3, window=10)
    for _ in range(2):
        b.record_failure()
        clock.advance(6)
    b.record_failure()  # the first failure is 12 s old now
    assert b.state == "closed"


def test_a_success_clears_the_failure_count() -> None:
    clock = Clock()
    b = breaker(clock, failures=3)
    b.record_failure()
    b.record_failure()
    b.record_success()
    b.record_failure()
    b.record_failure()
    assert b.state == "closed"


def test_hard_failures_open_at_once() -> None:
    b = breaker(Clock(), failures=5)
    assert b.record_failure(hard=True)
    assert b.state == "open"


def test_open_breaker_goes_half_open_after_the_cooldown_and_admits_exactly_the_probes() -> None:
    clock = Clock()
    b = breaker(clock, failures=1, cooldown=30, half_open_probes=2)
    b.record_failure()
    clock.advance(29.9)
    assert b.acquire() is None
    clock.advance(0.1)
    assert b.state == "half_open"
    first, second = b.acquire(), b.acquire()
    assert first is not None and first.probe and second is not None and second.probe
    assert b.acquire() is None  # a third concurrent caller is refused
    b.release(first)  # a probe that ended without a verdict frees its slot
    assert b.acquire() is not None


def test_a_probe_that_never_reports_is_forgotten_after_a_cooldown() -> None:
    clock = Clock()
    b = breaker(clock, failures=1, cooldown=10)
    b.record_failure()
    clock.advance(10)
    assert b.acquire() is not None  # this probe's caller vanishes without a verdict
    clock.advance(9)
    assert b.acquire() is None and not b.available()
    clock.advance(1)
    assert b.available() and b.acquire() is not None


def test_a_successful_probe_closes_and_a_failed_probe_reopens() -> None:
    clock = Clock()
    b = breaker(clock, failures=1, cooldown=10)
    b.record_failure()
    clock.advance(10)
    probe = b.acquire()
    assert probe is not None
    assert b.record_failure(probe)  # reopened for another cooldown
    assert b.state == "open"
    clock.advance(10)
    probe = b.acquire()
    assert probe is not None
    assert b.record_success(probe)
    assert b.state == "closed" and b.acquire() is ADMITTED


def test_late_outcomes_of_calls_admitted_before_the_breaker_opened_change_nothing() -> None:
    clock = Clock()
    b = breaker(clock, failures=1, cooldown=10)
    b.record_failure()
    assert not b.record_failure()  # a straggler does not extend the cooldown
    assert not b.record_success()  # nor does a late success close it
    assert b.state == "open"
    clock.advance(10)
    assert b.state == "half_open"


def test_cooldown_respects_retry_after_up_to_max_cooldown() -> None:
    clock = Clock()
    b = breaker(clock, failures=1, cooldown=5, max_cooldown=60)
    b.record_failure(retry_after=20)
    clock.advance(19)
    assert b.state == "open"
    clock.advance(1)
    assert b.state == "half_open"
    probe = b.acquire()
    b.record_failure(probe, retry_after=10_000)  # an absurd Retry-After is capped
    assert b.retry_in() == 60


def test_a_disabled_breaker_always_admits() -> None:
    b = breaker(Clock(), enabled=False, failures=1)
    for _ in range(5):
        b.record_failure(hard=True)
    assert b.acquire() is ADMITTED


def test_force_admits_without_taking_a_probe_slot() -> None:
    clock = Clock()
    b = breaker(clock, failures=1, cooldown=10)
    b.record_failure()
    forced = b.force()
    assert forced.probe and not forced.counted
    b.release(forced)
    clock.advance(10)
    assert b.acquire() is not None  # the one probe slot is still free
    assert b.acquire() is None


def test_half_open_admits_exactly_one_probe_among_concurrent_threads() -> None:
    clock = Clock()
    b = breaker(clock, failures=1, cooldown=1, half_open_probes=1)
    b.record_failure()
    clock.advance(1)
    barrier = threading.Barrier(16)
    admitted: list[object] = []

    def caller() -> None:
        barrier.wait()
        permit = b.acquire()
        if permit is not None:
            admitted.append(permit)

    threads = [threading.Thread(target=caller) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 1


async def test_half_open_admits_exactly_the_probes_among_concurrent_tasks() -> None:
    clock = Clock()
    b = breaker(clock, failures=1, cooldown=1, half_open_probes=2)
    b.record_failure()
    clock.advance(1)

    async def caller() -> bool:
        await asyncio.sleep(0)
        return b.acquire() is not None

    results = await asyncio.gather(*(caller() for _ in range(20)))
    assert sum(results) == 2


# -- retry budget ----------------------------------------------------------------------------------------

def test_retry_budget_limits_retries_to_a_share_of_traffic() -> None:
    budget = RetryBudget(0.2, reserve=2)
    assert budget.try_spend() and budget.try_spend()
    assert not budget.try_spend()  # the reserve is spent
    for _ in range(4):
        budget.deposit()
    assert not budget.try_spend()  # 0.8 tokens
    budget.deposit()
    assert budget.try_spend()  # five calls bought one retry
    assert not budget.try_spend()


def test_retry_budget_never_exceeds_its_reserve() -> None:
    budget = RetryBudget(1.0, reserve=3)
    for _ in range(100):
        budget.deposit()
    assert budget.tokens == 3


# -- latency ------------------------------------------------------------------------------------------------

def test_latency_is_a_moving_average_and_failures_push_it_up() -> None:
    tracker = LatencyTracker(alpha=0.5)
    tracker.observe(1.0)
    tracker.observe(3.0)
    assert tracker.value == 2.0
    tracker.penalize(0.01)  # a fast failure still counts as slow: at least twice the estimate
    assert tracker.value == 3.0
    fresh = LatencyTracker()
    fresh.penalize(0.01)
    assert fresh.value == 1.0


# -- strategies ------------------------------------------------------------------------------------------------

def _keys(items: list[Candidate]) -> list[str]:
    return [c.key for c in items]


def test_fallback_keeps_the_configured_order() -> None:
    items = [Candidate("a"), Candidate("b"), Candidate("c")]
    assert _keys(order_targets("fallback", items)) == ["a", "b", "c"]


def test_round_robin_rotates_the_start_and_keeps_the_rest_as_fallbacks() -> None:
    items = [Candidate("a"), Candidate("b"), Candidate("c")]
    rotation = RoundRobin()
    orders = [_keys(order_targets("round_robin", items, rotation=rotation)) for _ in range(4)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]


def test_weighted_picks_first_targets_in_proportion_to_weight() -> None:
    items = [Candidate("a", weight=1), Candidate("b", weight=3)]
    draws = iter([i / 1000 for i in range(1000)]).__next__  # a uniform sweep instead of randomness
    firsts = Counter(order_targets("weighted", items, rng=draws)[0].key for _ in range(500))  # 2 draws each
    assert firsts["b"] == pytest.approx(3 * firsts["a"], rel=0.1)
    ordered = order_targets("weighted", items, rng=lambda: 0.0)
    assert sorted(_keys(ordered)) == ["a", "b"]  # the other target stays as a fallback


def test_least_latency_measures_unmeasured_targets_first_then_prefers_the_fastest() -> None:
    items = [Candidate("slow", latency=2.0), Candidate("new"), Candidate("fast", latency=0.1)]
    assert _keys(order_targets("least_latency", items)) == ["new", "fast", "slow"]


def test_cheapest_orders_by_price_with_unknown_prices_last() -> None:
    items = [Candidate("dear", price=10.0), Candidate("unknown"), Candidate("cheap", price=0.5)]
    assert _keys(order_targets("cheapest", items)) == ["cheap", "dear", "unknown"]


def test_an_unknown_strategy_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown strategy"):
        order_targets("fastest", [Candidate("a"), Candidate("b")])
