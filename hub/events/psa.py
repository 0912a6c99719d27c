"""A :class:`~hub.events.lifecycle.TicketPort` over any PSA connector and its mapping.

Nothing here is vendor code: tickets are read with the connector's ticket stream
(``Connector.stream(...).read(since)``) and ``Connector.get``, turned into core
:class:`~hub.models.Ticket` s by the connector's mapping file (status as a picklist
*label*), and the status is written with ``Connector.update`` using the same mapping
in the write direction. Who acted last comes from two vendor fields named in
:class:`~hub.settings.TicketPortSettings` (for Autotask ``lastActivityDate`` and
``lastActivityPersonType``, 2 meaning a contact), and whether someone is assigned from a
third (``assignedResourceID``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, cast

from hub.connector import Connector, parse_timestamp
from hub.errors import ConfigError, NotFoundError
from hub.events.lifecycle import TicketActivity
from hub.mapping import BoundMapping, get_path
from hub.models import Ticket
from hub.settings import TicketPortSettings

__all__ = ["ConnectorTicketPort"]


class ConnectorTicketPort:
    """Tickets of one PSA connector, as the lifecycle rules read and update them."""

    def __init__(self, connector: Connector, mapping: BoundMapping, settings: TicketPortSettings) -> None:
        if mapping.kind != Ticket.kind:
            raise ConfigError(
                f"lifecycle.psa.entity: {mapping.entity!r} maps kind {mapping.kind!r}, not ticket"
            )
        self.connector = connector
        self.mapping = mapping
        self.settings = settings
        self.system = connector.name

    def changed_tickets(self, since: datetime | None) -> Iterator[TicketActivity]:
        stream = self.connector.stream(self.settings.stream)
        for page in stream.read(since):
            for raw in page.records:
                yield self._activity(raw, stream.cursor_value(raw))

    def ticket(self, ticket_id: str) -> TicketActivity | None:
        try:
            raw = self.connector.get(self.mapping.entity, ticket_id)
        except NotFoundError:
            return None
        return self._activity(raw, None)

    def set_status(self, ticket_id: str, status: str) -> None:
        # Only the status field is written: the mapping turns the label into the vendor value.
        changes = self.mapping.to_vendor(
            Ticket.model_construct(status=status), self.connector, fields=["status"]
        )
        self.connector.update(self.mapping.entity, ticket_id, changes)

    def _activity(self, raw: dict[str, Any], changed_at: datetime | None) -> TicketActivity:
        ticket = cast(Ticket, self.mapping.to_core(raw, self.connector))
        ticket_id = ticket.ref_id(self.system) or str(get_path(raw, self.mapping.spec.id_field))
        assigned = self.settings.assigned_field
        return TicketActivity(
            id=ticket_id,
            ticket=ticket,
            last_customer_activity=self._customer_activity(raw),
            changed_at=changed_at,
            assigned=assigned is not None and get_path(raw, assigned) not in (None, "", 0),
        )

    def _customer_activity(self, raw: dict[str, Any]) -> datetime | None:
        s = self.settings
        if s.actor_field is not None:
            actor = get_path(raw, s.actor_field)
            if actor is None or str(actor) not in s.customer_actors:
                return None
        return parse_timestamp(get_path(raw, s.activity_field))
