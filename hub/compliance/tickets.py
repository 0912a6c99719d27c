"""``hub compliance --open-tickets``: one PSA ticket per violation, never two.

Each violation's stable key is recorded in the state store (namespace
``compliance-tickets``) with the id of the ticket opened for it, and carried on the
ticket itself as its external key, so:

* a violation that persists finds its ticket in the state store and opens nothing;
* a run killed between the vendor creating the ticket and the hub recording it left an
  ``attempt`` mark; the next run reads the PSA's tickets changed since that attempt and
  adopts the one with the violation's external key instead of opening a second.

A violation once ticketed keeps its ticket: if it comes back after the ticket was
closed, the same ticket is reported (people reopen it; the hub does not spam the queue).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from hub.compliance.rules import Violation
from hub.compliance.sources import Sources, read_entity
from hub.connector import parse_timestamp
from hub.errors import ConfigError
from hub.models import ExternalRef, Ticket

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["TicketOpener", "TicketOutcome", "external_key"]

NAMESPACE = "compliance-tickets"
#: how far before a recorded attempt the recovery read looks (clock skew with the PSA)
RECOVER_MARGIN = timedelta(minutes=10)


def external_key(key: str) -> str:
    """The ticket's external key for a violation key: stable and short (Autotask allows 50)."""
    return "compliance:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class TicketOutcome:
    key: str
    ticket_id: str
    opened: bool  # False: the violation already had this ticket

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "ticket_id": self.ticket_id, "opened": self.opened}


class TicketOpener:
    """Opens the tickets of violations in the PSA of ``sources``."""

    def __init__(self, hub: Hub, sources: Sources | None = None) -> None:
        self.hub = hub
        self.sources = (sources or Sources()).with_psa(hub.roles)
        self.kv = hub.store.kv(NAMESPACE)
        self._recovered: dict[str, str] | None = None

    def open(self, violations: list[Violation]) -> list[TicketOutcome]:
        return [self._one(v) for v in violations]

    def _one(self, violation: Violation) -> TicketOutcome:
        known = self.kv.get(violation.key)
        if isinstance(known, dict) and known.get("ticket_id"):
            return TicketOutcome(violation.key, str(known["ticket_id"]), False)
        if isinstance(known, dict) and known.get("attempt"):
            found = self._recover(str(known["attempt"])).get(external_key(violation.key))
            if found is not None:
                self._record(violation, found)
                return TicketOutcome(violation.key, found, False)
        self.kv.set(violation.key, {"attempt": self.hub.clock.now().isoformat()})
        ticket_id = self._create(violation)
        self._record(violation, ticket_id)
        return TicketOutcome(violation.key, ticket_id, True)

    def _record(self, violation: Violation, ticket_id: str) -> None:
        self.kv.set(
            violation.key,
            {"ticket_id": ticket_id, "rule": violation.rule, "opened_at": self.hub.clock.now().isoformat()},
        )

    def _create(self, violation: Violation) -> str:
        s = self.sources
        connector = self.hub.connector(s.psa)
        bound = self.hub.mapping(s.psa).entity(s.tickets)
        if bound.kind != Ticket.kind:
            raise ConfigError(f"compliance: {s.psa} {s.tickets} maps kind {bound.kind!r}, not ticket")
        ticket = Ticket.model_validate(
            {
                **s.ticket,
                "organization": ExternalRef(system=s.psa, kind="organization", id=violation.organization_id),
                "title": f"Compliance: {violation.message}"[:255],
                "description": (
                    f"hub compliance found: {violation.message} ({violation.organization}).\n"
                    f"Rule: {violation.rule}. Key: {violation.key}. This ticket is opened once per violation."
                ),
                "external_key": external_key(violation.key),
            }
        )
        payload = bound.to_vendor(ticket, connector, create=True)
        return str(connector.create(s.tickets, payload).id)

    def _recover(self, attempt: str) -> dict[str, str]:
        """External key -> ticket id of the PSA's tickets changed since ``attempt`` (read once)."""
        if self._recovered is None:
            since = parse_timestamp(attempt)
            since = since - RECOVER_MARGIN if since else None
            tickets = read_entity(self.hub, self.sources.psa, self.sources.tickets, since=since)
            self._recovered = {
                t.external_key: t.ref_id(self.sources.psa) or ""
                for t in (cast(Ticket, r) for r in tickets)
                if t.external_key
            }
        return self._recovered
