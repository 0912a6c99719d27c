"""Records the hub reads that QuickBooks keeps inside other objects.

A customer's invoice recipients are the addresses in its ``PrimaryEmailAddr.Address``;
an invoice's recipients are the addresses in ``BillEmail``, ``BillEmailCc`` and
``BillEmailBcc``. The core model has one :class:`InvoiceRecipient` per address, so each
address becomes one record here, with a stable id and the cursor of the object it
lives in. These are the ``InvoiceRecipient`` and ``InvoiceEmail`` entities of
``mappings/quickbooks.yaml``.
"""

from __future__ import annotations

from typing import Any

from connectors.quickbooks.addresses import customer_addresses, recipient_id, split_addresses

INVOICE_EMAIL_FIELDS = ("BillEmail", "BillEmailCc", "BillEmailBcc")


def customer_ref(customer: dict[str, Any]) -> dict[str, str]:
    return {"value": str(customer["Id"]), "name": str(customer.get("DisplayName") or "")}


def recipient_record(customer: dict[str, Any], address: str) -> dict[str, Any]:
    """One invoice recipient of a customer (entity ``InvoiceRecipient``)."""
    return {
        "Id": recipient_id(str(customer["Id"]), address),
        "Address": address,
        "CustomerRef": customer_ref(customer),
        "Active": bool(customer.get("Active", True)),
        "Source": "customer",
        "SyncToken": customer.get("SyncToken"),
        "MetaData": dict(customer.get("MetaData") or {}),
    }


def recipient_records(customer: dict[str, Any]) -> list[dict[str, Any]]:
    return [recipient_record(customer, a) for a in customer_addresses(customer)]


def invoice_email_records(invoice: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per address an invoice was (or will be) e-mailed to (entity ``InvoiceEmail``)."""
    out = []
    for field in INVOICE_EMAIL_FIELDS:
        for address in split_addresses((invoice.get(field) or {}).get("Address")):
            out.append(
                {
                    "Id": f"{invoice['Id']}:{field}:{address.lower()}",
                    "InvoiceId": str(invoice["Id"]),
                    "DocNumber": invoice.get("DocNumber"),
                    "TxnDate": invoice.get("TxnDate"),
                    "Field": field,
                    "Address": address,
                    "EmailStatus": invoice.get("EmailStatus"),
                    "CustomerRef": dict(invoice.get("CustomerRef") or {}),
                    "Source": "invoice",
                    "MetaData": dict(invoice.get("MetaData") or {}),
                }
            )
    return out
