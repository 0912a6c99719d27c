"""Per-credential request budgets, matched to each vendor's published limit.

A vendor's limit belongs to a credential (Autotask: 10,000 requests an hour per
database, shared by every integration; QuickBooks: 500 a minute per realm), so every
client that uses the same credential shares one :class:`RateLimiter`, looked up by
key in the hub's table of limiters (``ConnectorContext.limiters``). A limiter holds
one sliding window per published window (e.g. DocuSign's 3,000 an hour *and* 500 per
30 seconds) and an optional cap on concurrent requests. Waiting goes through the injected clock, so tests never sleep.

Why a sliding window and not a token bucket: a bucket that starts full lets a process
send its whole budget at once and then the refill on top, twice the vendor's budget
inside one vendor window (seen: 56 answers of 429 in 630 s with the limit set exactly
to the vendor's). A window that remembers the send times of its last ``requests``
requests admits a request only when the oldest of them left the window, so no span of
``per_seconds`` ever carries more than ``requests`` from this process.

Past one process (``HUB_BUDGET_URL``) a credential's budget lives in Redis, shared by
every process that uses it (:class:`SharedBudgets`, :class:`SharedRateLimiter`): the
same interface, so connectors, progress displays and the console do not change.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from hub.clock import Clock, SystemClock
from hub.errors import ConfigError, TransientError
from hub.logging import redact_url

if TYPE_CHECKING:
    from redis import Redis

__all__ = ["LimiterFactory", "RateLimit", "RateLimiter", "SharedBudgets", "SharedRateLimiter", "SlidingWindow"]

_T = TypeVar("_T")


@dataclass(frozen=True)
class RateLimit:
    """``requests`` per ``per_seconds``; ``concurrent`` caps parallel requests (0: none)."""

    requests: int
    per_seconds: float
    concurrent: int = 0

    def __post_init__(self) -> None:
        if self.requests <= 0 or self.per_seconds <= 0:
            raise ValueError("a rate limit needs positive requests and seconds")


#: waits shorter than this count as none (float rounding of a clock reading ~1e3 s)
_EPSILON = 1e-9


class SlidingWindow:
    """At most ``limit`` requests in any ``per_seconds``: the send times of the last ``limit``."""

    def __init__(self, limit: int, per_seconds: float, clock: Clock) -> None:
        self.limit = limit
        self.per_seconds = per_seconds
        self._clock = clock
        self._sent: deque[float] = deque(maxlen=limit)
        self._blocked_until = float("-inf")

    def wait_time(self) -> float:
        """Seconds until one more request fits (0 if it fits now)."""
        now = self._clock.monotonic()
        wait = self._blocked_until - now
        if len(self._sent) == self.limit:
            wait = max(wait, self._sent[0] + self.per_seconds - now)
        return wait if wait > _EPSILON else 0.0

    def take(self) -> None:
        """Count a request sent now (the oldest remembered one falls out of the log)."""
        self._sent.append(self._clock.monotonic())

    def used(self) -> int:
        """Requests sent within the last ``per_seconds`` (the whole budget while a 429 holds it)."""
        now = self._clock.monotonic()
        if self._blocked_until > now:
            return self.limit
        start = now - self.per_seconds
        return sum(1 for sent in self._sent if sent > start)

    def drain(self, seconds: float) -> None:
        """Admit nothing for ``seconds`` (after a vendor 429)."""
        self._blocked_until = max(self._blocked_until, self._clock.monotonic() + seconds)


class RateLimiter:
    """All the budgets of one credential."""

    def __init__(self, limits: list[RateLimit], clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self.limits = list(limits)
        self._windows = [SlidingWindow(lim.requests, lim.per_seconds, self.clock) for lim in limits]
        self._lock = threading.Lock()
        concurrent = min((lim.concurrent for lim in limits if lim.concurrent), default=0)
        self._slots = threading.BoundedSemaphore(concurrent) if concurrent else None
        self.waited = 0.0
        #: while a caller waits for the budget: the clock's monotonic time it waits until
        #: (progress displays read it to say "waiting 212 s for itglue's budget")
        self.wait_until: float | None = None

    def acquire(self) -> float:
        """Block until every window admits one more request; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                wait = max((w.wait_time() for w in self._windows), default=0.0)
                if wait <= 0:
                    for window in self._windows:
                        window.take()
                    self.waited += waited
                    if waited:
                        self.wait_until = None
                    return waited
                self.wait_until = self.clock.monotonic() + wait
            self.clock.sleep(wait)
            waited += wait

    def penalize(self, seconds: float) -> None:
        """The vendor said 429: hold every caller of this credential back for ``seconds``."""
        with self._lock:
            for window in self._windows:
                window.drain(seconds)

    def usage(self) -> list[tuple[RateLimit, int]]:
        """Each published window with the requests it counts now (for the console's health page)."""
        with self._lock:
            return [(limit, window.used()) for limit, window in zip(self.limits, self._windows, strict=True)]

    @contextmanager
    def slot(self) -> Iterator[None]:
        """A request in flight; at most ``concurrent`` at once for this credential."""
        if self._slots is None:
            yield
            return
        with self._slots:
            yield


