"""A :class:`~hub.events.lifecycle.TicketPort` over any PSA connector and its mapping.

Nothing here is vendor code: tickets are read with the connector's ticket stream
(``Connector.stream(...).read(since)``) and ``Connector.get``, turned into core
:class:`~hub.models.Ticket` s by the connector's mapping file (status as a picklist
*label*), and the status is written with ``Connector.update`` using the same mapping
in the write direction. Who acted last and whether someone is assigned are the ticket's
core fields ``last_activity_at``, ``last_activity_by`` (``customer``: a contact of the
account) and ``assigned_to``, which the mapping reads from the vendor's own fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, cast

from hub.connector import Connector
from hub.errors import ConfigError, NotFoundError
from hub.events.lifecycle import TicketActivity
from hub.mapping import BoundMapping, get_path
from hub.models import Ticket

__all__ = ["CUSTOMER", "ConnectorTicketPort"]

#: ``Ticket.last_activity_by`` of a ticket whose customer acted last
CUSTOMER = "customer"


class ConnectorTicketPort:
    """Tickets of one PSA connector (its ``stream`` and its mapping's ticket entity), as the
    lifecycle rules read and update them."""

    def __init__(self, connector: Connector, mapping: BoundMapping, stream: str) -> None:
        if mapping.kind != Ticket.kind:
            raise ConfigError(
                f"lifecycle.psa.entity: {mapping.entity!r} maps kind {mapping.kind!r}, not ticket"
            )
        self.connector = connector
        self.mapping = mapping
        self.stream = stream
        self.system = connector.name

    def changed_tickets(self, since: datetime | None) -> Iterator[TicketActivity]:
        stream = self.connector.stream(self.stream)
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
        by_customer = ticket.last_activity_by == CUSTOMER
        return TicketActivity(
            id=ticket_id,
            ticket=ticket,
            last_customer_activity=ticket.last_activity_at if by_customer else None,
            changed_at=changed_at,
            assigned=ticket.assigned_to is not None,
        )
