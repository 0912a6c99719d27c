"""The Acronis simulator's data: a partner, its customers, their services, and billing gaps.

Seeded deterministically from ``seed`` and ``size`` (the number of customer tenants).
Records have the shapes the vendor documents: tenants, contacts, offering items and
usage as the Account Management spec's schemas (``tenant``, ``items_2``, ``items_3``,
``usageOutput``); customers, billing entities, products and static form data as the
guide's example answers; contracts and contract parts as the Advanced Automation spec's
``Contract`` and ``ContractPart`` (plus ``Id``, which its own examples carry).

Customers are seeded in a cycle of seven situations, so every kind of gap the billing
report looks for is present (:meth:`SimData.seeded_gaps` is the list, known from the
seeding, not recomputed from the data):

0. complete: billing information, services, a contract billing exactly the usage;
1. no billing information, services and no contract (two gaps);
2. billing information, services, no contract;
3. a contract whose workstation part bills fewer than are used;
4. no billing information and nothing used;
5. billing information, services of the *advanced* edition only, no contract (found only
   when offering items are read with ``edition=*``);
6. a contract whose server part bills more than are used, beside a part for a product
   that is no Acronis service (a managed-services fee, never compared with usage).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["APPLICATION_ID", "CATALOG", "SimData", "iso", "seed"]

APPLICATION_ID = "6e6d758d-8e74-3ae3-ac84-50eb0dff12eb"  # Cyber Protection (fixed per platform)
#: the offering items every customer has enabled: (name, usage_name, edition, type, unit)
CATALOG: list[tuple[str, str, str | None, str, str]] = [
    ("workstations", "workstations", "standard", "count", "quantity"),
    ("servers", "servers", "standard", "count", "quantity"),
    ("vms", "vms", "standard", "count", "quantity"),
    ("storage", "storage", "standard", "infra", "bytes"),
    ("adv_workstations", "workstations", "advanced", "count", "quantity"),
    ("local_storage", "local_storage", None, "feature", "n/a"),
]
#: Advanced Automation products: (name, price, usable in contracts)
PRODUCTS: list[tuple[str, float, bool]] = [
    ("workstations", 4.5, True),
    ("servers", 22.0, True),
    ("vms", 15.0, True),
    ("storage", 0.12, True),
    ("Cyber Protect Advanced - Workstation", 7.25, True),
    ("Managed services fee", 250.0, True),
    ("Onsite hour", 95.0, False),
]
#: which product the advanced workstations bill as (given to the connector as a setting)
PRODUCT_OVERRIDES = {"adv_workstations": "Cyber Protect Advanced - Workstation"}
COUNTRIES = ["United States", "Canada", "United Kingdom", "Germany", "Netherlands", "Bulgaria", "Australia"]
PART_TYPES = ["Default type", "Managed Service", "ICT Service"]
NAMES = [
    "Acme Dental",
    "Birch & Lowe LLP",
    "Cobalt Freight",
    "Dunmore Clinic",
    "Elm Street Bakery",
    "Fjord Analytics",
    "Granite Title Co",
    "Harbor Vet Group",
    "Iris Architects",
    "Juniper Schools",
    "Kestrel Aviation",
    "Lumen Optics",
    "Maple Credit Union",
    "Northwind Traders",
]
GIB = 1024**3
SIM_HOST_TENANT = "b8c1f2de-0000-4000-8000-000000000001"


def iso(value: datetime) -> str:
    """RFC 3339 as Account Management writes it (``item1``: no zone, whole seconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def aa_time(value: datetime) -> str:
    """Advanced Automation's "RFC3339-like date and time without timezone"."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class SimData:
    """Every record the simulator holds, indexed the way its endpoints read them."""

    partner_id: str
    client_id: str
    client_secret: str
    now: datetime
    tenants: dict[str, dict[str, Any]] = field(default_factory=dict)
    level: dict[str, int] = field(default_factory=dict)
    offering: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    usage: dict[str, dict[str, int]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    countries: dict[str, str] = field(default_factory=dict)
    part_types: dict[str, str] = field(default_factory=dict)
    sla: dict[str, dict[str, Any]] = field(default_factory=dict)
    gaps: list[tuple[str, str, str | None]] = field(default_factory=list)
    _rng: random.Random = field(default_factory=random.Random)

    # -- ids -----------------------------------------------------------------------------

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    # -- Account Management records ---------------------------------------------------------

    def add_tenant(
        self,
        name: str,
        kind: str,
        parent_id: str,
        *,
        contact: dict[str, Any] | None = None,
        when: datetime,
        tenant_id: str | None = None,
    ) -> dict[str, Any]:
        tenant_id = tenant_id or self.new_id()
        stamp = iso(when)
        tenant = {
            "id": tenant_id,
            "parent_id": parent_id,
            "version": 1,
            "created_at": stamp,
            "updated_at": stamp,
            "deleted_at": None,
            "contacts": [],
            "offering_items": [],
            "name": name,
            "kind": kind,
            "enabled": True,
            "customer_type": "default",
            "customer_id": None,
            "brand_id": 1,
            "brand_uuid": "03fa8bf4-28f2-11e7-ba28-cbe99c3c450a",
            "brand_enabled": True,
            "barrier": 0,
            "internal_tag": None,
            "language": "en",
            "owner_id": None,
            "has_children": False,
            "default_idp_id": "e6f73a28-ff2e-4728-8f78-49eb74b20fce",
            "update_lock": {"enabled": False, "owner_id": None},
            "ancestral_access": True,
            "mfa_status": "disabled",
            "pricing_mode": "production",
            "production_start_date": None,
            "contact": self._contact(tenant_id, contact or {}, ["legal"], when),
        }
        self.tenants[tenant_id] = tenant
        self.level[tenant_id] = self.level[parent_id] + 1 if parent_id in self.level else 0
        parent = self.tenants.get(parent_id)
        if parent is not None:
            parent["has_children"] = True
        return tenant

    def _contact(self, tenant_id: str, values: dict[str, Any], types: list[str], when: datetime) -> dict[str, Any]:
        base = {
            "id": self.new_id(),
            "created_at": iso(when),
            "updated_at": iso(when),
            "tenant_id": tenant_id,
            "types": types,
            "email": "",
            "address1": "",
            "address2": "",
            "country": "",
            "state": "",
            "city": "",
            "zipcode": "",
            "phone": "",
            "firstname": "",
            "lastname": "",
            "title": "",
            "website": "",
            "industry": "",
            "organization_size": "",
            "email_confirmed": False,
            "aan": None,
        }
        base.update({k: v for k, v in values.items() if k in base or k in ("fax", "language")})
        return base

    def add_billing_contact(self, tenant_id: str, email: str, when: datetime) -> None:
        contact = self._contact(
            tenant_id, {"email": email, "firstname": "Accounts", "lastname": "Payable"}, ["billing"], when
        )
        self.tenants[tenant_id]["contacts"].append(contact)

    def enable_catalog(self, tenant_id: str, when: datetime) -> None:
        items = []
        for name, usage_name, edition, kind, unit in CATALOG:
            item: dict[str, Any] = {
                "application_id": APPLICATION_ID,
                "name": name,
                "edition": edition,
                "usage_name": usage_name,
                "tenant_id": tenant_id,
                "updated_at": iso(when),
                "deleted_at": None,
                "status": 1,
                "locked": False,
                "type": kind,
                "measurement_unit": unit,
            }
            if kind != "feature":
                item["quota"] = {"value": None, "overage": None, "version": 0}
            items.append(item)
        self.offering[tenant_id] = items
        self.usage[tenant_id] = {}

    # -- Advanced Automation records ------------------------------------------------------------

    def add_customer(self, tenant: dict[str, Any], *, billing: dict[str, Any] | None) -> dict[str, Any]:
        """The tenant's Advanced Automation customer, with billing information or without."""
        customer_id = self.new_id()
        customer: dict[str, Any] = {
            "Id": customer_id,
            "Tenant": self.partner_id,
            "Name": tenant["name"],
            "DebtorCode": None,
            "Alias": tenant["name"],
            "Status": 2,
            "Language": None,
            "TaxExempt": False,
            "Tax": None,
            "Country": None,
            "StateCountry": None,
            "Street": None,
            "HouseNo": None,
            "HouseNoAdd": None,
            "Zipcode": None,
            "City": None,
            "Email": None,
            "FallbackInvoiceEmailAddress": None,
            "PhoneNumber": None,
            "VATNumber": "",
            "BankAccount": "",
            "DefaultSLA": next(iter(self.sla)),
            "SendInvoiceByEmail": False,
            "IsTier4": True,
            "PaidAccount": False,
            "TrialAccount": False,
            "PaymentTerms": 14,
            "DirectDebit": False,
            "SubtotalsOnInvoice": False,
            "ExternalTenantId": str(len(self.customers) + 110),
            "ExternalTenantUUID": tenant["id"],
            "AcronisTenantId": None,
            "CountryDescription": None,
            "CreationDate": aa_time(self.now),
            "CustomFields": [],
        }
        if billing:
            self.set_billing(customer, billing)
        self.customers[customer_id] = customer
        return customer

    def set_billing(self, customer: dict[str, Any], billing: dict[str, Any]) -> None:
        for key, value in billing.items():
            customer[key] = value
        if customer.get("Country"):
            customer["CountryDescription"] = self.countries.get(str(customer["Country"]))
        if customer.get("Email"):
            customer["FallbackInvoiceEmailAddress"] = customer["Email"]
        customer["PaidAccount"] = bool(customer.get("Street") and customer.get("Email"))

    def product_id(self, name: str) -> str:
        return next(pid for pid, p in self.products.items() if p["Name"] == name)

    def add_contract(self, customer_id: str, name: str, start: datetime, entity_id: str) -> dict[str, Any]:
        contract_id = self.new_id()
        customer = self.customers[customer_id]
        contract: dict[str, Any] = {
            "Id": contract_id,
            "Name": name,
            "StartDate": aa_time(start),
            "EndDate": "0001-01-01T00:00:00",
            "Customer": customer_id,
            "Street": customer.get("Street") or "",
            "BuildingName": "",
            "HouseNo": customer.get("HouseNo") or "",
            "HouseNoAdd": "",
            "City": customer.get("City") or "",
            "StateCountry": None,
            "Zipcode": customer.get("Zipcode") or "",
            "ReferenceNumber": "",
            "Incasso": False,
            "BillInAdvance": True,
            "PaymentIntervalInMonths": 1,
            "ContactEmail": customer.get("Email") or "",
            "Contact": "",
            "SendInvoiceByEmail": bool(customer.get("SendInvoiceByEmail")),
            "ContractParts": [],
            "BlockHours": False,
            "BlockHoursNumber": None,
            "RenewalThreshold": None,
            "BillingEntity": entity_id,
            "Retainer": False,
            "KeepRemainingHours": False,
            "ProRated": False,
            "CustomFields": [],
        }
        self.contracts[contract_id] = contract
        return contract

    def add_part(self, contract_id: str, product_id: str, quantity: float, price: float, start: str) -> dict[str, Any]:
        part_id = self.new_id()
        product = self.products[product_id]
        part = {
            "ProductName": product["Name"],
            "Product": product_id,
            "Id": part_id,
            "Discount": 0,
            "DiscountReason": "",
            "ActualQuantity": quantity,
            "MinBillableQuantity": 0,
            "Quantity": quantity,
            "Price": price,
            "EndDate": "0001-01-01T00:00:00",
            "StartDate": start,
            "Description": "",
            "APIConnection": None,
            "ServiceObjectGroup": None,
            "IsReadOnly": False,
            "ServiceLevelAgreement": next(iter(self.sla)),
            "ContractPartType": next(iter(self.part_types)),
            "AutomaticUpdate": False,
            "MachinesCount": None,
            "Contract": contract_id,
            "VARConnection": "00000000-0000-0000-0000-000000000000",
            "VARGroup": "00000000-0000-0000-0000-000000000000",
            "SubscriptionType": "00000000-0000-0000-0000-000000000000",
            "ShowUsersOnInvoice": False,
            "TrialPeriod": 0,
            "UserType": 0,
        }
        self.parts[part_id] = part
        return part

    def contract_view(self, contract: dict[str, Any]) -> dict[str, Any]:
        parts = [p for p in self.parts.values() if p["Contract"] == contract["Id"]]
        return {**contract, "ContractParts": parts}

    def seeded_gaps(self) -> list[tuple[str, str, str | None]]:
        """(gap kind, tenant id, product name or None) of every gap seeded."""
        return list(self.gaps)


def seed(size: int, seed_value: int, now: datetime, *, invoice_start: int = 5001) -> SimData:
    """A partner with ``size`` customer tenants in the cycle of the module docstring."""
    rng = random.Random(seed_value)
    partner_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    data = SimData(
        partner_id=partner_id,
        client_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        client_secret=f"sim-secret-{rng.getrandbits(64):016x}",
        now=now,
        _rng=rng,
    )
    start = now - timedelta(days=400)
    for name in COUNTRIES:
        data.countries[str(uuid.uuid5(uuid.NAMESPACE_URL, f"acronis-sim/country/{name}"))] = name
    for name in PART_TYPES:
        data.part_types[str(uuid.uuid5(uuid.NAMESPACE_URL, f"acronis-sim/part-type/{name}"))] = name
    sla_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "acronis-sim/sla/default"))
    data.sla[sla_id] = {"Id": sla_id, "Name": "Default SLA"}
    data.add_tenant("Summit IT Partners", "partner", SIM_HOST_TENANT, when=start, tenant_id=partner_id)
    folder = data.add_tenant("Managed clients", "folder", partner_id, when=start)
    for name, price, in_contracts in PRODUCTS:
        pid = data.new_id()
        data.products[pid] = {
            "Id": pid,
            "Name": name,
            "Price": price,
            "Cost": round(price * 0.6, 2),
            "Active": True,
            "ViewInContract": in_contracts,
            "Ledger": None,
            "Description": None,
            "LastChangeDate": aa_time(start),
            "ExternalIdNumber": None,
            "AcronisId": None,
        }
    entity_id = data.new_id()
    data.entities[entity_id] = {
        "Id": entity_id,
        "Tenant": partner_id,
        "Name": "Default billing entity",
        "BankAccountNumber": "",
        "Active": True,
        "InvoiceSerialNumber": "10000",
        "InvoiceStartNumber": invoice_start,
        "ResetedInvoiceNumber": False,
        "IsUsed": False,
        "IsDefault": True,
        "InvoiceDueDays": 14,
        "HideInvoiceNumberPrefix": False,
        "BillDaysInAdvance": 20,
        "LastChangeDate": None,
    }
    countries = list(data.countries)
    for i in range(size):
        situation = i % 7
        name = NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else f" {i // len(NAMES) + 1}")
        parent = folder["id"] if i % 3 == 2 else partner_id
        created = start + timedelta(days=i)
        street = f"{100 + i} {rng.choice(['Main St', 'Oak Ave', 'Harbor Rd', 'Mill Lane'])}"
        contact = {
            "email": f"office@{_domain(name)}",
            "address1": street,
            "city": "Albany",
            "state": "NY",
            "zipcode": f"122{i % 100:02d}",
            "country": "USA",
            "phone": f"518-555-{i:04d}",
            "firstname": "Office",
            "lastname": "Manager",
        }
        tenant = data.add_tenant(name, "customer", parent, contact=contact, when=created)
        data.add_tenant(f"{name} - Branch", "unit", tenant["id"], when=created)
        data.enable_catalog(tenant["id"], created)
        if i % 2 == 0:
            data.add_billing_contact(tenant["id"], f"billing@{_domain(name)}", created)
        usage = data.usage[tenant["id"]]
        if situation != 4:
            if situation == 5:
                usage["adv_workstations"] = 5 + i
            else:
                usage["workstations"] = 10 + i
                usage["servers"] = 1 + i % 3
                usage["storage"] = (200 + 10 * i) * GIB + 12345
        billing = None
        if situation not in (1, 4):
            billing = {
                "Street": street,
                "Zipcode": contact["zipcode"],
                "City": "Albany",
                "Country": countries[0],
                "Email": f"billing@{_domain(name)}",
                "SendInvoiceByEmail": True,
            }
        customer = data.add_customer(tenant, billing=billing)
        if situation in (0, 3, 6):
            contract = data.add_contract(customer["Id"], f"{name} - Services", created, entity_id)
            for item in ("workstations", "servers", "storage"):
                quantity = float(usage.get(item, 0))
                if item == "storage":
                    quantity = float(-(-usage.get(item, 0) // GIB))
                if situation == 3 and item == "workstations":
                    quantity -= 3
                if situation == 6 and item == "servers":
                    quantity += 2
                pid = data.product_id(item)
                data.add_part(contract["Id"], pid, quantity, data.products[pid]["Price"], contract["StartDate"])
            if situation == 6:
                fee = data.product_id("Managed services fee")
                data.add_part(contract["Id"], fee, 1, 250.0, contract["StartDate"])
        if situation in (1, 4):
            data.gaps.append(("no_billing_information", tenant["id"], None))
        if situation in (1, 2, 5):
            data.gaps.append(("services_without_contract", tenant["id"], None))
        if situation == 3:
            data.gaps.append(("quantity_differs_from_usage", tenant["id"], "workstations"))
        if situation == 6:
            data.gaps.append(("quantity_differs_from_usage", tenant["id"], "servers"))
    return data


def _domain(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())[:20] + ".example"
