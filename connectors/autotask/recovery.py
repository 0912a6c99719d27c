"""Finding the record a create made when Autotask's answer to it was lost.

Autotask has no idempotency key on writes, so a ``POST V1.0/Companies`` that timed out
may or may not have made the company. Before the hub sends such a create again it
looks for the record by its natural key (the fields the hub wrote that identify it)
and, where the entity has one, a creation window: the record must have been created at
or after the write was first sent (less a margin for clock skew), so an older record
that happens to share the name is never taken for the new one. The field names are the
REST API's (swagger ``CompanyModel.CreateDate``, ``TicketNoteModel.CreateDateTime``, ...;
the API answers them in camelCase).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from hub.sdk import OutcomeUnknown, WriteResult, natural_criteria

from .query import cond

if TYPE_CHECKING:
    from .connector import AutotaskConnector

__all__ = ["CREATED", "NATURAL_KEYS", "find_created"]

#: entity -> alternative natural keys; the first one the payload fills is used
NATURAL_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Companies": (("companyName",),),
    "Contacts": (("companyID", "emailAddress"), ("companyID", "firstName", "lastName")),
    "Tickets": (("companyID", "title"),),
    "TicketNotes": (("ticketID", "title", "description"), ("ticketID", "title")),
    "CompanyNotes": (("companyID", "title"),),
    "ConfigurationItems": (("companyID", "serialNumber"), ("companyID", "referenceTitle")),
    "Contracts": (("companyID", "contractName"),),
    "CompanyTeams": (("companyID", "resourceID"),),
    "ClientPortalUsers": (("contactID",),),
    "ServiceCalls": (("companyID", "startDateTime", "endDateTime", "description"),),
    "ServiceCallTickets": (("serviceCallID", "ticketID"),),
    "ServiceCallTicketResources": (("serviceCallTicketID", "resourceID"),),
    "ContractServices": (("contractID", "serviceID"),),
}

#: entity -> its creation timestamp field (entities without one are found by key alone)
CREATED: dict[str, str] = {
    "Companies": "createDate",
    "Contacts": "createDate",
    "Tickets": "createDate",
    "ConfigurationItems": "createDate",
    "TicketNotes": "createDateTime",
    "CompanyNotes": "createDateTime",
    "ServiceCalls": "createDateTime",
}


def find_created(
    connector: AutotaskConnector, entity: str, payload: dict[str, Any], since: datetime
) -> WriteResult | None:
    """The newest record matching the payload's natural key created at or after ``since``."""
    criteria = natural_criteria(NATURAL_KEYS.get(entity, ()), payload)
    if criteria is None:
        raise OutcomeUnknown(
            f"autotask: a {entity} create has no natural key the hub can look it up by, so whether it was "
            "applied cannot be told; look in Autotask",
            connector="autotask",
        )
    filters = [cond("eq", name, value) for name, value in criteria.items()]
    if entity in CREATED:
        filters.append(cond("gte", CREATED[entity], since))
    found = list(connector.query(entity, *filters))
    if not found:
        return None
    newest = max(found, key=lambda record: int(record.get("id") or 0))
    return WriteResult(str(newest["id"]), newest)
