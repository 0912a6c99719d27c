"""Account team and Client Portal writes: the exact requests, checked against the swagger models.

Every test asserts that each mocked route was called and that nothing unmocked was
requested (``assert_all_called``, ``assert_all_mocked``), so an unwanted write fails.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import respx

from connectors.autotask.portal import ActivatePortalParams, check_password, generate_password
from connectors.autotask.team import AccountTeamParams
from connectors.autotask.vocabulary import FieldInfo
from hub.logging import configure_logging
from hub.sdk import ActionContext, ConfigError, MemoryKeyValueStore, RecordRejected, VendorError

from .conftest import ROOT, ZONE, example, make_connector, make_settings

ZONE_INFO = {**example("zoneInformation_response.SHAPE.json"), "url": ZONE}
CONTACT = 29683555
COMPANY = 4711


def _picklist(name: str, values: dict[int, str], default: int | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "dataType": "integer",
        "isRequired": True,
        "isReadOnly": False,
        "isPickList": True,
        "picklistValues": [
            {"value": str(v), "label": label, "isDefaultValue": v == default, "sortOrder": i, "isActive": True}
            for i, (v, label) in enumerate(values.items())
        ],
    }


#: ClientPortalUsers/entityInformation/fields: security levels; formats without a flagged default
PORTAL_FIELDS = {
    "fields": [
        _picklist("securityLevel", {1: "Basic", 2: "Advanced", 3: "Manager"}, default=1),
        _picklist("dateFormat", {7: "dd.mm.yyyy", 3: "mm/dd/yyyy"}),
        _picklist("timeFormat", {2: "HH:mm"}, default=2),
        _picklist("numberFormat", {1: "X,XXX.XX"}, default=1),  # a digit-grouping pattern, not a placeholder
    ]
}
CONTACT_ITEM = {"item": {"id": CONTACT, "companyID": COMPANY, "emailAddress": "dana@harbor.example.com"}}


@pytest.fixture
def router():
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as mock:
        mock.get(f"{ROOT}v1.0/zoneInformation", params={"user": "api-user@msp.example.com"}).respond(
            json=ZONE_INFO
        )
        yield mock


def _ctx() -> ActionContext:
    return ActionContext(run_id="run-1", step_id="step", documents_root=".", state=MemoryKeyValueStore())


def _props(swagger: dict[str, Any], model: str) -> set[str]:
    return {p.casefold() for p in swagger["definitions"][model]["properties"]}


def _body(route: respx.Route, n: int = -1) -> Any:
    return json.loads(route.calls[n].request.content)


def _page(*items: dict[str, Any]) -> dict[str, Any]:
    return {"items": list(items), "pageDetails": {"count": len(items), "nextPageUrl": None}}


# -- account team ---------------------------------------------------------------------


def test_set_account_team_adds_the_missing_removes_the_others_and_keeps_comanaged(router, swagger):
    query = router.post(f"{ZONE}V1.0/CompanyTeams/query").respond(
        json=_page(
            {"id": 31, "companyID": COMPANY, "resourceID": 29682886, "isAssociatedAsComanaged": False},
            {"id": 32, "companyID": COMPANY, "resourceID": 29682885, "isAssociatedAsComanaged": False},
            {"id": 33, "companyID": COMPANY, "resourceID": 10, "isAssociatedAsComanaged": True},
        )
    )
    create = router.post(f"{ZONE}V1.0/Companies/{COMPANY}/Teams").respond(json={"itemId": 34})
    delete = router.delete(f"{ZONE}V1.0/Companies/{COMPANY}/Teams/32").respond(json={"itemId": 32})
    at = make_connector(make_settings())

    out = at.action("set_account_team").run(
        AccountTeamParams(company_id=COMPANY, resources=["29682886", "29682887", "29682887"], exact=True), _ctx()
    )

    assert _body(query) == {
        "MaxRecords": 500,
        "Filter": [{"op": "eq", "field": "companyID", "value": COMPANY}],
    }
    assert create.call_count == 1 and _body(create) == {"companyID": COMPANY, "resourceID": 29682887}
    assert {k.casefold() for k in _body(create)} <= _props(swagger, "CompanyTeamModel")
    assert delete.call_count == 1
    assert out == {
        "company_id": str(COMPANY),
        "resources": [29682886, 29682887, 10],
        "added": [29682887],
        "removed": [29682885],
        "kept_comanaged": [10],
        "changed": True,
    }


def test_the_team_paths_are_the_swaggers(swagger):
    paths = {p.casefold(): ops for p, ops in swagger["paths"].items()}
    assert "post" in paths["/v1.0/companies/{parentid}/teams"]
    assert "delete" in paths["/v1.0/companies/{parentid}/teams/{id}"]
    assert "post" in paths["/v1.0/companyteams/query"]
    assert {"post", "patch"} <= set(paths["/v1.0/clientportalusers"])
    # no update of a team member exists: the connector refuses one before any request
    assert "patch" not in paths["/v1.0/companies/{parentid}/teams"]
    with pytest.raises(ConfigError, match="cannot update CompanyTeams"):
        make_connector(make_settings()).update("CompanyTeams", "5", {"resourceID": 4})


def test_team_members_are_deleted_not_deactivated_and_only_they_are_deleted():
    at = make_connector(make_settings())
    with pytest.raises(ConfigError, match="delete them instead"):
        at.deactivate("CompanyTeams", "5")
    with pytest.raises(ConfigError, match="cannot delete Contacts"):
        at.delete("Contacts", "5")


def test_delete_without_the_company_reads_the_member_first(router):
    router.get(f"{ZONE}V1.0/CompanyTeams/35").respond(json={"item": {"id": 35, "companyID": COMPANY}})
    router.delete(f"{ZONE}V1.0/Companies/{COMPANY}/Teams/35").respond(json={"itemId": 35})
    assert make_connector(make_settings()).delete("CompanyTeams", "35").id == "35"


# -- Client Portal ----------------------------------------------------------------------


def test_activate_client_portal_creates_the_user_with_a_generated_password(router, swagger):
    router.get(f"{ZONE}V1.0/Contacts/{CONTACT}").respond(json=CONTACT_ITEM)
    router.get(f"{ZONE}V1.0/ClientPortalUsers/entityInformation/fields").respond(json=PORTAL_FIELDS)
    query = router.post(f"{ZONE}V1.0/ClientPortalUsers/query").respond(json=_page())
    create = router.post(f"{ZONE}V1.0/ClientPortalUsers").respond(json={"itemId": 901})
    at = make_connector(make_settings())

    out = at.action("activate_client_portal").run(
        ActivatePortalParams(contact_id=CONTACT, security_level="manager"), _ctx()
    )

    assert _body(query)["Filter"] == [{"op": "eq", "field": "contactID", "value": CONTACT}]
    sent = _body(create)
    password = sent.pop("password")
    assert sent == {
        "contactID": CONTACT,
        "userName": "dana@harbor.example.com",
        "securityLevel": 3,
        "isClientPortalActive": True,
        "dateFormat": 7,  # no flagged default: the first by sortOrder
        "timeFormat": 2,
        "numberFormat": 1,
    }
    assert {k.casefold() for k in [*sent, "password"]} <= _props(swagger, "ClientPortalUserModel")
    check_password(password)
    assert len(password) == 24
    assert out == {
        "id": "901",
        "contact_id": str(CONTACT),
        "user_name": "dana@harbor.example.com",
        "security_level": "Manager",
        "active": True,
        "outcome": "created",
        "password_source": "generated",
    }
    assert password not in json.dumps(out)


def test_an_inactive_portal_user_is_reactivated_without_touching_its_password(router, swagger):
    router.get(f"{ZONE}V1.0/Contacts/{CONTACT}").respond(json=CONTACT_ITEM)
    router.get(f"{ZONE}V1.0/ClientPortalUsers/entityInformation/fields").respond(json=PORTAL_FIELDS)
    inactive = {"id": 77, "contactID": CONTACT, "userName": "dana", "password": None, "securityLevel": 2,
                "isClientPortalActive": False, "dateFormat": 3, "timeFormat": 2, "numberFormat": 1}  # fmt: skip
    router.post(f"{ZONE}V1.0/ClientPortalUsers/query").respond(json=_page(inactive))
    patch = router.patch(f"{ZONE}V1.0/ClientPortalUsers").respond(json={"itemId": 77})
    at = make_connector(make_settings())

    out = at.action("activate_client_portal").run(ActivatePortalParams(contact_id=CONTACT), _ctx())

    assert _body(patch) == {"isClientPortalActive": True, "securityLevel": 1, "id": 77}
    assert {k.casefold() for k in _body(patch)} <= _props(swagger, "ClientPortalUserModel")
    assert (out["outcome"], out["user_name"], out["password_source"]) == ("re-activated", "dana", "unchanged")


def test_an_active_portal_user_at_the_level_is_left_alone(router):
    router.get(f"{ZONE}V1.0/Contacts/{CONTACT}").respond(json=CONTACT_ITEM)
    router.get(f"{ZONE}V1.0/ClientPortalUsers/entityInformation/fields").respond(json=PORTAL_FIELDS)
    active = {"id": 77, "contactID": CONTACT, "userName": "dana", "securityLevel": 1, "isClientPortalActive": True}
    router.post(f"{ZONE}V1.0/ClientPortalUsers/query").respond(json=_page(active))
    out = make_connector(make_settings()).action("activate_client_portal").run(
        ActivatePortalParams(contact_id=CONTACT, security_level="Basic"), _ctx()
    )
    assert out["outcome"] == "already active"


def test_an_unknown_security_level_is_refused_before_any_write(router):
    router.get(f"{ZONE}V1.0/Contacts/{CONTACT}").respond(json=CONTACT_ITEM)
    router.get(f"{ZONE}V1.0/ClientPortalUsers/entityInformation/fields").respond(json=PORTAL_FIELDS)
    with pytest.raises(ConfigError, match="valid labels: 'Advanced', 'Basic', 'Manager'"):
        make_connector(make_settings()).action("activate_client_portal").run(
            ActivatePortalParams(contact_id=CONTACT, security_level="Client Portal User"), _ctx()
        )


def test_a_contact_without_email_needs_a_user_name(router):
    router.get(f"{ZONE}V1.0/Contacts/{CONTACT}").respond(json={"item": {"id": CONTACT, "emailAddress": ""}})
    router.get(f"{ZONE}V1.0/ClientPortalUsers/entityInformation/fields").respond(json=PORTAL_FIELDS)
    router.post(f"{ZONE}V1.0/ClientPortalUsers/query").respond(json=_page())
    with pytest.raises(RecordRejected, match=r"no e-mail address .* give user_name"):
        make_connector(make_settings()).action("activate_client_portal").run(
            ActivatePortalParams(contact_id=CONTACT), _ctx()
        )


def test_a_password_the_vendor_echoes_is_masked_in_the_error_and_the_logs(router):
    given = "Echo-Me-9!x"
    router.post(f"{ZONE}V1.0/ClientPortalUsers").respond(
        500, json={"errors": [f"Password {given} does not meet the password policy."]}
    )
    buffer = io.StringIO()
    configure_logging(json=True, level="DEBUG", stream=buffer)
    try:
        with pytest.raises(VendorError) as info:
            make_connector(make_settings()).create(
                "ClientPortalUsers",
                {"contactID": CONTACT, "userName": "dana", "password": given, "securityLevel": 1,
                 "isClientPortalActive": True, "dateFormat": 1, "timeFormat": 1, "numberFormat": 1},
            )  # fmt: skip
    finally:
        configure_logging(json=False, level="WARNING")
    assert "does not meet the password policy" in str(info.value)
    assert given not in str(info.value) and given not in (info.value.vendor_message or "")
    assert given not in buffer.getvalue() and "ClientPortalUsers" in buffer.getvalue()


@pytest.mark.parametrize("bad", ["abcd", "has space1", "quo'te12", "x" * 51])
def test_a_password_breaking_autotasks_rules_is_refused_without_echoing_it(bad):
    at = make_connector(make_settings())
    with pytest.raises(RecordRejected) as info:
        at.update("ClientPortalUsers", "77", {"password": bad})
    assert bad not in str(info.value)


def test_generated_passwords_keep_autotasks_rules():
    seen = {generate_password() for _ in range(200)}
    assert len(seen) == 200
    for password in seen:
        check_password(password)
        assert any(c.isupper() for c in password) and any(c.isdigit() for c in password)


def test_the_default_is_the_flagged_value_else_the_first_active_by_sort_order():
    def info(values: list[tuple[int, bool, int, bool]]) -> FieldInfo:
        items = [
            {"value": str(v), "label": f"L{v}", "isDefaultValue": d, "sortOrder": o, "isActive": a}
            for v, d, o, a in values
        ]
        return FieldInfo.from_api({"name": "f", "isPickList": True, "picklistValues": items})

    assert info([(1, False, 0, True), (2, True, 1, True)]).default == "2"
    assert info([(1, False, 5, True), (2, False, 1, True), (3, False, 0, False)]).default == "2"
    assert info([]).default is None
