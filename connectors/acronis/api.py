"""The two Acronis APIs the connector speaks, below one data center URL.

* Account Management v2 (``/api/2``, published spec ``account-management-v2.openapi.json``):
  the partner's tenant (from its API client), customer tenants with cursor paging,
  their offering items and usage, tenant writes that carry ``version``.
* Advanced Automation v1 (``/api/advanced-automation/v1``, ``advanced-automation-v1``
  spec plus the vendor's guide, developer.acronis.com ``api-library/psa``): customers and
  their billing information, contracts and contract parts, products, invoices, billing
  entities, and the lists behind the portal's forms.

Where the guide and the spec disagree the guide is followed (docs/connectors/acronis.md
lists every case): the customer list and details are ``POST /Customer`` and billing
information is written with ``PUT /Customers`` (absent from the spec); products are
listed at the guide's ``GET /Products`` (the spec's ``GET /Product`` is used when a data
center answers 404 there); the invoice list is read in either of the two documented
envelopes; a contract part carries ``Contract`` and ``Quantity``.

Paging: Account Management hands out ``paging.cursors.after``, a cursor that encodes
every filter, so the next page is asked for with the cursor alone. Advanced Automation
pages with ``Page`` (from 1) and ``PageSize``; a page shorter than ``PageSize`` (or the
stated ``AmountOfPages``) is the last.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hub.sdk import HttpClient, NotFoundError, PaginationLoop, VendorError, message_from

__all__ = ["AA", "AM", "AcronisApi", "vendor_message"]

AM = "/api/2"
AA = "/api/advanced-automation/v1"


#: the vendor's own text: Account Management's ``errorScheme`` or an Advanced Automation message
vendor_message = message_from(
    "{error.message} ({error.details.info})", "{error.message}", "{Message}", "{error_description}", "{error}",
    "{title}",
)


class AcronisApi:
    """Typed calls over one :class:`HttpClient` rooted at the data center URL."""

    def __init__(self, client: HttpClient, client_id: str, page_size: int) -> None:
        self.client = client
        self.client_id = client_id
        self.page_size = page_size
        self._partner: str | None = None
        self._products_path: str | None = None

    # -- Account Management ----------------------------------------------------------

    def partner_id(self) -> str:
        """The tenant the API client belongs to (the partner whose customers are read)."""
        if self._partner is None:
            body = self.client.get(f"{AM}/clients/{self.client_id}").json()
            self._partner = str(body["tenant_id"])
        return self._partner

    def tenant_page(
        self, *, after: str | None = None, updated_since: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the partner's subtree and the cursor of the next (None after the last)."""
        if after is not None:
            params: dict[str, Any] = {"after": after}
        else:
            params = {"subtree_root_id": self.partner_id(), "limit": self.page_size, "with_contacts": "true"}
            if updated_since is not None:
                params["updated_since"] = updated_since
        body = self.client.get(f"{AM}/tenants", params=params).json()
        items = [dict(i) for i in body.get("items") or []]
        cursor = ((body.get("paging") or {}).get("cursors") or {}).get("after")
        if not items or not cursor:
            return items, None
        if cursor == after:
            raise PaginationLoop(f"acronis tenants: the cursor {cursor[:40]!r} was handed out twice")
        return items, str(cursor)

    def customer_tenants(self) -> Iterator[dict[str, Any]]:
        """Every customer tenant under the partner (folders, units and the partner left out)."""
        after: str | None = None
        while True:
            items, after = self.tenant_page(after=after)
            yield from (t for t in items if is_customer(t))
            if after is None:
                return

    def tenant(self, tenant_id: str) -> dict[str, Any]:
        return dict(self.client.get(f"{AM}/tenants/{tenant_id}").json())

    def create_tenant(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = {"kind": "customer", "parent_id": self.partner_id(), **payload}
        return dict(self.client.post(f"{AM}/tenants", json=body).json())

    def update_tenant(self, tenant_id: str, changes: dict[str, Any], version: int) -> dict[str, Any]:
        """``PUT /tenants/{id}`` with the version read; Acronis answers 409 if it moved since."""
        body = {**changes, "version": version}
        return dict(self.client.put(f"{AM}/tenants/{tenant_id}", json=body).json())

    def offering_items(self, tenant_id: str) -> list[dict[str, Any]]:
        """The tenant's enabled offering items of every edition.

        ``edition`` defaults to ``standard`` (spec: "If '*' is provided, all editions will
        be returned"), so without ``edition=*`` the services of advanced editions are missed.
        """
        params = {"status": 1, "edition": "*"}
        body = self.client.get(f"{AM}/tenants/{tenant_id}/offering_items", params=params).json()
        return [dict(i) for i in body.get("items") or []]

    def usages(self, tenant_id: str) -> list[dict[str, Any]]:
        body = self.client.get(f"{AM}/tenants/{tenant_id}/usages").json()
        return [dict(i) for i in body.get("items") or []]

    # -- Advanced Automation ------------------------------------------------------------

    def customers(self) -> Iterator[dict[str, Any]]:
        """The partner's customers in Advanced Automation (guide: "Fetch a list of customers")."""
        for page in self._pages("POST", f"{AA}/Customer", {"Active": "true"}, ("Customers",)):
            yield from page

    def customer(self, customer_id: str) -> dict[str, Any]:
        """One customer with its billing information (guide: "Fetch customer details")."""
        return dict(self.client.post(f"{AA}/Customer", params={"id": customer_id}).json())

    def put_customer(self, billing: dict[str, Any]) -> dict[str, Any]:
        """Set a customer's billing information (guide: "Set billing information for a customer")."""
        return dict(self.client.put(f"{AA}/Customers", json=billing).json())

    def static_form_data(self) -> dict[str, Any]:
        """Countries, languages, SLAs and contract part types (guide: "Fetch service desk configuration")."""
        return dict(self.client.get(f"{AA}/StaticFormData").json())

    def contracts(self, customer_id: str) -> list[dict[str, Any]]:
        body = self.client.get(f"{AA}/Contracts", params={"id": customer_id}).json()
        return [dict(c) for c in body.get("contracts") or []]

    def put_contract(self, contract: dict[str, Any]) -> str:
        body = self.client.put(f"{AA}/Contracts", json=contract).json()
        return str(body["contractId"])

    def contract_parts(self, contract_id: str) -> list[dict[str, Any]]:
        body = self.client.get(f"{AA}/ContractPart", params={"contract": contract_id}).json()
        return [dict(p) for p in body.get("ContractParts") or []]

    def put_contract_part(self, part: dict[str, Any]) -> None:
        self.client.put(f"{AA}/ContractPart", json=part)

    def products(self) -> list[dict[str, Any]]:
        """Every product with its price, from ``GET /Products`` (guide) or ``GET /Product`` (spec)."""
        if self._products_path is None:
            try:
                found = self._all_products(f"{AA}/Products")
            except NotFoundError:
                found = self._all_products(f"{AA}/Product")
                self._products_path = f"{AA}/Product"
                return found
            self._products_path = f"{AA}/Products"
            return found
        return self._all_products(self._products_path)

    def _all_products(self, path: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for page in self._pages("GET", path, {}, ("products", "Result", "Products")):
            out.extend(page)
        return out

    def invoices(self) -> Iterator[dict[str, Any]]:
        """Issued invoices, newest number first (``GET /InvoiceOverview``)."""
        params = {"SortColumn": "InvoiceNumber", "SortDirection": "Desc"}
        for page in self._pages("GET", f"{AA}/InvoiceOverview", params, ("InvoicesPagedSearchResult", "Invoices")):
            yield from page

    def billing_entities(self) -> list[dict[str, Any]]:
        """The partner's billing entities with their invoice numbering (guide: GET /BillingEntities)."""
        body = self.client.get(f"{AA}/BillingEntities").json()
        return [dict(e) for e in body.get("entities") or []]

    # -- paging ------------------------------------------------------------------------

    def _pages(
        self, method: str, path: str, params: dict[str, Any], where: tuple[str, ...]
    ) -> Iterator[list[dict[str, Any]]]:
        """``Page``/``PageSize`` pages of the records found at ``where`` in each answer."""
        page = 1
        while True:
            response = self.client.request(method, path, params={**params, "Page": page, "PageSize": self.page_size})
            body = response.json()
            records, pages = _records(body, where)
            yield records
            if len(records) < self.page_size or (pages and page >= pages):
                return
            page += 1
            if page > 100_000:
                raise PaginationLoop(f"acronis {path}: more than 100,000 pages")


def is_customer(tenant: dict[str, Any]) -> bool:
    return tenant.get("kind") == "customer" and not tenant.get("deleted_at")


def _records(body: Any, where: tuple[str, ...]) -> tuple[list[dict[str, Any]], int]:
    """The list at ``where`` and the stated number of pages (0 when unknown).

    The spec and the guide put some lists in different envelopes: the invoice list is
    ``InvoicesPagedSearchResult.Invoices`` in the spec and top-level ``Invoices`` in the
    guide; so the last key is also looked for at the top level, and ``Paging`` beside
    the list or at the top. An answer with neither shape is a vendor error, not an
    empty page.
    """
    holder = body
    for key in where[:-1]:
        holder = holder.get(key) if isinstance(holder, dict) else None
    if not isinstance(holder, dict) or where[-1] not in holder:
        holder = body
    if not isinstance(holder, dict) or not isinstance(holder.get(where[-1]), list):
        raise VendorError(f"acronis answered without {'.'.join(where)}", connector="acronis")
    paging = holder.get("Paging") or (body.get("Paging") if isinstance(body, dict) else None) or {}
    pages = paging.get("AmountOfPages") if isinstance(paging, dict) else None
    if pages is None and isinstance(body, dict):
        pages = body.get("AmountOfPages")
    return [dict(r) for r in holder[where[-1]]], int(pages or 0)
