"""The Acronis Cyber Protect Cloud connector: Account Management and Advanced Automation.

What the hub reads: the partner's customer tenants (a stream), each tenant's enabled
offering items and usage, and in Advanced Automation (the vendor's PSA and billing
module) the customers' billing information, contracts and their parts, products and
prices, billing entities and issued invoices. What it writes: customer tenants
(``tenants``: create, and updates that carry the ``version`` read, a 409 being a
conflict), and through workflow actions a customer's billing information, a contract
with one part per service, nothing else.

The actions are what the existing-clients billing procedure needs (workflow
``onboard-existing-client-billing-acronis``) and what ``hub report acronis-billing``
reports. Each action that writes reads first and is idempotent per step: a retried step
(or a second run) finds what the first did and does not do it again.

Limits: Acronis publishes no request budget for these APIs. The hub keeps this
credential to 5 calls in flight and 10 a second (our choice, not a vendor figure) and
the HTTP layer backs off on 429 and 5xx.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from hub.sdk import (
    ActionContext,
    CheckResult,
    ConfigError,
    Connector,
    ConnectorContext,
    ErrorPolicy,
    HttpClient,
    NotFoundError,
    PermissionDeniedError,
    RateLimit,
    RecordRejected,
    Sandbox,
    Stream,
    VendorError,
    WriteResult,
    action,
    send_once,
)

from . import billing
from .api import AcronisApi, vendor_message
from .auth import AcronisAuth
from .settings import AcronisSettings
from .streams import TenantsStream

__all__ = ["AcronisConnector"]

_UUID = re.compile(r"^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$")
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
#: country names people write that Advanced Automation lists under another name
_COUNTRY_ALIASES = {
    "usa": "United States",
    "us": "United States",
    "u.s.": "United States",
    "u.s.a.": "United States",
    "united states of america": "United States",
    "uk": "United Kingdom",
    "gb": "United Kingdom",
    "great britain": "United Kingdom",
}
#: tenant fields a write may not carry (Acronis sets them)
_TENANT_SYSTEM_FIELDS = ("id", "version", "created_at", "updated_at", "deleted_at", "parent_id", "kind")


class TenantParams(BaseModel):
    """Which client: its Account Management tenant id, or its exact name."""

    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(min_length=1, description="customer tenant id (UUID) or its exact name")


class BillingInfoParams(TenantParams):
    """A customer's billing information as a person confirmed it (None: nobody gave it)."""

    street: str | None = None
    zipcode: str | None = None
    city: str | None = None
    country: str | None = Field(default=None, description="the country's name as Advanced Automation lists it")
    email: str | None = Field(default=None, description="where invoices go")
    house_no: str | None = None
    phone: str | None = None
    send_invoice_by_email: bool = True

    def missing(self) -> list[str]:
        """The required fields nobody gave, by their names for people."""
        given = {
            "street": self.street,
            "postal code": self.zipcode,
            "city": self.city,
            "country": self.country,
            "e-mail": self.email,
        }
        return [name for name, value in given.items() if not (value or "").strip()]


class ContractParams(TenantParams):
    """The contract the client gets when it has none."""

    name: str = Field(min_length=1, max_length=200, description="the contract's name")
    start_date: date
    billing_entity: str | None = Field(default=None, description="billing entity name (default: the default one)")
    payment_interval_months: int = Field(default=1, ge=1, le=12)
    bill_in_advance: bool = True


class NumberingParams(BaseModel):
    """Which billing entity's numbering to read, and the number its next invoice must exceed."""

    model_config = ConfigDict(extra="forbid")

    billing_entity: str | None = Field(default=None, description="billing entity name (default: the default one)")
    must_exceed: int | None = Field(default=None, ge=0, description="the highest number the accounting system has")
    accounting_doc_number: str | None = Field(default=None, description="that number as the accounting system wrote it")


class NoParams(BaseModel):
    """An action that takes nothing."""

    model_config = ConfigDict(extra="forbid")


class GapsParams(BaseModel):
    """All clients, or one."""

    model_config = ConfigDict(extra="forbid")

    tenant: str | None = None


