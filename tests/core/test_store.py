"""The state store on SQLite and (when HUB_TEST_POSTGRES_URL is set) PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import stat
import time
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from hub.errors import ConfigError
from hub.state import tables as t
from hub.state.store import MAX_BOUNDARY_IDS, CursorState, JobLocked, StateStore, new_hub_id


@pytest.fixture
def store(state_url: str) -> StateStore:
    s = StateStore.open(state_url, key=lambda: b"a test key for stored credentials")
    yield s
    s.close()


def test_migrations_build_exactly_the_declared_schema(store: StateStore) -> None:
    assert store.current_revision() == t.SCHEMA_REVISION
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), t.metadata)
    assert diff == []


def test_reopening_is_idempotent(state_url: str) -> None:
    StateStore.open(state_url).close()
    store = StateStore.open(state_url)
    assert store.current_revision() == t.SCHEMA_REVISION
    store.close()


def test_schema_revision_is_the_newest_migration() -> None:
    # StateStore.migrate skips Alembic when the database is at SCHEMA_REVISION: a new
    # migration must move it, or existing databases would never be upgraded
    from importlib import resources

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("hub.state") / "migrations"))
    assert ScriptDirectory.from_config(cfg).get_current_head() == t.SCHEMA_REVISION


def test_an_older_database_is_upgraded(state_url: str) -> None:
    from alembic import command

    from hub.state.store import _alembic_config

    store = StateStore.open(state_url)
    with store.transaction() as conn:  # back to revision 0001's schema
        command.downgrade(_alembic_config(conn), "0001")
    store.close()
    store = StateStore.open(state_url)  # not skipped: the recorded revision is not the latest
    assert store.current_revision() == t.SCHEMA_REVISION
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), t.metadata)
    assert diff == []
    store.close()


def test_kv_roundtrip_and_overwrite(store: StateStore) -> None:
    kv = store.kv("connector:x")
    assert kv.get("token") is None
    kv.set("token", {"refresh": "a"})
    kv.set("token", {"refresh": "b"})
    assert kv.get("token") == {"refresh": "b"}
    assert store.kv("connector:y").get("token") is None
    kv.delete("token")
    assert kv.get("token") is None


def test_cursor_roundtrip_bounds_boundary_ids(store: StateStore) -> None:
    assert store.get_cursor("job", "c", "s") == CursorState()
    state = CursorState("2026-01-01T00:00:00+00:00", [str(i) for i in range(MAX_BOUNDARY_IDS + 50)], {"token": 3})
    with store.transaction() as conn:
        store.save_cursor(conn, "job", "c", "s", state)
    got = store.get_cursor("job", "c", "s")
    assert got.cursor == state.cursor and got.resume == {"token": 3}
    assert len(got.boundary_ids) == MAX_BOUNDARY_IDS and got.boundary_ids[-1] == str(MAX_BOUNDARY_IDS + 49)
    store.reset_cursor("job")
    assert store.get_cursor("job", "c", "s") == CursorState()


def test_a_failed_transaction_leaves_nothing(store: StateStore) -> None:
    with pytest.raises(RuntimeError), store.transaction() as conn:
        store.save_cursor(conn, "job", "c", "s", CursorState("x"))
        store.link(conn, "organization", {"a": "1", "b": "2"})
        raise RuntimeError("crash between writes")
    assert store.get_cursor("job", "c", "s").cursor is None
    assert store.counterpart("organization", "a", "1", "b") is None


def test_crosswalk_links_and_never_moves_an_id(store: StateStore) -> None:
    with store.transaction() as conn:
        first = store.link(conn, "organization", {"autotask": "1", "itglue": "10"})
        again = store.link(conn, "organization", {"autotask": "1", "quickbooks": "Q7"})
        other = store.link(conn, "organization", {"autotask": "2"})
    assert first == again != other
    assert store.refs(first) == {"autotask": "1", "itglue": "10", "quickbooks": "Q7"}
    assert store.counterpart("organization", "quickbooks", "Q7", "itglue") == "10"
    assert store.counterpart("contact", "autotask", "1", "itglue") is None


def test_new_hub_ids_are_unique_time_ordered_version_7_uuids(store: StateStore) -> None:
    first = [new_hub_id() for _ in range(2000)]
    time.sleep(0.002)
    later = new_hub_id()
    assert len(set(first)) == len(first)
    assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122 for i in first)
    assert max(first) < later  # ordered by their millisecond, so the crosswalk index is appended to
    with store.transaction() as conn:
        store.link_new(conn, "org", "a", "b", [("1", "x")])
        assert uuid.UUID(store.link(conn, "org", {"a": "2", "b": "y"})).version == 7
    assert uuid.UUID(store.hub_id("org", "a", "1")).version == 7


def test_hashes(store: StateStore) -> None:
    with store.transaction() as conn:
        store.set_hash(conn, "j", "itglue", "organization", "5", "abc")
        store.set_hash(conn, "j", "itglue", "organization", "5", "def")
        store.set_hash(conn, "j", "itglue", "organization", "6", "xyz", active=False)
    assert store.get_hash("j", "itglue", "organization", "5") == "def"
    assert store.count_hashes("j", "itglue", "organization") == 1


def test_dead_letters_count_attempts_and_resolve(store: StateStore) -> None:
    for error in ("first", "second"):
        with store.transaction() as conn:
            store.dead_letter(
                conn,
                job="j",
                system="itglue",
                kind="organization",
                record_id="7",
                operation="update",
                record={"name": "Acme"},
                error=error,
            )
    [letter] = store.dead_letters("j")
    assert (letter.attempts, letter.error, letter.record) == (2, "second", {"name": "Acme"})
    with store.transaction() as conn:
        store.resolve_dead_letter(conn, "j", "itglue", "organization", "7")
    assert store.dead_letters("j") == []
    assert len(store.dead_letters("j", include_resolved=True)) == 1


def test_audit_rows(store: StateStore) -> None:
    with store.transaction() as conn:
        store.audit(
            conn,
            actor="sync:j",
            system="itglue",
            entity="organizations",
            operation="update",
            record_id="1",
            before={"name": "a"},
            after={"name": "b"},
            run_id="r1",
        )
    [row] = store.audit_rows("r1")
    assert (row["before"], row["after"], row["operation"]) == ({"name": "a"}, {"name": "b"}, "update")


def test_runs(store: StateStore) -> None:
    run = store.start_run("psa-to-docs", "sync")
    store.finish_run(run, "ok", {"read": 3})
    [row] = store.recent_runs("psa-to-docs")
    assert row["status"] == "ok" and row["summary"] == {"read": 3}


def test_second_holder_of_a_lock_is_refused(store: StateStore) -> None:
    with store.lock("sync:psa-to-docs"):
        with pytest.raises(JobLocked, match="already running"), store.lock("sync:psa-to-docs"):
            pass
    with store.lock("sync:psa-to-docs"):
        pass


def _hold_lock_and_die(url: str) -> None:
    store = StateStore.open(url)
    cm = store.lock("sync:crashy")
    cm.__enter__()
    os._exit(0)  # dies holding the lock, like a killed process


def test_lock_of_a_dead_process_is_taken_over(state_url: str) -> None:
    proc = multiprocessing.get_context("spawn").Process(target=_hold_lock_and_die, args=(state_url,))
    proc.start()
    proc.join(30)
    store = StateStore.open(state_url)
    with store.lock("sync:crashy"):
        pass
    store.close()


def test_bad_state_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="HUB_STATE_URL"):
        StateStore.open("nosuchdb://x")


def test_password_in_state_url_is_not_shown() -> None:
    with pytest.raises(ConfigError) as info:
        StateStore.open("postgresql+psycopg://hub:Sup3rS3cret@127.0.0.1:1/hub")
    assert "Sup3rS3cret" not in str(info.value)


def _open_store(url: str, start: float) -> None:
    while time.time() < start:  # every process opens the new store at the same moment
        time.sleep(0.001)
    StateStore.open(url).close()


def test_commands_opening_a_new_store_at_once_migrate_it_once(state_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = time.time() + 3.0
    procs = [ctx.Process(target=_open_store, args=(state_url, start)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0], "a command failed while another created the tables"
    store = StateStore.open(state_url)
    assert store.current_revision() == t.SCHEMA_REVISION
    store.close()


def test_a_sqlite_store_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "state.sqlite"
    StateStore.open(f"sqlite:///{path}").close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)  # made by an older version
    store = StateStore.open(f"sqlite:///{path}")
    with store.transaction() as conn:  # the write-ahead log and shared memory follow the file
        store.kv_set(conn, "n", "k", 1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for extra in path.parent.glob("state.sqlite-*"):
        assert stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0, extra
    store.close()


def test_credentials_are_encrypted_at_rest_and_other_values_are_not(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    store = StateStore.open(url)
    tokens = {"refresh_token": "RT-super-secret-1", "access_token": "AT-2", "expires_at": "2026-12-03T10:00:00Z"}
    store.kv("connector:quickbooks").set("oauth", tokens)
    store.kv("connector:autotask").set("zone", {"url": "https://webservices2.autotask.net/"})
    assert store.kv("connector:quickbooks").get("oauth") == tokens
    raw = (tmp_path / "state.sqlite").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("state.sqlite-*"))
    assert b"RT-super-secret-1" not in raw and b"AT-2" not in raw
    assert b"webservices2.autotask.net" in raw, "values without credentials stay readable"
    assert (tmp_path / "secret.key").exists()
    store.close()


def test_a_credential_sealed_with_another_key_is_a_clear_config_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    writer = StateStore.open(url, key=lambda: b"k" * 32)
    writer.kv("connector:quickbooks").set("oauth", {"refresh_token": "RT-1"})
    writer.close()
    reader = StateStore.open(url, key=lambda: b"x" * 32)
    with pytest.raises(ConfigError, match=r"connector:quickbooks oauth cannot be decrypted.*HUB_SECRET_KEY"):
        reader.kv("connector:quickbooks").get("oauth")
    reader.close()


def test_a_credential_stored_in_clear_by_an_older_version_is_still_read(tmp_path: Path) -> None:
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    with store.transaction() as conn:
        store.kv_set(conn, "connector:quickbooks", "oauth", {"refresh_token": "RT-old"})
    kv = store.kv("connector:quickbooks")
    assert kv.get("oauth") == {"refresh_token": "RT-old"}
    kv.set("oauth", {"refresh_token": "RT-new"})  # the next rotation seals it
    with store.engine.connect() as conn:
        assert "RT-new" not in str(conn.execute(text("SELECT value FROM kv")).scalar())
    store.close()
