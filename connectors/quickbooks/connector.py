"""The QuickBooks Online connector: customers, invoice recipients, invoice e-mail, webhooks.

What the MSP procedures need from accounting is *who receives a customer's invoices*.
QuickBooks keeps that in the customer's ``PrimaryEmailAddr.Address`` (several addresses
comma-separated, 100 characters at most); the Customer entity has no ``BillEmail``
(invoices do). Writes are sparse updates carrying the current ``SyncToken``; when
someone else saved the customer in between (fault 5010) the connector re-reads it and
re-applies its change only if none of the fields the hub owns moved meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.quickbooks import webhooks
from connectors.quickbooks.addresses import (
    customer_addresses,
    join_addresses,
    parse_recipient_id,
    recipient_id,
    split_addresses,
)
from connectors.quickbooks.api import QuickBooksApi, StaleObjectError
from connectors.quickbooks.numbers import highest_invoice_number
from connectors.quickbooks.oauth import BearerAuth, TokenManager, token_error_message
from connectors.quickbooks.query import MAX_RESULTS, quote, select
from connectors.quickbooks.records import recipient_record
from connectors.quickbooks.report import RecipientCheck, build_report
from connectors.quickbooks.settings import QuickBooksSettings
from connectors.quickbooks.streams import (
    ALL_CUSTOMERS,
    RECENT_INVOICE_DAYS,
    CustomersStream,
    InvoiceEmailsStream,
    InvoiceRecipientsStream,
    StartPositions,
)
from hub.sdk import (
    ActionContext,
    Answer,
    CheckResult,
    ConfigError,
    ConflictError,
    Connector,
    ConnectorContext,
    ErrorPolicy,
    Event,
    HttpClient,
    NotFoundError,
    RateLimit,
    RecordRejected,
    Sandbox,
    WebhookRejected,
    WriteResult,
    action,
)

#: Customer fields the hub writes; a concurrent change to one of them is a conflict
HUB_OWNED_CUSTOMER_FIELDS = ("DisplayName", "CompanyName", "Active", "PrimaryEmailAddr")
#: fields a write payload must not carry (QuickBooks sets them)
_SYSTEM_FIELDS = ("Id", "SyncToken", "sparse", "MetaData", "domain")


class CheckRecipientsParams(BaseModel):
    """Which customer to check: its QuickBooks id or its exact DisplayName."""

    customer_id: str | None = Field(default=None, pattern=r"^\d+$")
    display_name: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one(self) -> CheckRecipientsParams:
        if (self.customer_id is None) == (self.display_name is None):
            raise ValueError("give exactly one of customer_id or display_name")
        return self


class EnsureRecipientParams(BaseModel):
    """Make sure ``email`` is one of the customer's invoice recipients."""

    customer_id: str = Field(pattern=r"^\d+$")
    email: str = Field(min_length=3, max_length=100)


class NoParams(BaseModel):
    """An action that takes no parameters."""

    model_config = ConfigDict(extra="forbid")


