"""What the existing-clients billing procedure decides, as pure functions over Acronis records.

No I/O here: the connector reads the records (tenants, offering items, usage, customers,
contracts, products, billing entities, invoices) and these functions say what a client
uses, whether its billing information is complete, which contract parts it needs, what
its contracts bill against what it uses, and which invoice number comes next.

Rules the vendor leaves open, chosen here and documented in docs/connectors/acronis.md:

* a *service* is an enabled offering item of type ``count`` or ``infra`` (features carry
  no quantity); a client *uses* it when its usage is above zero;
* the billable quantity is the usage's ``absolute_value`` (developer.acronis.com, usage
  sync: "Get the usage value from absolute_value field"), storage in whole GB of 1024³
  bytes rounded up, as Acronis's usage reports count it;
* billing information is complete when the customer has a street, postal code, city,
  country and billing e-mail (the API has no flag for it);
* a price is per unit and month; what a contract bills for a product is the sum of the
  ``Quantity`` of its parts in force; the amount at stake of a difference is
  ``(used - billed) x price x (1 - discount)``: positive is use that is not billed,
  negative is billing for more than is used;
* invoice numbers are compared by their last run of digits: Acronis numbers an invoice
  ``<batch>-<date>-<n>-<serial>-<number>`` (guide: "Fetch a list of invoices") and
  QuickBooks' DocNumber is free text such as ``1042`` or ``INV-1042``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

__all__ = [
    "BILLING_FIELDS",
    "Gap",
    "Numbering",
    "ProductIndex",
    "Service",
    "billed_by_product",
    "in_force",
    "missing_billing",
    "name_key",
    "next_invoice_number",
    "services",
    "trailing_number",
]

#: customer fields that make billing information complete, with their names for people
BILLING_FIELDS = {"Street": "street", "Zipcode": "postal code", "City": "city", "Country": "country", "Email": "e-mail"}
GIB = 1024**3
#: Advanced Automation writes "no date" as the year 1 (spec defaults ``0001-01-01T00:00:00Z``)
_NO_DATE = "0001-01-01"
_DIGITS = re.compile(r"(\d+)\D*$")


@dataclass(frozen=True)
class Service:
    """One enabled offering item of a tenant and how much of it the tenant uses."""

    name: str
    usage_name: str
    edition: str | None
    unit: str
    quantity: float

    @property
    def used(self) -> bool:
        return self.quantity > 0

    def label(self) -> str:
        unit = " GB" if self.unit == "bytes" else ""
        return f"{self.name}: {_number(self.quantity)}{unit}"


def billable_quantity(value: Any, unit: str) -> float:
    """Usage as the quantity a contract part bills: counts as they are, bytes in GB rounded up."""
    amount = float(value or 0)
    if amount < 0:
        raise ValueError(f"negative usage {value!r}")
    if unit == "bytes":
        return float(math.ceil(amount / GIB))
    return amount


def services(offering_items: Iterable[Mapping[str, Any]], usages: Iterable[Mapping[str, Any]]) -> list[Service]:
    """The tenant's services: enabled count/infra offering items, with their usage (0 if none)."""
    used: dict[str, float] = {}
    for usage in usages:
        name = str(usage.get("name") or "")
        value = usage.get("absolute_value", usage.get("value"))
        used[name] = used.get(name, 0.0) + float(value or 0)
    out: dict[str, Service] = {}
    for item in offering_items:
        if item.get("status") != 1 or item.get("type") not in ("count", "infra") or item.get("deleted_at"):
            continue
        name = str(item["name"])
        unit = str(item.get("measurement_unit") or "quantity")
        quantity = billable_quantity(used.get(name, 0.0), unit)
        if name in out:  # the same item on two infrastructures: one service, usage counted once
            continue
        out[name] = Service(name, str(item.get("usage_name") or name), item.get("edition"), unit, quantity)
    return sorted(out.values(), key=lambda s: s.name)


def missing_billing(customer: Mapping[str, Any]) -> list[str]:
    """The billing fields a customer lacks, by their names for people (empty: complete)."""
    return [label for key, label in BILLING_FIELDS.items() if not str(customer.get(key) or "").strip()]


def _day(value: Any) -> date | None:
    text = str(value or "")[:10]
    if not text or text == _NO_DATE:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def in_force(record: Mapping[str, Any], today: date) -> bool:
    """A contract or contract part that has started and not ended (no end date: forever)."""
    start, end = _day(record.get("StartDate")), _day(record.get("EndDate"))
    return (start is None or start <= today) and (end is None or end >= today)


