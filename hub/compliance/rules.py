"""The compliance rules: what must hold for every customer, and each violation's stable key.

From the procedures: "For each MSA customer, at least one contact must receive reports.
At least one contact must be listed in Quickbooks as the contact for invoices."
(new-authorization-contact-workflow.txt); every customer has one primary contact
(onboarding-new-customer-autotask.txt); the signed terms go into "a client folder with
the exact same name as the Autotask account" (new-breakfix-customer-workflow.txt); and a
managed-services customer is billed for the devices its recurring contract covers.

A violation's ``key`` names the rule and the record (``primary-contact:autotask:174``),
never anything that changes between runs (a count, a date), so ``--open-tickets``
recognises a violation it has already opened a ticket for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hub.compliance.sources import Snapshot
from hub.errors import ConfigError
from hub.folders import folder_path
from hub.models import ContactRole, Organization

__all__ = ["RULES", "Rule", "Violation", "evaluate"]


@dataclass(frozen=True)
class Violation:
    """One rule broken by one customer (or one of its devices)."""

    rule: str
    key: str
    organization_id: str
    organization: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    check: Callable[[Snapshot, Path], Iterator[Violation]]


def _violation(snap: Snapshot, rule: str, org: Organization, message: str, item: str | None = None) -> Violation:
    org_id = snap.org_id(org)
    key = f"{rule}:{snap.psa}:{org_id}" + (f":{item}" if item else "")
    return Violation(rule, key, org_id, org.name, message)


def _with_role(snap: Snapshot, org: Organization, role: ContactRole) -> list[str]:
    return [
        " ".join(p for p in (c.first_name, c.last_name) if p) or (c.email or "?")
        for c in snap.contacts.get(snap.org_id(org), [])
        if role in c.roles
    ]


def report_recipient(snap: Snapshot, _root: Path) -> Iterator[Violation]:
    for org in snap.customers:
        if snap.managed(org) and not _with_role(snap, org, ContactRole.report_recipient):
            yield _violation(snap, "report-recipient", org, "managed-services customer: no contact receives reports")


def invoice_contact(snap: Snapshot, _root: Path) -> Iterator[Violation]:
    if snap.accounting_error is not None:
        return
    for org in snap.customers:
        if not snap.managed(org):
            continue
        match = snap.accounting.get(snap.org_id(org))
        if match is None or match.customer_id is None:
            why = match.how if match else "not matched"
            yield _violation(snap, "invoice-contact", org, f"no accounting customer to send invoices to ({why})")
        elif not snap.recipients.get(match.customer_id):
            yield _violation(
                snap,
                "invoice-contact",
                org,
                f"accounting customer {match.customer_id} has no invoice e-mail address",
            )


def primary_contact(snap: Snapshot, _root: Path) -> Iterator[Violation]:
    for org in snap.customers:
        primaries = _with_role(snap, org, ContactRole.primary)
        if len(primaries) != 1:
            named = ", ".join(primaries)
            what = f"{len(primaries)} primary contacts ({named})" if primaries else "no primary contact"
            yield _violation(snap, "primary-contact", org, f"{what}; there must be exactly one")


def client_folder(snap: Snapshot, root: Path) -> Iterator[Violation]:
    for org in snap.customers:
        try:
            folder = folder_path(root, org.name)
        except ConfigError as exc:
            yield _violation(snap, "client-folder", org, f"no client folder possible: {exc}")
            continue
        if not folder.is_dir():
            yield _violation(snap, "client-folder", org, f"client folder {folder} does not exist")


def device_contract(snap: Snapshot, _root: Path) -> Iterator[Violation]:
    for org in snap.customers:
        if not snap.managed(org):
            continue
        org_id = snap.org_id(org)
        for device in snap.devices.get(org_id, []):
            device_id = device.ref_id(snap.psa) or device.name
            contract = snap.contracts.get(device.contract.id) if device.contract else None
            if contract is None:
                problem = "is not covered by a contract"
            elif not contract.active:
                problem = f"is covered by inactive contract {contract.name!r}"
            elif contract.organization is None or contract.organization.id != org_id:
                problem = f"is covered by contract {contract.name!r} of another account"
            else:
                continue
            yield _violation(snap, "device-contract", org, f"device {device.name} ({device_id}) {problem}", device_id)


RULES: tuple[Rule, ...] = (
    Rule("report-recipient", "every managed-services customer has a report recipient", report_recipient),
    Rule("invoice-contact", "every managed-services customer has an invoice contact in accounting", invoice_contact),
    Rule("primary-contact", "every customer has exactly one primary contact", primary_contact),
    Rule("client-folder", "every customer's client folder exists under its exact account name", client_folder),
    Rule("device-contract", "every managed-services device is covered by a contract", device_contract),
)


def evaluate(snap: Snapshot, documents_root: Path) -> list[Violation]:
    """Every violation of every rule, rule by rule, customers by name."""
    return [v for rule in RULES for v in rule.check(snap, documents_root)]
