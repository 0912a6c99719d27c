"""Slowing down before DocuSign's wall, from the rate-limit headers of every answer.

The hub's token buckets (``rate_limits``) know the published limits (3,000 calls an
hour, 500 per 30 seconds) but not what *other* integrations of the same account have
used: DocuSign counts every app of an account together. Each answer says what is left:

* ``X-RateLimit-Remaining`` / ``X-RateLimit-Reset`` (epoch seconds, top of the hour)
  / ``X-RateLimit-Limit`` for the hourly budget;
* ``X-BurstLimit-Remaining`` / ``X-BurstLimit-Limit`` for the 30-second burst window.

Rule (one place, easy to reason about): nothing happens while more than
``LOW_SHARE`` of a budget is left. Below that, the remaining calls are spread evenly
over what is left of the window, and with nothing left the next call waits for the
reset (the hour) or a whole burst window. Waits go through the injected clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import httpx

from hub.sdk import Clock

__all__ = ["BURST_WINDOW_SECONDS", "LOW_SHARE", "RateLimitPacer"]

BURST_WINDOW_SECONDS = 30.0
LOW_SHARE = 0.10
#: never wait longer than this for one call (the hourly reset can be an hour away)
MAX_WAIT_SECONDS = 3600.0


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class _Budget:
    remaining: int | None = None
    limit: int | None = None
    reset_epoch: float | None = None


class RateLimitPacer:
    """Remembers the last budget DocuSign reported and spaces out the next calls."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.hourly = _Budget()
        self.burst = _Budget()
        self._burst_seen_at: float | None = None
        self._lock = threading.Lock()
        self.waited = 0.0

    def observe(self, response: httpx.Response) -> None:
        """Read the budget headers of one answer (any status)."""
        headers = response.headers
        with self._lock:
            remaining = _int(headers.get("X-RateLimit-Remaining"))
            if remaining is not None:
                self.hourly = _Budget(
                    remaining,
                    _int(headers.get("X-RateLimit-Limit")),
                    float(_int(headers.get("X-RateLimit-Reset")) or 0) or None,
                )
            burst = _int(headers.get("X-BurstLimit-Remaining"))
            if burst is not None:
                self.burst = _Budget(burst, _int(headers.get("X-BurstLimit-Limit")))
                self._burst_seen_at = self.clock.monotonic()

    def delay(self) -> float:
        """Seconds to wait before the next call (0 while the budgets are comfortable)."""
        with self._lock:
            return min(max(self._hourly_delay(), self._burst_delay()), MAX_WAIT_SECONDS)

    def before_request(self) -> None:
        wait = self.delay()
        if wait > 0:
            self.waited += wait
            self.clock.sleep(wait)
            with self._lock:  # the budget was spent on that wait; learn again from the next answer
                self.hourly = _Budget()
                self.burst = _Budget()

    def _hourly_delay(self) -> float:
        budget = self.hourly
        if budget.remaining is None or budget.reset_epoch is None:
            return 0.0
        left = max(0.0, budget.reset_epoch - self.clock.now().timestamp())
        if budget.remaining <= 0:
            return left
        if not budget.limit or budget.remaining > budget.limit * LOW_SHARE:
            return 0.0
        return left / budget.remaining

    def _burst_delay(self) -> float:
        budget = self.burst
        if budget.remaining is None or self._burst_seen_at is None:
            return 0.0
        elapsed = self.clock.monotonic() - self._burst_seen_at
        window_left = max(0.0, BURST_WINDOW_SECONDS - elapsed)
        if budget.remaining <= 0:
            return window_left
        if not budget.limit or budget.remaining > budget.limit * LOW_SHARE:
            return 0.0
        return window_left / budget.remaining
