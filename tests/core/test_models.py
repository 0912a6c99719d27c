"""The core domain model: strict validation naming the field, refs, dedup keys."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.models import (
    KINDS,
    Alert,
    AlertSeverity,
    Contact,
    ContactRole,
    ExternalRef,
    Organization,
    SignatureStatus,
    model_for_kind,
)


def test_bad_data_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        Contact(email="not-an-address")
    assert info.value.errors()[0]["loc"] == ("email",)
    with pytest.raises(ValidationError) as info:
        Organization(name="")
    assert info.value.errors()[0]["loc"] == ("name",)
    with pytest.raises(ValidationError) as info:
        Organization(name="Acme", account_type="friend")
    assert info.value.errors()[0]["loc"] == ("account_type",)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        Organization(name="Acme", colour="blue")
    assert info.value.errors()[0]["loc"] == ("colour",)


def test_refs_are_per_system_and_ids_are_strings() -> None:
    org = Organization(name="Acme", refs=[ExternalRef(system="autotask", kind="organization", id=29683)])
    assert org.ref_id("autotask") == "29683"
    org2 = org.with_ref("itglue", 77).with_ref("autotask", 1)
    assert {r.system: r.id for r in org2.refs} == {"autotask": "1", "itglue": "77"}
    assert org.ref("itglue") is None
    with pytest.raises(ValidationError):
        ExternalRef(system="x", kind="y", id=True)


def test_procedure_roles_live_in_the_model() -> None:
    c = Contact(first_name="Ann", last_name="Lee", roles={"primary_authorization", "report_recipient"})
    assert c.has_role(ContactRole.primary_authorization)
    assert not c.has_role(ContactRole.invoice_recipient)
    assert c.full_name == "Ann Lee"


def test_every_kind_is_registered() -> None:
    assert set(KINDS) >= {
        "organization",
        "contact",
        "ticket",
        "contract",
        "configuration_item",
        "alert",
        "signature_request",
        "invoice_recipient",
        "site_summary",
        "document",
    }
    with pytest.raises(ValueError, match="known kinds"):
        model_for_kind("widget")


def test_signature_final_states() -> None:
    assert SignatureStatus.completed.final and not SignatureStatus.sent.final


def test_severity_rank() -> None:
    assert AlertSeverity.information.rank < AlertSeverity.warning.rank < AlertSeverity.critical.rank


@given(
    message=st.text(),
    other_message=st.text(),
    service=st.text(min_size=1).filter(str.strip),
    condition=st.text(min_size=1).filter(str.strip),
)
def test_alert_dedup_key_ignores_text(message: str, other_message: str, service: str, condition: str) -> None:
    device = ExternalRef(system="ncentral", kind="configuration_item", id="42")
    a = Alert(device=device, service=service, condition=condition, message=message)
    b = Alert(device=device, service=f" {service.upper()} ", condition=condition, message=other_message)
    assert a.dedup_key == b.dedup_key


@example(text="\u0131")  # the dotless i: casefold keeps it, its upper case I folds to i
@example(text="\u0130stanbul")  # capital I with a dot
@given(text=st.text(min_size=1).filter(str.strip))
def test_alert_dedup_key_is_the_same_in_every_case(text: str) -> None:
    device = ExternalRef(system="ncentral", kind="configuration_item", id="42")
    keys = {
        Alert(device=device, service=variant, condition=variant).dedup_key
        for variant in (text, text.upper(), text.lower(), text.casefold(), f"  {text.title()} ")
    }
    assert len(keys) == 1, keys