class ProductIndex:
    """Advanced Automation products by name, and the product each Acronis service bills as.

    A service's product is the one named in ``overrides`` (HUB_ACRONIS__PRODUCTS) for the
    offering item's name or usage name, else the product named like the offering item
    (case and surrounding space ignored). No product ids ship with the hub.
    """

    def __init__(self, products: Iterable[Mapping[str, Any]], overrides: Mapping[str, str]) -> None:
        self.by_name: dict[str, dict[str, Any]] = {}
        self.by_id: dict[str, dict[str, Any]] = {}
        for product in products:
            record = dict(product)
            self.by_id[str(record.get("Id"))] = record
            if record.get("Active", True):
                self.by_name.setdefault(name_key(record.get("Name")), record)
        self.overrides = {name_key(k): v for k, v in overrides.items()}

    def wanted_name(self, service: Service) -> str:
        return (
            self.overrides.get(name_key(service.name))
            or self.overrides.get(name_key(service.usage_name))
            or service.name
        )

    def for_service(self, service: Service) -> dict[str, Any] | None:
        return self.by_name.get(name_key(self.wanted_name(service)))

    def problem(self, service: Service) -> str | None:
        """Why ``service`` cannot become a contract part (None: it can)."""
        product = self.for_service(service)
        wanted = self.wanted_name(service)
        if product is None:
            return (
                f"no active Advanced Automation product is named {wanted!r} (for the service {service.name}); "
                f"create it in Sales and billing > Products or map the service with HUB_ACRONIS__PRODUCTS"
            )
        if not product.get("ViewInContract", True):
            return f"the product {wanted!r} cannot be used in contracts; enable 'Use in contracts' on it"
        return None

    def service_of(self, product_id: str, client_services: Iterable[Service]) -> Service | None:
        """The client's service billed as the product ``product_id``, if any."""
        for service in client_services:
            product = self.for_service(service)
            if product is not None and str(product.get("Id")) == product_id:
                return service
        return None


def name_key(value: Any) -> str:
    """A name as it is compared: case, and runs of spaces, ignored."""
    return " ".join(str(value or "").split()).casefold()


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass
class Billed:
    """What a client's contracts in force bill for one product."""

    quantity: float = 0.0
    price: float = 0.0
    discount: float = 0.0
    parts: list[str] = field(default_factory=list)


def billed_by_product(parts: Iterable[Mapping[str, Any]], today: date) -> dict[str, Billed]:
    """Product id -> the quantity the client's parts in force bill, at the first part's price."""
    out: dict[str, Billed] = {}
    for part in parts:
        if not in_force(part, today):
            continue
        billed = out.setdefault(str(part.get("Product")), Billed())
        if not billed.parts:
            billed.price = float(part.get("Price") or 0)
            billed.discount = float(part.get("Discount") or 0)
        billed.quantity += float(part.get("Quantity") or 0)
        billed.parts.append(str(part.get("Id") or ""))
    return out


@dataclass(frozen=True)
class Gap:
    """One billing gap of one client, with the monthly amount it puts at stake."""

    kind: str
    tenant_id: str
    client: str
    detail: str
    monthly_amount: float
    customer_id: str | None = None
    contract_id: str | None = None
    product: str | None = None
    billed_quantity: float | None = None
    used_quantity: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


NO_BILLING_INFO = "no_billing_information"
NO_CONTRACT = "services_without_contract"
QUANTITY_DIFFERS = "quantity_differs_from_usage"


def list_value(client_services: Iterable[Service], products: ProductIndex) -> tuple[float, list[str]]:
    """Monthly value of the services used at list price, and the services without a product."""
    total, unpriced = 0.0, []
    for service in client_services:
        if not service.used:
            continue
        product = products.for_service(service)
        if product is None:
            unpriced.append(service.name)
            continue
        total += service.quantity * float(product.get("Price") or 0)
    return round(total, 2), unpriced


