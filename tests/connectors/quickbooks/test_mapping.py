"""mappings/quickbooks.yaml: round trips, name matching, one recipient per address."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.quickbooks.addresses import MAX_ADDRESS_CHARS, join_addresses, split_addresses
from connectors.quickbooks.plugin import MAPPINGS
from connectors.quickbooks.records import invoice_email_records, recipient_records
from hub.mapping import load_mapping, match_key
from hub.sdk import ExternalRef, InvoiceRecipient, Organization, RecordRejected

from .conftest import spec

MAPPING = load_mapping("quickbooks", [MAPPINGS])
AMY = spec("customer_query_response.json")["QueryResponse"]["Customer"][0]


def test_customer_round_trip() -> None:
    customer = MAPPING.entity("Customer")
    org = customer.to_core(AMY)
    assert isinstance(org, Organization)
    assert (org.name, org.active, org.phone) == ("Amy's Bird Sanctuary", True, "+16505553311")
    assert org.billing_address is not None and org.billing_address.city == "Bayshore"
    assert org.refs == [ExternalRef(system="quickbooks", kind="organization", id="1")]
    assert org.invoice_recipients == ["Birds@Intuit.com"]  # PrimaryEmailAddr.Address, comma-separated
    back = customer.to_vendor(org)
    assert back == {"DisplayName": "Amy's Bird Sanctuary", "Active": True,
                    "PrimaryEmailAddr": {"Address": "Birds@Intuit.com"}}  # fmt: skip
    assert customer.to_core({**AMY, **back}).model_dump() == org.model_dump()


def test_customer_matches_the_psa_account_despite_spelling() -> None:
    rule = MAPPING.entity("Customer").spec.match[0]
    qb_side = MAPPING.entity("Customer").to_core(AMY)
    for psa_name in ("AMYS BIRD SANCTUARY", "Amy's  Bird-Sanctuary, Inc.", "amy\u2019s bird sanctuary llc"):
        assert match_key(Organization(name=psa_name), rule) == match_key(qb_side, rule)
    assert match_key(Organization(name="Amy's Bird Shop"), rule) != match_key(qb_side, rule)


def test_one_customer_with_several_addresses_gives_one_recipient_each() -> None:
    customer = {**AMY, "PrimaryEmailAddr": {"Address": "Birds@Intuit.com, ap@intuit.com;birds@intuit.com"}}
    recipients = [MAPPING.entity("InvoiceRecipient").to_core(r) for r in recipient_records(customer)]
    assert [r.email for r in recipients] == ["Birds@Intuit.com", "ap@intuit.com"]
    assert {r.organization for r in recipients} == {
        ExternalRef(system="quickbooks", kind="organization", id="1")
    }
    assert all(isinstance(r, InvoiceRecipient) and r.source == "customer" for r in recipients)
    assert [r.refs[0].id for r in recipients] == ["1:birds@intuit.com", "1:ap@intuit.com"]


def test_invoice_recipient_round_trip_resolves_the_psa_organization() -> None:
    mapping = MAPPING.entity("InvoiceRecipient")
    psa_org = ExternalRef(system="autotask", kind="organization", id="29683")
    recipient = InvoiceRecipient(organization=psa_org, email="ap@client.example.com", name="Client")
    payload = mapping.to_vendor(
        recipient, resolve_ref=lambda ref: "29" if ref == psa_org else None, create=True
    )
    assert payload == {"CustomerRef": {"value": 29}, "Address": "ap@client.example.com"}
    record = {**payload, "Id": "29:ap@client.example.com", "CustomerRef": {"value": "29", "name": "Client"}}
    again = mapping.to_core(record)
    assert (again.email, again.organization.id, again.source) == ("ap@client.example.com", "29", "customer")


def test_invoice_emails_map_read_only_with_their_source() -> None:
    invoice = {
        "Id": "130",
        "CustomerRef": {"value": "1", "name": "Amy's Bird Sanctuary"},
        "BillEmail": {"Address": "Birds@Intuit.com"},
        "BillEmailCc": {"Address": "cc@intuit.com"},
        "EmailStatus": "EmailSent",
        "MetaData": {"LastUpdatedTime": "2015-07-01T10:14:15-07:00"},
    }
    mapping = MAPPING.entity("InvoiceEmail")
    recipients = [mapping.to_core(r) for r in invoice_email_records(invoice)]
    assert [(r.email, r.source) for r in recipients] == [
        ("Birds@Intuit.com", "invoice"),
        ("cc@intuit.com", "invoice"),
    ]
    assert mapping.to_vendor(recipients[0]) == {}


ADDRESS = st.from_regex(r"[a-z][a-z0-9.]{0,10}@[a-z]{1,8}\.(com|org|example)", fullmatch=True)


@given(st.lists(ADDRESS, max_size=6))
@settings(max_examples=200, deadline=None)
def test_address_lists_round_trip_or_are_refused(addresses: list[str]) -> None:
    unique = split_addresses(",".join(addresses))
    try:
        value = join_addresses(unique)
    except RecordRejected:
        assert len(",".join(unique)) > MAX_ADDRESS_CHARS
        return
    assert len(value) <= MAX_ADDRESS_CHARS
    assert split_addresses(value) == unique
