"""Per-credential request budgets, matched to each vendor's published limit.

A vendor's limit belongs to a credential (Autotask: 10,000 requests an hour per
database, shared by every integration; QuickBooks: 500 a minute per realm), so every
client that uses the same credential shares one :class:`RateLimiter`, looked up by
key in :class:`BudgetRegistry`. A limiter holds one token bucket per published window
(e.g. DocuSign's 3,000 an hour *and* 500 per 30 seconds) and an optional cap on
concurrent requests. Waiting goes through the injected clock, so tests never sleep.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from hub.clock import Clock, SystemClock

__all__ = ["RateLimit", "RateLimiter", "TokenBucket"]


@dataclass(frozen=True)
class RateLimit:
    """``requests`` per ``per_seconds``; ``concurrent`` caps parallel requests (0: none)."""

    requests: int
    per_seconds: float
    concurrent: int = 0

    def __post_init__(self) -> None:
        if self.requests <= 0 or self.per_seconds <= 0:
            raise ValueError("a rate limit needs positive requests and seconds")


_EPSILON = 1e-9


class TokenBucket:
    """Classic token bucket: ``capacity`` tokens refilled evenly over ``per_seconds``."""

    def __init__(self, capacity: int, per_seconds: float, clock: Clock) -> None:
        self.capacity = float(capacity)
        self.rate = capacity / per_seconds
        self.tokens = float(capacity)
        self._clock = clock
        self._stamp = clock.monotonic()

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_time(self) -> float:
        """Seconds until one token is available (0 if one is available now).

        A shortfall within float rounding counts as a whole token: a wait of 1e-14 s
        would not move a clock reading ~1e3 s, and ``acquire`` would spin forever.
        """
        self._refill()
        return 0.0 if self.tokens >= 1 - _EPSILON else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self._refill()
        self.tokens -= 1

    def used(self) -> int:
        """Requests the window counts now (a penalty after a 429 counts as the whole budget)."""
        self._refill()
        return min(int(self.capacity), round(self.capacity - self.tokens))

    def drain(self, seconds: float) -> None:
        """Empty the bucket and push the next token ``seconds`` out (after a vendor 429)."""
        self._refill()
        self.tokens = min(self.tokens, 1 - seconds * self.rate)


class RateLimiter:
    """All the budgets of one credential."""

    def __init__(self, limits: list[RateLimit], clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self.limits = list(limits)
        self._buckets = [TokenBucket(lim.requests, lim.per_seconds, self.clock) for lim in limits]
        self._lock = threading.Lock()
        concurrent = min((lim.concurrent for lim in limits if lim.concurrent), default=0)
        self._slots = threading.BoundedSemaphore(concurrent) if concurrent else None
        self.waited = 0.0
        #: while a caller waits for the budget: the clock's monotonic time it waits until
        #: (progress displays read it to say "waiting 212 s for itglue's budget")
        self.wait_until: float | None = None

    def acquire(self) -> float:
        """Block until every bucket has a token; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                wait = max((b.wait_time() for b in self._buckets), default=0.0)
                if wait <= 0:
                    for bucket in self._buckets:
                        bucket.take()
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
            for bucket in self._buckets:
                bucket.drain(seconds)

    def usage(self) -> list[tuple[RateLimit, int]]:
        """Each published window with the requests it counts now (for the console's health page)."""
        with self._lock:
            return [(limit, bucket.used()) for limit, bucket in zip(self.limits, self._buckets, strict=True)]

    @contextmanager
    def slot(self) -> Iterator[None]:
        """A request in flight; at most ``concurrent`` at once for this credential."""
        if self._slots is None:
            yield
            return
        with self._slots:
            yield
