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
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from hub.clock import Clock, SystemClock

__all__ = ["RateLimit", "RateLimiter", "SlidingWindow"]


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
