"""A ticket's service call, scheduled with its technician (``schedule_service_call``).

Autotask keeps a service call in three records (REST API ServiceCalls entity): the call
itself (``ServiceCalls``: the company, start and end), the ticket tied to it
(``ServiceCallTickets``, created under the call) and each resource tied to that
(``ServiceCallTicketResources``, created under the ServiceCallTicket); the links cannot
be updated, only created or deleted.

The action reads before it writes, so a step retried after a crash finishes what its
first attempt started instead of doing it again: a call of the ticket at the same start
is reused; else a call of the company at the same start and end with the description
this action writes and no ticket yet (the first attempt died after creating it) is
adopted; only then is a call created. The ticket link and the technician are added only
when missing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, BaseModel, Field

from hub.sdk import ConfigError, create_once, parse_timestamp

if TYPE_CHECKING:
    from .connector import AutotaskConnector

__all__ = ["ServiceCallParams", "schedule_service_call"]


class ServiceCallParams(BaseModel):
    """The ticket, when the call starts (with its zone), how long it lasts, and who goes."""

    ticket_id: int = Field(gt=0, description="the ticket the call is for")
    start: AwareDatetime = Field(description="when the call starts (with a time zone)")
    duration_minutes: int = Field(default=60, gt=0, le=24 * 60, description="how long the call lasts")
    resource: str = Field(
        min_length=1, coerce_numbers_to_str=True,
        description="the technician who goes: a resource's name, user name, e-mail or id",
    )  # fmt: skip
    status: str | None = Field(default=None, description="service call status label (none: Autotask's default)")


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _same_instant(stored: Any, want: datetime) -> bool:
    parsed = parse_timestamp(stored)
    return parsed is not None and abs(parsed - want) < timedelta(seconds=1)


def schedule_service_call(at: AutotaskConnector, params: ServiceCallParams) -> dict[str, Any]:
    """Create (or find) the call, tie the ticket to it and the technician to that; report the ids."""
    ticket = at.get("Tickets", str(params.ticket_id))
    company = ticket.get("companyID")
    if not company:
        raise ConfigError(f"autotask: ticket {params.ticket_id} has no company to schedule a service call for")
    resource_id = int(params.resource) if params.resource.strip().isdigit() else (
        at.named("Resources", params.resource, "schedule_service_call resource")
    )
    start = params.start.astimezone(UTC)
    end = start + timedelta(minutes=params.duration_minutes)
    description = f"{ticket.get('ticketNumber') or params.ticket_id}: {ticket.get('title') or ''}".strip()[:2000]
    created = False
    call, link = _call_of_ticket(at, params.ticket_id, start)
    if call is None:
        call = _orphan(at, int(company), start, end, description)
    if call is None:
        payload: dict[str, Any] = {
            "companyID": int(company),
            "startDateTime": _utc(start),
            "endDateTime": _utc(end),
            "description": description,
        }
        if params.status:
            payload["status"] = at.picklist_value("ServiceCalls", "status", params.status)
        call = {"id": int(create_once(at, "ServiceCalls", payload).id)}
        created = True
    call_id = int(call["id"])
    if link is None:
        tie = {"serviceCallID": call_id, "ticketID": params.ticket_id}
        link_id = int(create_once(at, "ServiceCallTickets", tie).id)
    else:
        link_id = int(link["id"])
    resources = {int(r["resourceID"]) for r in at.find("ServiceCallTicketResources", {"serviceCallTicketID": link_id})}
    added = resource_id not in resources
    if added:
        create_once(at, "ServiceCallTicketResources", {"serviceCallTicketID": link_id, "resourceID": resource_id})
    at.log.info("autotask.service_call", ticket=params.ticket_id, service_call=call_id, created=created)
    return {
        "service_call_id": str(call_id),
        "service_call_ticket_id": str(link_id),
        "resource_ids": sorted({*resources, resource_id}),
        "start": _utc(start),
        "end": _utc(end),
        "created": created,
        "changed": created or link is None or added,
    }


def _call_of_ticket(
    at: AutotaskConnector, ticket_id: int, start: datetime
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The ticket's call at ``start`` (not canceled) and its ServiceCallTicket, if there is one."""
    for link in at.find("ServiceCallTickets", {"ticketID": ticket_id}):
        call = at.get("ServiceCalls", str(link["serviceCallID"]))
        if _same_instant(call.get("startDateTime"), start) and not call.get("canceledDateTime"):
            return call, link
    return None, None


def _orphan(
    at: AutotaskConnector, company: int, start: datetime, end: datetime, description: str
) -> dict[str, Any] | None:
    """A call of the company this action made whose ticket link was never created."""
    for call in at.find("ServiceCalls", {"companyID": company}):
        if (
            _same_instant(call.get("startDateTime"), start)
            and _same_instant(call.get("endDateTime"), end)
            and call.get("description") == description
            and not at.find("ServiceCallTickets", {"serviceCallID": call["id"]})
        ):
            return call
    return None