#: builds the limiter of one credential: (budget key, its published limits, clock) -> limiter
LimiterFactory = Callable[[str, list[RateLimit], Clock], RateLimiter]

#: the prefix of every Redis key the hub's budgets use
KEY_PREFIX = "msp-hub:budget"
#: how long a process waits between two looks at a shared budget or cap that is full
_POLL = 0.02

# Penalty after a 429: keep the later of the stored and the new end (ms since the epoch).
_PENALIZE = """
local ends = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if ends > current then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"""

# A counting semaphore with expiring holders (a holder whose process died frees its slot
# when its hold ends): ARGV now_ms, capacity, holder, hold_ms.
_TAKE_SLOT = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[3])
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
    return 1
end
return 0
"""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def window_seconds(limit: RateLimit) -> int:
    """A published window as the shared budget counts it: in whole seconds (the unit of the
    library's Redis scripts), and one second longer where the window is ten seconds or more.

    A request reaches the vendor a little after it was admitted, and by how much differs
    per process and per moment (scheduling on a busy machine): counted exactly, a
    saturated budget now and then puts one request too many into the vendor's own
    window. The extra second costs at most a tenth of such a budget (0.03 % of Autotask's
    hour). Windows shorter than ten seconds are not lengthened (a second would halve a
    per-second budget): a rare 429 there is absorbed by :meth:`SharedRateLimiter.penalize`,
    which holds every process back for the vendor's Retry-After.
    """
    whole = math.ceil(limit.per_seconds)
    return whole + 1 if whole >= 10 else whole


class SharedBudgets:
    """The Redis server (``HUB_BUDGET_URL``) that keeps the budgets every process shares.

    The windows are the moving windows of the ``limits`` library in Redis (its
    ``RedisStorage`` and ``MovingWindowRateLimiter``): a list of the last ``requests``
    send times per window, checked and appended by one Lua script in the order Redis
    runs them, so two processes admitted at the same moment are both counted. A vendor's
    429 holds every process back (one key per credential with the end of the wait), and
    a concurrency cap is a semaphore whose holders expire.
    """

    def __init__(self, url: str, *, hold_seconds: float = 60.0) -> None:
        import redis
        from limits.storage import RedisStorage
        from limits.strategies import MovingWindowRateLimiter

        self.url = url
        self.hold_seconds = hold_seconds
        self.redis: Redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self.windows = MovingWindowRateLimiter(
            RedisStorage(url, connection_pool=self.redis.connection_pool, key_prefix=KEY_PREFIX)
        )
        self.penalize_script = self.redis.register_script(_PENALIZE)
        self.slot_script = self.redis.register_script(_TAKE_SLOT)

    def check(self) -> None:
        """ConfigError naming ``HUB_BUDGET_URL`` unless the server answers."""
        try:
            self.redis.ping()
        except Exception as exc:  # any client failure: the budgets cannot be kept as configured
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"HUB_BUDGET_URL: cannot reach {redact_url(self.url)} ({reason})") from None

    def limiter(self, key: str, limits: list[RateLimit], clock: Clock) -> SharedRateLimiter:
        return SharedRateLimiter(self, key, limits, clock)

    def call(self, what: str, fn: Callable[[], _T]) -> _T:
        """Run one Redis operation; its failure becomes a :class:`TransientError` naming the
        server (the HTTP layer's one retry layer retries it, a run reports it)."""
        import redis

        try:
            return fn()
        except redis.RedisError as exc:
            raise TransientError(f"rate budget store {redact_url(self.url)} failed while {what}: {exc}") from None


class SharedRateLimiter(RateLimiter):
    """The budget of one credential, shared through Redis by every process that uses it.

    Same interface as :class:`RateLimiter`: :meth:`acquire` waits (on the injected clock)
    until every published window admits one more request, :meth:`penalize` holds back
    every process after a 429, :meth:`usage` reads the shared counts, :meth:`slot` caps
    concurrent requests across processes. The windows are counted on each process's wall
    clock, so the hosts' clocks must be synchronised (NTP).
    """

    def __init__(self, budgets: SharedBudgets, key: str, limits: list[RateLimit], clock: Clock) -> None:
        from limits import RateLimitItemPerSecond

        super().__init__(limits, clock)
        self.budgets = budgets
        self.key = key
        self._items = [RateLimitItemPerSecond(limit.requests, window_seconds(limit)) for limit in limits]
        self._blocked_key = f"{KEY_PREFIX}:{key}:blocked"
        self._slots_key = f"{KEY_PREFIX}:{key}:slots"

    def acquire(self) -> float:
        waited = 0.0
        while True:
            wait = self.budgets.call("taking a request from the budget", self._take)
            if wait <= 0:
                self.waited += waited
                if waited:
                    self.wait_until = None
                return waited
            self.wait_until = self.clock.monotonic() + wait
            self.clock.sleep(wait)
            waited += wait

    def _take(self) -> float:
        """Count one request now if every window and no penalty holds it back; else the
        seconds to wait before trying again."""
        now = _now_ms()
        blocked = self.budgets.redis.get(self._blocked_key)
        if blocked is not None and int(blocked) > now:
            return (int(blocked) - now) / 1000
        windows = self.budgets.windows
        with self._lock:
            # Checked first, then counted: when another process takes the last request of a
            # window in between, the windows counted before it count one request too many,
            # which holds the budget back a little and never lets it overflow.
            if all(windows.test(item, self.key) for item in self._items) and all(
                windows.hit(item, self.key) for item in self._items
            ):
                return 0.0
        stats = [windows.get_window_stats(item, self.key) for item in self._items]
        reset = max((stat.reset_time for stat in stats if stat.remaining <= 0), default=0.0)
        return max(reset - time.time(), _POLL)

    def penalize(self, seconds: float) -> None:
        until = _now_ms() + int(seconds * 1000)
        hold = max(int(seconds * 1000), 1)
        self.budgets.call(
            "holding the budget back after a 429",
            lambda: self.budgets.penalize_script(keys=[self._blocked_key], args=[until, hold]),
        )

    def usage(self) -> list[tuple[RateLimit, int]]:
        def read() -> list[tuple[RateLimit, int]]:
            blocked = self.budgets.redis.get(self._blocked_key)
            held = blocked is not None and int(blocked) > _now_ms()
            stats = [self.budgets.windows.get_window_stats(item, self.key) for item in self._items]
            return [(limit, limit.requests if held else limit.requests - stat.remaining)
                    for limit, stat in zip(self.limits, stats, strict=True)]  # fmt: skip

        return self.budgets.call("reading the budget's use", read)

    @contextmanager
    def slot(self) -> Iterator[None]:
        concurrent = min((lim.concurrent for lim in self.limits if lim.concurrent), default=0)
        if not concurrent:
            yield
            return
        holder = str(uuid.uuid4())
        hold = max(int(self.budgets.hold_seconds * 1000), 1)
        while not self.budgets.call(
            "taking a concurrency slot",
            lambda: self.budgets.slot_script(keys=[self._slots_key], args=[_now_ms(), concurrent, holder, hold]),
        ):
            self.clock.sleep(_POLL)
        try:
            yield
        finally:
            self.budgets.call("giving a slot back", lambda: self.budgets.redis.zrem(self._slots_key, holder))
