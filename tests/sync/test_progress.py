"""Progress of a long sync: what the engine hands over per page, and what the display says."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from hub.cli.progress import SyncDisplay, duration
from hub.clock import FakeClock
from hub.ratelimit import RateLimit
from hub.sync.engine import SyncProgress, WriteCounter
from tests.sync.fakes import World


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path)
    for i in range(1, 11):
        w.crm.add(name=f"Customer {i:02d} Inc.", phone=f"555-000{i}", active=True)
        w.later(1)
    w.later(60)
    return w


def test_the_engine_hands_over_progress_once_per_page(world: World) -> None:
    seen: list[SyncProgress] = []
    summary = world.run(progress=seen.append)
    assert [p.read for p in seen] == [3, 6, 9, 10]  # the fake CRM reads three records a page
    assert [p.planned for p in seen] == [3, 6, 9, 10]  # every record is a create on the first run
    # writes are counted as the vendor answers them (the counter keeps moving between pages)
    assert seen[-1].written == 10 == summary["created"]
    assert len({id(p.answered) for p in seen}) == 1
    assert {p.step for p in seen} == {"crm.accounts -> docs.orgs"} and {p.job for p in seen} == {"crm-to-docs"}
    seen.clear()
    world.run(progress=seen.append)
    assert all(p.planned == 0 for p in seen)  # nothing changed: nothing to write


class _Hub:
    """What the display reads of a hub: its clock and the budget waits of its connectors."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.waits: dict[str, tuple[float, float | None]] = {}

    def budget_waits(self) -> dict[str, tuple[float, float | None]]:
        return self.waits


def _progress(
    read: int, total: int | None, planned: int, answered: int, step: str = "a.b -> c.d", dry_run: bool = False
) -> SyncProgress:
    counter = WriteCounter()
    counter.value = answered
    return SyncProgress("psa-to-docs", step, read, total, planned, {"created": answered, "updated": 0, "failed": 0},
                        counter, dry_run)  # fmt: skip


def test_the_display_says_what_holds_a_run_back_and_how_long_it_may_take() -> None:
    hub = _Hub()
    display = SyncDisplay(hub, "psa-to-docs", Console(file=io.StringIO()), live=False)  # type: ignore[arg-type]
    assert display.describe().startswith("psa-to-docs · starting")
    display(_progress(0, None, 0, 0))
    hub.clock.advance(600)
    display(_progress(5000, None, 5000, 4800))
    hub.waits = {"itglue": (212.0, 10.0)}  # IT Glue: 3,000 requests per 5 minutes
    line = display.describe()
    assert "read 5,000 · written 4,800 of 5,000 planned" in line
    assert "waiting 212 s for itglue's budget" in line
    assert "at least 232 s left" in line  # 212 s, then 200 writes at 10 a second
    assert line.endswith("elapsed 10 min")

    hub.waits = {}
    display(_progress(6000, 12000, 6000, 6000))
    assert "read 6,000 of 12,000" in display.describe()
    assert "about 10 min left" in display.describe()  # half read in 10 minutes

    display(_progress(10, None, 0, 0, step="e.f -> g.h"))  # a new step starts its own pace
    assert "time left unknown" in display.describe()

    hub.waits = {"itglue": (0.3, 3.0)}  # many short waits: the budget sets the pace
    assert "paced by itglue's budget (3 requests/s)" in display.describe()
    display(_progress(10, None, 7, 0, dry_run=True))
    assert "7 writes planned (dry run: none sent)" in display.describe()


def test_the_written_count_moves_while_a_page_is_in_flight() -> None:
    hub = _Hub()
    display = SyncDisplay(hub, "j", Console(file=io.StringIO()), live=False)  # type: ignore[arg-type]
    progress = _progress(100, None, 100, 0)
    display(progress)
    assert "written 0 of 100 planned" in display.describe()
    progress.answered.value += 40  # the write workers answer, no new page yet
    assert "written 40 of 100 planned" in display.describe()


def test_the_callback_does_no_work_on_the_syncs_thread() -> None:
    hub = _Hub()
    display = SyncDisplay(hub, "j", Console(file=io.StringIO()), live=False)  # type: ignore[arg-type]
    progress = _progress(3, None, 3, 0)
    display(progress)
    assert display.latest is progress


def test_without_a_terminal_progress_is_a_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    from hub.logging import configure_logging

    hub = _Hub()
    stream = io.StringIO()
    configure_logging(json=True, level="INFO", stream=stream)
    try:
        display = SyncDisplay(hub, "psa-to-docs", Console(file=io.StringIO()), live=False, interval=0.01)
        with display:
            display(_progress(3, 10, 3, 1))
            import time

            deadline = time.monotonic() + 5
            while "sync.progress" not in stream.getvalue() and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        configure_logging(level="WARNING")
    assert '"event": "sync.progress"' in stream.getvalue()
    assert "read 3 of 10" in stream.getvalue()


def test_a_connector_waiting_for_its_budget_says_how_long(world: World) -> None:
    hub = world.hub()
    crm = hub.connector("crm")
    client = crm.make_client("https://crm.example.test", limits=[RateLimit(3000, 300)])
    assert hub.budget_waits() == {}
    assert client.limiter is not None
    client.limiter.wait_until = world.clock.monotonic() + 212
    assert hub.budget_waits() == {"crm": (212.0, 10.0)}
    world.clock.advance(300)  # the wait is over
    assert hub.budget_waits() == {}
    hub.close()


def test_a_limiter_waiting_sets_the_deadline_the_display_reads(world: World) -> None:
    hub = world.hub()
    crm = hub.connector("crm")
    client = crm.make_client("https://crm.example.test", limits=[RateLimit(1, 60)])
    assert client.limiter is not None
    seen: list[Any] = []
    client.limiter.acquire()  # the one request of the minute
    original = world.clock.sleep

    def sleep(seconds: float) -> None:
        seen.append(hub.budget_waits())
        original(seconds)

    world.clock.sleep = sleep  # type: ignore[method-assign]
    client.limiter.acquire()  # waits for the next minute
    assert seen and seen[0]["crm"][0] == pytest.approx(60.0)
    hub.close()


@pytest.mark.parametrize(
    ("seconds", "shown"), [(5, "5 s"), (212, "212 s"), (599, "599 s"), (900, "15 min"), (7500, "2 h 5 min")]
)
def test_durations_read_like_a_person_says_them(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown
