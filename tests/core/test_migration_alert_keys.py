"""Migration 0005: stored alert keys fold the dotless i like Alert.dedup_key now does."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import insert, select

from hub.models import Alert, ExternalRef
from hub.state import tables as t
from hub.state.store import StateStore, _alembic_config

DOTLESS_I = "\u0131"


def test_stored_keys_match_the_new_fold_so_an_open_problem_keeps_its_ticket(state_url: str) -> None:
    device = ExternalRef(system="ncentral", kind="configuration_item", id="42")
    alert = Alert(device=device, service=f"D{DOTLESS_I}sk", condition=f"Kr{DOTLESS_I}tik")
    old_key = f"ncentral|42|d{DOTLESS_I}sk|kr{DOTLESS_I}tik"  # casefold alone kept the dotless i
    odd_key = f"ncentral|4|2|d{DOTLESS_I}sk|x"  # a device id with "|": which part is text is unknown
    store = StateStore.open(state_url)
    now = datetime.now(UTC)
    with store.transaction() as conn:
        command.downgrade(_alembic_config(conn), "0004")  # just before 0005 (and what follows it)
        for key in (old_key, odd_key, "ncentral|7|cpu|high"):
            conn.execute(insert(t.alert_tickets).values(job="rmm-alerts", dedup_key=key, state="open",
                                                        ticket_id="9", severity="warning", opened_at=now,
                                                        updated_at=now))  # fmt: skip
    store.close()
    store = StateStore.open(state_url)
    with store.engine.connect() as conn:
        keys = set(conn.execute(select(t.alert_tickets.c.dedup_key)).scalars())
    store.close()
    assert keys == {alert.dedup_key, odd_key, "ncentral|7|cpu|high"}
    assert alert.dedup_key == "ncentral|42|disk|kritik"
