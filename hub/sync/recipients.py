"""``accounting-recipients``: accounting invoice recipients <-> the PSA contacts' invoice-recipient role.

Two-way, per customer, by a three-way set merge against the set both sides held after
the last successful sync (kept in the state store, one small row per customer)::

    merged = base - removed_on_either_side + added_on_either_side

so an address added on either side is added to the other, and one removed on either
side is removed from the other; nothing depends on which side changed last.

* The accounting side lists a customer's recipients on the customer (the core field
  ``invoice_recipients`` of its customers' mapping; QuickBooks keeps them comma-separated
  in ``PrimaryEmailAddr.Address``, 100 characters in all); the list is written back whole,
  in one update, only when its set changed. A set that does not fit is refused by the
  connector and dead-lettered with the reason; nothing is written to either side for
  that customer until it fits.
* The PSA side holds the role on contacts (Autotask: a contact UDF): an address is on the
  PSA side when an active contact of the customer's company with that e-mail has the
  role. Setting or clearing the flag is the write. An address with no active contact
  at all is reported (a contact is never invented), and it is not taken as *removed*
  on the PSA side, so it stays in accounting until a person decides.
* Customers are matched to companies by the job's first step, a link-only
  :class:`~hub.sync.jobs.EntityStep` (crosswalk, then normalized name); an unmatched
  customer is reported there. A linked customer left with no recipient is reported.

A crash between the writes and the saved base is harmless: the next run merges the
sides as they now are against the old base and reaches the same set (the merge is
idempotent), writing only what is still missing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from hub.connector import Connector
from hub.errors import ConfigError, RecordRejected
from hub.logging import get_logger
from hub.mapping import BoundMapping
from hub.models import Contact, ContactRole, InvoiceRecipient, Organization, Record
from hub.sync.engine import PlanEntry, SyncRun
from hub.sync.jobs import EntityStep, Roles, SyncJob
from hub.writes import PlannedWrite, Writer, write_key

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["ACCOUNTING_RECIPIENTS", "RecipientStep", "accounting_recipients_job", "merge"]

ACCOUNTING_RECIPIENTS = "accounting-recipients"
log = get_logger("hub.sync.recipients")


def merge(base: set[str], accounting: set[str], psa: set[str], psa_known: set[str]) -> set[str]:
    """The three-way merge of lower-cased addresses.

    ``psa_known`` are the addresses the PSA could hold at all (an active contact has
    them): only those can have been removed on the PSA side.
    """
    removed = (base - accounting) | ((base - psa) & psa_known)
    return (base - removed) | (accounting - base) | (psa - base)


@dataclass(frozen=True)
class RecipientStep:
    """Merge ``accounting``'s invoice recipients with ``psa``'s contacts' invoice-recipient role.

    Each name left empty is the role's (:meth:`bind`): the connectors filling the accounting
    and PSA roles, their customers, invoice recipients and contacts.
    """

    accounting: str = ""
    customers_stream: str = ""
    recipients_stream: str = ""
    customer_entity: str = ""
    psa: str = ""
    contacts_stream: str = ""
    contact_entity: str = ""

    def bind(self, roles: Roles) -> RecipientStep:
        accounting = self.accounting or roles.connector("accounting")
        psa = self.psa or roles.connector("psa")
        return replace(
            self,
            accounting=accounting,
            customers_stream=self.customers_stream or roles.stream("accounting", "customers", accounting),
            recipients_stream=self.recipients_stream or roles.stream("accounting", "invoice_recipients", accounting),
            customer_entity=self.customer_entity or roles.entity("accounting", "customers", accounting),
            psa=psa,
            contacts_stream=self.contacts_stream or roles.stream("psa", "contacts", psa),
            contact_entity=self.contact_entity or roles.entity("psa", "contacts", psa),
        )

    @property
    def label(self) -> str:
        return f"{self.accounting}.{self.recipients_stream} <-> {self.psa}.{self.contact_entity} invoice recipients"

    @property
    def sources(self) -> list[tuple[str, str]]:
        return [(self.accounting, self.recipients_stream), (self.psa, self.contacts_stream)]

    @property
    def connectors(self) -> list[str]:
        return [self.accounting, self.psa]

    def run(self, run: SyncRun) -> None:
        RecipientSync(run, self).sync()


def accounting_recipients_job() -> SyncJob:
    """The job over the accounting and PSA roles: customers linked to companies, then the merge."""
    return SyncJob(
        ACCOUNTING_RECIPIENTS,
        "accounting invoice recipients <-> PSA contacts' invoice-recipient role (two-way)",
        [
            EntityStep("accounting", "customers", "psa", "companies", by_role=True, deactivate=False, create=False,
                       update=False, incremental=False),
            RecipientStep(),
        ],
    )  # fmt: skip


@dataclass
class _Customer:
    id: str
    name: str
    company: str


class RecipientSync:
    """One run of one :class:`RecipientStep`."""

    def __init__(self, run: SyncRun, step: RecipientStep) -> None:
        self.run = run
        self.step = step
        self.hub = run.hub
        self.store = run.hub.store
        self.job = run.job.name
        self.accounting: Connector = self.hub.connector(step.accounting)
        self.psa: Connector = self.hub.connector(step.psa)
        self.cmap: BoundMapping = self.hub.mapping(step.psa).entity(step.contact_entity)
        self.amap: BoundMapping = self.hub.mapping(step.accounting).entity(step.customer_entity)
        if "invoice_recipients" not in self.amap.spec.fields:
            raise ConfigError(f"{self.hub.mapping(step.accounting).path}: entity {step.customer_entity} maps no "
                              "invoice_recipients field, which accounting-recipients writes")  # fmt: skip
        self.base = self.store.kv(f"sync:{self.job}")
        self.writer = Writer(self.hub, self.job)

    def _read(self, connector: Connector, stream_name: str) -> Iterator[Record]:
        """The core records of a whole stream, counted as read."""
        stream = connector.stream(stream_name)
        bound = self.hub.mapping(connector.name).entity(stream.mapping_entity)
        for page in stream.read():
            for raw in page.records:
                self.run.count("read")
                try:
                    yield bound.to_core(raw, connector)
                except RecordRejected as exc:
                    log.warning("recipients.record_skipped", system=connector.name, reason=str(exc))
            self.run.tick(self.step.label, self.run.counts["read"])

    def sync(self) -> None:
        customers = self._customers()
        listed = self._accounting_sets({c.id for c in customers})
        contacts = self._contacts({c.company for c in customers})
        for customer in customers:
            self._merge_one(customer, listed.get(customer.id, {}), contacts.get(customer.company, []))

    # -- reading both sides ---------------------------------------------------------------

    def _customers(self) -> list[_Customer]:
        """Active accounting customers the link step tied to a PSA company."""
        out = []
        stream = self.accounting.stream(self.step.customers_stream)
        bound = self.hub.mapping(self.step.accounting).entity(stream.mapping_entity)
        for page in stream.read():
            for raw in page.records:
                try:
                    org = bound.to_core(raw, self.accounting)
                except RecordRejected:
                    continue  # the link step dead-letters nothing here but logged it already
                assert isinstance(org, Organization)
                cid = stream.record_id(raw)
                company = self.store.counterpart(Organization.kind, self.step.accounting, cid, self.step.psa)
                if org.active and company is None and self.run.dry_run:
                    company = self._planned_company(cid)
                if org.active and company is not None:
                    out.append(_Customer(cid, org.name, company))
        return out

    def _planned_company(self, customer_id: str) -> str | None:
        """In a dry run, the company the link step would have linked (it committed nothing)."""
        ref = f"{self.step.accounting}:{Organization.kind}:{customer_id}"
        if ref not in self.run.planned:
            return None
        entry = next((e for e in self.run.plan if e.action == "link" and e.source_id == customer_id), None)
        return entry.target_id if entry else None

    def _accounting_sets(self, customer_ids: set[str]) -> dict[str, dict[str, str]]:
        """Customer id -> {lower-cased address: address as written} in accounting."""
        out: dict[str, dict[str, str]] = defaultdict(dict)
        for record in self._read(self.accounting, self.step.recipients_stream):
            assert isinstance(record, InvoiceRecipient)
            cid = record.organization.id if record.organization else None
            if cid in customer_ids:
                out[cid].setdefault(record.email.lower(), record.email)
        return out

    def _contacts(self, companies: set[str]) -> dict[str, list[Contact]]:
        """Company id -> its active contacts that have an e-mail address (lowest id first)."""
        out: dict[str, list[Contact]] = defaultdict(list)
        for record in self._read(self.psa, self.step.contacts_stream):
            assert isinstance(record, Contact)
            company = record.organization.id if record.organization else None
            if company in companies and record.active and record.email:
                out[company].append(record)
        for people in out.values():
            people.sort(key=lambda c: (len(c.ref_id(self.step.psa) or ""), c.ref_id(self.step.psa) or ""))
        return out

    # -- one customer -------------------------------------------------------------------

    def _merge_one(self, customer: _Customer, listed: dict[str, str], contacts: list[Contact]) -> None:
        key = f"{self.step.accounting}:{customer.id}"
        stored = self.base.get(key)
        base = {a.lower() for a in stored} if isinstance(stored, list) else set()
        role = ContactRole.invoice_recipient
        psa_set = {c.email.lower(): c.email for c in contacts if c.email and c.has_role(role)}
        known = {c.email.lower() for c in contacts if c.email}
        merged = merge(base, set(listed), set(psa_set), known)
        spelled = {**{a: a for a in base}, **psa_set, **listed}
        addresses = [listed[a] for a in listed if a in merged] + sorted(spelled[a] for a in merged - set(listed))
        who = f"{self.step.accounting} customer {customer.id} ({customer.name})"
        if not merged:
            self.run.report(f"{who} has no invoice recipient")
        for address in sorted(merged - known):
            self.run.report(f"{who}: invoice recipient {spelled[address]} has no active {self.step.psa} contact; "
                            "add the contact with the invoice-recipient role, or remove the address")  # fmt: skip
        audits: list[dict[str, Any]] = []
        if set(listed) != merged and not self._write_accounting(customer, list(listed.values()), addresses, audits):
            return
        for contact in contacts:
            email = (contact.email or "").lower()
            has = contact.has_role(role)
            first_holder = next((c for c in contacts if (c.email or "").lower() == email), None) is contact
            wanted = email in merged and (has or (first_holder and email not in psa_set))
            if has != wanted and not self._write_role(customer, contact, wanted, audits):
                self._commit(key, None, audits, customer)
                return
        self._commit(key, addresses, audits, customer)

    def _write_accounting(self, customer: _Customer, before: list[str], after: list[str],
                          audits: list[dict[str, Any]]) -> bool:  # fmt: skip
        listed = Organization.model_construct(invoice_recipients=after)
        payload = self.amap.to_vendor(listed, self.accounting, fields=["invoice_recipients"])
        entry = PlanEntry(
            "update",
            self.step.accounting,
            self.step.customer_entity,
            customer.id,
            customer.id,
            customer.name,
            before={"invoice_recipients": before},
            after={"invoice_recipients": after},
        )
        return self._write(self.accounting, self.step.customer_entity, customer.id, payload, entry, customer, audits)

    def _write_role(self, customer: _Customer, contact: Contact, wanted: bool, audits: list[dict[str, Any]]) -> bool:
        role = ContactRole.invoice_recipient
        roles = {*contact.roles, role} if wanted else contact.roles - {role}
        changed = contact.model_copy(update={"roles": roles})
        payload = self.cmap.to_vendor(changed, self.psa, fields=["organization", f"roles.{role.value}"])
        contact_id = contact.ref_id(self.step.psa)
        assert contact_id is not None
        entry = PlanEntry("update", self.step.psa, self.step.contact_entity, customer.id, contact_id,
                          f"{contact.full_name} <{contact.email}>", before={"invoice_recipient": not wanted},
                          after={"invoice_recipient": wanted})  # fmt: skip
        return self._write(self.psa, self.step.contact_entity, contact_id, payload, entry, customer, audits)

    def _write(self, connector: Connector, entity: str, record_id: str, payload: dict[str, Any], entry: PlanEntry,
               customer: _Customer, audits: list[dict[str, Any]]) -> bool:  # fmt: skip
        """One update; False (dead-lettered) if the vendor refused it."""
        self.run.count("updated")
        self.run.record(entry)
        if self.run.dry_run:
            return True
        self.run.ensure_lease()
        core = Organization.model_construct(name=customer.name)
        write = PlannedWrite(connector.name, entity, "update", payload, core, target_id=record_id,
                             key=write_key(self.job, connector.name, entity, record_id, payload=payload))  # fmt: skip
        outcome = self.writer.send(write)
        if not outcome.ok:
            self.run.counts["updated"] -= 1
            self._fail(connector.name, entity, customer, record_id, outcome.reason or "refused", audits)
            return False
        audits.append({"system": connector.name, "entity": entity, "record_id": record_id,
                       "before": entry.before, "after": entry.after})  # fmt: skip
        return True

    def _fail(self, system: str, entity: str, customer: _Customer, record_id: str, reason: str,
              audits: list[dict[str, Any]]) -> None:  # fmt: skip
        self.run.count("failed")
        self.run.record(PlanEntry("failed", system, entity, customer.id, record_id, customer.name, reason=reason))
        log.warning("sync.record_failed", job=self.job, customer=customer.id, reason=reason)
        if self.run.dry_run:
            return
        with self.run.transaction() as conn:
            self._audit(conn, audits)
            self.store.dead_letter(conn, job=self.job, system=system, kind=InvoiceRecipient.kind,
                                   record_id=customer.id, operation="write",
                                   record={"customer": customer.id, "name": customer.name, "entity": entity,
                                           "record_id": record_id}, error=reason)  # fmt: skip
        audits.clear()

    def _commit(self, key: str, addresses: list[str] | None, audits: list[dict[str, Any]], customer: _Customer) -> None:
        """Audit rows, and (all writes done) the new base with the failure resolved, in one transaction."""
        if self.run.dry_run:
            return
        with self.run.transaction() as conn:
            self._audit(conn, audits)
            if addresses is not None:
                self.store.kv_set(conn, f"sync:{self.job}", key, addresses)
                for system in (self.step.accounting, self.step.psa):
                    self.store.resolve_dead_letter(conn, self.job, system, InvoiceRecipient.kind, customer.id)

    def _audit(self, conn: Connection, audits: list[dict[str, Any]]) -> None:
        for a in audits:
            self.store.audit(conn, actor=f"sync:{self.job}", operation="update", run_id=self.run.run_id, **a)
