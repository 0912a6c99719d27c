"""Shared rate budgets: every process using a credential draws from one budget in Redis.

Two :class:`SharedRateLimiter` objects on one key stand for two processes (each has its
own connection and its own view); what one counts, the other sees.
"""

from __future__ import annotations

import bisect
import threading
import time
import uuid

import pytest

from hub.clock import SystemClock
from hub.errors import ConfigError, TransientError
from hub.ratelimit import RateLimit, SharedBudgets, SharedRateLimiter, window_seconds
from hub.settings import HubSettings

pytestmark = pytest.mark.redis


def most_in_any_window(times: list[float], per: float) -> int:
    ordered = sorted(times)
    return max((bisect.bisect_left(ordered, t + per) - i for i, t in enumerate(ordered)), default=0)


def two_processes(url: str, limits: list[RateLimit]) -> tuple[SharedRateLimiter, SharedRateLimiter]:
    key = f"test:{uuid.uuid4().hex}"
    return (
        SharedBudgets(url).limiter(key, limits, SystemClock()),
        SharedBudgets(url).limiter(key, limits, SystemClock()),
    )


def test_processes_share_one_window(redis_url: str) -> None:
    a, b = two_processes(redis_url, [RateLimit(5, 1.0)])
    sent: list[float] = []
    lock = threading.Lock()

    def send(limiter: SharedRateLimiter) -> None:
        for _ in range(8):
            limiter.acquire()
            with lock:
                sent.append(time.monotonic())

    threads = [threading.Thread(target=send, args=(x,)) for x in (a, b, a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(sent) == 32
    # 32 requests at 5 a second: the last ones waited for the shared window to move on
    # (measured as each call returned, a few milliseconds after Redis counted it)
    assert most_in_any_window(sent, 0.95) <= 5
    assert max(sent) - min(sent) >= (32 / 5 - 1) * 1.0


def test_every_window_of_a_credential_is_checked_at_once(redis_url: str) -> None:
    a, b = two_processes(redis_url, [RateLimit(3, 1.0), RateLimit(4, 10.0)])
    for limiter in (a, b, a, b):
        limiter.acquire()
    started = time.monotonic()
    waited = [False]

    def fifth() -> None:
        a.acquire()
        waited[0] = True

    thread = threading.Thread(target=fifth, daemon=True)
    thread.start()
    thread.join(1.5)
    # the second window (4 in 10 s) holds the fifth request though the first has room again
    assert not waited[0] and time.monotonic() - started >= 1.5
    assert [used for _limit, used in b.usage()] == [0, 4]


def test_a_429_seen_by_one_process_holds_back_the_others(redis_url: str) -> None:
    a, b = two_processes(redis_url, [RateLimit(100, 60.0)])
    a.penalize(0.6)
    started = time.monotonic()
    b.acquire()
    assert time.monotonic() - started >= 0.5
    assert b.waited >= 0.5
    assert b.wait_until is None  # the wait is over: nothing to show any more


def test_usage_is_the_shared_count_and_the_whole_budget_while_a_429_holds(redis_url: str) -> None:
    a, b = two_processes(redis_url, [RateLimit(10, 60.0)])
    for _ in range(3):
        a.acquire()
    b.acquire()
    assert [used for _limit, used in a.usage()] == [4]
    b.penalize(5)
    assert [used for _limit, used in a.usage()] == [10]


def test_a_concurrency_cap_holds_across_processes(redis_url: str) -> None:
    a, b = two_processes(redis_url, [RateLimit(1000, 1.0, concurrent=2)])
    inside = 0
    most = 0
    lock = threading.Lock()

    def request(limiter: SharedRateLimiter) -> None:
        nonlocal inside, most
        with limiter.slot():
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.05)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=request, args=((a, b)[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert most == 2


def test_a_slot_of_a_process_that_died_is_freed_when_its_hold_ends(redis_url: str) -> None:
    key = f"test:{uuid.uuid4().hex}"
    limits = [RateLimit(1000, 1.0, concurrent=1)]
    dead = SharedBudgets(redis_url, hold_seconds=0.3).limiter(key, limits, SystemClock())
    alive = SharedBudgets(redis_url).limiter(key, limits, SystemClock())
    held = dead.slot()
    held.__enter__()  # taken and never given back: its process was killed
    started = time.monotonic()
    with alive.slot():
        assert time.monotonic() - started >= 0.2


def test_long_windows_are_counted_a_second_longer_than_published() -> None:
    assert window_seconds(RateLimit(20, 1)) == 1
    assert window_seconds(RateLimit(3, 1.5)) == 2
    assert window_seconds(RateLimit(500, 30)) == 31
    assert window_seconds(RateLimit(10_000, 3600)) == 3601


def test_an_unreachable_budget_store_is_a_one_line_error() -> None:
    budgets = SharedBudgets("redis://127.0.0.1:1/0")
    with pytest.raises(ConfigError, match=r"^HUB_BUDGET_URL: cannot reach redis://127.0.0.1:1/0"):
        budgets.check()
    with pytest.raises(TransientError, match=r"rate budget store redis://127\.0\.0\.1:1/0 failed while taking"):
        budgets.limiter("x", [RateLimit(1, 1.0)], SystemClock()).acquire()


def test_the_budget_url_must_name_redis() -> None:
    with pytest.raises(ValueError, match="not a Redis URL: 'http://x'"):
        HubSettings(budget_url="http://x")
    assert HubSettings(budget_url="").budget_url is None
    assert HubSettings(budget_url="rediss://u:p@h:6380/2").budget_url == "rediss://u:p@h:6380/2"
