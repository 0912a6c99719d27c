"""``hub workflow ...`` through hub.cli.main, on a temporary SQLite state store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from hub.app import Hub
from hub.cli import main
from hub.clock import FakeClock

from .conftest import DATA, fakes, make_plugins


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, world: Any, capsys: pytest.CaptureFixture[str]
) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "fakepsa.yaml").write_text(fakes.MAPPING)
    user = tmp_path / "workflows"
    user.mkdir()
    monkeypatch.setenv("HUB_STATE_URL", f"sqlite:///{tmp_path / 'state.sqlite'}")
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(maps))
    monkeypatch.setenv("HUB_WORKFLOWS_DIR", str(user))
    monkeypatch.setenv("HUB_DOCUMENTS_ROOT", str(tmp_path / "docs"))
    clock = FakeClock()
    # The CLI builds its Hub from the environment; give it the fake connectors and clock.
    monkeypatch.setattr(
        "hub.cli.common.Hub", lambda settings: Hub(settings, plugins=make_plugins([DATA]), clock=clock)
    )

    class Runner:
        def __call__(self, *args: str) -> tuple[int, str, str]:
            capsys.readouterr()
            code = main(list(args))
            out, err = capsys.readouterr()
            return code, out, err

        def json(self, *args: str) -> Any:
            code, out, err = self(*args, "--json")
            assert code in (0, 1), err
            return json.loads(out)

    runner = Runner()
    runner.clock = clock  # type: ignore[attr-defined]
    runner.user = user  # type: ignore[attr-defined]
    yield runner
    structlog.reset_defaults()  # the CLI pointed logging at this test's captured stderr


START = [
    "workflow",
    "start",
    "onboard-test",
    "--set",
    "name=Acme Dental",
    "--set",
    "email=o@acme.example",
    "--set",
    "postal_code=10001",
    "--set",
    "os=Windows 11",
]


def test_start_status_confirm_list(cli: Any, world: Any) -> None:
    view = cli.json(*START)
    run_id = view["id"]
    assert view["status"] == "waiting" and view["next"] == "make_customer"
    states = {s["id"]: s["state"] for s in view["steps"]}
    assert states["service_area"] == "done" and states["appointment"] == "waiting"
    assert states["business_note"] == "pending" and states["schedule"] == "pending"

    code, out, _ = cli("workflow", "status", run_id[:8])
    assert code == 0
    assert "[x] create_company  done: id 101" in out
    assert "[~] appointment  waiting: waiting for a person to confirm: Call Acme Dental" in out
    assert "[ ] make_customer  next" in out

    code, out, err = cli(
        "workflow", "confirm", run_id, "appointment", "--note", "agreed", "--set", "service_date=2026-02-03"
    )
    assert code == 0, err
    assert (
        "confirmed by user:" in out and "[~] signed  waiting: waiting for fakesign envelope-completed" in out
    )

    rows = cli.json("workflow", "list")
    assert [(r["id"], r["status"], r["current_step"]) for r in rows] == [(run_id, "waiting", "signed")]
    assert cli.json("workflow", "list", "--status", "completed") == []

    (envelope_id,) = world.table("envelopes")
    # no webhook here: poll finds nothing until the envelope is signed in the vendor
    assert cli.json("workflow", "poll") == {"waits_ended": 0, "runs_advanced": []}
    data = world.load()
    data["envelopes"][envelope_id]["status"] = "completed"
    world.save(data)
    assert cli.json("workflow", "poll")["waits_ended"] == 1
    view = cli.json("workflow", "status", run_id)
    assert view["status"] == "waiting" and view["current_step"] == "payment"
    states = {s["id"]: s["state"] for s in view["steps"]}
    assert states["business_note"] == "not_taken" and states["signed"] == "done"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "name=A"], "hub: missing required input 'email' (--set email=...)\n"),
        (
            [*START[3:], "--set", "colour=red"],
            "hub: unknown input 'colour'; inputs: email, kind, name, os, postal_code, visit\n",
        ),
        ([*START[3:], "--set", "oops"], "hub: --set expects key=value, got 'oops'\n"),
        (
            ["--set", "name=A", "--set", "email=nobody"],
            "hub: input email: 'nobody' must be an e-mail address\n",
        ),
        ([*START[3:], "--set", "email=x@y.example"], "hub: --set email is given twice\n"),
    ],
)
def test_bad_input_exits_2_with_one_line(cli: Any, args: list[str], message: str) -> None:
    code, out, err = cli("workflow", "start", "onboard-test", *args)
    assert (code, out, err) == (2, "", message)
    assert cli.json("workflow", "list") == []


def test_unknown_workflow_and_run(cli: Any) -> None:
    code, _, err = cli("workflow", "start", "nope")
    assert (
        code == 2
        and err == "hub: unknown workflow 'nope'; workflows: onboard-test, timeout-test, wait-test\n"
    )
    code, _, err = cli("workflow", "status", "abcdef")
    assert code == 2 and err == "hub: no workflow run 'abcdef' (see hub workflow list)\n"
    code, _, err = cli("workflow", "status", "ab")
    assert code == 2 and "too short" in err


def test_failed_run_exits_1_and_resume_after_fix(cli: Any, world: Any) -> None:
    args = [a if a != "postal_code=10001" else "postal_code=99999" for a in START]
    code, out, _ = cli(*args)
    assert code == 1
    assert "[!] service_area  failed: postal code 99999 is outside the service area" in out
    assert "hub workflow resume" in out
    run_id = cli.json("workflow", "list")[0]["id"]
    # the MSP widens its service area by overriding the workflow in HUB_WORKFLOWS_DIR;
    # a run keeps the definition it started with, so resume fails the same way
    code, _, _ = cli("workflow", "resume", run_id)
    assert code == 1
    code, out, _ = cli("workflow", "cancel", run_id, "--reason", "out of area")
    assert code == 0 and "cancelled" in out
    code, _, err = cli("workflow", "resume", run_id)
    assert code == 2 and "is cancelled; there is nothing to resume" in err


def test_user_override_is_used_for_new_runs(cli: Any) -> None:
    text = (DATA / "onboard-test.yaml").read_text().replace('["10001", "10002"]', '["10001", "99999"]')
    (cli.user / "onboard-test.yaml").write_text(text)
    defs = {d["name"]: d for d in cli.json("workflow", "definitions")}
    assert defs["onboard-test"]["origin"] == "user"
    assert defs["onboard-test"]["overrides"] == str(DATA / "onboard-test.yaml")
    args = [a if a != "postal_code=10001" else "postal_code=99999" for a in START]
    code, _, _ = cli(*args)
    assert code == 0


def test_a_broken_override_is_listed_as_broken(cli: Any) -> None:
    (cli.user / "onboard-test.yaml").write_text("name: onboard-test\nsteps:\n  - id: a\n    check: {that: '1 =='}\n")
    code, out, _ = cli("workflow", "definitions", "--json")
    assert code == 2
    defs = {d["name"]: d for d in json.loads(out)}
    assert defs["onboard-test"]["status"] == "broken" and defs["onboard-test"]["origin"] == "user"
    assert "steps.0.check.that (step a): expected a value" in defs["onboard-test"]["problems"][0]
    assert defs["timeout-test"]["status"] == "ok" and defs["timeout-test"]["problems"] == []
    code, out, _ = cli("workflow", "definitions")
    assert code == 2
    line = next(x for x in out.splitlines() if x.startswith("onboard-test"))
    assert "BROKEN:" in line and "expected a value" in line


def test_preview_lists_the_writes_and_makes_none(cli: Any, world: Any) -> None:
    plan = cli.json("workflow", "preview", *START[2:])
    assert plan["complete"] and plan["systems"] == ["fakepsa", "fakesign"]
    steps = {s["step"]: s for s in plan["steps"]}
    assert steps["create_company"]["changes"]["companyName"] == "Acme Dental"
    assert steps["appointment"]["what"] == "ask" and steps["signed"]["what"] == "wait"
    assert world.count("create:Companies") == 0 and world.count("send_terms") == 0
    far = [a if a != "postal_code=10001" else "postal_code=99999" for a in START[2:]]
    code, out, _ = cli("workflow", "preview", *far)
    assert code == 1 and "[!] service_area: the run would stop here" in out
    code, out, _ = cli("workflow", "list")
    assert out == "no workflow runs\n"


def test_validate(cli: Any, tmp_path: Path) -> None:
    code, out, _ = cli("workflow", "validate", str(DATA / "onboard-test.yaml"))
    assert code == 0 and out.endswith("ok: workflow onboard-test (14 steps)\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsteps:\n  - id: a\n    check: {that: 'inputs.x == 1'}\n")
    code, out, err = cli("workflow", "validate", str(bad))
    assert code == 2 and out == ""
    assert err == f"{bad}:4: steps.0.check.that (step a): inputs.x is not a declared input; inputs: none\n"
    several = tmp_path / "several.yaml"
    several.write_text(
        "name: several\nsteps:\n"
        "  - id: first\n    wait: {connector: fakesign, event: done, key: k, value: v, timeout: soon}\n"
        "  - id: second\n    branch:\n      if: vars.nope\n      then:\n"
        "        - id: inner\n          write: {connector: fakepsa, entity: X, op: update, record: {a: 1}}\n"
        "  - id: third\n    teleport: {to: mars}\n"
    )
    code, out, err = cli("workflow", "validate", str(several))
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"{several}:4: steps.0.wait.timeout (step first): not a duration: 'soon' (use e.g. 30d, 12h, 1d12h, 15m, 2w)",
        f"{several}:7: steps.1.branch.if (step second): vars.nope is not declared under vars; vars: none",
        f"{several}:10: steps.1.branch.then.0.write (step inner): update needs the id of the record",
        f"{several}:12: steps.2.teleport (step third): unknown step kind 'teleport'; kinds: action, write, check, "
        "wait, manual, branch, fail, foreach, workflow",
    ]
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "name: wrong\nsteps:\n  - id: a\n    action: {connector: fakesign, name: send_envelope}\n"
        "  - id: b\n    write: {connector: nosuch, entity: X, op: get, id: 1}\n"
    )
    code, _, err = cli("workflow", "validate", str(wrong))
    assert code == 2
    assert err.splitlines() == [
        f"{wrong}:4: steps.0.action.name (step a): fakesign has no action 'send_envelope'; "
        "actions: download, send_terms",
        f"{wrong}:6: steps.1.write.connector (step b): unknown connector 'nosuch'; "
        "installed: fakepsa, fakesign",
    ]


def test_timeouts_and_reminders_through_poll(cli: Any) -> None:
    view = cli.json("workflow", "start", "timeout-test", "--set", "branch=no")
    cli.clock.advance(2 * 86400)
    result = cli.json("workflow", "poll")
    assert result["runs_advanced"] == [view["id"]]
    _code, out, _ = cli("workflow", "status", view["id"])
    assert "[!] approval  failed: timed out after 1d" in out
