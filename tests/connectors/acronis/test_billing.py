"""Property tests of what the billing procedure decides: quantities, numbering, services, gaps."""

from __future__ import annotations

import math
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.acronis import billing
from connectors.acronis.settings import AcronisSettings
from connectors.quickbooks.numbers import doc_number_value, highest_invoice_number

GIB = 1024**3
TODAY = date(2026, 3, 15)
no_digit_tail = st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=6)


@given(st.text(max_size=12), st.integers(min_value=0, max_value=10**9), no_digit_tail)
def test_the_number_of_an_invoice_is_its_last_run_of_digits(prefix: str, number: int, suffix: str) -> None:
    text = f"{prefix}-{number}{suffix}"
    assert billing.trailing_number(text) == number
    assert doc_number_value(text) == number


@given(st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=20))
def test_text_without_digits_has_no_number(text: str) -> None:
    assert billing.trailing_number(text) is None and doc_number_value(text) is None


@given(st.integers(min_value=0, max_value=10**15))
def test_storage_bills_whole_gb_rounded_up(used: int) -> None:
    gb = billing.billable_quantity(used, "bytes")
    assert gb == int(gb)
    assert gb * GIB >= used > (gb - 1) * GIB if used else gb == 0


@given(st.integers(min_value=0, max_value=10**6))
def test_counts_bill_as_they_are(used: int) -> None:
    assert billing.billable_quantity(used, "quantity") == used


def test_negative_usage_is_refused() -> None:
    with pytest.raises(ValueError):
        billing.billable_quantity(-1, "quantity")


@given(
    st.integers(min_value=1, max_value=10**6),
    st.lists(st.integers(min_value=1, max_value=10**6), max_size=8),
    st.lists(st.integers(min_value=1, max_value=10**6), max_size=8),
)
def test_the_next_invoice_number_follows_the_entity_s_own_invoices(
    start: int, issued: list[int], others: list[int]
) -> None:
    entity = {"Id": "e", "Name": "Main entity", "InvoiceStartNumber": start, "InvoiceSerialNumber": "777"}
    invoices = [{"BillingEntityName": "Main entity", "InvoiceNumber": f"1-20260101-0-777-{n}"} for n in issued]
    invoices += [{"BillingEntityName": "Other", "InvoiceNumber": f"1-20260101-0-888-{n}"} for n in others]
    numbering = billing.next_invoice_number(entity, invoices)
    assert numbering.next_number >= start
    assert all(numbering.next_number > n for n in issued)
    assert numbering.next_number == max([start, *(n + 1 for n in issued)])
    assert numbering.issued == len(issued)


@given(st.lists(st.text(alphabet="0123456789-INV/", min_size=1, max_size=10), max_size=12))
def test_the_highest_quickbooks_number_is_above_every_other(doc_numbers: list[str]) -> None:
    found = highest_invoice_number({"DocNumber": d} for d in doc_numbers)
    values = [v for d in doc_numbers if (v := doc_number_value(d)) is not None]
    assert found["highest_number"] == max(values, default=0)
    assert found["invoices"] == len(doc_numbers)


def item(name: str, kind: str = "count", unit: str = "quantity", status: int = 1) -> dict[str, object]:
    return {"name": name, "usage_name": name, "edition": "standard", "type": kind, "measurement_unit": unit,
            "status": status}  # fmt: skip


@given(st.dictionaries(st.sampled_from(["workstations", "servers", "storage", "gone"]),
                       st.integers(min_value=0, max_value=10**12), max_size=4))  # fmt: skip
def test_services_are_enabled_count_and_infra_items_with_their_usage(usage: dict[str, int]) -> None:
    items = [item("workstations"), item("servers"), item("storage", "infra", "bytes"),
             item("local_storage", "feature", "n/a"), item("gone", status=0)]  # fmt: skip
    usages = [{"name": k, "absolute_value": v} for k, v in usage.items()]
    found = {s.name: s for s in billing.services(items, usages)}
    assert set(found) == {"servers", "storage", "workstations"}
    assert found["workstations"].quantity == usage.get("workstations", 0)
    assert found["storage"].quantity == math.ceil(usage.get("storage", 0) / GIB)


def test_a_product_is_found_by_the_service_s_name_or_the_mapped_one() -> None:
    products = billing.ProductIndex(
        [{"Id": "p1", "Name": "Workstations ", "Price": 4, "Active": True, "ViewInContract": True},
         {"Id": "p2", "Name": "Advanced backup", "Price": 7, "Active": True, "ViewInContract": False}],
        {"adv_workstations": "advanced BACKUP"},
    )  # fmt: skip
    plain = billing.Service("workstations", "workstations", "standard", "quantity", 3)
    advanced = billing.Service("adv_workstations", "workstations", "advanced", "quantity", 2)
    missing = billing.Service("vms", "vms", "standard", "quantity", 1)
    assert products.for_service(plain)["Id"] == "p1" and products.problem(plain) is None
    assert "cannot be used in contracts" in str(products.problem(advanced))
    assert "HUB_ACRONIS__PRODUCTS" in str(products.problem(missing))


def test_gaps_of_a_client_and_their_amounts() -> None:
    tenant = {"id": "t1", "name": "Acme"}
    products = billing.ProductIndex(
        [{"Id": "p1", "Name": "workstations", "Price": 5.0}, {"Id": "p2", "Name": "servers", "Price": 20.0},
         {"Id": "fee", "Name": "Managed fee", "Price": 100.0}],
        {},
    )  # fmt: skip
    services = [billing.Service("workstations", "workstations", None, "quantity", 10),
                billing.Service("servers", "servers", None, "quantity", 1)]  # fmt: skip
    complete = {"Id": "c1", "Street": "1 Main", "Zipcode": "1", "City": "X", "Country": "us", "Email": "a@b.c"}
    # no billing information and no contract: both gaps, the value of what is used at list price
    kinds = [(g.kind, g.monthly_amount) for g in billing.client_gaps(tenant, {"Id": "c1"}, services, [], [],
                                                                        products, TODAY)]  # fmt: skip
    assert kinds == [("no_billing_information", 70.0), ("services_without_contract", 70.0)]
    contract = {"Id": "k1", "StartDate": "2025-01-01T00:00:00", "EndDate": "0001-01-01T00:00:00"}
    parts = [
        {"Id": "a", "Product": "p1", "Quantity": 7, "Price": 5.0, "Discount": 10, "StartDate": "2025-01-01"},
        {"Id": "b", "Product": "p2", "Quantity": 1, "Price": 20.0},
        {"Id": "c", "Product": "fee", "Quantity": 1, "Price": 100.0},  # no Acronis service: never compared
        {"Id": "d", "Product": "p2", "Quantity": 5, "Price": 20.0, "EndDate": "2025-12-31T00:00:00"},  # ended
    ]
    gaps = billing.client_gaps(tenant, complete, services, [contract], parts, products, TODAY)
    assert [(g.kind, g.product, g.billed_quantity, g.used_quantity, g.monthly_amount) for g in gaps] == [
        ("quantity_differs_from_usage", "workstations", 7.0, 10.0, 13.5),
    ]


def test_products_setting_reads_pairs_separated_by_semicolons() -> None:
    settings = AcronisSettings(datacenter_url="https://eu2-cloud.acronis.com", client_id="x", client_secret="y",
                               products="a=Product, with comma;b = B")  # fmt: skip
    assert settings.products == {"a": "Product, with comma", "b": "B"}
