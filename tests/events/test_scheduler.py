"""The scheduler on a fake clock: due times, no overlap, restart catch-up, failures counted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from hub import metrics
from hub.clock import FakeClock
from hub.connector import MemoryKeyValueStore
from hub.errors import ConfigError
from hub.events.runtime import Runtime
from hub.events.scheduler import Schedule, Scheduler
from hub.settings import ScheduleSpec


def inline(name: str, fn: Callable[[], None]) -> None:
    fn()


class Deferred:
    """Holds spawned runs so a test decides when they finish."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def __call__(self, name: str, fn: Callable[[], None]) -> None:
        self.pending.append(fn)

    def finish_all(self) -> None:
        while self.pending:
            self.pending.pop(0)()


def outcome(name: str, what: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value("hub_schedule_runs_total", {"schedule": name, "outcome": what})
        or 0.0
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 5, 9, 0, 30, tzinfo=UTC))


def test_runs_at_cron_times_only(clock):
    runs: list[datetime] = []
    s = Scheduler(
        [Schedule("sync", "*/5 * * * *", lambda: runs.append(clock.now()))],
        clock=clock,
        state=MemoryKeyValueStore(),
        spawn=inline,
    )
    assert s.tick() == []  # 09:00:30: the 09:00 slot passed before start, not run
    clock.advance(4 * 60)
    assert s.tick() == []  # 09:04:30
    clock.advance(60)
    assert s.tick() == ["sync"]  # 09:05:30
    assert s.tick() == []  # same slot: once
    clock.advance(5 * 60)
    assert s.tick() == ["sync"]
    assert len(runs) == 2
    assert s.seconds_to_next() == pytest.approx(270)


def test_a_run_never_overlaps_itself(clock):
    spawn = Deferred()
    s = Scheduler(
        [Schedule("slow", "* * * * *", lambda: None)], clock=clock, state=MemoryKeyValueStore(), spawn=spawn
    )
    skipped = outcome("slow", "skipped")
    clock.advance(60)
    assert s.tick() == ["slow"]
    assert s.running() == {"slow"}
    clock.advance(60)
    assert s.tick() == []  # still running: the 09:02 slot is skipped, not run alongside
    assert outcome("slow", "skipped") == skipped + 1
    spawn.finish_all()
    assert s.running() == set()
    clock.advance(60)
    assert s.tick() == ["slow"]


def test_restart_runs_a_missed_slot_once(clock):
    state = MemoryKeyValueStore()
    runs: list[int] = []
    first = Scheduler(
        [Schedule("hourly", "0 * * * *", lambda: runs.append(1))], clock=clock, state=state, spawn=inline
    )
    clock.advance(3600)
    first.tick()
    assert runs == [1]
    clock.advance(5 * 3600)  # the hub was down for five slots
    second = Scheduler(
        [Schedule("hourly", "0 * * * *", lambda: runs.append(2))], clock=clock, state=state, spawn=inline
    )
    assert second.tick() == ["hourly"]
    assert second.tick() == []
    assert runs == [1, 2]


def test_failures_are_counted_and_the_next_slot_runs(clock):
    calls: list[int] = []

    def boom() -> None:
        calls.append(1)
        raise RuntimeError("vendor down")

    s = Scheduler(
        [Schedule("flaky", "* * * * *", boom)], clock=clock, state=MemoryKeyValueStore(), spawn=inline
    )
    failed = outcome("flaky", "failed")
    clock.advance(60)
    s.tick()
    clock.advance(60)
    s.tick()
    assert calls == [1, 1]
    assert outcome("flaky", "failed") == failed + 2
    assert s.running() == set()


def test_another_process_holding_the_schedule_lock_skips_the_run(hub, clock):
    runs: list[int] = []
    s = Scheduler(
        [Schedule("locked", "* * * * *", lambda: runs.append(1))],
        clock=clock,
        state=MemoryKeyValueStore(),
        store=hub.store,
        spawn=inline,
    )
    skipped = outcome("locked", "skipped")
    with hub.store.lock("schedule:locked"):
        clock.advance(60)
        s.tick()
    assert runs == []
    assert outcome("locked", "skipped") == skipped + 1
    clock.advance(60)
    s.tick()
    assert runs == [1]


def test_duplicate_names_are_refused(clock):
    with pytest.raises(ValueError, match="unique"):
        Scheduler([Schedule("a", "* * * * *", lambda: None)] * 2, clock=clock, state=MemoryKeyValueStore())