def client_gaps(
    tenant: Mapping[str, Any],
    customer: Mapping[str, Any] | None,
    client_services: list[Service],
    contracts: Sequence[Mapping[str, Any]],
    parts: Sequence[Mapping[str, Any]],
    products: ProductIndex,
    today: date,
) -> list[Gap]:
    """The gaps of one client (see the module docstring for the amounts)."""
    tenant_id, name = str(tenant["id"]), str(tenant.get("name") or tenant["id"])
    customer_id = str(customer["Id"]) if customer else None
    active = [c for c in contracts if in_force(c, today)]
    live_parts = [p for p in parts if in_force(p, today)]
    billed = billed_by_product(live_parts, today)
    gaps: list[Gap] = []
    missing = missing_billing(customer or {})
    if missing:
        if active:
            amount = sum(b.quantity * b.price * (1 - b.discount / 100) for b in billed.values())
            what = "its contracts cannot be invoiced"
        else:
            amount, _unpriced = list_value(client_services, products)
            what = "nothing it uses can be invoiced"
        detail = f"no billing information ({', '.join(missing)} missing): {what}"
        gaps.append(Gap(NO_BILLING_INFO, tenant_id, name, detail, round(amount, 2), customer_id))
    used = [s for s in client_services if s.used]
    if used and not active:
        amount, unpriced = list_value(used, products)
        detail = "uses " + ", ".join(s.label() for s in used) + " with no contract"
        if unpriced:
            detail += f" (no product priced for {', '.join(unpriced)})"
        gaps.append(Gap(NO_CONTRACT, tenant_id, name, detail, amount, customer_id))
    for product_id, bill in sorted(billed.items()):
        service = products.service_of(product_id, client_services)
        if service is None or math.isclose(bill.quantity, service.quantity):
            continue
        product_name = str(products.by_id.get(product_id, {}).get("Name") or product_id)
        diff = service.quantity - bill.quantity
        amount = round(diff * bill.price * (1 - bill.discount / 100), 2)
        direction = "not billed" if diff > 0 else "billed but not used"
        contract = next((str(p.get("Contract")) for p in live_parts if str(p.get("Product")) == product_id), None)
        detail = (
            f"{product_name}: contract bills {_number(bill.quantity)}, usage is {_number(service.quantity)} "
            f"({_number(abs(diff))} {direction})"
        )
        gaps.append(
            Gap(
                QUANTITY_DIFFERS,
                tenant_id,
                name,
                detail,
                amount,
                customer_id,
                contract,
                product_name,
                bill.quantity,
                service.quantity,
            )
        )
    return gaps


# -- invoice numbering ------------------------------------------------------------------


def trailing_number(text: Any) -> int | None:
    """The last run of digits in an invoice number (``1-20241010-0-11111-4`` -> 4), or None."""
    match = _DIGITS.search(str(text or ""))
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Numbering:
    """A billing entity's invoice numbering: where it starts, what it issued, what comes next."""

    billing_entity_id: str
    billing_entity: str
    serial: str
    start_number: int
    issued: int
    highest_issued: int | None
    next_number: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose_entity(entities: Sequence[Mapping[str, Any]], name: str | None) -> Mapping[str, Any]:
    """The billing entity named ``name``, else the default one, else the only active one."""
    active = [e for e in entities if e.get("Active", True)]
    if name:
        for entity in entities:
            if name_key(entity.get("Name")) == name_key(name):
                return entity
        known = ", ".join(repr(str(e.get("Name"))) for e in entities) or "none"
        raise LookupError(f"no billing entity is named {name!r}; billing entities: {known}")
    default = [e for e in active if e.get("IsDefault")]
    if default:
        return default[0]
    if len(active) == 1:
        return active[0]
    raise LookupError(
        "no default billing entity and more than one (or none) active; name one with the workflow's billing_entity"
    )


def next_invoice_number(entity: Mapping[str, Any], invoices: Iterable[Mapping[str, Any]]) -> Numbering:
    """The number the entity gives its next invoice: its start number, or past the last it issued.

    ``InvoiceStartNumber`` is where numbering begins (the guide's entity starts at 4 and
    has issued 4, 5 and 6), so the next number is the larger of it and the highest
    issued number plus one. Invoices belong to the entity by its name (the invoice list
    carries ``BillingEntityName`` only).
    """
    name = str(entity.get("Name") or "")
    numbers = [
        n
        for inv in invoices
        if name_key(inv.get("BillingEntityName")) == name_key(name)
        and (n := trailing_number(inv.get("InvoiceNumber"))) is not None
    ]
    start = int(entity.get("InvoiceStartNumber") or 1)
    highest = max(numbers) if numbers else None
    return Numbering(
        billing_entity_id=str(entity.get("Id")),
        billing_entity=name,
        serial=str(entity.get("InvoiceSerialNumber") or ""),
        start_number=start,
        issued=len(numbers),
        highest_issued=highest,
        next_number=max(start, (highest or 0) + 1),
    )
