"""Run leases: a live run never loses its lease, a dead one does, and a run that lost its
lease commits nothing more (the fencing token)."""

from __future__ import annotations

import os
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from hub.clock import FakeClock
from hub.state import tables as t
from hub.state.leases import JobLocked, LeaseLost, Leases, ProcessIdentity, process_start
from hub.state.store import StateStore

ELSEWHERE = ProcessIdentity("other-host.example", 4242, "boot:1")


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")


@pytest.fixture
def leases(store: StateStore) -> tuple[Leases, FakeClock]:
    clock = FakeClock()
    return Leases(store.engine, clock), clock


@pytest.mark.parametrize("after", [timedelta(minutes=11), timedelta(hours=3)])
def test_a_live_run_on_another_host_keeps_its_lease(leases: tuple[Leases, FakeClock], after: timedelta) -> None:
    table, clock = leases
    first = table.acquire("sync:psa-to-docs", identity=ELSEWHERE)
    elapsed = timedelta()
    while elapsed < after:  # its heartbeat renews it every ttl / 6
        step = table.ttl / 6
        clock.advance(step.total_seconds())
        elapsed += step
        assert first.renew()
    with pytest.raises(JobLocked, match="already running"):
        table.acquire("sync:psa-to-docs")


@pytest.mark.parametrize("after", [timedelta(minutes=11), timedelta(hours=3)])
def test_a_live_process_on_this_host_keeps_its_lease_even_without_heartbeats(
    leases: tuple[Leases, FakeClock], after: timedelta
) -> None:
    table, clock = leases
    table.acquire("sync:psa-to-docs")  # this process: alive
    clock.advance(after.total_seconds())
    with pytest.raises(JobLocked, match=f"pid {os.getpid()} on {socket.gethostname()}"):
        table.acquire("sync:psa-to-docs", identity=ProcessIdentity.current())


def test_an_expired_lease_is_taken_and_its_holder_can_never_commit_again(
    store: StateStore, leases: tuple[Leases, FakeClock]
) -> None:
    table, clock = leases
    first = table.acquire("sync:psa-to-docs", identity=ELSEWHERE)
    clock.advance(table.ttl.total_seconds() + 1)  # its host went silent
    second = table.acquire("sync:psa-to-docs")
    assert second.token == first.token + 1
    with pytest.raises(LeaseLost, match="another run took over"):
        with store.transaction() as conn:
            first.check(conn)
            conn.execute(insert(t.kv).values(namespace="n", key="lost", value=1, updated_at=clock.now()))
    assert first.lost.is_set() and not first.renew()
    with pytest.raises(LeaseLost):
        first.ensure()
    with store.engine.connect() as conn:
        assert conn.execute(select(t.kv.c.key)).all() == [], "the fenced transaction was rolled back"
    with store.transaction() as conn:
        second.check(conn)  # the new holder commits


def test_a_dead_process_on_this_host_loses_its_lease_at_once(leases: tuple[Leases, FakeClock]) -> None:
    table, _clock = leases
    dead = ProcessIdentity(socket.gethostname(), _unused_pid(), None)
    table.acquire("sync:rmm-alerts", identity=dead)
    assert table.acquire("sync:rmm-alerts").token == 2


def test_a_reused_pid_is_not_taken_for_the_holder(leases: tuple[Leases, FakeClock]) -> None:
    table, _clock = leases
    me = ProcessIdentity.current()
    if me.started is None:
        pytest.skip("process start times are read from Linux /proc")
    earlier = ProcessIdentity(me.host, me.pid, "00000000:1")  # same pid, an older process
    table.acquire("sync:rmm-alerts", identity=earlier)
    assert table.acquire("sync:rmm-alerts").token == 2


def test_tokens_only_grow_across_releases(leases: tuple[Leases, FakeClock]) -> None:
    table, _clock = leases
    tokens = []
    for _ in range(3):
        lease = table.acquire("sync:x")
        tokens.append(lease.token)
        table.release(lease)
    assert tokens == [1, 2, 3]


def test_the_heartbeat_renews_a_held_lease(store: StateStore) -> None:
    table = Leases(store.engine, ttl=timedelta(seconds=1.2))
    with table.hold("sync:x") as lease:
        time.sleep(2.0)  # longer than the ttl: only the heartbeat (every 0.2 s) keeps it
        with pytest.raises(JobLocked):
            table.acquire("sync:x", identity=ELSEWHERE)
        assert not lease.lost.is_set()
    assert table.acquire("sync:x", identity=ELSEWHERE).token == 2  # released at the end


def test_killed_runs_are_marked_and_their_match_index_dropped(store: StateStore) -> None:
    dead = store.start_run("psa-to-docs", "sync")
    store.index_keys(dead, "itglue", "organization", [(0, "acme", "1"), (0, "globex", "2")])
    done = store.start_run("psa-to-docs", "sync")
    store.finish_run(done, "ok")
    assert store.mark_killed("psa-to-docs") == [dead]
    statuses = {r["id"]: r["status"] for r in store.recent_runs("psa-to-docs")}
    assert statuses == {dead: "killed", done: "ok"}
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM match_index")).scalar() == 0


def _unused_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


def test_process_start_tells_processes_apart() -> None:
    mine = process_start(os.getpid())
    if mine is None:
        pytest.skip("process start times are read from Linux /proc")
    assert mine == process_start(os.getpid()) and mine != process_start(1)


