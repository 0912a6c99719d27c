"""``hub serve`` in one process: the receiver, an event worker thread, the scheduler thread.

The receiver stores a verified event and wakes the worker, which drains the due
events right away; events that failed are retried by the ``events-retry`` schedule
once their backoff has passed. Stopping (Ctrl-C, SIGTERM through uvicorn) stops
the threads after their current unit of work; an event interrupted mid-processing is
claimed again once its lease ends, so nothing is lost.
"""

from __future__ import annotations

import threading
from typing import Any

import uvicorn

from hub.events.receiver import create_app
from hub.events.runtime import Runtime
from hub.events.scheduler import Scheduler, Spawn, thread_spawn
from hub.logging import get_logger

__all__ = ["EventService"]

log = get_logger("hub.events")


class EventService:
    """The long-running parts around one :class:`Runtime`."""

    def __init__(self, runtime: Runtime, *, spawn: Spawn = thread_spawn) -> None:
        self.runtime = runtime
        hub = runtime.hub
        self.scheduler = Scheduler(
            runtime.schedules(),
            clock=hub.clock,
            state=hub.store.kv("schedules"),
            store=hub.store,
            spawn=spawn,
        )
        self.app = create_app(hub, runtime.events, on_stored=self.wake)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: uvicorn.Server | None = None

    def wake(self, _ids: list[int] | None = None) -> None:
        """New events were stored: process them now."""
        self._wake.set()

    def _work(self) -> None:
        while not self._stop.is_set():
            if not self._wake.wait(timeout=0.5):
                continue
            self._wake.clear()
            try:
                self.runtime.processor.drain()
            except Exception as exc:  # e.g. the state store is briefly unavailable
                log.error("event processing pass failed", error=f"{type(exc).__name__}: {exc}")

    def start(self) -> None:
        """Start the event worker and the scheduler; stored events left from before are processed first."""
        self._stop.clear()
        self._wake.set()
        for name, target in (("events", self._work), ("scheduler", self._schedule)):
            thread = threading.Thread(target=target, name=f"hub-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("hub serve started", schedules=[s.name for s in self.scheduler.schedules])

    def _schedule(self) -> None:
        self.scheduler.run_forever(self._stop)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def serve(self, host: str, port: int, **uvicorn_options: Any) -> None:
        """Serve the receiver until interrupted, with the worker and scheduler alongside."""
        config = uvicorn.Config(
            self.app, host=host, port=port, lifespan="off", access_log=False, **uvicorn_options
        )
        self._server = uvicorn.Server(config)
        self.start()
        try:
            self._server.run()
        finally:
            self.stop()

    def shutdown(self) -> None:
        """Ask a running :meth:`serve` to finish (what SIGINT does in the main thread)."""
        if self._server is not None:
            self._server.should_exit = True