class AcronisConnector(Connector):
    """Acronis Cyber Protect Cloud: Account Management v2 and Advanced Automation (PSA) v1."""

    name = "acronis"
    version = "1.0.0"
    title = "Acronis Cyber Protect Cloud"
    #: the billing role: ``hub report acronis-billing`` runs its billing_gaps action
    roles = {"billing": {}}
    settings_model = AcronisSettings
    stream_classes: ClassVar[list[type[Stream]]] = [TenantsStream]
    writable: ClassVar[dict[str, str]] = {"tenants": "organization"}
    #: a customer tenant is named uniquely under its partner: a create whose answer was lost
    #: is found by its name (hub.writes)
    natural_keys: ClassVar[dict[str, tuple[tuple[str, ...], ...]]] = {"tenants": (("name",),)}
    rate_limits: ClassVar[list[RateLimit]] = [RateLimit(requests=10, per_seconds=1, concurrent=5)]
    has_webhooks = False
    auth_settings = ("client_id", "client_secret", "datacenter_url")

    settings: AcronisSettings

    def __init__(self, settings: AcronisSettings, context: ConnectorContext | None = None) -> None:
        super().__init__(settings, context)
        self._client: HttpClient | None = None
        self._auth: AcronisAuth | None = None
        self._api: AcronisApi | None = None

    # -- HTTP ---------------------------------------------------------------------------

    def client(self) -> HttpClient:
        if self._client is None:
            self._auth = AcronisAuth(
                self.name,
                self.settings.datacenter_url,
                self.settings.client_id,
                self.settings.client_secret,
                self.context.clock,
            )
            hint = "HUB_ACRONIS__CLIENT_ID, HUB_ACRONIS__CLIENT_SECRET"
            self._client = self.make_client(
                self.settings.datacenter_url,
                budget_key=f"{self.name}:{self.settings.datacenter_url}:{self.settings.client_id}",
                auth=self._auth,
                headers={"Accept": "application/json"},
                # Advanced Automation creates contracts and contract parts with PUT, and
                # reads customers with POST (the vendor's guide): a lost answer to the
                # former is looked up before anything is sent again, the latter is retried
                policy=ErrorPolicy(
                    auth_hint=hint,
                    creating_paths=(r"/api/advanced-automation/v1/(Contracts|ContractPart)$",),
                    replayable_posts=(r"/api/advanced-automation/v1/Customer$",),
                ),
                vendor_message=vendor_message,
            )
        return self._client

    @property
    def api(self) -> AcronisApi:
        if self._api is None:
            self._api = AcronisApi(self.client(), self.settings.client_id, self.settings.page_size)
        return self._api

    @property
    def auth(self) -> AcronisAuth:
        """The token flow (how many tokens it fetched, for ``check`` and tests)."""
        self.client()
        assert self._auth is not None
        return self._auth

    def check(self) -> CheckResult:
        """The first-run checklist: the data center answers, the API client is accepted and
        sees its partner tenant, and it may use Advanced Automation."""
        api = self.api
        partner = api.tenant(api.partner_id())
        details = {
            "data center": self.settings.datacenter_url,
            "API client": self.settings.client_id,
            "partner tenant": f"{partner.get('name')} ({partner.get('id')})",
            "token": f"issued ({self.auth.issued} this session)",
        }
        try:
            entities = api.billing_entities()
        except (PermissionDeniedError, NotFoundError) as exc:
            raise PermissionDeniedError(
                "the API client may not use Advanced Automation: activate Advanced Automation for the partner and "
                "create the API client as an administrator with access to it (see docs/connectors/acronis.md, "
                "first run)",
                connector=self.name,
                method=exc.method,
                url=exc.url,
                status=exc.status,
                vendor_message=exc.vendor_message,
            ) from None
        default = next((e for e in entities if e.get("IsDefault")), None)
        details["advanced automation"] = f"reachable ({len(entities)} billing entities)"
        if default is not None:
            details["default billing entity"] = str(default.get("Name"))
        return CheckResult(ok=True, details=details)

    # -- generic reads and writes (tenants) ---------------------------------------------------

    def get(self, entity: str, id: str) -> dict[str, Any]:
        if entity != "tenants":
            raise ConfigError(f"acronis cannot read single {entity} records; entities: tenants")
        return self.api.tenant(id)

    def find(self, entity: str, criteria: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Customer tenants whose fields equal ``criteria`` (read through the tenant list)."""
        if entity != "tenants":
            raise ConfigError(f"acronis cannot look {entity} records up; entities: tenants")
        return [t for t in self.api.customer_tenants() if all(t.get(k) == v for k, v in criteria.items())]

    def create(self, entity: str, payload: dict[str, Any], *, key: str | None = None) -> WriteResult:
        if entity != "tenants":
            raise ConfigError(f"acronis cannot create {entity}; writable: tenants")
        body = {k: v for k, v in payload.items() if k not in _TENANT_SYSTEM_FIELDS}
        if not str(body.get("name") or "").strip():
            raise RecordRejected("acronis tenants need a name")
        record = self.api.create_tenant(body)
        return WriteResult(str(record["id"]), record)

    def update(self, entity: str, id: str, changes: dict[str, Any], *, key: str | None = None) -> WriteResult:
        """``PUT /tenants/{id}`` carrying the version just read; a 409 (the tenant moved in
        between) is a :class:`~hub.sdk.ConflictError` and nothing is applied."""
        if entity != "tenants":
            raise ConfigError(f"acronis cannot update {entity}; writable: tenants")
        body = {k: v for k, v in changes.items() if k not in _TENANT_SYSTEM_FIELDS}
        current = self.api.tenant(id)
        if _holds(current, body):
            return WriteResult(id, current)
        record = self.api.update_tenant(id, body, int(current["version"]))
        return WriteResult(id, record)

    # -- looking clients up -------------------------------------------------------------

    def resolve_tenant(self, tenant: str) -> dict[str, Any]:
        """The customer tenant with this id, or the one with exactly this name."""
        wanted = tenant.strip()
        if _UUID.match(wanted.lower()):
            try:
                record = self.api.tenant(wanted.lower())
            except NotFoundError:
                raise ConfigError(f"acronis: no tenant {wanted} under this partner") from None
            if record.get("kind") != "customer":
                raise ConfigError(f"acronis: tenant {wanted} is a {record.get('kind')}, not a customer")
            return record
        found = [t for t in self.api.customer_tenants() if billing.name_key(t.get("name")) == billing.name_key(wanted)]
        if not found:
            raise ConfigError(f"acronis: no customer tenant is named {wanted!r}; give its name exactly or its id")
        if len(found) > 1:
            ids = ", ".join(str(t["id"]) for t in found)
            raise ConfigError(f"acronis: {len(found)} customer tenants are named {wanted!r} ({ids}); give the id")
        return found[0]

    def customer_for(self, tenant_id: str) -> dict[str, Any] | None:
        """The tenant's Advanced Automation customer with its billing information, if it has one."""
        for customer in self.api.customers():
            if str(customer.get("ExternalTenantUUID") or "").lower() == tenant_id.lower():
                return self.api.customer(str(customer["Id"]))
        return None

    def _customer_or_fail(self, tenant: dict[str, Any]) -> dict[str, Any]:
        customer = self.customer_for(str(tenant["id"]))
        if customer is None:
            raise ConfigError(
                f"acronis: Advanced Automation has no customer for {tenant.get('name')} ({tenant['id']}); "
                "is Advanced Automation activated for the partner?"
            )
        return customer

    def services_of(self, tenant_id: str) -> list[billing.Service]:
        return billing.services(self.api.offering_items(tenant_id), self.api.usages(tenant_id))

    def products(self) -> billing.ProductIndex:
        return billing.ProductIndex(self.api.products(), self.settings.products)

    def today(self) -> date:
        return self.context.clock.now().date()

    # -- actions -------------------------------------------------------------------------

    @action("list_clients", params=NoParams)
    def list_clients(self, params: NoParams, ctx: ActionContext) -> dict[str, Any]:
        """Every customer tenant under the partner, by name (reads only): the clients the
        existing-clients procedure goes over."""
        clients = sorted(
            ({"tenant_id": str(t["id"]), "name": str(t.get("name") or "")} for t in self.api.customer_tenants()),
            key=lambda c: (c["name"].casefold(), c["tenant_id"]),
        )
        return {"clients": clients, "count": len(clients)}

    @action("client_status", params=TenantParams)
    def client_status(self, params: TenantParams, ctx: ActionContext) -> dict[str, Any]:
        """Where a client stands: billing information, services used, contracts (reads only)."""
        tenant = self.resolve_tenant(params.tenant)
        customer = self._customer_or_fail(tenant)
        used = [s for s in self.services_of(str(tenant["id"])) if s.used]
        contracts = self.api.contracts(str(customer["Id"]))
        missing = billing.missing_billing(customer)
        contact = next((c for c in tenant.get("contacts") or [] if "billing" in (c.get("types") or [])), None)
        return {
            "tenant_id": str(tenant["id"]),
            "name": str(tenant.get("name") or ""),
            "customer_id": str(customer["Id"]),
            "billing_info": not missing,
            "billing_missing": missing,
            "billing": {k: customer.get(k) for k in ("Street", "HouseNo", "Zipcode", "City", "Email", "PhoneNumber")},
            "country": customer.get("CountryDescription"),
            "billing_contact_email": contact.get("email") if contact else None,
            "services": [
                {"name": s.name, "usage_name": s.usage_name, "unit": s.unit, "quantity": s.quantity} for s in used
            ],
            "services_count": len(used),
            "contracts": [{"id": str(c.get("Id")), "name": c.get("Name")} for c in contracts],
            "contracts_count": len(contracts),
        }

    @action("set_billing_info", params=BillingInfoParams)
    def set_billing_info(self, params: BillingInfoParams, ctx: ActionContext) -> dict[str, Any]:
        """Write a client's billing information (``PUT /Customers``) unless it already holds it.

        Reads the customer first and sends nothing when every field already has the
        confirmed value, so a retried step or a second run changes nothing. The answer is
        read back by id and checked.
        """
        tenant = self.resolve_tenant(params.tenant)
        missing = params.missing()
        if missing:
            raise RecordRejected(
                f"acronis: the billing information of {tenant.get('name')} lacks {', '.join(missing)}: neither the "
                "PSA nor QuickBooks holds it and nobody gave it; enter it in Advanced Automation (Organization > "
                "Clients > Configure > Billing) and confirm this step, or give it to a new run"
            )
        if not _EMAIL.match(str(params.email)):
            raise RecordRejected(f"acronis: {params.email!r} is not an e-mail address")
        customer = self._customer_or_fail(tenant)
        country_id = self._country(str(params.country))
        wanted: dict[str, Any] = {
            "Street": str(params.street).strip(),
            "Zipcode": str(params.zipcode).strip(),
            "City": str(params.city).strip(),
            "Country": country_id,
            "Email": str(params.email).strip(),
            "SendInvoiceByEmail": params.send_invoice_by_email,
        }
        if params.house_no:
            wanted["HouseNo"] = params.house_no
        if params.phone:
            wanted["PhoneNumber"] = params.phone
        if all(str(customer.get(k) or "") == str(v) for k, v in wanted.items()):
            return {"customer_id": str(customer["Id"]), "changed": False}
        body = {"Tenant": str(tenant["id"]), "Name": str(customer.get("Name") or tenant.get("name")), **wanted}
        answer = self.api.put_customer(body)
        customer_id = str(answer.get("Id") or customer["Id"])
        back = self.api.customer(customer_id)
        wrong = [k for k, v in wanted.items() if str(back.get(k) or "") != str(v)]
        if wrong:
            raise VendorError(
                f"acronis: the billing information of {tenant.get('name')} reads back different in "
                f"{', '.join(wrong)} after it was written",
                connector=self.name,
            )
        return {"customer_id": customer_id, "changed": True}

    def _country(self, name: str) -> str:
        countries = self.api.static_form_data().get("Countries") or {}
        wanted = _COUNTRY_ALIASES.get(name.strip().casefold(), name)
        for country_id, label in countries.items():
            if billing.name_key(label) == billing.name_key(wanted):
                return str(country_id)
        raise RecordRejected(
            f"acronis: Advanced Automation lists no country named {name!r}; give the country's name as it is "
            "listed there (e.g. United States, United Kingdom, Germany)"
        )

    @action("ensure_contract", params=ContractParams)
    def ensure_contract(self, params: ContractParams, ctx: ActionContext) -> dict[str, Any]:
        """A contract for a client that uses services and has none: one part per service.

        The client's contracts are read first. A contract of this name (made by an earlier
        attempt or run) only gets the parts it lacks; another contract means a person
        already contracted the client, and nothing is written. Each part is the product
        named like the service (HUB_ACRONIS__PRODUCTS maps others), its quantity the usage
        and its price the product's list price, for a person to review.
        """
        tenant = self.resolve_tenant(params.tenant)
        customer = self._customer_or_fail(tenant)
        customer_id = str(customer["Id"])
        used = [s for s in self.services_of(str(tenant["id"])) if s.used]
        contracts = self.api.contracts(customer_id)
        ours = next((c for c in contracts if billing.name_key(c.get("Name")) == billing.name_key(params.name)), None)
        if ours is None and contracts:
            names = ", ".join(repr(str(c.get("Name"))) for c in contracts)
            return {"created": False, "contract_id": str(contracts[0].get("Id")), "existing": names, "parts": []}
        if not used:
            return {"created": False, "contract_id": None, "existing": None, "parts": []}
        missing = billing.missing_billing(customer)
        if missing:
            raise RecordRejected(
                f"acronis: {tenant.get('name')} has no billing information ({', '.join(missing)} missing); "
                "Advanced Automation cannot bill a contract without it"
            )
        products = self.products()
        problems = [p for s in used if (p := products.problem(s))]
        if problems:
            raise RecordRejected("acronis: " + "; ".join(problems))
        created = ours is None
        contract_id = str(ours["Id"]) if ours else self._create_contract(customer, params, customer_id)
        added = self._add_parts(contract_id, used, products, params, customer)
        return {"created": created, "contract_id": contract_id, "existing": None, "parts": added}

    def _create_contract(self, customer: dict[str, Any], params: ContractParams, customer_id: str) -> str:
        entities = self.api.billing_entities()
        try:
            entity = billing.choose_entity(entities, params.billing_entity)
        except LookupError as exc:
            raise RecordRejected(f"acronis: {exc}") from None
        body = {
            "Name": params.name,
            "Customer": customer_id,
            "StartDate": f"{params.start_date.isoformat()}T00:00:00Z",
            "BillingEntity": str(entity["Id"]),
            "PaymentIntervalInMonths": params.payment_interval_months,
            "BillInAdvance": params.bill_in_advance,
            "SendInvoiceByEmail": bool(customer.get("SendInvoiceByEmail")),
            "ContactEmail": str(customer.get("Email") or ""),
        }
        def find() -> str | None:
            return next((str(c["Id"]) for c in self.api.contracts(customer_id)
                         if billing.name_key(c.get("Name")) == billing.name_key(params.name)), None)  # fmt: skip

        # a lost answer is looked up (the contract by its name) before anything is sent again
        contract_id, _ = send_once(lambda: self.api.put_contract(body), find, self.context.clock)
        return contract_id

    def _add_parts(
        self,
        contract_id: str,
        used: list[billing.Service],
        products: billing.ProductIndex,
        params: ContractParams,
        customer: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """One part per service whose product the contract does not bill yet (read first)."""
        have = {str(p.get("Product")) for p in self.api.contract_parts(contract_id)}
        part_type = self._default_part_type()
        added: list[dict[str, Any]] = []
        for service in used:
            product = products.for_service(service)
            assert product is not None  # problems were refused above
            product_id = str(product["Id"])
            if product_id in have:
                continue
            part: dict[str, Any] = {
                "Contract": contract_id,
                "Product": product_id,
                "Quantity": service.quantity,
                "ActualQuantity": service.quantity,
                "Price": float(product.get("Price") or 0),
                "StartDate": f"{params.start_date.isoformat()}T00:00:00Z",
            }
            if part_type:
                part["ContractPartType"] = part_type
            if customer.get("DefaultSLA"):
                part["ServiceLevelAgreement"] = str(customer["DefaultSLA"])

            def add(part: dict[str, Any] = part) -> bool:
                self.api.put_contract_part(part)
                return True

            def billed(product_id: str = product_id) -> bool | None:
                parts = self.api.contract_parts(contract_id)
                return True if product_id in {str(p.get("Product")) for p in parts} else None

            # a lost answer is looked up (the contract's parts) before the part is sent again
            send_once(add, billed, self.context.clock)
            have.add(product_id)
            added.append(
                {
                    "service": service.name,
                    "product": str(product.get("Name")),
                    "quantity": service.quantity,
                    "price": part["Price"],
                }
            )
        return added

    def _default_part_type(self) -> str | None:
        """The "Default type" contract part type of this partner, resolved by its label."""
        types = self.api.static_form_data().get("ContractPartTypes") or {}
        return next((str(k) for k, v in types.items() if billing.name_key(v) == "default type"), None)

    @action("invoice_numbering", params=NumberingParams)
    def invoice_numbering(self, params: NumberingParams, ctx: ActionContext) -> dict[str, Any]:
        """The billing entity's invoice numbering and the number its next invoice gets (reads only).

        With ``must_exceed`` (the accounting system's highest invoice number) a next number
        at or below it fails the step with what to change: invoices exported there would
        repeat numbers. Read anew on every attempt, so a run resumed after the fix passes.
        """
        try:
            entity = billing.choose_entity(self.api.billing_entities(), params.billing_entity)
        except LookupError as exc:
            raise ConfigError(f"acronis: {exc}") from None
        numbering = billing.next_invoice_number(entity, self.api.invoices())
        if params.must_exceed is not None and numbering.next_number <= params.must_exceed:
            written = f' (DocNumber "{params.accounting_doc_number}")' if params.accounting_doc_number else ""
            raise RecordRejected(
                f'invoice numbers would collide: Acronis billing entity "{numbering.billing_entity}" would number its '
                f"next invoice {numbering.next_number}, but the accounting system already has invoice numbers up to "
                f"{params.must_exceed}{written}. Before the first billing run, set the billing entity's invoice start "
                f"number above {params.must_exceed} (Sales and billing > Settings > Billing entities), then resume "
                "this run"
            )
        return numbering.as_dict()

    @action("billing_gaps", params=GapsParams)
    def billing_gaps(self, params: GapsParams, ctx: ActionContext) -> dict[str, Any]:
        """Clients without billing information, with services but no contract, or billed
        for other quantities than they use, with the monthly amount at stake (reads only)."""
        gaps = [g.as_dict() for g in self.gaps(params.tenant)]
        at_stake = round(sum(abs(g["monthly_amount"]) for g in gaps), 2)
        return {"gaps": gaps, "count": len(gaps), "monthly_amount": at_stake}

    def gaps(self, tenant: str | None = None) -> Iterator[billing.Gap]:
        tenants = [self.resolve_tenant(tenant)] if tenant else list(self.api.customer_tenants())
        by_tenant = {str(c.get("ExternalTenantUUID") or "").lower(): c for c in self.api.customers()}
        products = self.products()
        today = self.today()
        for record in tenants:
            listed = by_tenant.get(str(record["id"]).lower())
            customer = self.api.customer(str(listed["Id"])) if listed else None
            client_services = self.services_of(str(record["id"]))
            contracts = self.api.contracts(str(customer["Id"])) if customer else []
            parts = [p for c in contracts for p in self.api.contract_parts(str(c["Id"]))]
            yield from billing.client_gaps(record, customer, client_services, contracts, parts, products, today)

    # -- sandbox ---------------------------------------------------------------------------

    @classmethod
    def sandbox(cls, **options: Any) -> Sandbox:
        """The Acronis simulator; options: ``size``, ``seed``, ``clock``, ``budget`` ..."""
        from .simulator import build_sandbox

        return build_sandbox(**options)


def _holds(current: Any, want: Any) -> bool:
    """Whether ``current`` already has every value of ``want`` (nested mappings compared by key)."""
    if isinstance(want, dict):
        return isinstance(current, dict) and all(_holds(current.get(k), v) for k, v in want.items())
    return bool(current == want)
