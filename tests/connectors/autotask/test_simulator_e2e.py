"""The connector against the simulator over real loopback HTTP: reads, writes, errors, limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors.autotask import AutotaskConnector, AutotaskSettings
from connectors.autotask.plugin import MAPPINGS
from connectors.autotask.query import all_of, any_of, cond
from hub.mapping import load_mapping
from hub.sdk import (
    AuthenticationError,
    ConfigError,
    NotFoundError,
    Organization,
    PermissionDeniedError,
    RateLimitedError,
    RecordRejected,
    Ticket,
    VendorError,
)

from .conftest import make_connector

STREAMS = [
    "Companies",
    "Contacts",
    "Tickets",
    "Contracts",
    "ConfigurationItems",
    "TicketNotes",
    "CompanyNotes",
]


def _ids(pages):
    return [r["id"] for p in pages for r in p.records]


@pytest.mark.parametrize("name", STREAMS)
def test_every_stream_reads_everything_in_id_order_over_several_pages(sandbox_factory, name):
    sandbox, url = sandbox_factory(size=16, page_size=5)
    connector = make_connector(AutotaskSettings(**sandbox.settings(url)))

    pages = list(connector.stream(name).read())

    ids = _ids(pages)
    assert len(ids) == sandbox.control.count(name) and ids == sorted(ids)
    assert len(pages) == -(-len(ids) // 5)
    assert all(p.resume == {"after_id": p.records[-1]["id"]} for p in pages[:-1]) and pages[-1].resume is None


def test_resume_after_a_crash_continues_without_gap_or_duplicate(sandbox_factory):
    sandbox, url = sandbox_factory(size=10, page_size=4)
    connector = make_connector(AutotaskSettings(**sandbox.settings(url)))
    stream = connector.stream("Contacts")
    everything = _ids(stream.read())

    reader = stream.read()
    first, second = next(reader), next(reader)
    reader.close()  # the process dies after two pages
    rest = _ids(
        make_connector(AutotaskSettings(**sandbox.settings(url)))
        .stream("Contacts")
        .read(resume=second.resume)
    )

    assert _ids([first, second]) + rest == everything


def _first_page(url: str, sandbox, method: str, body: dict) -> tuple[dict, dict]:
    """Page one of a Companies query sent with ``method`` straight to the simulator, and the headers."""
    settings = sandbox.settings(url)
    headers = {
        "ApiIntegrationCode": settings["integration_code"],
        "UserName": settings["username"],
        "Secret": settings["secret"],
    }
    base = f"{url}/ws5/atservicesrest/V1.0/Companies/query"
    if method == "POST":
        answer = httpx.post(base, json=body, headers=headers)
    else:
        answer = httpx.get(base, params={"search": json.dumps(body)}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json(), headers


def test_simulator_refuses_get_on_the_next_page_of_a_posted_query(sandbox_factory):
    sandbox, url = sandbox_factory(size=12, page_size=5)
    body = {"Filter": [{"op": "gte", "field": "id", "value": 0}]}
    first, headers = _first_page(url, sandbox, "POST", body)
    next_url = first["pageDetails"]["nextPageUrl"]
    assert "/Companies/query/next?paging=" in next_url and "search=" not in next_url

    refused = httpx.get(next_url, headers=headers)
    assert refused.status_code == 405
    assert refused.json() == {"Message": "The requested resource does not support http method 'GET'."}
    assert refused.headers["Allow"] == "POST"

    posted = httpx.post(next_url, json=body, headers=headers)
    assert posted.status_code == 200
    page_one = [c["id"] for c in first["items"]]
    page_two = [c["id"] for c in posted.json()["items"]]
    assert len(page_one) == len(page_two) == 5 and page_two[0] > page_one[-1]


def test_simulator_serves_a_get_query_s_next_page_by_get_with_the_search(sandbox_factory):
    sandbox, url = sandbox_factory(size=12, page_size=5)
    body = {"Filter": [{"op": "gte", "field": "id", "value": 0}]}
    first, headers = _first_page(url, sandbox, "GET", body)
    next_url = first["pageDetails"]["nextPageUrl"]
    assert "search=" in next_url

    second = httpx.get(next_url, headers=headers)
    assert second.status_code == 200
    ids = [c["id"] for c in first["items"]] + [c["id"] for c in second.json()["items"]]
    assert ids == sorted(ids) and len(set(ids)) == 10


def test_a_read_past_one_page_posts_each_next_page_and_never_gets_it(sandbox_factory):
    sandbox, url = sandbox_factory(size=16, page_size=5)
    connector = make_connector(AutotaskSettings(**sandbox.settings(url)))

    ids = _ids(connector.stream("Companies").read())

    assert len(ids) == sandbox.control.count("Companies") > 10
    queries = [r for r in sandbox.control.requests if "/query" in r["path"]]
    assert [r["method"] for r in queries] == ["POST"] * len(queries)
    assert [r["path"].endswith("/query/next") for r in queries] == [False] + [True] * (len(queries) - 1)
    assert all(r["json"] == queries[0]["json"] for r in queries)


def test_incremental_read_returns_changed_records_at_or_after_since(sim, connector):
    sandbox, _ = sim
    since = datetime.now(UTC) - timedelta(seconds=5)
    touched = {sandbox.control.touch("Tickets"), sandbox.control.touch("Tickets", "7003")}

    changed = _ids(connector.stream("Tickets").read(since=since))

    assert {str(i) for i in changed} == touched
    assert _ids(connector.stream("Tickets").read(since=datetime.now(UTC) + timedelta(days=1))) == []


def test_query_filter_operators_and_nested_groups(connector):
    companies = list(connector.query("Companies", cond("gte", "id", 0)))
    first = companies[0]

    def names(*filters):
        return {c["companyName"] for c in connector.query("Companies", *filters)}

    assert names(cond("eq", "companyName", first["companyName"].upper())) == {first["companyName"]}
    assert first["companyName"] not in names(cond("noteq", "id", first["id"]))
    assert names(cond("beginsWith", "companyName", first["companyName"][:4])) >= {first["companyName"]}
    assert names(cond("endsWith", "companyName", "#1")) == {first["companyName"]}
    assert names(cond("contains", "companyName", " #12")) == {companies[11]["companyName"]}
    assert len(names(cond("in", "id", [first["id"], companies[1]["id"]]))) == 2
    assert len(names(cond("notIn", "id", [first["id"]]))) == len(companies) - 1
    assert len(names(cond("lt", "id", companies[3]["id"]))) == 3
    assert len(names(cond("lte", "id", companies[3]["id"]))) == 4
    assert len(names(cond("gt", "id", companies[-2]["id"]))) == 1
    assert names(cond("notExist", "parentCompanyID")) == names(cond("gte", "id", 0)) - names(
        cond("exist", "parentCompanyID")
    )
    assert (
        len(
            names(
                any_of(
                    cond("eq", "id", first["id"]),
                    all_of(cond("gte", "id", companies[5]["id"]), cond("lte", "id", companies[6]["id"])),
                )
            )
        )
        == 3
    )
    help_desk = {c["id"] for c in connector.query("Companies", cond("eq", "Help Desk", "1", udf=True))}
    assert help_desk == {c["id"] for c in companies if c["userDefinedFields"][0]["value"] == "1"}
    only = next(connector.query("Companies", cond("eq", "id", first["id"]), fields=["companyName"]))
    assert only == {"id": first["id"], "companyName": first["companyName"]}


def test_a_filter_on_an_unknown_field_shows_autotask_s_error(connector):
    with pytest.raises(VendorError) as caught:
        list(connector.query("Companies", cond("eq", "nickname", "x")))
    assert caught.value.vendor_message == "Unable to find nickname in the Companies entity."


def test_create_then_read_back_and_update_changes_only_given_fields(sim, connector):
    sandbox, _ = sim
    mapping = load_mapping("autotask", [MAPPINGS])
    org = Organization(
        name='O\'Brien "and" Sons',
        account_type="prospect",
        classification="R0",
        phone="518-555-0100",
        help_desk="none - as tech is available",
    )
    payload = mapping.entity("Companies").to_vendor(org, connector, create=True)

    company_id = connector.create("Companies", payload).id
    stored = connector.get("Companies", company_id)
    core = mapping.entity("Companies").to_core(stored, connector)

    assert (core.name, core.account_type, core.classification, core.help_desk) == (
        org.name,
        org.account_type,
        "R0",
        org.help_desk,
    )
    assert core.service_model == "break_fix"
    connector.update("Companies", company_id, {"phone": "518-555-0199"})
    after = connector.get("Companies", company_id)
    assert after["phone"] == "518-555-0199"
    unchanged = {
        k: v
        for k, v in stored.items()
        if k not in ("phone", "lastActivityDate", "lastTrackedModifiedDateTime")
    }
    assert {k: after[k] for k in unchanged} == unchanged
    assert (
        after["lastActivityDate"] > stored["lastActivityDate"]
        or after["lastActivityDate"] == stored["lastActivityDate"]
    )
    assert sandbox.control.count("Companies") == 13


def test_contacts_and_notes_are_written_under_their_parent(sim, connector):
    sandbox, _ = sim
    contact_id = connector.create(
        "Contacts",
        {
            "companyID": 175,
            "firstName": "Ada",
            "lastName": "Lovelace",
            "isActive": 1,
            "emailAddress": "ada@example.com",
            "userDefinedFields": [{"name": "Invoice Recipient", "value": "1"}],
        },
    ).id
    connector.update("Contacts", contact_id, {"title": "Controller"})
    contact = connector.get("Contacts", contact_id)
    assert (contact["companyID"], contact["title"]) == (175, "Controller")
    assert {"name": "Invoice Recipient", "value": "1"} in contact["userDefinedFields"]
    ticket_before = connector.get("Tickets", "7000")
    note_id = connector.create(
        "TicketNotes",
        {
            "ticketID": 7000,
            "title": "Form received",
            "description": "New authority: Ada",
            "noteType": 1,
            "publish": 1,
        },
    ).id
    connector.update("TicketNotes", note_id, {"description": "New authority: Ada Lovelace"})
    assert connector.get("TicketNotes", note_id)["description"] == "New authority: Ada Lovelace"
    assert connector.get("Tickets", "7000")["lastActivityDate"] >= ticket_before["lastActivityDate"]
    company_note = connector.create(
        "CompanyNotes", {"companyID": 174, "name": "T&C", "note": "Signed", "actionType": 3}
    ).id
    connector.update("CompanyNotes", company_note, {"note": "Signed and filed"})
    assert connector.get("CompanyNotes", company_note)["note"] == "Signed and filed"
    paths = [
        (r["method"], r["path"])
        for r in sandbox.control.requests
        if r["method"] in ("POST", "PATCH") and not r["path"].endswith("/query")
    ]
    assert ("POST", "/ws5/atservicesrest/V1.0/Companies/175/Contacts") in paths
    assert ("PATCH", "/ws5/atservicesrest/V1.0/Tickets/7000/Notes") in paths
    assert ("POST", "/ws5/atservicesrest/V1.0/Companies/174/Notes") in paths
    with pytest.raises(RecordRejected, match="companyID"):
        connector.create("Contacts", {"firstName": "No", "lastName": "Company"})


def test_tickets_contracts_and_devices_by_label(connector):
    mapping = load_mapping("autotask", [MAPPINGS])
    ticket = Ticket(
        title="New break/fix customer",
        status="pending paperwork",
        priority="Medium",
        queue="Level I Support",
        due_date=datetime(2026, 2, 3, 15, 0, tzinfo=UTC),
        organization={"system": "autotask", "kind": "organization", "id": "174"},
    )
    ticket_id = connector.create(
        "Tickets", mapping.entity("Tickets").to_vendor(ticket, connector, create=True)
    ).id
    en_dash_label = "Scheduled \u2013 external tech"  # as the procedures write it
    connector.update(
        "Tickets", ticket_id, {"status": connector.picklist_value("Tickets", "status", en_dash_label)}
    )
    back = mapping.entity("Tickets").to_core(connector.get("Tickets", ticket_id), connector)
    assert (back.status, back.queue, back.due_date) == (
        "Scheduled - external tech",
        "Level I Support",
        ticket.due_date,
    )
    connector.deactivate("Tickets", ticket_id)
    assert connector.get("Tickets", ticket_id)["completedDate"] is not None

    contract_id = connector.create(
        "Contracts",
        {
            "companyID": 174,
            "contractName": "Managed Services",
            "contractType": 7,
            "startDate": "2026-01-01",
            "endDate": "2026-12-31",
            "status": 1,
        },
    ).id
    connector.deactivate("Contracts", contract_id)
    assert connector.get("Contracts", contract_id)["status"] == 0

    ci_id = connector.create(
        "ConfigurationItems",
        {
            "companyID": 174,
            "productID": 232,
            "isActive": True,
            "referenceTitle": "WS-NEW",
            "serialNumber": "SN1",
        },
    ).id
    connector.update("ConfigurationItems", ci_id, {"serialNumber": "SN2"})
    connector.deactivate("ConfigurationItems", ci_id)
    stored = connector.get("ConfigurationItems", ci_id)
    assert (stored["serialNumber"], stored["isActive"]) == ("SN2", False)
    connector.deactivate("Companies", "174")
    connector.deactivate("Contacts", "29683500")
    assert (
        connector.get("Companies", "174")["isActive"] is False
        and connector.get("Contacts", "29683500")["isActive"] == 0
    )
    with pytest.raises(ConfigError):
        connector.deactivate("TicketNotes", "45")


def test_unknown_picklist_label_lists_valid_labels(connector):
    with pytest.raises(ConfigError) as caught:
        connector.picklist_value("Companies", "companyType", "Client")
    assert (
        "'Customer'" in str(caught.value)
        and "'Prospect'" in str(caught.value)
        and "'Inactive'" in str(caught.value)
    )
    with pytest.raises(ConfigError, match="'none - as tech is available'"):
        connector.picklist_value("Companies", "userDefinedFields[name=Help Desk].value", "gold")


def test_business_rule_refusals_show_autotask_s_text(connector):
    with pytest.raises(VendorError) as caught:
        connector.create("Tickets", {"companyID": 174, "title": "x", "status": 99, "priority": 1})
    assert caught.value.vendor_message == "Value 99 does not exist for field status."
    with pytest.raises(VendorError, match="Value is required for field title"):
        connector.create("Tickets", {"companyID": 174, "status": 1, "priority": 1})
    with pytest.raises(NotFoundError):
        connector.get("Tickets", "999999")


def test_wrong_credentials_get_401_naming_the_settings(sim):
    sandbox, url = sim
    settings = AutotaskSettings(**{**sandbox.settings(url), "secret": "wrong"})
    with pytest.raises(AuthenticationError, match="HUB_AUTOTASK__SECRET"):
        make_connector(settings).check()


def test_unknown_user_at_zone_discovery(sim):
    sandbox, url = sim
    settings = AutotaskSettings(**{**sandbox.settings(url), "username": "nobody@example.com"})
    with pytest.raises(ConfigError, match=r"does not know API user 'nobody@example\.com'"):
        make_connector(settings).check()


def test_impersonation_header_credits_writes_to_the_resource(sim):
    sandbox, url = sim
    connector = make_connector(AutotaskSettings(**sandbox.settings(url), impersonation_resource_id=10))
    note = connector.create(
        "TicketNotes", {"ticketID": 7000, "title": "t", "description": "d", "noteType": 1, "publish": 1}
    ).id
    assert connector.get("TicketNotes", note)["creatorResourceID"] == 10
    refused = make_connector(AutotaskSettings(**sandbox.settings(url), impersonation_resource_id=77))
    with pytest.raises(PermissionDeniedError):
        refused.check()


def test_429_then_success_and_the_hourly_budget(sim, connector):
    sandbox, _ = sim
    sandbox.control.fail_next(429, retry_after=3)
    assert connector.check().ok
    assert 3 in connector.context.clock.sleeps
    assert connector.check().details["usage"].startswith("2 of 10000")  # the injected 429 was not counted
    sandbox.control.set_budget(sandbox.control.usage)
    with pytest.raises(RateLimitedError) as caught:
        connector.check()
    assert "10000" not in (caught.value.vendor_message or "") and "exceeded" in (
        caught.value.vendor_message or ""
    )


def test_check_shows_zone_user_and_usage(sim, connector):
    details = connector.check().details
    assert details["zone"].startswith("Simulator Zone 5 (http://127.0.0.1:")
    assert details["api user"] == "api-user@msp.example.com"
    assert details["usage"] == "1 of 10000 requests in the current 60-minute window"


def test_connector_code_imports_only_hub_sdk():
    import ast
    import pathlib

    package = pathlib.Path(AutotaskConnector.__module__.replace(".", "/")).parent
    root = pathlib.Path(__file__).resolve().parents[3]
    for path in (root / package).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "hub":
                assert node.module == "hub.sdk", f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                assert all(not a.name.startswith("hub") for a in node.names), path.name
