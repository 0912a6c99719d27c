"""Live reads for the compliance rules: the PSA's customers, contacts, contracts and devices,
and the accounting system's customers and invoice recipients, as core records.

Everything is read fresh through the connectors' streams (a full read, no cursor), so
the report says what the vendors hold now, not what the last sync saw. Which connector
plays which part is its role (``HUB_ROLES__PSA``, ``HUB_ROLES__ACCOUNTING``), and which of
its mapping entities holds what is data (:class:`Sources`), so another PSA or accounting
connector needs no code here.

A PSA account is matched to its accounting customer through the crosswalk first, and
otherwise by normalized name (``org_name``: case, punctuation and legal suffixes do
not matter); a name shared by several accounting customers matches none of them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hub.connector import Connector, Stream
from hub.errors import ConfigError, HubError, RecordRejected
from hub.logging import get_logger
from hub.mapping import NORMALIZERS
from hub.models import (
    AccountType,
    ConfigurationItem,
    Contact,
    Contract,
    InvoiceRecipient,
    Organization,
    Record,
    ServiceModel,
)

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.sync.jobs import Roles

__all__ = ["AccountingMatch", "Snapshot", "Sources", "read_entity", "read_snapshot"]

log = get_logger("hub.compliance")


@dataclass(frozen=True)
class Sources:
    """Which connectors and mapping entities the rules read.

    A name left empty is the role's: the connectors filling the PSA and accounting roles
    (``HUB_ROLES__PSA``, ``HUB_ROLES__ACCOUNTING``) and their entities for each slot.
    """

    psa: str = ""
    organizations: str = ""
    contacts: str = ""
    contracts: str = ""
    devices: str = ""
    tickets: str = ""
    accounting: str = ""
    accounting_customers: str = ""
    invoice_recipients: str = ""
    #: core fields of a ticket ``--open-tickets`` opens (labels of the PSA's picklists)
    ticket: dict[str, str] = field(
        default_factory=lambda: {
            "status": "New",
            "priority": "Medium",
            "queue": "Post Sale",
            "issue_type": "Administrative Changes",
            "ticket_type": "Service Request",
        }
    )

    def with_psa(self, roles: Roles) -> Sources:
        """The PSA's names filled in from its role where left empty."""
        psa = self.psa or roles.connector("psa")
        return replace(
            self,
            psa=psa,
            organizations=self.organizations or roles.entity("psa", "companies", psa),
            contacts=self.contacts or roles.entity("psa", "contacts", psa),
            contracts=self.contracts or roles.entity("psa", "contracts", psa),
            devices=self.devices or roles.entity("psa", "configuration_items", psa),
            tickets=self.tickets or roles.entity("psa", "tickets", psa),
        )

    def with_accounting(self, roles: Roles) -> Sources:
        """The accounting system's names filled in from its role where left empty."""
        accounting = self.accounting or roles.connector("accounting")
        return replace(
            self,
            accounting=accounting,
            accounting_customers=self.accounting_customers or roles.entity("accounting", "customers", accounting),
            invoice_recipients=self.invoice_recipients
            or roles.entity("accounting", "invoice_recipients", accounting),
        )


@dataclass(frozen=True)
class AccountingMatch:
    """The accounting customer of one PSA account, and how it was found (or why not)."""

    customer_id: str | None
    how: str


@dataclass
class Snapshot:
    """What the rules look at: every PSA customer and what belongs to it."""

    psa: str
    customers: list[Organization]
    contacts: dict[str, list[Contact]] = field(default_factory=dict)
    contracts: dict[str, Contract] = field(default_factory=dict)
    devices: dict[str, list[ConfigurationItem]] = field(default_factory=dict)
    #: accounting customer id -> its invoice recipient addresses
    recipients: dict[str, list[str]] = field(default_factory=dict)
    #: PSA account id -> its accounting customer
    accounting: dict[str, AccountingMatch] = field(default_factory=dict)
    #: why the accounting system could not be read (its rule is then not evaluated)
    accounting_error: str | None = None

    def org_id(self, org: Organization) -> str:
        return org.ref_id(self.psa) or ""

    @staticmethod
    def managed(org: Organization) -> bool:
        return org.service_model is ServiceModel.managed_services


