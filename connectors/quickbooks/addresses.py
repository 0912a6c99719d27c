"""A customer's invoice recipients: the comma-separated ``PrimaryEmailAddr.Address``.

QuickBooks has one e-mail field per customer, and invoices created for the customer are
sent to it; several recipients are written into that one field separated by commas, and
the whole field holds at most 100 characters. The hub treats it as an ordered set of
addresses (case-insensitive, first spelling kept).
"""

from __future__ import annotations

import re
from typing import Any

from hub.sdk import RecordRejected

#: the length QuickBooks allows for PrimaryEmailAddr.Address (and invoice BillEmail)
MAX_ADDRESS_CHARS = 100
SEPARATOR = ","

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


def split_addresses(value: Any) -> list[str]:
    """``"a@x.com, B@y.com;a@X.com"`` -> ``["a@x.com", "B@y.com"]`` (dedup ignores case)."""
    if not value:
        return []
    seen: set[str] = set()
    out: list[str] = []
    for part in re.split(r"[,;]", str(value)):
        address = part.strip()
        if address and address.lower() not in seen:
            seen.add(address.lower())
            out.append(address)
    return out


def join_addresses(addresses: list[str], *, customer_id: str = "?") -> str:
    """The field value for ``addresses``; RecordRejected if it does not fit QuickBooks."""
    for address in addresses:
        if not _EMAIL.match(address):
            raise RecordRejected(f"quickbooks Customer {customer_id}: not an e-mail address: {address!r}")
    value = SEPARATOR.join(addresses)
    if len(value) > MAX_ADDRESS_CHARS:
        raise RecordRejected(
            f"quickbooks Customer {customer_id}: {len(addresses)} invoice recipients need {len(value)} "
            f"characters, PrimaryEmailAddr holds at most {MAX_ADDRESS_CHARS}"
        )
    return value


def customer_addresses(customer: dict[str, Any]) -> list[str]:
    return split_addresses((customer.get("PrimaryEmailAddr") or {}).get("Address"))


def recipient_id(customer_id: str, address: str) -> str:
    """Stable id of one recipient of one customer: ``<customer id>:<address, lower case>``."""
    return f"{customer_id}:{address.strip().lower()}"


def parse_recipient_id(value: str) -> tuple[str, str]:
    customer_id, sep, address = str(value).partition(":")
    if not sep or not customer_id.isdigit() or "@" not in address:
        raise RecordRejected(f"not a QuickBooks invoice recipient id (customer:address): {value!r}")
    return customer_id, address
