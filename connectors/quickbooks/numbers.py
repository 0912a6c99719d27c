"""Invoice numbers in QuickBooks, as another billing system must number around them.

QuickBooks' ``DocNumber`` is free text (``1042``, ``INV-1042``, ``2024/117``); what
collides with another system's numbering is its number, taken here as the last run of
digits. The highest one is found by reading every invoice (``SELECT * FROM Invoice``,
paged by ``STARTPOSITION``): ``ORDERBY DocNumber`` would sort the text, which puts
``999`` after ``1042``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["doc_number_value", "highest_invoice_number"]

_DIGITS = re.compile(r"(\d+)\D*$")


def doc_number_value(doc_number: Any) -> int | None:
    """The number in a DocNumber (its last run of digits), or None if it has none."""
    match = _DIGITS.search(str(doc_number or ""))
    return int(match.group(1)) if match else None


def highest_invoice_number(invoices: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``highest_number`` (0 when no DocNumber has digits), its ``doc_number`` and how many invoices."""
    best: tuple[int, str] | None = None
    count = 0
    for invoice in invoices:
        count += 1
        value = doc_number_value(invoice.get("DocNumber"))
        if value is not None and (best is None or value > best[0]):
            best = (value, str(invoice.get("DocNumber")))
    return {
        "highest_number": best[0] if best else 0,
        "doc_number": best[1] if best else None,
        "invoices": count,
    }
