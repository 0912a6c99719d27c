"""Rate budgets that hold: no span of the vendor's window carries more than its budget."""

from __future__ import annotations

import bisect

from hypothesis import given
from hypothesis import strategies as st

from hub.clock import FakeClock
from hub.ratelimit import RateLimit, RateLimiter


def _most_in_any_window(times: list[float], per: float) -> int:
    """The largest number of send times inside any half-open span [t, t + per)."""
    ordered = sorted(times)
    return max((bisect.bisect_left(ordered, t + per) - i for i, t in enumerate(ordered)), default=0)


@given(
    limit=st.integers(1, 20),
    per=st.sampled_from([1.0, 30.0, 60.0, 300.0]),
    gaps=st.lists(st.floats(0, 50, allow_nan=False), min_size=1, max_size=120),
)
def test_no_window_ever_carries_more_than_the_budget(limit: int, per: float, gaps: list[float]) -> None:
    clock = FakeClock()
    limiter = RateLimiter([RateLimit(limit, per)], clock)
    sent: list[float] = []
    for gap in gaps:
        clock.advance(gap)
        limiter.acquire()
        sent.append(clock.monotonic())
    assert _most_in_any_window(sent, per) <= limit


def test_a_fresh_limiter_does_not_grant_twice_the_budget() -> None:
    """The old token bucket started full and refilled on top: 2N inside one window."""
    clock = FakeClock()
    limiter = RateLimiter([RateLimit(100, 60.0)], clock)
    sent = []
    for _ in range(300):
        limiter.acquire()
        sent.append(clock.monotonic())
    assert _most_in_any_window(sent, 60.0) == 100
    assert sent[100] - sent[0] >= 60.0


def test_every_published_window_holds_at_once() -> None:
    clock = FakeClock()
    limiter = RateLimiter([RateLimit(500, 30.0), RateLimit(3000, 3600.0)], clock)
    sent = []
    for _ in range(3200):
        limiter.acquire()
        sent.append(clock.monotonic())
    assert _most_in_any_window(sent, 30.0) <= 500
    assert _most_in_any_window(sent, 3600.0) <= 3000


def test_a_vendor_429_holds_everyone_back() -> None:
    clock = FakeClock()
    limiter = RateLimiter([RateLimit(1000, 60.0)], clock)
    limiter.acquire()
    limiter.penalize(42.0)
    waited = limiter.acquire()
    assert waited == 42.0


def test_the_wait_is_visible_while_it_lasts() -> None:
    clock = FakeClock()
    limiter = RateLimiter([RateLimit(1, 60.0)], clock)
    seen: list[float | None] = []
    original = clock.sleep

    def sleep(seconds: float) -> None:
        seen.append(limiter.wait_until)
        original(seconds)

    clock.sleep = sleep  # type: ignore[method-assign]
    limiter.acquire()
    limiter.acquire()
    assert seen == [1060.0] and limiter.wait_until is None


def test_usage_counts_the_requests_inside_each_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter([RateLimit(10, 60.0), RateLimit(100, 3600.0)], clock)
    for _ in range(4):
        limiter.acquire()
        clock.advance(20)
    assert [used for _limit, used in limiter.usage()] == [2, 4]  # two left the minute window
    limiter.penalize(30)
    assert [used for _limit, used in limiter.usage()] == [10, 100]
