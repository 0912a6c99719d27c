"""The sync engine against in-memory vendors: plan, write, checkpoint, resume, guard."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from hub.errors import ConfigError
from hub.hookspecs import hookimpl
from hub.state.store import JobLocked, StateStore
from hub.sync import MassDeactivation
from hub.sync.entity import EntitySync
from tests.sync.fakes import World


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path)
    for i in range(1, 11):
        w.crm.add(name=f"Customer {i:02d} Inc.", phone=f"555-000{i}", active=True)
        w.later(1)
    w.later(60)
    return w


def test_first_run_creates_then_unchanged_then_one_update(world: World) -> None:
    first = world.run()
    assert (first["status"], first["read"], first["created"], first["updated"]) == ("ok", 10, 10, 0)
    assert len(world.docs.rows) == 10
    assert set(json.loads(json.dumps(first))) >= {
        "job", "status", "dry_run", "read", "created", "updated", "unchanged", "conflicts", "failed",
        "api_calls", "duration_s",
    }  # fmt: skip
    writes = len(world.docs.writes)
    again = world.run(full_refresh=True)
    assert (again["read"], again["unchanged"], again["created"], again["updated"]) == (10, 10, 0, 0)
    assert len(world.docs.writes) == writes, "an unchanged re-run must cost no write"

    world.crm.rows["4"].update(phone="555-9999", modified=world.crm.stamp())
    third = world.run()
    assert (third["read"], third["updated"], third["created"]) == (1, 1, 0)
    assert world.docs.writes[-1][2] == {"name": "Customer 04 Inc.", "phone": "555-9999"}


def test_incremental_reads_only_changes_and_api_calls_are_counted(world: World) -> None:
    world.run()
    world.crm.calls = 0
    summary = world.run()
    assert summary["read"] <= 1  # at most the boundary record, skipped as already seen
    assert summary["created"] == summary["updated"] == 0
    assert summary["api_calls"]["crm"] == world.crm.calls


def test_records_sharing_the_cursor_timestamp_are_neither_lost_nor_written_twice(tmp_path: Path) -> None:
    world = World(tmp_path)
    for i in range(7):  # seven records, one timestamp, spread over three pages
        world.crm.add(name=f"Same Second {i}", phone="1", active=True)
    world.later(30)
    assert world.run()["created"] == 7
    # a new record arrives with the very same timestamp as the cursor
    stamp = world.crm.rows["1"]["modified"]
    world.crm.rows[world.crm.add(name="Late Arrival", phone="2", active=True)]["modified"] = stamp
    summary = world.run()
    assert (summary["created"], summary["updated"], summary["read"]) == (1, 0, 1)
    assert len(world.docs.rows) == 8
    assert sum(1 for w in world.docs.writes if w[0] == "create") == 8


def test_cursor_never_passes_the_run_start(world: World, tmp_path: Path) -> None:
    future = world.clock.now().replace(year=2030).isoformat()
    world.crm.rows["2"]["modified"] = future
    world.run()
    cursor = StateStore.open(world.state_url).get_cursor("crm-to-docs", "crm", "accounts").cursor
    assert cursor is not None and cursor < future
    # the record stamped in the future is read again next time, and is unchanged
    again = world.run()
    assert again["read"] >= 1 and again["updated"] == 0 and again["created"] == 0


def test_a_crash_after_writes_before_the_checkpoint_creates_no_duplicate(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real_commit = EntitySync.commit

    def crashing_commit(self: EntitySync, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # page 2 was written to the target, then the process "died"
            raise KeyboardInterrupt("killed")
        real_commit(self, *args, **kwargs)

    monkeypatch.setattr(EntitySync, "commit", crashing_commit)
    with pytest.raises(KeyboardInterrupt):
        world.run()
    # page 1 was checkpointed; page 2 and some of page 3 (in flight, stopped at the crash)
    # reached the target unrecorded
    written = len(world.docs.rows)
    assert 6 <= written <= 9
    monkeypatch.setattr(EntitySync, "commit", real_commit)
    summary = world.run()
    assert summary["status"] == "ok"
    names = world.docs_by_name()
    assert len(names) == 10 and all(len(rows) == 1 for rows in names.values()), "a record was created twice"
    # the unrecorded records were matched by name and linked, not re-created nor written again
    assert summary["created"] == 10 - written and summary["updated"] == 0
    assert summary["unchanged"] == written - 3


def test_a_failed_write_is_dead_lettered_and_retried(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.docs.fail_on["Customer 03 Inc."] = "Name contains a reserved word"
    summary = world.run()
    assert (summary["status"], summary["failed"], summary["created"]) == ("partial", 1, 9)
    [failure] = [p for p in summary["plan"] if p["action"] == "failed"]
    assert "Name contains a reserved word" in failure["reason"]
    with world.hub() as hub:
        [letter] = hub.store.dead_letters()
        assert letter.record_id == "3" and "reserved word" in letter.error
    del world.docs.fail_on["Customer 03 Inc."]
    from hub.sync import retry_dead_letters

    with world.hub() as hub:
        outcome = retry_dead_letters(hub)
        assert (outcome["retried"], outcome["resolved"]) == (1, 1)
        assert hub.store.dead_letters() == []
    assert len(world.docs.rows) == 10


def test_a_dead_letter_is_resolved_by_the_next_run_that_writes_the_record(world: World) -> None:
    world.docs.fail_on["Customer 03 Inc."] = "Name contains a reserved word"
    assert world.run()["failed"] == 1
    del world.docs.fail_on["Customer 03 Inc."]
    world.crm.rows["3"].update(phone="555-3333", modified=world.crm.stamp())
    summary = world.run()
    assert (summary["status"], summary["created"]) == ("ok", 1)
    with world.hub() as hub:
        assert hub.store.dead_letters() == []


def test_a_fatal_error_mid_page_stops_the_writes_counts_those_made_and_the_next_run_completes(
    world: World,
) -> None:
    from hub.errors import TransientError

    world.docs.fail_on["Customer 05 Inc."] = TransientError("vendor unavailable (HTTP 503)", connector="docs")
    first = world.run()
    assert first["status"] == "failed" and "vendor unavailable" in first["error"]
    assert first["created"] == len(world.docs.rows) < 10, "every write made is counted, none after the stop"
    world.docs.fail_on.clear()
    second = world.run()
    assert second["status"] == "ok"
    assert sorted(world.docs_by_name()) == [f"Customer {i:02d} Inc." for i in range(1, 11)]
    assert all(len(rows) == 1 for rows in world.docs_by_name().values()), "nothing created twice"


def test_mass_deactivation_is_refused_unless_allowed(world: World) -> None:
    world.run()
    for rid in ("1", "2", "3", "4"):
        world.crm.rows[rid].update(active=False, modified=world.crm.stamp())
    with pytest.raises(MassDeactivation, match="--allow-mass-deactivate"):
        world.run()
    assert all(row["active"] for row in world.docs.rows.values()), "nothing may be deactivated past the guard"
    summary = world.run(allow_mass_deactivate=True)
    assert summary["deactivated"] == 4
    assert sum(1 for row in world.docs.rows.values() if not row["active"]) == 4


def test_one_deactivation_passes_the_guard(world: World) -> None:
    world.run()
    world.crm.rows["5"].update(active=False, modified=world.crm.stamp())
    summary = world.run()
    assert summary["deactivated"] == 1
    assert world.docs.rows[world.docs_by_name()["Customer 05 Inc."][0]["id"]]["active"] is False


def test_full_refresh_deactivates_records_deleted_at_the_source(world: World) -> None:
    world.run()
    del world.crm.rows["7"]
    assert world.run()["deactivated"] == 0  # an incremental read cannot see deletions
    summary = world.run(full_refresh=True)
    assert summary["deactivated"] == 1
    assert world.docs_by_name()["Customer 07 Inc."][0]["active"] is False


def test_dry_run_plans_with_field_level_diff_and_writes_nothing(world: World) -> None:
    world.run()
    world.crm.rows["2"].update(phone="555-2222", modified=world.crm.stamp())
    world.crm.add(name="Brand New LLC", phone="1", active=True)
    writes = len(world.docs.writes)
    plan = world.run(dry_run=True)
    assert plan["dry_run"] is True and (plan["created"], plan["updated"]) == (1, 1)
    update = next(p for p in plan["plan"] if p["action"] == "update")
    assert update["before"] == {"phone": "555-0002"} and update["after"] == {"phone": "555-2222"}
    assert len(world.docs.writes) == writes
    real = world.run()  # the cursor did not move: the real run sees the same changes
    assert (real["created"], real["updated"]) == (1, 1)


def test_ambiguous_matches_are_conflicts_not_guesses(world: World) -> None:
    world.docs.add(name="Customer 01, Inc", phone="x", active=True)
    world.docs.add(name="customer 01 inc", phone="y", active=True)
    summary = world.run()
    assert summary["conflicts"] == 1
    assert "ambiguous match" in next(p for p in summary["plan"] if p["action"] == "conflict")["reason"]
    assert len(world.docs_by_name().get("Customer 01 Inc.", [])) == 0


def test_existing_target_records_are_matched_by_normalized_name(world: World) -> None:
    rid = world.docs.add(name="customer 01, INC", phone="old", active=True, notes="kept by a person")
    summary = world.run()
    assert summary["created"] == 9 and summary["updated"] == 1
    assert world.docs.rows[rid]["phone"] == "555-0001"
    assert world.docs.rows[rid]["notes"] == "kept by a person", "a target-owned field was overwritten"


def _okafor(world: World) -> tuple[str, str]:
    """Two distinct source companies whose names normalize alike (legal forms dropped)."""
    world.later(1)
    pty = world.crm.add(name="Okafor Architecture Pty Ltd", phone="02 9876 5432", active=True)
    gmbh = world.crm.add(name="Okafor Architecture GmbH", phone="+49 30 1234567", active=True)
    world.later(60)
    return pty, gmbh


def test_distinct_records_whose_names_normalize_alike_each_get_their_own_target(world: World) -> None:
    _okafor(world)
    first = world.run()
    assert (first["created"], first["conflicts"], first["failed"]) == (12, 0, 0)
    by_name = world.docs_by_name()
    assert len(by_name["Okafor Architecture Pty Ltd"]) == len(by_name["Okafor Architecture GmbH"]) == 1
    [report] = [r for r in first.get("reports", []) if "possible duplicate" in r]
    assert "Okafor Architecture GmbH" in report
    again = world.run(full_refresh=True)
    assert (again["created"], again["updated"], again["conflicts"], again["unchanged"]) == (0, 0, 0, 12)
    assert not [r for r in again.get("reports", []) if "possible duplicate" in r]


def test_a_pre_existing_target_is_adopted_once_and_the_other_source_gets_its_own(world: World) -> None:
    existing = world.docs.add(name="Okafor Architecture", phone="old", active=True)
    _okafor(world)
    summary = world.run()
    assert (summary["created"], summary["updated"], summary["conflicts"]) == (11, 1, 0)
    names = [row["name"] for row in world.docs.rows.values() if row["name"].startswith("Okafor")]
    # one adopted the existing record (it now carries the source's name), the other has its own
    assert sorted(names) == ["Okafor Architecture GmbH", "Okafor Architecture Pty Ltd"]
    assert world.docs.rows[existing]["name"] == "Okafor Architecture Pty Ltd"
    assert any("possible duplicate" in r for r in summary.get("reports", []))


def test_unlinked_targets_that_normalize_alike_are_told_apart_by_their_exact_names(world: World) -> None:
    gmbh_doc = world.docs.add(name="okafor architecture  GMBH", phone="x", active=True)
    pty_doc = world.docs.add(name="Okafor Architecture Pty Ltd", phone="y", active=True)
    pty, gmbh = _okafor(world)
    summary = world.run()
    assert (summary["created"], summary["updated"], summary["conflicts"]) == (10, 2, 0)
    with world.hub() as hub:
        assert hub.store.counterpart("organization", "crm", pty, "docs") == pty_doc
        assert hub.store.counterpart("organization", "crm", gmbh, "docs") == gmbh_doc


def test_concurrent_runs_of_one_job_are_refused(world: World) -> None:
    with world.hub() as hub, hub.store.lock("sync:crm-to-docs"), pytest.raises(JobLocked, match="already running"):
        world.run()


def test_unknown_job_is_a_config_error(world: World) -> None:
    from hub.sync import run_job

    with world.hub() as hub, pytest.raises(ConfigError, match="jobs: crm-to-docs"):
        run_job(hub, "nope")


def test_audit_log_has_every_write(world: World) -> None:
    summary = world.run()
    with world.hub() as hub:
        rows = hub.store.audit_rows(summary["run_id"])
    assert len(rows) == 10 and {r["operation"] for r in rows} == {"create"}
    assert rows[0]["after"]["name"].startswith("Customer")


class Hooks:
    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def hub_transform_record(self, job: str, system: str, record: Any) -> Any:
        self.calls.append("transform")
        return record.model_copy(update={"phone": f"+1 {record.phone}"}) if record.phone else None

    @hookimpl
    def hub_before_write(self, job: str, system: str, entity: str, operation: str, record: Any, payload: Any) -> Any:
        self.calls.append("before_write")
        if record.name.startswith("Customer 09"):
            return "customer 09 is on legal hold"
        payload["notes"] = "enriched by a plugin"
        return None

    @hookimpl
    def hub_after_write(self, job: str, system: str, entity: str, operation: str, record: Any, result_id: str) -> None:
        self.calls.append(f"after_write:{operation}")

    @hookimpl
    def hub_sync_started(self, job: str, dry_run: bool) -> None:
        self.calls.append("started")

    @hookimpl
    def hub_sync_finished(self, job: str, summary: dict[str, Any]) -> None:
        self.calls.append(f"finished:{summary['status']}")

    @hookimpl
    def hub_sync_error(self, job: str, error: BaseException) -> None:
        self.calls.append(f"error:{type(error).__name__}")


def test_cross_cutting_hooks_transform_veto_enrich_and_observe(world: World) -> None:
    hooks = Hooks()
    world.extra_plugins.append((hooks, "hooks"))
    summary = world.run()
    assert summary["failed"] == 1 and "legal hold" in summary["plan"][0]["reason"]
    row = world.docs_by_name()["Customer 01 Inc."][0]
    assert row["phone"] == "+1 555-0001" and row["notes"] == "enriched by a plugin"
    assert hooks.calls[0] == "started" and hooks.calls[-1] == "finished:partial"
    assert hooks.calls.count("after_write:create") == 9
    for rid in ("1", "2", "3", "4", "5"):
        world.crm.rows[rid].update(active=False, modified=world.crm.stamp())
    with pytest.raises(MassDeactivation):
        world.run()
    assert hooks.calls[-1] == "error:MassDeactivation"


def test_the_collector_is_tuned_during_a_run_and_restored_after(world: World) -> None:
    import gc

    from hub.sync.gc import BULK_THRESHOLDS

    seen: list[tuple[int, int, int]] = []

    class Observe:
        @hookimpl
        def hub_sync_started(self, job: str, dry_run: bool) -> None:
            seen.append(gc.get_threshold())

    before = gc.get_threshold()
    world.extra_plugins.append((Observe(), "observe"))
    world.run()
    assert seen == [BULK_THRESHOLDS] and gc.get_threshold() == before and gc.get_freeze_count() == 0
    for rid in ("1", "2", "3", "4", "5"):
        world.crm.rows[rid].update(active=False, modified=world.crm.stamp())
    with pytest.raises(MassDeactivation):
        world.run()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


multi_cpu_linux = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="pinning to one CPU needs Linux and at least two CPUs",
)


@multi_cpu_linux
def test_a_run_and_its_write_workers_stay_on_one_cpu_then_the_affinity_is_restored(world: World) -> None:
    import threading

    seen: dict[str, set[int]] = {}

    class Observe:
        @hookimpl
        def hub_sync_started(self, job: str, dry_run: bool) -> None:
            seen["run"] = os.sched_getaffinity(0)

        @hookimpl
        def hub_after_write(self, job: str, system: str, entity: str, operation: str, record: Any,
                            result_id: str | None) -> None:  # fmt: skip
            seen.setdefault("worker", set()).update(os.sched_getaffinity(0))
            seen.setdefault("threads", set()).add(threading.get_ident())

    before = os.sched_getaffinity(0)
    world.extra_plugins.append((Observe(), "observe"))
    world.run()
    assert len(seen["run"]) == 1 and seen["run"] <= before
    assert seen["worker"] == seen["run"] and threading.get_ident() not in seen["threads"]
    assert os.sched_getaffinity(0) == before


@multi_cpu_linux
def test_pinning_can_be_turned_off(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[set[int]] = []

    class Observe:
        @hookimpl
        def hub_sync_started(self, job: str, dry_run: bool) -> None:
            seen.append(os.sched_getaffinity(0))

    monkeypatch.setenv("HUB_SYNC_PIN_CPU", "false")
    world.extra_plugins.append((Observe(), "observe"))
    world.run()
    assert seen == [os.sched_getaffinity(0)] and len(seen[0]) > 1


@multi_cpu_linux
def test_current_cpu_reads_the_cpu_the_thread_runs_on() -> None:
    from hub.sync.affinity import current_cpu

    allowed = os.sched_getaffinity(0)
    try:
        for cpu in sorted(allowed):
            os.sched_setaffinity(0, {cpu})  # the kernel moves the thread there at once
            assert current_cpu() == cpu
    finally:
        os.sched_setaffinity(0, allowed)


@multi_cpu_linux
def test_pinned_runs_on_one_machine_never_share_a_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from hub.sync import affinity

    monkeypatch.setattr(affinity, "_lock_dir", lambda: tmp_path)
    allowed = os.sched_getaffinity(0)

    def another_run() -> set[int]:
        """The CPUs a run started elsewhere (free to use every CPU) is kept on."""
        seen: list[set[int]] = []

        def run() -> None:
            os.sched_setaffinity(0, allowed)
            with affinity.one_cpu():
                seen.append(os.sched_getaffinity(0))

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        return seen[0]

    with affinity.one_cpu():
        first = os.sched_getaffinity(0)
        assert len(first) == 1 and affinity._claim(next(iter(first))) is None  # claimed by this run
        others = sorted(allowed - first)
        held = [affinity._claim(c) for c in others[:-1]]  # still other runs claim all but one CPU
        try:
            assert another_run() == {others[-1]}
            assert another_run() == {others[-1]}  # released when that run ended
            last = affinity._claim(others[-1])
            assert another_run() == allowed  # every CPU claimed: that run is not pinned
            assert last is not None
            last.close()
        finally:
            for handle in held:
                assert handle is not None
                handle.close()
        assert os.sched_getaffinity(0) == first
    assert os.sched_getaffinity(0) == allowed
    claim = affinity._claim(next(iter(first)))
    assert claim is not None  # released when the run ended
    claim.close()


def test_a_run_whose_lease_was_taken_commits_nothing_more(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another run took the lease mid-run (it had expired): the first stops at its next commit."""
    from sqlalchemy import text

    real_commit = EntitySync.commit
    commits: list[Any] = []

    def commit_after_takeover(self: EntitySync, results: Any, cursor: Any, pass_id: str) -> None:
        commits.append(cursor)
        if len(commits) == 2:  # a second run took the lease between the first page and the next
            with self.store.transaction() as conn:
                conn.execute(text("UPDATE locks SET holder = 'the-other-run', token = token + 1"))
        real_commit(self, results, cursor, pass_id)

    monkeypatch.setattr(EntitySync, "commit", commit_after_takeover)
    summary = world.run()
    assert summary["status"] == "failed" and "another run took over" in summary["error"]
    store = StateStore.open(world.state_url)
    assert store.get_cursor("crm-to-docs", "crm", "accounts").resume == commits[0].resume, "only page 1 committed"
    with store.engine.connect() as conn:
        linked = conn.execute(text("SELECT COUNT(*) FROM crosswalk WHERE system = 'docs'")).scalar()
    assert linked == 3, "only the first page's links were committed"
