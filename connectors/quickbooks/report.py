"""Who actually receives a customer's invoices, compared with who should.

The customer's ``PrimaryEmailAddr`` says where new invoices go; each invoice keeps the
addresses it was really sent to (``BillEmail``/``BillEmailCc``/``BillEmailBcc``), which
QuickBooks copies when the invoice is created and never updates afterwards. An
authorization contact changing in the PSA therefore needs both checked: a customer with
no recipient, and invoices still going to an old address, are what the procedures ask
the hub to catch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from connectors.quickbooks.addresses import customer_addresses, split_addresses
from connectors.quickbooks.records import INVOICE_EMAIL_FIELDS


def _lower(addresses: list[str]) -> set[str]:
    return {a.lower() for a in addresses}


@dataclass
class RecipientCheck:
    """One customer's intended and actual invoice recipients."""

    customer_id: str
    display_name: str
    active: bool
    customer_addresses: list[str]
    invoices: list[dict[str, Any]] = field(default_factory=list)

    @property
    def invoice_addresses(self) -> list[str]:
        """Every address (To, Cc, Bcc) the recent invoices went to, first spelling kept."""
        seen: dict[str, str] = {}
        for invoice in self.invoices:
            for name in INVOICE_EMAIL_FIELDS:
                for address in invoice.get(name) or []:
                    seen.setdefault(address.lower(), address)
        return list(seen.values())

    @property
    def not_on_invoices(self) -> list[str]:
        """Customer addresses that none of the recent invoices was sent to."""
        if not self.invoices:
            return []
        sent = _lower(self.invoice_addresses)
        return [a for a in self.customer_addresses if a.lower() not in sent]

    @property
    def only_on_invoices(self) -> list[str]:
        """Addresses invoices went to that the customer no longer lists."""
        listed = _lower(self.customer_addresses)
        return [a for a in self.invoice_addresses if a.lower() not in listed]

    @property
    def differs(self) -> bool:
        return bool(self.not_on_invoices or self.only_on_invoices)

    @property
    def has_recipient(self) -> bool:
        return bool(self.customer_addresses)

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "display_name": self.display_name,
            "active": self.active,
            "has_recipient": self.has_recipient,
            "customer_addresses": self.customer_addresses,
            "invoice_addresses": self.invoice_addresses,
            "not_on_invoices": self.not_on_invoices,
            "only_on_invoices": self.only_on_invoices,
            "differs": self.differs,
            "invoices": self.invoices,
        }


def invoice_summary(invoice: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "Id": str(invoice.get("Id")),
        "DocNumber": invoice.get("DocNumber"),
        "TxnDate": invoice.get("TxnDate"),
        "EmailStatus": invoice.get("EmailStatus"),
    }
    for name in INVOICE_EMAIL_FIELDS:
        summary[name] = split_addresses((invoice.get(name) or {}).get("Address"))
    return summary


def build_report(customers: list[dict[str, Any]], invoices: list[dict[str, Any]]) -> list[RecipientCheck]:
    """One :class:`RecipientCheck` per customer, its invoices newest first."""
    by_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for invoice in invoices:
        ref = (invoice.get("CustomerRef") or {}).get("value")
        if ref is not None:
            by_customer[str(ref)].append(invoice_summary(invoice))
    checks = []
    for customer in customers:
        cid = str(customer["Id"])
        mine = sorted(by_customer.get(cid, []), key=lambda i: (i.get("TxnDate") or "", i["Id"]), reverse=True)
        checks.append(
            RecipientCheck(
                customer_id=cid,
                display_name=str(customer.get("DisplayName") or ""),
                active=bool(customer.get("Active", True)),
                customer_addresses=customer_addresses(customer),
                invoices=mine,
            )
        )
    return checks
