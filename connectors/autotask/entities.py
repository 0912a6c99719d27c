"""The Autotask entities the hub reads and writes, and where each one lives in the REST API.

One table, shared by the connector, its streams and the simulator, so that a path or a
cursor field is written down once. Facts taken from the vendor's swagger
(``shared/vendor-specs/autotask``):

* every entity is queried with ``POST V1.0/{Entity}/query`` and read by id with
  ``GET V1.0/{Entity}/{id}``;
* Companies, Tickets, Contracts and ConfigurationItems are created (POST) and updated
  (PATCH) at ``V1.0/{Entity}``; Contacts only under their company
  (``V1.0/Companies/{id}/Contacts``), ticket notes under their ticket
  (``V1.0/Tickets/{id}/Notes``) and company notes under their company
  (``V1.0/Companies/{id}/Notes``): the swagger has no top-level POST/PATCH for them;
* the change cursor differs per entity: ``lastActivityDate`` (Companies, Contacts,
  Tickets, TicketNotes), ``lastModifiedDate`` (CompanyNotes) and ``lastModifiedTime``
  (ConfigurationItems). Contracts have none: the swagger's ``ContractModel`` has no
  change timestamp, nor do the vendor's Contracts field list and the query answers
  other clients record (django-autotask's fixtures), so contracts are read in full every
  time (an MSP has a few hundred; filtering on a field Autotask does not have would make
  it refuse the query);
* CompanyTeams (a company's account team: one record per resource) and
  ClientPortalUsers (a contact's Client Portal login) have no change timestamp at all,
  so they are written and read (``get``, queries) but are not streams. Team members are
  created under their company (``V1.0/Companies/{id}/Teams``) and deleted there
  (``DELETE V1.0/Companies/{id}/Teams/{id}``); the API cannot update them. Portal users
  are created and updated at ``V1.0/ClientPortalUsers``; Autotask never deletes them,
  it deactivates them (``isClientPortalActive: false``);
* a service call (``ServiceCalls``, created and updated at ``V1.0/ServiceCalls``) gets its
  ticket through ``ServiceCallTickets`` (``V1.0/ServiceCalls/{id}/Tickets``) and its
  technician through ``ServiceCallTicketResources`` (``V1.0/ServiceCallTickets/{id}/Resources``);
  neither link can be updated, only created or deleted (:mod:`.service_calls`);
* ``Services`` is the service catalog; a recurring service contract's services are
  ``ContractServices``, created under the contract (``V1.0/Contracts/{id}/Services``).
  None of these has a change timestamp the hub follows: they are looked up, not streamed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ENTITIES", "STREAMED", "EntitySpec", "entity_spec"]


@dataclass(frozen=True)
class EntitySpec:
    """How one Autotask entity is read, written and deactivated."""

    name: str
    kind: str
    #: the change timestamp an incremental stream filters on (None: read in full)
    cursor: str | None
    #: (parent entity, parent id field, child collection) for entities written under a parent
    parent: tuple[str, str, str] | None = None
    #: field and value that deactivate the record; a label for picklist fields
    deactivate: tuple[str, Any] | None = None
    deactivate_is_label: bool = False
    #: the ``EntityType`` names Autotask uses in webhook payloads (None: no webhooks)
    webhook_types: tuple[str, ...] = ()
    #: whether the API updates records in place (CompanyTeams: create and delete only)
    updatable: bool = True
    #: whether the API deletes records (``DELETE`` under the parent)
    deletable: bool = False
    #: fields holding a secret the API takes but never answers (a portal user's password)
    secret_fields: tuple[str, ...] = ()
    #: whether the entity is read as a stream (not: written and looked up only)
    streamed: bool = True
    #: whether write steps and syncs may write it (False: only the workflow actions that
    #: keep its links consistent do, such as a service call with its ticket and technician)
    writable: bool = True

    def collection_path(self, parent_id: Any | None = None) -> str:
        """Where creates (POST) and updates (PATCH) of this entity go."""
        if self.parent is None:
            return f"V1.0/{self.name}"
        parent, _, child = self.parent
        return f"V1.0/{parent}/{parent_id}/{child}"

    @property
    def parent_field(self) -> str | None:
        return self.parent[1] if self.parent else None


ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in (
        EntitySpec(
            "Companies",
            "organization",
            "lastActivityDate",
            deactivate=("isActive", False),
            webhook_types=("Company", "Account"),
        ),
        EntitySpec(
            "Contacts",
            "contact",
            "lastActivityDate",
            parent=("Companies", "companyID", "Contacts"),
            # the live API answers contacts' isActive as 1/0, not true/false
            deactivate=("isActive", 0),
            webhook_types=("Contact",),
        ),
        EntitySpec(
            "Tickets",
            "ticket",
            "lastActivityDate",
            deactivate=("status", "Complete"),
            deactivate_is_label=True,
            webhook_types=("Ticket",),
        ),
        EntitySpec("Contracts", "contract", None, deactivate=("status", 0)),
        EntitySpec(
            "ConfigurationItems",
            "configuration_item",
            "lastModifiedTime",
            deactivate=("isActive", False),
            webhook_types=("ConfigurationItem", "InstalledProduct"),
        ),
        EntitySpec(
            "TicketNotes",
            "note",
            "lastActivityDate",
            parent=("Tickets", "ticketID", "Notes"),
            webhook_types=("TicketNote",),
        ),
        EntitySpec("CompanyNotes", "note", "lastModifiedDate", parent=("Companies", "companyID", "Notes")),
        EntitySpec(
            "CompanyTeams",
            "account_team_member",
            None,
            parent=("Companies", "companyID", "Teams"),
            updatable=False,
            deletable=True,
            streamed=False,
        ),
        EntitySpec(
            "ClientPortalUsers",
            "portal_user",
            None,
            deactivate=("isClientPortalActive", False),
            secret_fields=("password",),
            streamed=False,
        ),
        EntitySpec("ServiceCalls", "service_call", None, writable=False, streamed=False),
        EntitySpec(
            "ServiceCallTickets",
            "service_call_ticket",
            None,
            parent=("ServiceCalls", "serviceCallID", "Tickets"),
            updatable=False,
            deletable=True,
            writable=False,
            streamed=False,
        ),
        EntitySpec(
            "ServiceCallTicketResources",
            "service_call_resource",
            None,
            parent=("ServiceCallTickets", "serviceCallTicketID", "Resources"),
            updatable=False,
            deletable=True,
            writable=False,
            streamed=False,
        ),
        EntitySpec("Services", "service", None, writable=False, streamed=False),
        EntitySpec(
            "ContractServices",
            "contract_service",
            None,
            parent=("Contracts", "contractID", "Services"),
            writable=False,
            streamed=False,
        ),
    )
}

#: the entities read as streams (incremental where they have a change timestamp)
STREAMED: tuple[EntitySpec, ...] = tuple(spec for spec in ENTITIES.values() if spec.streamed)


def entity_spec(name: str) -> EntitySpec | None:
    """The spec of ``name`` (exact REST name, case-insensitive), or None."""
    if name in ENTITIES:
        return ENTITIES[name]
    lowered = name.lower()
    return next((s for s in ENTITIES.values() if s.name.lower() == lowered), None)
