"""mappings/autotask.yaml: vendor -> core -> vendor round trips for every entity, by label."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.autotask.entities import STREAMED
from connectors.autotask.plugin import MAPPINGS
from connectors.autotask.sim_data import LOOKUPS, SCHEMAS, seed_records
from connectors.autotask.simulator import AutotaskSimulator
from connectors.autotask.vocabulary import Vocabulary
from hub.mapping import get_path, load_mapping
from hub.sdk import AccountType, ConfigError, ContactRole, Organization

SIM = AutotaskSimulator(size=8)
SEEDED = seed_records(8, 1)


class Vocab:
    """The connector's label vocabulary, fed from the simulator's metadata without HTTP."""

    def __init__(self) -> None:
        def fetch(entity: str, what: str) -> dict[str, Any]:
            return {"fields": SIM.field_info(entity) if what == "fields" else SIM.udf_info(entity)}

        self.vocabulary = Vocabulary(fetch)

    def picklist_label(self, entity: str, field: str, value: Any) -> str | None:
        return self.vocabulary.label(entity, field, value)

    def picklist_value(self, entity: str, field: str, label: str | None) -> Any:
        return self.vocabulary.value(entity, field, label)


VOCAB = Vocab()
MAPPING = load_mapping("autotask", [MAPPINGS])


def test_every_streamed_entity_is_mapped_and_nothing_else():
    # account team members, portal users, service calls and contract services have no core
    # kind: workflow actions write them
    assert set(MAPPING.spec.entities) == {spec.name for spec in STREAMED}
    # nor do the entities looked up by name (resources, roles, products) or written only by
    # the workflow actions that keep their links (service calls, contract services)
    assert set(SCHEMAS) - set(MAPPING.spec.entities) == {
        "CompanyTeams",
        "ClientPortalUsers",
        *LOOKUPS,
        "ServiceCalls",
        "ServiceCallTickets",
        "ServiceCallTicketResources",
        "Services",
        "ContractServices",
    }


@pytest.mark.parametrize("entity", [spec.name for spec in STREAMED])
def test_round_trip_keeps_every_written_field(entity):
    bound = MAPPING.entity(entity)
    for raw in SEEDED[entity][:6]:
        core = bound.to_core(raw, VOCAB)
        assert core.ref_id("autotask") == str(raw["id"])
        back = bound.to_vendor(core, VOCAB)
        # vendor -> core -> vendor -> core is stable, even where labels are many-to-one (Lead -> prospect)
        assert bound.to_core({**raw, **back}, VOCAB) == core
        for path, value in _leaves(back):
            original = get_path(raw, path)
            if path == "companyType" and raw["companyType"] == 2:
                assert value == 3  # a Lead is written back as the canonical Prospect
                continue
            assert _same(original, value), (entity, path, original, value)


def test_company_labels_and_service_model():
    raw = {
        **SEEDED["Companies"][0],
        "companyType": 3,
        "classification": 101,
        "userDefinedFields": [{"name": "Help Desk", "value": "1"}],
    }
    org = MAPPING.entity("Companies").to_core(raw, VOCAB)
    assert (org.account_type, org.classification, org.service_model) == (
        AccountType.prospect,
        "R0",
        "break_fix",
    )
    assert org.help_desk == "none - as tech is available"
    payload = MAPPING.entity("Companies").to_vendor(
        org.model_copy(update={"account_type": AccountType.inactive}), VOCAB
    )
    assert payload["companyType"] == 4 and payload["classification"] == 101  # "Dead": the label written for inactive
    assert payload["userDefinedFields"][0] == {"name": "Help Desk", "value": "1"}
    assert "service_model" not in payload


def test_contact_roles_come_from_primary_flag_and_udfs():
    raw = SEEDED["Contacts"][0]
    contact = MAPPING.entity("Contacts").to_core(raw, VOCAB)
    assert contact.roles == {
        ContactRole.primary,
        ContactRole.primary_authorization,
        ContactRole.report_recipient,
    }
    billing = MAPPING.entity("Contacts").to_core(SEEDED["Contacts"][2], VOCAB)
    assert billing.roles == {ContactRole.invoice_recipient}
    payload = MAPPING.entity("Contacts").to_vendor(
        billing.model_copy(update={"roles": {ContactRole.secondary_authorization}}), VOCAB
    )
    udfs = {u["name"]: u["value"] for u in payload["userDefinedFields"]}
    assert udfs["Secondary Authorization"] == "1" and udfs["Invoice Recipient"] == "0"
    assert payload["primaryContact"] is False and payload["isActive"] == 1


def test_unknown_label_on_write_lists_valid_labels():
    org = Organization(name="x", classification="Residential")
    with pytest.raises(ConfigError, match="valid labels: 'BN', 'MR', 'MS', 'R0'"):
        MAPPING.entity("Companies").to_vendor(org, VOCAB)


@settings(max_examples=60)
@given(
    name=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(str.strip),
    account=st.sampled_from(
        [a for a in AccountType if a is not AccountType.other]
    ),  # Autotask has no "other"
    classification=st.sampled_from(["R0", "BN", "MS", "MR"]),
    help_desk=st.sampled_from(["none - as tech is available", "Business hours", "24x7"]),
    active=st.booleans(),
)
def test_organizations_survive_core_vendor_core(name, account, classification, help_desk, active):
    org = Organization(
        name=name, account_type=account, classification=classification, help_desk=help_desk, active=active
    )
    payload = MAPPING.entity("Companies").to_vendor(org, VOCAB, create=True)
    back = MAPPING.entity("Companies").to_core({**payload, "id": 1}, VOCAB)
    assert (back.name, back.classification, back.help_desk, back.active) == (
        org.name,
        classification,
        help_desk,
        active,
    )
    assert back.account_type == (AccountType.prospect if account is AccountType.prospect else account)
    assert back.service_model == ("break_fix" if classification in ("R0", "BN") else "managed_services")


def _leaves(payload: dict[str, Any]) -> list[tuple[str, Any]]:
    out = []
    for key, value in payload.items():
        if key == "userDefinedFields":
            out += [(f"userDefinedFields[name={u['name']}].value", u["value"]) for u in value]
        else:
            out.append((key, value))
    return out


def _same(original: Any, written: Any) -> bool:
    if original in (None, "") and written in (None, ""):
        return True
    if (
        isinstance(original, str)
        and isinstance(written, str)
        and original[:10] == written[:10]
        and "T" in original
    ):
        return True  # dates written as dates (contract start/end) keep the day
    return str(original).strip() == str(written).strip() or (
        isinstance(original, bool) and int(original) == written
    )
