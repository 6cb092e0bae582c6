"""The rate budget's rules on a fake clock: limits you can set, lanes, the wait bound, slowing down on 429
and recovering (the shared Redis budget runs the same rules: tests/core/test_palette_budget.py)."""

from __future__ import annotations

import pytest

from palette import errors
from palette.ratelimit import (
    BULK_HORIZON,
    MIN_FACTOR,
    RECOVERY_PER_SECOND,
    BudgetExhausted,
    RateLimiter,
    parse_limits,
)


class Clock:
    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(limits=None, **options) -> tuple[RateLimiter, Clock]:
    clock = Clock()
    return RateLimiter(limits, headroom=1.0, clock=clock, sleep=clock.sleep, **options), clock


def test_limits_parse_from_one_number_pairs_or_nothing_and_bad_input_says_what_to_fix():
    assert parse_limits("") is None
    assert parse_limits("0") == {"*": 0.0}
    assert parse_limits("25") == {"*": 25.0}
    assert parse_limits("/v1/dashboard=20, /v1/edgehosts=20,*=5") == {
        "/v1/dashboard": 20.0,
        "/v1/edgehosts": 20.0,
        "*": 5.0,
    }
    with pytest.raises(ValueError, match="not a rate: give requests per second"):
        parse_limits("fast")
    with pytest.raises(ValueError, match="not a rate"):
        parse_limits("/v1/dashboard=-3")
    with pytest.raises(ValueError, match="not an endpoint family: write it as /v1/<resource>"):
        parse_limits("dashboard=20")


def test_published_limits_apply_unless_set_and_zero_switches_pacing_off():
    budget, clock = limiter()
    assert budget.rate("/v1/dashboard/edgehosts/search") == 10
    assert budget.rate("/v1/spectroclusters/x") == 50
    budget, clock = limiter(parse_limits("/v1/dashboard=20"))
    assert budget.rate("/v1/dashboard/x") == 20 and budget.rate("/v1/edgehosts") == 10
    # An integration's own limits (a self-hosted Palette) win over the installation's.
    assert budget.rate("/v1/dashboard/x", {"/v1/dashboard": 40}) == 40
    budget, clock = limiter(parse_limits("0"))
    for _ in range(100):
        assert budget.acquire("h", "/v1/dashboard") == 0
    assert clock.slept == []


def test_interactive_books_the_next_slot_and_a_bound_turns_a_long_wait_into_busy():
    budget, clock = limiter({"/v1/dashboard": 10})
    waits = [budget.acquire("h", "/v1/dashboard") for _ in range(3)]
    assert waits == [0.0, pytest.approx(0.1), pytest.approx(0.1)]
    # 20 more booked by others (2.1 s ahead with the next slot): a caller allowed 1 s is refused, at once.
    for _ in range(20):
        budget._book("h", "/v1/dashboard", 0.1, None)
    slept = len(clock.slept)
    with pytest.raises(BudgetExhausted) as caught:
        budget.acquire("h", "/v1/dashboard", max_wait=lambda: 1.0)
    assert caught.value.retry_in == pytest.approx(2.1) and len(clock.slept) == slept


def test_bulk_never_books_far_ahead_so_an_interactive_call_goes_first():
    budget, clock = limiter({"/v1/dashboard": 10})
    # Ten bulk requests in a row: each waits its turn but none is booked further than BULK_HORIZON ahead.
    for _ in range(10):
        budget.acquire("h", "/v1/dashboard", lane="bulk")
        assert budget._tat[("h", "/v1/dashboard")] - clock.now <= BULK_HORIZON + 0.1 + 1e-9
    # An interactive call now waits at most the horizon plus one slot, whatever the scan has queued.
    assert budget.acquire("h", "/v1/dashboard") <= BULK_HORIZON + 0.1 + 1e-9
    snap = budget.snapshot()
    assert snap.waits[("/v1/dashboard", "bulk")][0] == 9


def test_a_429_halves_the_rate_at_most_once_a_second_honours_retry_after_and_recovers():
    budget, clock = limiter({"/v1/dashboard": 10})
    budget.acquire("h", "/v1/dashboard")
    budget.slow_down("h", "/v1/dashboard", retry_after=3)
    budget.slow_down("h", "/v1/dashboard")  # the same burst: not halved twice
    assert budget.snapshot().factors == {("h", "/v1/dashboard"): 0.5}
    assert budget.acquire("h", "/v1/dashboard") == pytest.approx(3.0)  # nothing before Retry-After
    assert budget.acquire("h", "/v1/dashboard") == pytest.approx(0.2, rel=0.05)  # half the rate
    for _ in range(10):
        clock.now += 1.0
        budget.slow_down("h", "/v1/dashboard")
    assert budget.snapshot().factors[("h", "/v1/dashboard")] == pytest.approx(MIN_FACTOR, abs=0.03)
    assert budget.recent_429s("h") == 12 and budget.recent_429s("other") == 0
    clock.now += (1.0 - MIN_FACTOR) / RECOVERY_PER_SECOND + 1
    assert budget.snapshot().factors == {}  # recovered to the full rate
    clock.now += 3600
    assert budget.recent_429s() == 0


def test_the_transport_says_palette_is_busy_instead_of_waiting(make_client):
    from palette.sim import Simulator

    budget, clock = limiter({"/v1/dashboard": 10})
    with Simulator(hosts=3) as sim:
        client = make_client(sim, rate_limiter=budget, max_wait=0.5)
        for _ in range(20):
            budget._book(client.transport.base_url, "/v1/dashboard", 0.1, None)
        with pytest.raises(errors.PaletteBusy, match=r"Palette is busy: .* Try again in 2 s\.") as caught:
            client.list_projects()
        assert caught.value.retry_after == 2 and caught.value.transient
        assert sim.seen("/v1/dashboard") == []  # not sent, not retried
        clock.now += 3
        client.list_projects()
        assert budget.snapshot().requests == {(client.transport.base_url, "/v1/dashboard", "200"): 1}
