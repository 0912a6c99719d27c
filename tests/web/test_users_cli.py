"""``hub users add|list|remove|passwd`` and the ``hub serve`` line that names the console."""

from __future__ import annotations

import io
import json

import pytest

from hub.app import Hub
from hub.settings import load_settings
from hub.state.audit import AuditQuery, search_audit
from hub.web.accounts import AccountStore, Role
from tests.core.fakes import run_cli


def stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_add_list_passwd_remove(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    stdin(monkeypatch, "a long enough password\n")
    code, out, err = run_cli(["users", "add", "ada", "--role", "admin", "--password-stdin"], capsys)
    assert (code, out.strip(), err) == (0, "added ada (admin)", "")
    stdin(monkeypatch, "another long password\n")
    assert run_cli(["users", "add", "otto", "--role", "OPERATOR", "--password-stdin"], capsys)[0] == 0

    code, out, _ = run_cli(["users", "list", "--json"], capsys)
    assert code == 0 and [(u["name"], u["role"]) for u in json.loads(out)] == [("ada", "admin"), ("otto", "operator")]
    assert "password" not in out and "hash" not in out

    stdin(monkeypatch, "a changed long password\n")
    assert run_cli(["users", "passwd", "otto", "--password-stdin"], capsys)[0] == 0
    with Hub(load_settings()) as hub:
        accounts = AccountStore(hub.store)
        assert accounts.verify("otto", "a changed long password") is not None
        assert accounts.verify("otto", "another long password") is None
        assert accounts.get("otto").session_version == 2  # type: ignore[union-attr]

    code, out, _ = run_cli(["users", "remove", "otto"], capsys)
    assert (code, out.strip()) == (0, "removed otto")
    code, _, err = run_cli(["users", "remove", "ada"], capsys)
    assert code == 2 and "last admin" in err
    with Hub(load_settings()) as hub:
        rows = search_audit(hub.store, AuditQuery(system="console"))
        assert {r["operation"] for r in rows} == {"user.added", "user.password", "user.removed"}
        assert all(r["actor"].startswith("user:") for r in rows)
        stored = hub.store.engine.connect().exec_driver_sql("SELECT password_hash FROM console_users").scalar()
        assert str(stored).startswith("$argon2id$")


@pytest.mark.parametrize(
    ("args", "given", "message"),
    [
        (["users", "add", "x", "--role", "root", "--password-stdin"], "long enough pw\n", "role must be one of"),
        (["users", "add", "bad name", "--role", "viewer", "--password-stdin"], "long enough pw\n", "user name"),
        (["users", "add", "x", "--role", "viewer", "--password-stdin"], "short\n", "too short"),
        (["users", "add", "x", "--role", "viewer", "--password-stdin"], "", "standard input is empty"),
        (["users", "add", "x", "--role", "viewer"], "", "pipe it in with --password-stdin"),
        (["users", "passwd", "nobody", "--password-stdin"], "long enough pw\n", "no user 'nobody'"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], given: str, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin(monkeypatch, given)
    code, out, err = run_cli(args, capsys)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1


def test_an_existing_name_is_refused_before_asking_for_a_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with Hub(load_settings()) as hub:
        AccountStore(hub.store).add("ada", Role.admin, "a long enough password", actor="user:test")
    stdin(monkeypatch, "")
    code, _, err = run_cli(["users", "add", "ada", "--role", "viewer"], capsys)
    assert code == 2 and "already exists" in err