class QuickBooksConnector(Connector):
    """QuickBooks Online accounting API (one company / realm)."""

    name = "quickbooks"
    version = "0.1.0"
    title = "QuickBooks Online"
    #: the accounting role; its invoice recipients are the customers' addresses (InvoiceEmail
    #: lists where past invoices went)
    roles = {"accounting": {"invoice_recipients": "InvoiceRecipient"}}
    settings_model = QuickBooksSettings
    stream_classes = [CustomersStream, InvoiceRecipientsStream, InvoiceEmailsStream]
    writable = {"Customer": "organization", "InvoiceRecipient": "invoice_recipient"}
    #: Intuit: 500 requests a minute and 10 concurrent requests per realm
    rate_limits = [RateLimit(requests=500, per_seconds=60, concurrent=10)]
    has_webhooks = True
    auth_settings = ("client_id", "client_secret", "refresh_token", "realm_id")

    settings: QuickBooksSettings

    def __init__(self, settings: QuickBooksSettings, context: ConnectorContext | None = None) -> None:
        super().__init__(settings, context)
        self._api: QuickBooksApi | None = None
        self.tokens = TokenManager(
            settings, self.context.state, self.context.clock, self._token_client, lock=self.context.lock
        )

    # -- HTTP -----------------------------------------------------------------------

    def _token_client(self) -> HttpClient:
        hint = "HUB_QUICKBOOKS__CLIENT_ID, HUB_QUICKBOOKS__CLIENT_SECRET"
        return self.make_client(
            "",
            budget_key="quickbooks:oauth",
            limits=[],
            policy=ErrorPolicy(auth_hint=hint),
            vendor_message=token_error_message,
        )

    @property
    def api(self) -> QuickBooksApi:
        if self._api is None:
            hint = ", ".join(f"HUB_QUICKBOOKS__{s.upper()}" for s in self.auth_settings)
            self._api = QuickBooksApi(
                self.make_client,
                self.settings.base_url,
                self.settings.realm_id,
                self.settings.minor_version,
                self.tokens,
                BearerAuth(self.tokens),
                hint,
            )
        return self._api

    def client(self) -> HttpClient:
        return self.api.client

    def check(self) -> CheckResult:
        info = self.api.company_info()
        details = {
            "api": self.settings.base_url,
            "realm": self.settings.realm_id,
            "company": str(info.get("CompanyName") or info.get("LegalName") or "?"),
            "minor version": str(self.settings.minor_version),
            "webhooks": "verifier token set" if self.settings.webhook_verifier_token else "no verifier token",
        }
        details.update(self.tokens.describe())
        return CheckResult(ok=True, details=details)

    # -- reads ----------------------------------------------------------------------

    def get(self, entity: str, id: str) -> dict[str, Any]:
        if entity in ("Customer", "Invoice"):
            return self.api.read(entity, id)
        if entity == "InvoiceRecipient":
            customer_id, address = parse_recipient_id(id)
            customer = self.api.read("Customer", customer_id)
            for listed in customer_addresses(customer):
                if listed.lower() == address.lower():
                    return recipient_record(customer, listed)
            raise NotFoundError(
                f"quickbooks: customer {customer_id} does not list {address} as an invoice recipient",
                connector=self.name,
            )
        raise ConfigError(f"quickbooks cannot read {entity}; entities: Customer, Invoice, InvoiceRecipient")

    def find(self, entity: str, criteria: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Customers whose DisplayName is exactly the one given (none is an empty list)."""
        if entity != "Customer" or set(criteria) != {"DisplayName"}:
            raise ConfigError("quickbooks looks up Customer records by DisplayName only")
        where = [f"DisplayName = {quote(str(criteria['DisplayName']))}", ALL_CUSTOMERS]
        return [dict(c) for c in self.api.query(select("Customer", where, max_results=2)).get("Customer") or []]

    def find_customer(self, display_name: str) -> dict[str, Any]:
        """The customer whose DisplayName is exactly ``display_name`` (quoted safely)."""
        found = self.find("Customer", {"DisplayName": display_name})
        if not found:
            raise NotFoundError(f"quickbooks: no customer named {display_name!r}", connector=self.name)
        return found[0]

    # -- writes ---------------------------------------------------------------------

    def create(self, entity: str, payload: dict[str, Any], *, key: str | None = None) -> WriteResult:
        if entity == "Customer":
            body = self._customer_payload(
                {k: v for k, v in payload.items() if k not in _SYSTEM_FIELDS}, "new"
            )
            record = self.api.write("Customer", body, key=key)
            return WriteResult(str(record["Id"]), record)
        if entity == "InvoiceRecipient":
            customer_id = str((payload.get("CustomerRef") or {}).get("value") or "")
            address = str(payload.get("Address") or "").strip()
            if not customer_id.isdigit() or not address:
                raise RecordRejected("quickbooks InvoiceRecipient needs CustomerRef.value and Address")
            record = self._edit_addresses(customer_id, lambda listed: _with(listed, address))
            return WriteResult(recipient_id(customer_id, address), recipient_record(record, address))
        raise ConfigError(f"quickbooks cannot create {entity}; writable: {', '.join(self.writable)}")

    def update(self, entity: str, id: str, changes: dict[str, Any], *, key: str | None = None) -> WriteResult:
        if entity == "Customer":
            clean = self._customer_payload({k: v for k, v in changes.items() if k not in _SYSTEM_FIELDS}, id)
            record = self.update_customer(id, lambda _current: clean)
            return WriteResult(str(record["Id"]), record)
        if entity == "InvoiceRecipient":
            return self._update_recipient(id, changes)
        raise ConfigError(f"quickbooks cannot update {entity}; writable: {', '.join(self.writable)}")

    def deactivate(self, entity: str, id: str, *, key: str | None = None) -> WriteResult:
        if entity == "Customer":
            record = self.update_customer(
                id, lambda current: {"Active": False} if current.get("Active", True) else {}
            )
            return WriteResult(str(record["Id"]), record)
        if entity == "InvoiceRecipient":
            customer_id, address = parse_recipient_id(id)
            record = self._edit_addresses(customer_id, lambda listed: _without(listed, address))
            return WriteResult(id, record)
        raise ConfigError(f"quickbooks cannot deactivate {entity}; writable: {', '.join(self.writable)}")

    def update_customer(
        self, customer_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> dict[str, Any]:
        """Sparse update of one customer with its current SyncToken.

        ``change(current) -> fields`` computes the fields to send from the record as read.
        On a stale SyncToken (5010) the customer is read again; if none of the fields the
        hub owns (and none it is changing) moved meanwhile, the change is computed again
        and sent once more, otherwise a ConflictError says which fields moved.
        """
        base = self.api.read("Customer", customer_id)
        fields = change(base)
        if not fields:
            return base
        try:
            return self.api.write("Customer", _sparse(base, fields))
        except StaleObjectError:
            fresh = self.api.read("Customer", customer_id)
            watched = sorted(set(HUB_OWNED_CUSTOMER_FIELDS) | set(fields))
            moved = [name for name in watched if base.get(name) != fresh.get(name)]
            if moved:
                raise ConflictError(
                    f"QuickBooks customer {customer_id} was changed by someone else in {', '.join(moved)} "
                    "while the hub was updating it; the hub's change was not applied",
                    connector=self.name,
                    method="POST",
                    url=f"{self.settings.base_url}/v3/company/{self.settings.realm_id}/customer",
                ) from None
            self.log.info("quickbooks.stale_reapplied", customer=customer_id)
            fields = change(fresh)
            return self.api.write("Customer", _sparse(fresh, fields)) if fields else fresh

    def _customer_payload(self, payload: dict[str, Any], customer_id: str) -> dict[str, Any]:
        if "BillEmail" in payload:
            raise RecordRejected(
                f"quickbooks Customer {customer_id}: customers have no BillEmail (only invoices do); "
                "invoice recipients go in PrimaryEmailAddr.Address"
            )
        email = payload.get("PrimaryEmailAddr")
        if isinstance(email, dict) and "Address" in email:  # none (an empty list mapped) clears it
            payload = {
                **payload,
                "PrimaryEmailAddr": {
                    "Address": join_addresses(split_addresses(email["Address"]), customer_id=customer_id)
                },
            }
        return payload

    def _edit_addresses(
        self, customer_id: str, edit: Callable[[list[str]], list[str] | None]
    ) -> dict[str, Any]:
        def change(current: dict[str, Any]) -> dict[str, Any]:
            listed = customer_addresses(current)
            wanted = edit(listed)
            if wanted is None:
                return {}
            return {"PrimaryEmailAddr": {"Address": join_addresses(wanted, customer_id=customer_id)}}

        return self.update_customer(customer_id, change)

    def _update_recipient(self, id: str, changes: dict[str, Any]) -> WriteResult:
        customer_id, old = parse_recipient_id(id)
        new = str(changes.get("Address") or old).strip()
        target = str((changes.get("CustomerRef") or {}).get("value") or customer_id)
        if target == customer_id:
            record = self._edit_addresses(customer_id, lambda listed: _replace(listed, old, new))
            return WriteResult(recipient_id(customer_id, new), recipient_record(record, new))
        added = self._edit_addresses(target, lambda listed: _with(listed, new))
        self._edit_addresses(customer_id, lambda listed: _without(listed, old))
        return WriteResult(recipient_id(target, new), recipient_record(added, new))

    # -- invoice recipients, reported -------------------------------------------------

    def invoice_recipient_report(self, customer_id: str | None = None) -> list[RecipientCheck]:
        """Per customer: the addresses it lists and where its recent invoices really went."""
        since = self.context.clock.now() - timedelta(days=RECENT_INVOICE_DAYS)
        first_day = since.astimezone(self.context.zone).date().isoformat()  # TxnDate: the MSP's calendar
        invoice_where = [f"TxnDate >= {quote(first_day)}"]
        if customer_id is not None:
            customers = [self.api.read("Customer", customer_id)]
            invoice_where.append(f"CustomerRef = {quote(customer_id)}")
        else:
            customers = self._query_all("Customer", [ALL_CUSTOMERS])
        return build_report(customers, self._query_all("Invoice", invoice_where))

    def _query_all(self, entity: str, where: list[str]) -> list[dict[str, Any]]:
        def fetch(start: int) -> Answer:
            page = self.api.query(select(entity, where, start=start, max_results=MAX_RESULTS)).get(entity) or []
            return Answer(page, page)

        return [record for page in StartPositions(MAX_RESULTS).pages(fetch) for record in page.records]

    @action("check_invoice_recipients", params=CheckRecipientsParams)
    def check_invoice_recipients(self, params: CheckRecipientsParams, ctx: ActionContext) -> dict[str, Any]:
        """Report a customer's invoice recipients and where its recent invoices really went."""
        customer_id = params.customer_id or str(self.find_customer(params.display_name or "")["Id"])
        return self.invoice_recipient_report(customer_id)[0].as_dict()

    @action("ensure_invoice_recipient", params=EnsureRecipientParams)
    def ensure_invoice_recipient(self, params: EnsureRecipientParams, ctx: ActionContext) -> dict[str, Any]:
        """Add an address to a customer's invoice recipients unless it is already listed.

        Idempotent by nature: a retried step finds the address listed and changes nothing.
        """
        before = self.api.read("Customer", params.customer_id)
        added = params.email.lower() not in {a.lower() for a in customer_addresses(before)}
        record = (
            self._edit_addresses(params.customer_id, lambda listed: _with(listed, params.email))
            if added
            else before
        )
        return {"customer_id": params.customer_id, "addresses": customer_addresses(record), "added": added}

    @action("highest_invoice_number", params=NoParams)
    def highest_invoice_number(self, params: NoParams, ctx: ActionContext) -> dict[str, Any]:
        """The highest invoice number in QuickBooks (reads only): another billing system's next
        invoice number must stay above it, or invoices exported here would repeat numbers."""
        return highest_invoice_number(self._query_all("Invoice", []))

    # -- webhooks -------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        token = self.settings.webhook_verifier_token
        if token is None:
            raise WebhookRejected("HUB_QUICKBOOKS__WEBHOOK_VERIFIER_TOKEN is not set", status=401)
        webhooks.verify(headers, body, token.get_secret_value())

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        return webhooks.parse(body, self.settings.realm_id)

    # -- sandbox --------------------------------------------------------------------

    @classmethod
    def sandbox(cls, **options: Any) -> Sandbox:
        from connectors.quickbooks.simulator import build_sandbox

        return build_sandbox(**options)


def _sparse(current: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    return {**fields, "Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True}


def _with(listed: list[str], address: str) -> list[str] | None:
    if address.lower() in {a.lower() for a in listed}:
        return None
    return [*listed, address]


def _without(listed: list[str], address: str) -> list[str] | None:
    kept = [a for a in listed if a.lower() != address.lower()]
    return kept if len(kept) != len(listed) else None


def _replace(listed: list[str], old: str, new: str) -> list[str] | None:
    if old.lower() == new.lower() and old in listed:
        return None
    out = [new if a.lower() == old.lower() else a for a in listed]
    if old.lower() not in {a.lower() for a in listed}:
        out.append(new)
    return split_addresses(",".join(out))
