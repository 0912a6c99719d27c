"""What a waiting step waits on, and how events and polled records end the wait.

A wait is stored as a small JSON document on its step row (``waiting_on``), complete
in itself so that matching an event needs no definition: the connector, the event
types, the correlation key and the value, the poll spec, and the reminder. An event
matches when its connector and type are among those awaited and its correlation value
for the key (or its ``record_id`` when the key is ``record_id``) equals the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from hub.connector import Event
from hub.state import tables as t
from hub.state.store import StateStore
from hub.workflow.writes import json_safe

__all__ = ["POLL_MARGIN", "describe", "event_outputs", "matches", "record_outputs", "stored_event"]

#: how far before a wait began a poll or a stored-event look-up reaches (clock skew, slow delivery)
POLL_MARGIN = timedelta(minutes=10)


def correlation_value(event: Event, key: str) -> str | None:
    if key in event.correlation:
        return str(event.correlation[key])
    if key == "record_id" and event.record_id is not None:
        return str(event.record_id)
    return None


def matches(waiting_on: Mapping[str, Any], event: Event) -> bool:
    """Whether ``event`` ends the wait described by ``waiting_on``."""
    if waiting_on.get("type") != "event":
        return False
    if event.connector != waiting_on.get("connector") or event.type not in waiting_on.get("events", ()):
        return False
    return correlation_value(event, str(waiting_on.get("key"))) == waiting_on.get("value")


def event_outputs(event: Event) -> dict[str, Any]:
    """The outputs of a wait ended by ``event`` (what later steps can read)."""
    return json_safe(
        {
            "source": "event",
            "event_id": event.id,
            "type": event.type,
            "entity": event.entity,
            "record_id": event.record_id,
            "occurred_at": event.occurred_at.isoformat() if event.occurred_at else None,
            "correlation": dict(event.correlation),
            "data": dict(event.data),
        }
    )


def record_outputs(waiting_on: Mapping[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The outputs of a wait ended by a polled record."""
    return json_safe(
        {"source": "poll", "type": "poll", "connector": waiting_on.get("connector"), "record": record}
    )


def stored_event(store: StateStore, waiting_on: Mapping[str, Any], since: datetime) -> Event | None:
    """An event the receiver stored before the wait began (a fast signer beats the engine).

    Reads the ``events`` table that ``hub serve`` fills, limited to the awaited connector
    and types and to events received since shortly before the run started.
    """
    if waiting_on.get("type") != "event":
        return None
    stmt = (
        select(t.events)
        .where(
            t.events.c.connector == waiting_on.get("connector"),
            t.events.c.type.in_(list(waiting_on.get("events", ()))),
            t.events.c.received_at >= since - POLL_MARGIN,
        )
        .order_by(t.events.c.id)
    )
    with store.engine.connect() as conn:
        for row in conn.execute(stmt):
            event = Event(
                connector=row.connector,
                type=row.type,
                id=row.event_id,
                entity=row.entity,
                record_id=row.record_id,
                data=dict(row.data or {}),
                correlation={str(k): str(v) for k, v in (row.correlation or {}).items()},
            )
            if matches(waiting_on, event):
                return event
    return None


def describe(waiting_on: Mapping[str, Any] | None) -> str:
    """One line saying what a step waits for."""
    if not waiting_on:
        return "waiting"
    if waiting_on.get("type") == "manual":
        return f"a person to confirm: {waiting_on.get('instructions', '')}".rstrip(": ")
    events = " or ".join(waiting_on.get("events", ()))
    how = " (polled)" if waiting_on.get("poll") else ""
    key, value = waiting_on.get("key"), waiting_on.get("value")
    return f"{waiting_on.get('connector')} {events} with {key} = {value}{how}"