def test_runtime_schedules_from_settings(tmp_path, clock, plugins, workflow, sync):
    from tests.events.conftest import make_hub

    hub = make_hub(
        tmp_path,
        clock,
        plugins,
        schedules=[
            {"name": "rmm-alerts", "cron": "*/5 * * * *", "task": "sync:rmm-alerts"},
            {"name": "contracts-poll", "cron": "0 * * * *", "task": "sync:psa-to-docs", "full_refresh": True},
            {"name": "workflow-poll", "cron": "0 * * * *", "task": "workflow.poll", "enabled": False},
        ],
    )
    runtime = Runtime(hub, workflow=workflow, sync=sync, lifecycle=None)
    s = Scheduler(
        runtime.schedules(), clock=clock, state=hub.store.kv("schedules"), store=hub.store, spawn=inline
    )
    assert sorted(x.name for x in s.schedules) == [
        "contracts-poll",
        "events-retry",
        "rmm-alerts",
        "workflow-tick",
    ]
    clock.advance(3600)  # 10:00:30: every schedule is due
    assert sorted(s.tick()) == ["contracts-poll", "events-retry", "rmm-alerts", "workflow-tick"]
    assert sorted(sync.calls) == [("psa-to-docs", True), ("rmm-alerts", False)]
    assert workflow.ticks == [clock.now()]
    hub.close()


def test_schedule_that_cannot_run_is_a_config_error(tmp_path, clock, plugins, sync):
    from tests.events.conftest import make_hub

    hub = make_hub(
        tmp_path, clock, plugins, schedules=[{"name": "x", "cron": "* * * * *", "task": "sync:nope"}]
    )
    with pytest.raises(ConfigError, match="unknown sync job 'nope'"):
        Runtime(hub, workflow=None, sync=sync, lifecycle=None).schedules()
    hub2 = make_hub(
        tmp_path, clock, plugins, schedules=[{"name": "t", "cron": "* * * * *", "task": "workflow.tick"}]
    )
    with pytest.raises(ConfigError, match="no workflow engine"):
        Runtime(hub2, workflow=None, sync=sync, lifecycle=None).schedules()
    hub.close()
    hub2.close()


def test_schedule_spec_validation():
    with pytest.raises(ValueError, match="not a cron expression"):
        ScheduleSpec(name="a", cron="every minute", task="workflow.tick")
    with pytest.raises(ValueError, match="unknown task"):
        ScheduleSpec(name="a", cron="* * * * *", task="reboot")
    with pytest.raises(ValueError, match="only a sync task runs in parts"):
        ScheduleSpec(name="a", cron="* * * * *", task="workflow.tick", part="1/2")
    with pytest.raises(ValueError, match="needs the whole job"):
        ScheduleSpec(name="a", cron="* * * * *", task="sync:psa-to-docs", part="1/2", full_refresh=True)
    with pytest.raises(ValueError, match="between 1 and 3"):
        ScheduleSpec(name="a", cron="* * * * *", task="sync:psa-to-docs", part="4/3")
    with pytest.raises(ValueError, match="should match pattern"):
        ScheduleSpec(name="a", cron="* * * * *", task="sync:psa-to-docs", part="half")


def test_a_schedule_per_part_runs_that_part_inline_and_hands_it_to_the_workers(tmp_path, clock, plugins, sync):
    from hub.events.runtime import _work
    from tests.events.conftest import make_hub

    parts = [{"name": f"docs-{i}", "cron": "0 * * * *", "task": "sync:psa-to-docs", "part": f"{i}/2"} for i in (1, 2)]
    hub = make_hub(tmp_path, clock, plugins, schedules=parts)
    runtime = Runtime(hub, workflow=None, sync=sync, lifecycle=None)
    s = Scheduler(runtime.schedules(), clock=clock, state=hub.store.kv("schedules"), store=hub.store, spawn=inline)
    clock.advance(3600)
    assert sorted(s.tick()) == ["docs-1", "docs-2", "events-retry"]
    assert sorted(sync.parts) == ["#1/2", "#2/2"]
    works = {spec.name: _work(spec) for spec in runtime.schedule_specs()}
    assert works["docs-2"].args == {"job": "psa-to-docs", "full_refresh": False, "part": "2/2"}
    assert "part" not in works["events-retry"].args
    hub.close()