def _stream(connector: Connector, entity: str) -> Stream:
    for stream in connector.streams():
        if stream.mapping_entity == entity or stream.name == entity:
            return stream
    raise ConfigError(f"{connector.name} has no stream of {entity!r} to read")


def read_entity(hub: Hub, system: str, entity: str, since: datetime | None = None) -> list[Record]:
    """Every record of ``entity`` in ``system`` (changed since ``since``) as core records.

    Records the mapping cannot read are logged and left out.
    """
    connector = hub.connector(system)
    bound = hub.mapping(system).entity(entity)
    out: list[Record] = []
    for page in _stream(connector, entity).read(since=since):
        for raw in page.records:
            try:
                out.append(bound.to_core(raw, connector))
            except RecordRejected as exc:
                log.warning("compliance: record skipped", connector=system, entity=entity, error=str(exc))
    return out


def _by_org(records: list[Any], system: str) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for record in records:
        org = record.organization
        if org is not None and org.system == system:
            grouped[org.id].append(record)
    return dict(grouped)


def read_snapshot(hub: Hub, sources: Sources | None = None) -> Snapshot:
    """Read everything the rules need, now."""
    s = (sources or Sources()).with_psa(hub.roles)
    orgs = [o for o in read_entity(hub, s.psa, s.organizations) if isinstance(o, Organization)]
    customers = [o for o in orgs if o.account_type is AccountType.customer and o.active]
    contacts = [c for c in read_entity(hub, s.psa, s.contacts) if isinstance(c, Contact) and c.active]
    contracts = [c for c in read_entity(hub, s.psa, s.contracts) if isinstance(c, Contract)]
    devices = [d for d in read_entity(hub, s.psa, s.devices) if isinstance(d, ConfigurationItem) and d.active]
    snap = Snapshot(
        psa=s.psa,
        customers=sorted(customers, key=lambda o: o.name.casefold()),
        contacts=_by_org(contacts, s.psa),
        contracts={c.ref_id(s.psa) or "": c for c in contracts},
        devices=_by_org(devices, s.psa),
    )
    _read_accounting(hub, s, snap)
    return snap


def _read_accounting(hub: Hub, s: Sources, snap: Snapshot) -> None:
    try:
        s = s.with_accounting(hub.roles)
        customers = [o for o in read_entity(hub, s.accounting, s.accounting_customers) if isinstance(o, Organization)]
        recipients = [
            r for r in read_entity(hub, s.accounting, s.invoice_recipients) if isinstance(r, InvoiceRecipient)
        ]
    except HubError as exc:
        snap.accounting_error = f"{s.accounting}: {exc}" if s.accounting else str(exc)
        log.warning("compliance: accounting not readable", error=snap.accounting_error)
        return
    for org_id, items in _by_org(recipients, s.accounting).items():
        snap.recipients[org_id] = sorted({r.email for r in items if r.email})
    norm = NORMALIZERS["org_name"]
    by_name: dict[Any, list[str]] = defaultdict(list)
    for customer in customers:
        if customer.active and customer.ref_id(s.accounting):
            by_name[norm(customer.name)].append(customer.ref_id(s.accounting) or "")
    for org in snap.customers:
        org_id = snap.org_id(org)
        linked = hub.store.counterpart("organization", s.psa, org_id, s.accounting)
        if linked is not None:
            snap.accounting[org_id] = AccountingMatch(linked, "crosswalk")
            continue
        named = by_name.get(norm(org.name), [])
        if len(named) == 1:
            snap.accounting[org_id] = AccountingMatch(named[0], "name")
        elif named:
            snap.accounting[org_id] = AccountingMatch(None, f"{len(named)} {s.accounting} customers share the name")
        else:
            snap.accounting[org_id] = AccountingMatch(None, f"no {s.accounting} customer of that name")
