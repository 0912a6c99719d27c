"""Declarative mappings: paths, transforms, picklists, refs, file:line errors, overrides."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import ConfigError, RecordRejected
from hub.mapping import (
    NORMALIZERS,
    TRANSFORMS,
    configure,
    get_path,
    load_mapping,
    set_path,
    track_unmapped,
)
from hub.models import ExternalRef, Organization

MAPPING = textwrap.dedent(
    """
    connector: demo
    entities:
      Companies:
        kind: organization
        fields:
          name: {vendor: companyName, transform: [trim]}
          account_type: {vendor: companyType, picklist: true, values: {Customer: customer, Prospect: prospect}}
          phone: {vendor: phone, transform: [phone]}
          address.city: {vendor: city}
          parent: {vendor: parentCompanyID, ref: organization}
          help_desk: {vendor: "userDefinedFields[name=Help Desk].value"}
          active: {vendor: isActive, transform: [bool]}
        constants:
          ownerResourceID: 4
        match:
          - {key: name, normalize: org_name}
        owned: [name, phone]
    """
)


class Vocab:
    labels = {1: "Customer", 2: "Prospect"}

    def picklist_label(self, entity: str, field: str, value: Any) -> str | None:
        return self.labels.get(value)

    def picklist_value(self, entity: str, field: str, label: str | None) -> Any:
        inverse = {v: k for k, v in self.labels.items()}
        if label not in inverse:
            raise ConfigError(f"unknown label {label!r}; valid: {', '.join(inverse)}")
        return inverse[label]


@pytest.fixture
def mapping_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "maps"
    folder.mkdir()
    (folder / "demo.yaml").write_text(MAPPING)
    return folder


def test_vendor_to_core_and_back(mapping_dir: Path) -> None:
    m = load_mapping("demo", [mapping_dir]).entity("Companies")
    raw = {
        "id": 12,
        "companyName": "  Acme Dental  ",
        "companyType": 1,
        "phone": "(212) 555-2000",
        "city": "Springfield",
        "parentCompanyID": 3,
        "isActive": True,
        "userDefinedFields": [{"name": "Help Desk", "value": "none - as tech is available"}],
    }
    org = m.to_core(raw, Vocab())
    assert isinstance(org, Organization)
    assert org.name == "Acme Dental" and org.account_type == "customer" and org.phone == "+12125552000"
    assert org.address and org.address.city == "Springfield"
    assert org.parent == ExternalRef(system="demo", kind="organization", id="3")
    assert org.help_desk == "none - as tech is available"
    assert org.ref_id("demo") == "12"
    payload = m.to_vendor(org, Vocab(), create=True)
    assert payload["companyType"] == 1 and payload["companyName"] == "Acme Dental"
    assert payload["ownerResourceID"] == 4 and payload["parentCompanyID"] == 3
    assert payload["userDefinedFields"] == [{"name": "Help Desk", "value": "none - as tech is available"}]


def test_only_selected_fields_are_written(mapping_dir: Path) -> None:
    m = load_mapping("demo", [mapping_dir]).entity("Companies")
    payload = m.to_vendor(Organization(name="Acme", phone="+1555"), Vocab(), fields=["phone"])
    assert payload == {"phone": "+1555"}


def test_foreign_refs_resolve_through_the_crosswalk_or_reject(mapping_dir: Path) -> None:
    m = load_mapping("demo", [mapping_dir]).entity("Companies")
    org = Organization(name="Acme", parent=ExternalRef(system="other", kind="organization", id="9"))
    assert m.to_vendor(org, Vocab(), fields=["parent"], resolve_ref=lambda ref: "77") == {"parentCompanyID": 77}
    with pytest.raises(RecordRejected, match="no demo counterpart"):
        m.to_vendor(org, Vocab(), fields=["parent"], resolve_ref=lambda ref: None)


def test_unknown_picklist_label_lists_valid_ones(mapping_dir: Path) -> None:
    m = load_mapping("demo", [mapping_dir]).entity("Companies")
    with pytest.raises(ConfigError, match="valid: Customer, Prospect"):
        m.to_vendor(Organization(name="A", account_type="inactive"), Vocab(), fields=["account_type"])


def test_bad_vendor_data_is_rejected_naming_the_field(mapping_dir: Path) -> None:
    m = load_mapping("demo", [mapping_dir]).entity("Companies")
    with pytest.raises(RecordRejected, match="demo Companies 5: field name"):
        m.to_core({"id": 5, "companyName": "   "}, Vocab())


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        ("transform: [trim]", "transform: [shout]"),
        ("kind: organization", "kind: widget"),
        ("address.city:", "adress.city:"),
        ("normalize: org_name", "normalize: fuzzy"),
        ("address.city: {vendor: city}", "address.city: {vendor: \"udf[first].value\"}"),
    ],
)
def test_schema_errors_point_at_file_and_line(tmp_path: Path, replace: str, message: str) -> None:
    (tmp_path / "demo.yaml").write_text(MAPPING.replace(replace, message))
    with pytest.raises(ConfigError) as info:
        load_mapping("demo", [tmp_path])
    text = str(info.value)
    lines = MAPPING.replace(replace, message).splitlines()
    line = next(number for number, content in enumerate(lines, 1) if message.split(":")[0] in content)
    assert text.startswith(f"{tmp_path / 'demo.yaml'}:{line}: "), text


def test_user_folder_overrides_builtin(tmp_path: Path, mapping_dir: Path) -> None:
    with pytest.raises(ConfigError, match="no mapping file"):
        load_mapping("demo", [tmp_path])
    assert load_mapping("demo", [tmp_path, mapping_dir]).path.parent == mapping_dir


def test_paths() -> None:
    data: dict[str, Any] = {}
    set_path(data, "a.b.c", 1)
    set_path(data, "udf[name=X].value", "v")
    set_path(data, "emails[primary=True].value", "a@b.example")
    set_path(data, "ids[n=7].v", 1)
    assert data["emails"] == [{"primary": True, "value": "a@b.example"}] and data["ids"] == [{"n": 7, "v": 1}]
    assert get_path(data, "emails[primary=True].value") == "a@b.example"
    set_path(data, "udf[name=Y].value", "w")
    assert get_path(data, "a.b.c") == 1
    assert get_path(data, "udf[name=Y].value") == "w"
    assert get_path(data, "udf[0].name") == "X"
    assert get_path(data, "a.missing.x") is None
    assert get_path({"l": [1]}, "l[5]") is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("The Acme Co., Inc.", "acme"),
        ("Smith & Sons LLC", "smith and sons"),
        ("Café Ünïcode", "cafe unicode"),
        ("Okafor Architecture Pty Ltd", "Okafor Architecture GmbH"),
        ("Widgets L.L.C.", "widgets"),
    ],
)
def test_org_name_normalizer(a: str, b: str) -> None:
    assert NORMALIZERS["org_name"](a) == NORMALIZERS["org_name"](b)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("The Company Store", "companystore"),  # not "store": only trailing legal forms go
        ("Corp & Co", "corpandco"),  # never reduced to a stop word
        ("The Co", "theco"),
        ("Company", "company"),
        ("And", "and"),
    ],
)
def test_org_name_normalizer_keeps_the_significant_words(name: str, key: str) -> None:
    assert NORMALIZERS["org_name"](name) == key


WORDS = ["the", "and", "&", "co", "corp", "ltd", "gmbh", "company", "store", "acme", "okafor", "of"]


@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6))
def test_org_name_keeps_every_significant_word_and_never_ends_as_a_stop_word(words: list[str]) -> None:
    name = " ".join(words)
    key = NORMALIZERS["org_name"](name)
    significant = [w for w in words if w in ("store", "acme", "okafor")]
    if name.strip("& "):
        assert key  # a name with words is never reduced to nothing
    for word in significant:
        assert word in (key or "")
    if key in ("the", "and", "of"):
        assert name.replace("&", "and").split() == [key]  # only when that is the whole name


@pytest.mark.parametrize(
    ("region", "written", "e164"),
    [
        ("AU", "02 9876 5432", "+61298765432"),
        ("US", "(415) 555-2671", "+14155552671"),
        ("AU", "+1 415 555 2671", "+14155552671"),
        ("US", "02 9876 5432", "02 9876 5432"),  # no valid US number: left as written, not made up
        ("GB", "020 7946 0958", "+442079460958"),
    ],
)
def test_phone_numbers_read_with_the_msp_s_region(region: str, written: str, e164: str) -> None:
    configure(phone_region=region)
    try:
        assert TRANSFORMS["phone"](written) == e164
    finally:
        configure(phone_region="US")


def test_unknown_picklist_values_are_data_not_errors(mapping_dir: Path) -> None:
    m = load_mapping("demo", [mapping_dir]).entity("Companies")
    vocab = Vocab()
    vocab.labels = {1: "Customer", 2: "Prospect", 9: "Cancelation"}
    raw = {"id": 7, "companyName": "Gone Ltd", "companyType": 9, "isActive": True}
    with track_unmapped() as unmapped:
        first = m.to_core(raw, vocab)
        second = m.to_core({**raw, "id": 8}, vocab)
    # the core model has "other" for account types; the record is still read
    assert first.account_type == "other" and second.name == "Gone Ltd"
    assert unmapped.count == 2
    assert unmapped.labels == {("demo", "Companies", "account_type", "Cancelation"): 2}
    assert m.to_core(raw, vocab).account_type == "other"  # no tracker outside a run: still read


def test_constants_named_by_label_resolve_through_the_vocabulary(tmp_path: Path) -> None:
    folder = tmp_path / "maps"
    folder.mkdir()
    (folder / "demo.yaml").write_text(
        re.sub(r"( *)ownerResourceID: 4", r"\1ownerResourceID: {label: Prospect}\n\1isActive: true", MAPPING)
    )
    m = load_mapping("demo", [folder]).entity("Companies")
    assert m.constants(Vocab()) == {"ownerResourceID": 2, "isActive": True}
    assert m.to_vendor(Organization(name="Acme"), Vocab(), fields=["name"], create=True)["ownerResourceID"] == 2
    with pytest.raises(ConfigError, match="unknown label 'Prospect'; valid: Customer"):
        load_mapping("demo", [folder]).entity("Companies").constants(
            type("V", (Vocab,), {"labels": {1: "Customer"}})()
        )


@given(st.text())
def test_transforms_never_crash_on_text(value: str) -> None:
    for name, fn in TRANSFORMS.items():
        if name == "int":
            continue
        fn(value)


@given(st.emails())
def test_email_normalizer_is_idempotent(value: str) -> None:
    once = NORMALIZERS["email"](value)
    assert NORMALIZERS["email"](once) == once
