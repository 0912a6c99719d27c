"""The simulator's company file: seeded customers and invoices, kept in memory with indexes.

Deterministic for a (seed, size): names, addresses, invoice e-mail and change times come
from one ``random.Random``. Customers' change times spread over two years with a share
inside Change Data Capture's 30-day window; invoices are recent. Some invoices went to
an address the customer no longer lists, some have Cc/Bcc, some were never sent - the
differences the recipient report exists to find.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from connectors.quickbooks.simquery import Condition, matches, sort_key

#: QuickBooks answers in the company's time zone; the simulated company is on US Pacific (standard) time
COMPANY_TZ = timezone(timedelta(hours=-8))

_FIRST = [
    "Harbor",
    "Summit",
    "Blue Ridge",
    "Cedar",
    "Northwind",
    "Pioneer",
    "Granite",
    "Lakeside",
    "Amy's",
    "O'Brien",
    "Redwood",
    "Silver Lake",
    "Maple",
    "Coastal",
    "Evergreen",
    "Prairie",
    "Riverbend",
    "Golden Gate",
    "Oak & Iron",
    "Sunrise",
    "Weiskopf",
    "Back\\Slash",
]
_SECOND = [
    "Dental",
    "Bird Sanctuary",
    "Law",
    "Accounting",
    "Veterinary",
    "Logistics",
    "Realty",
    "Bakery",
    "Construction",
    "Pediatrics",
    "Insurance",
    "Auto Repair",
    "Design",
    "Chiropractic",
    "Consulting",
]
_SUFFIX = ["", " LLC", " Inc.", " Group", " & Associates", " Co.", " Partners", " Clinic"]
_GIVEN = ["Amy", "Nicola", "Jordan", "Priya", "Marcus", "Elena", "Tom", "Grace", "Luis", "Mei"]
_FAMILY = ["Lauterbach", "Weiskopf", "Okafor", "Nguyen", "Schmidt", "Rossi", "Kowalski", "Haddad", "Silva"]
_LOCAL = ["billing", "accounts", "ap", "office", "invoices", "finance"]
_CITIES = [
    ("Bayshore", "CA", "94326"),
    ("Portland", "OR", "97201"),
    ("Boise", "ID", "83702"),
    ("Reno", "NV", "89501"),
    ("Tacoma", "WA", "98402"),
]


def stamp(when: datetime) -> str:
    """A QuickBooks timestamp: company time zone, whole seconds."""
    return when.astimezone(COMPANY_TZ).replace(microsecond=0).isoformat()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())[:18] or "example"


class CompanyFile:
    """Customers and invoices of one realm, with the indexes the endpoints need."""

    def __init__(self, size: int, seed: int, now: datetime, invoice_ratio: float = 1.0) -> None:
        self.rng = random.Random(seed)
        self.customers: dict[int, dict[str, Any]] = {}
        self.invoices: dict[int, dict[str, Any]] = {}
        #: epoch seconds of each object's last change, for CDC scans
        self.changed: dict[str, dict[int, float]] = {"Customer": {}, "Invoice": {}}
        #: lower-cased DisplayName -> customer id (names are unique in QuickBooks)
        self.names: dict[str, int] = {}
        #: deleted (merged) customers: (id, when)
        self.tombstones: list[tuple[int, datetime]] = []
        self.version = {"Customer": 0, "Invoice": 0}
        self._cache: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self._next_invoice = 1001
        for _ in range(size):
            self._seed_customer(now)
        for customer in list(self.customers.values()):
            for _ in range(self._invoice_count(invoice_ratio)):
                self._seed_invoice(customer, now)

    # -- seeding ----------------------------------------------------------------------

    def _invoice_count(self, ratio: float) -> int:
        whole = int(ratio)
        return whole + (1 if self.rng.random() < ratio - whole else 0)

    def _seed_customer(self, now: datetime) -> None:
        rng = self.rng
        first, second = rng.choice(_FIRST), rng.choice(_SECOND)
        base = f"{first} {second}{rng.choice(_SUFFIX)}"
        name = base
        n = 2
        while name.lower() in self.names:
            name = f"{base} #{n}"
            n += 1
        domain = f"{_slug(first + second)}.example.com"
        locals_ = rng.sample(_LOCAL, rng.choice([1, 1, 1, 2, 2, 3]))
        addresses = ",".join(f"{local}@{domain}" for local in locals_)
        if len(addresses) > 100:
            addresses = f"{locals_[0]}@{domain}"
        city, state, postal = rng.choice(_CITIES)
        age = (
            timedelta(days=rng.uniform(0, 20)) if rng.random() < 0.1 else timedelta(days=rng.uniform(0, 730))
        )
        changed = now - age
        created = changed - timedelta(days=rng.uniform(0, 400))
        given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
        record: dict[str, Any] = {
            "domain": "QBO",
            "sparse": False,
            "SyncToken": str(rng.randint(0, 6)),
            "DisplayName": name,
            "CompanyName": name.split(" #")[0],
            "GivenName": given,
            "FamilyName": family,
            "FullyQualifiedName": name,
            "PrintOnCheckName": name.split(" #")[0],
            "Active": rng.random() > 0.08,
            "Job": False,
            "BillWithParent": False,
            "Taxable": rng.random() < 0.5,
            "Balance": 0,
            "BalanceWithJobs": 0,
            "PreferredDeliveryMethod": "Email",
            "PrimaryEmailAddr": {"Address": addresses},
            "PrimaryPhone": {"FreeFormNumber": f"({rng.randint(200, 989)}) 555-{rng.randint(1000, 9999)}"},
            "BillAddr": {
                "Line1": f"{rng.randint(10, 9999)} Main St.",
                "City": city,
                "CountrySubDivisionCode": state,
                "PostalCode": postal,
            },
        }
        self.insert_customer(record, created, changed)

    def _seed_invoice(self, customer: dict[str, Any], now: datetime) -> None:
        rng = self.rng
        listed = customer["PrimaryEmailAddr"]["Address"].split(",")
        domain = listed[0].split("@", 1)[1]
        roll = rng.random()
        if roll < 0.15:
            bill = f"former.{rng.choice(_LOCAL)}@{domain}"  # an address the customer no longer lists
        else:
            bill = listed[0]
        txn = (now - timedelta(days=rng.uniform(0, 80))).date()
        created = datetime(txn.year, txn.month, txn.day, 9, tzinfo=COMPANY_TZ)
        changed = min(now, created + timedelta(hours=rng.uniform(0, 72)))
        total = round(rng.uniform(90, 4800), 2)
        invoice: dict[str, Any] = {
            "domain": "QBO",
            "sparse": False,
            "SyncToken": "0",
            "DocNumber": str(self._next_invoice),
            "TxnDate": txn.isoformat(),
            "DueDate": (txn + timedelta(days=30)).isoformat(),
            "CustomerRef": {"value": customer["Id"], "name": customer["DisplayName"]},
            "BillEmail": {"Address": bill},
            "EmailStatus": rng.choice(["EmailSent", "EmailSent", "EmailSent", "NeedToSend", "NotSet"]),
            "TotalAmt": total,
            "Balance": total if rng.random() < 0.4 else 0,
            "Line": [
                {
                    "Id": "1",
                    "LineNum": 1,
                    "Amount": total,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": "1", "name": "Services"}},
                }
            ],
        }
        if len(listed) > 1 and rng.random() < 0.5:
            invoice["BillEmailCc"] = {"Address": listed[1]}
        if rng.random() < 0.05:
            invoice["BillEmailBcc"] = {"Address": f"bookkeeping@{domain}"}
        self.insert_invoice(invoice, created, changed)

    # -- storing ----------------------------------------------------------------------

    def insert_customer(self, record: dict[str, Any], created: datetime, changed: datetime) -> dict[str, Any]:
        cid = next(reversed(self.customers)) + 1 if self.customers else 1
        record["Id"] = str(cid)
        record["MetaData"] = {"CreateTime": stamp(created), "LastUpdatedTime": stamp(changed)}
        self.customers[cid] = record
        self.names[record["DisplayName"].lower()] = cid
        self.changed["Customer"][cid] = changed.timestamp()
        self.version["Customer"] += 1
        return record

    def insert_invoice(self, invoice: dict[str, Any], created: datetime, changed: datetime) -> dict[str, Any]:
        iid = self._next_invoice
        self._next_invoice += 1
        invoice["Id"] = str(iid)
        invoice.setdefault("DocNumber", str(iid))
        invoice["MetaData"] = {"CreateTime": stamp(created), "LastUpdatedTime": stamp(changed)}
        self.invoices[iid] = invoice
        self.changed["Invoice"][iid] = changed.timestamp()
        self.version["Invoice"] += 1
        return invoice

    def touched(self, entity: str, record: dict[str, Any], when: datetime) -> None:
        """Record a change: new SyncToken and LastUpdatedTime, indexes refreshed."""
        record["SyncToken"] = str(int(record.get("SyncToken") or 0) + 1)
        record["MetaData"]["LastUpdatedTime"] = stamp(when)
        self.changed[entity][int(record["Id"])] = when.timestamp()
        self.version[entity] += 1

    def rename(self, cid: int, old: str, new: str) -> None:
        self.names.pop(old.lower(), None)
        self.names[new.lower()] = cid

    def table(self, entity: str) -> dict[int, dict[str, Any]]:
        return {"Customer": self.customers, "Invoice": self.invoices}[entity]

    # -- querying ---------------------------------------------------------------------

    def select(
        self, entity: str, where: list[Condition], order_by: str, descending: bool
    ) -> list[dict[str, Any]]:
        """Matching records in order; cached per statement until the entity changes."""
        key = (entity, tuple(c.key() for c in where), order_by, descending, self.version[entity])
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        table = self.table(entity)
        by_id = next((c for c in where if c.field == "Id" and c.op == "="), None)
        if by_id is not None:
            one = table.get(int(by_id.value)) if str(by_id.value).isdigit() else None
            candidates = [one] if one is not None else []
        elif entity == "Customer" and any(c.field == "DisplayName" and c.op == "=" for c in where):
            name = next(str(c.value) for c in where if c.field == "DisplayName" and c.op == "=")
            found = self.names.get(name.lower())
            candidates = [table[found]] if found is not None else []
        else:
            candidates = list(table.values())
        rows = [r for r in candidates if all(matches(r, c) for c in where)]
        if order_by != "Id" or descending:
            rows.sort(key=lambda r: sort_key(r, order_by), reverse=descending)
        if len(self._cache) > 16:
            self._cache.clear()
        self._cache[key] = rows
        return rows

    def changed_since(self, entity: str, since: datetime) -> list[dict[str, Any]]:
        """Objects of ``entity`` changed at or after ``since``, oldest change first (CDC)."""
        floor = since.timestamp()
        table = self.table(entity)
        hits = sorted((t, i) for i, t in self.changed[entity].items() if t >= floor)
        out = [table[i] for _, i in hits]
        if entity == "Customer":
            out.extend(
                {
                    "domain": "QBO",
                    "status": "Deleted",
                    "Id": str(cid),
                    "MetaData": {"LastUpdatedTime": stamp(when)},
                }
                for cid, when in self.tombstones
                if when.timestamp() >= floor
            )
        return out
