"""``hub serve``: the receiver, and the scheduler; the event worker thread when work runs here.

With ``HUB_DISPATCH=inline`` (one process) the receiver stores a verified event and wakes
the event worker thread, which drains the due events right away; events that failed are
retried by the ``events-retry`` schedule once their backoff has passed. With
``HUB_DISPATCH=celery`` there is no event worker here: each group commit's new events
are sent to the Celery ``events`` queue, and the scheduler (while this process holds the
leader lease) hands its slots to the workers through the work ledger.

Stopping (Ctrl-C, SIGTERM through uvicorn) stops the threads after their current unit of
work; an event interrupted mid-processing is claimed again once its lease ends, so
nothing is lost.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from hub import metrics
from hub.errors import ConfigError
from hub.events.receiver import create_app
from hub.events.runtime import Runtime
from hub.events.scheduler import Scheduler, Spawn, thread_spawn
from hub.logging import get_logger

__all__ = ["EventService"]

log = get_logger("hub.events")

#: seconds between two looks at the broker for ``/readyz``
BROKER_CHECK = 10.0


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
            dispatcher=runtime.dispatcher,
        )
        self.app = create_app(
            hub, runtime.events, on_stored=self.wake, alive=self.alive, ready=self.ready, on_scrape=self.scrape
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: uvicorn.Server | None = None
        self._broker_checked: tuple[float, list[str]] | None = None

    def wake(self, ids: list[int] | None = None) -> None:
        """New events were stored (``ids``; None: whatever is due): process them now."""
        dispatcher = self.runtime.dispatcher
        if dispatcher is None:
            self._wake.set()
            return
        dispatcher.send_events(ids if ids is not None else self.runtime.events.due())

    def alive(self) -> list[str]:
        """The threads of this process that stopped although it still runs (``/livez``)."""
        if self._stop.is_set():
            return []
        return [f"{thread.name} thread stopped" for thread in self._threads if not thread.is_alive()]

    def ready(self) -> list[str]:
        """What keeps this process from doing its work now (``/readyz``): in Celery mode the
        broker, looked at most once every :data:`BROKER_CHECK` seconds."""
        if self.runtime.dispatcher is None:
            return []
        now = time.monotonic()
        if self._broker_checked is None or now - self._broker_checked[0] > BROKER_CHECK:
            from hub.events.tasks import check_broker

            try:
                check_broker(self.runtime.hub.settings.celery_broker_url, timeout=2.0)
                problems: list[str] = []
            except ConfigError as exc:
                problems = [str(exc)]
            self._broker_checked = (now, problems)
        return list(self._broker_checked[1])

    def scrape(self) -> None:
        """Before ``/metrics`` answers: the depth of the Celery queues (Celery mode)."""
        if self.runtime.dispatcher is None:
            return
        from hub.events.tasks import queue_depths

        try:
            metrics.refresh_queues(queue_depths(self.runtime.hub.settings.celery_broker_url))
        except Exception as exc:  # the broker is down: /readyz says so; the other series still answer
            log.warning("queue depths not read", error=f"{type(exc).__name__}: {exc}")

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
        threads = [("scheduler", self._schedule)]
        if self.runtime.dispatcher is None:
            threads.insert(0, ("events", self._work))
        else:  # events stored before this start (or whose message was lost) go to the workers now
            try:
                self.wake()
            except Exception as exc:  # the broker is down: the events-retry schedule sends them later
                log.error("stored events not sent at start", error=f"{type(exc).__name__}: {exc}")
        for name, target in threads:
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
