"""`hub events [retry]` and `hub webhooks register|status` through the real CLI entry point."""

from __future__ import annotations

import json
import sys

import pytest

from hub.cli import common, main
from hub.connector import Event
from hub.events.store import EventStore
from hub.logging import configure_logging
from tests.events.fakes import FakeAutotask


@pytest.fixture
def cli(hub, monkeypatch):
    def run(*argv: str) -> int:
        common.state.hub = hub
        return main(list(argv))

    yield run
    # The CLI pointed logging at the captured stderr, which pytest closes after the test.
    configure_logging(level="WARNING", stream=sys.__stderr__)


def test_events_lists_recent_events_as_json(cli, hub, capsys):
    events = EventStore(hub.store, hub.clock)
    events.record("autotask", [Event("autotask", "ticket.update", "g:1", "Ticket", "5")], b"{}")
    assert cli("events", "--json") == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["connector"], row["type"], row["status"], row["attempts"]) == (
        "autotask",
        "ticket.update",
        "pending",
        0,
    )


def test_events_table_and_bad_status(cli, hub, capsys, monkeypatch):
    from hub.cli.common import stdout

    # rich fixes a console's width when it is made (COLUMNS=80 in pytest-xdist's workers)
    monkeypatch.setattr(stdout, "_width", 200)
    events = EventStore(hub.store, hub.clock)
    events.record("autotask", [Event("autotask", "webhook.deactivated", "d:1", "Ticket", "7")], b"{}")
    assert cli("events", "--type", "webhook.deactivated") == 0
    assert "webhook.deactivated" in capsys.readouterr().out
    assert cli("events", "--status", "lost") == 2
    assert "--status: must be one of" in capsys.readouterr().err


def test_events_retry_reprocesses_failed_ones(cli, hub, capsys):
    events = EventStore(hub.store, hub.clock)
    (row,) = events.record(
        "autotask", [Event("autotask", "ticket.update", "g:1", "Ticket", "5")], b"{}"
    ).stored
    events.claim(row)
    events.fail(row, "RuntimeError: boom", None)
    assert cli("events", "retry", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["retried"], summary["processed"], summary["failed"]) == ([row], 1, 0)
    assert events.get(row).status == "done"


def test_webhooks_register_calls_the_connector(cli, monkeypatch, capsys):
    monkeypatch.setenv("HUB_PUBLIC_URL", "https://hub.example.com/")
    FakeAutotask.registered.clear()
    assert cli("webhooks", "register", "autotask") == 0
    assert FakeAutotask.registered == ["https://hub.example.com/webhooks/autotask"]
    assert "Ticket webhook 7" in capsys.readouterr().out


def test_webhooks_register_says_when_a_connector_cannot(cli, monkeypatch, capsys):
    monkeypatch.setenv("HUB_PUBLIC_URL", "https://hub.example.com")
    assert cli("webhooks", "register", "quickbooks") == 2
    err = capsys.readouterr().err
    assert "quickbooks cannot register webhooks through its API" in err
    assert "https://hub.example.com/webhooks/quickbooks" in err
    assert cli("webhooks", "register", "itglue") == 2
    assert "receives no webhooks" in capsys.readouterr().err


def test_webhooks_register_needs_the_public_url(cli, capsys):
    assert cli("webhooks", "register", "autotask") == 2
    assert "HUB_PUBLIC_URL: required" in capsys.readouterr().err


def test_webhooks_status(cli, hub, monkeypatch, capsys):
    monkeypatch.setenv("HUB_PUBLIC_URL", "https://hub.example.com")
    events = EventStore(hub.store, hub.clock)
    events.record("autotask", [Event("autotask", "webhook.deactivated", "d:1", "Ticket", "7")], b"{}")
    assert cli("webhooks", "status", "--json") == 0
    rows = {r["connector"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"autotask", "quickbooks"}
    assert rows["autotask"]["can_register"] is True and rows["quickbooks"]["can_register"] is False
    assert rows["autotask"]["last_deactivated_at"] is not None
    assert rows["quickbooks"]["url"] == "https://hub.example.com/webhooks/quickbooks"
