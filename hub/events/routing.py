"""Which sync jobs an event touches: the jobs that read the stream the event changed.

The rule, small and explicit:

1. An event names its vendor entity in ``Event.entity``. By convention a connector
   uses the name of the stream that reads that entity (``tickets``), or the stream's
   mapping entity (``Stream.entity``, e.g. ``Tickets``); both are matched, ignoring case.
2. Where a vendor's webhook names differ from both (QuickBooks sends ``Customer``),
   ``event_streams`` in hub.yaml maps them: ``{quickbooks: {Customer: [customers]}}``.
   An entry there replaces the convention for that entity.
3. The jobs triggered are those whose ``sources`` include ``(event.connector, stream)``
   for a matched stream. Jobs are registered through ``hub_register_sync_jobs``; a job
   object has a ``name`` and ``sources: list[tuple[str, str]]``.

An event with no entity, or one no job reads, triggers no sync (it may still resume a
workflow).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hub.connector import Connector, Event

__all__ = ["jobs_for_event", "streams_for_event"]


def streams_for_event(
    event: Event, connector_class: type[Connector] | None, table: Mapping[str, Mapping[str, list[str]]]
) -> set[str]:
    """The streams of ``event.connector`` that ``event.entity`` changes."""
    if not event.entity:
        return set()
    configured = table.get(event.connector, {})
    for entity, streams in configured.items():
        if entity.lower() == event.entity.lower():
            return set(streams)
    if connector_class is None:
        return set()
    wanted = event.entity.lower()
    return {
        cls.name
        for cls in connector_class.stream_classes
        if cls.name.lower() == wanted or (cls.entity and cls.entity.lower() == wanted)
    }


def jobs_for_event(
    event: Event,
    jobs: Mapping[str, Any],
    connector_class: type[Connector] | None,
    table: Mapping[str, Mapping[str, list[str]]],
) -> list[str]:
    """Names of the registered jobs whose sources include a stream ``event`` changed, sorted."""
    streams = streams_for_event(event, connector_class, table)
    if not streams:
        return []
    return sorted(name for name, job in jobs.items() if _reads(job, event.connector, streams))


def _reads(job: Any, connector: str, streams: Iterable[str]) -> bool:
    sources = {(str(c), str(s)) for c, s in getattr(job, "sources", ())}
    return any((connector, stream) in sources for stream in streams)
