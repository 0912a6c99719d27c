"""Contract tests against respx routes built from the vendor-spec payloads.

Every test asserts that each mocked route was called (``assert_all_called``), so a test
cannot pass by never reaching the vendor.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
import respx

from hub.sdk import (
    AuthenticationError,
    ConfigError,
    MemoryKeyValueStore,
    PermissionDeniedError,
    TransientError,
    VendorError,
)

from .conftest import ROOT, ZONE, example, make_connector, make_settings

ZONE_INFO = {**example("zoneInformation_response.SHAPE.json"), "url": ZONE}


def _zone(router: respx.Router) -> respx.Route:
    return router.get(f"{ROOT}v1.0/zoneInformation", params={"user": "api-user@msp.example.com"}).respond(
        json=ZONE_INFO
    )


@pytest.fixture
def router():
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as mock:
        yield mock


def test_query_sends_auth_headers_and_filter_and_returns_example_items(router):
    _zone(router)
    query = router.post(f"{ZONE}V1.0/Companies/query").respond(json=example("companies_query_response.json"))
    connector = make_connector(make_settings(impersonation_resource_id=29682885))

    pages = list(connector.stream("Companies").read(since=datetime(2025, 1, 1, tzinfo=UTC)))

    assert [r["companyName"] for p in pages for r in p.records] == ["Autotask Corporation"]
    assert pages[-1].resume is None
    sent = query.calls.last.request
    assert sent.headers["ApiIntegrationCode"] == "INTEGRATION-CODE-1"
    assert sent.headers["UserName"] == "api-user@msp.example.com"
    assert sent.headers["Secret"] == "s3cr3t-value"
    assert sent.headers["ImpersonationResourceId"] == "29682885"
    assert json.loads(sent.content) == {
        "MaxRecords": 500,
        "Filter": [{"op": "gte", "field": "lastActivityDate", "value": "2025-01-01T00:00:00.000Z"}],
    }


def test_each_stream_filters_on_its_own_cursor(router):
    _zone(router)
    routes = {
        name: router.post(f"{ZONE}V1.0/{name}/query").respond(json=example("empty_query_response.json"))
        for name in ("Contracts", "ConfigurationItems", "CompanyNotes")
    }
    connector = make_connector(make_settings())
    since = datetime(2025, 3, 1, tzinfo=UTC)
    for name in routes:
        assert [p.records for p in connector.stream(name).read(since=since)] == [[]]
    fields = {
        name: json.loads(r.calls.last.request.content)["Filter"][0]["field"] for name, r in routes.items()
    }
    # contracts have no change timestamp (the swagger's ContractModel has none): read in full
    assert fields == {
        "Contracts": "id",
        "ConfigurationItems": "lastModifiedTime",
        "CompanyNotes": "lastModifiedDate",
    }
    assert json.loads(routes["Contracts"].calls.last.request.content)["Filter"] == [
        {"op": "gte", "field": "id", "value": 0}
    ]


def test_next_page_of_a_posted_query_is_posted_the_same_body_and_resumes_by_id(router):
    _zone(router)
    first = example("tickets_query_response.json")
    # after a POST query the next page URL carries only the paging token (no search)
    next_url = f"{ZONE}V1.0/Tickets/query/next?paging=%7B%22nextIds%22%3A%5B101%5D%7D"
    first["pageDetails"]["nextPageUrl"] = next_url
    second = {
        "items": [{**first["items"][0], "id": 101}],
        "pageDetails": example("empty_query_response.json")["pageDetails"],
    }
    query = router.post(f"{ZONE}V1.0/Tickets/query").respond(json=first)
    follow = router.post(next_url).respond(json=second)
    connector = make_connector(make_settings())

    pages = list(connector.stream("Tickets").read())

    assert [[r["id"] for r in p.records] for p in pages] == [[100], [101]]
    assert pages[0].resume == {"after_id": 100}
    assert follow.call_count == 1
    page_two = follow.calls.last.request
    assert page_two.method == "POST" and str(page_two.url) == next_url
    assert json.loads(page_two.content) == json.loads(query.calls.last.request.content)
    assert page_two.headers["ApiIntegrationCode"] == "INTEGRATION-CODE-1"
    # every request went to one of the routes: no GET of the next page was attempted
    assert [c.request.method for c in router.calls] == ["GET", "POST", "POST"]


def test_a_405_on_the_next_page_is_a_vendor_error_with_autotask_s_message(router):
    _zone(router)
    first = example("companies_query_response.json")
    next_url = f"{ZONE}V1.0/Companies/query/next?paging=%7B%7D"
    first["pageDetails"]["nextPageUrl"] = next_url
    router.post(f"{ZONE}V1.0/Companies/query").respond(json=first)
    refused = router.post(next_url).respond(
        405, json={"Message": "The requested resource does not support http method 'POST'."}
    )
    connector = make_connector(make_settings())
    with pytest.raises(VendorError, match="does not support http method 'POST'") as caught:
        list(connector.stream("Companies").read())
    assert caught.value.status == 405 and refused.call_count == 1  # refused once, never retried


def test_resume_starts_a_fresh_query_after_the_last_id(router):
    _zone(router)
    query = router.post(f"{ZONE}V1.0/TicketNotes/query").respond(
        json=example("ticketnotes_query_response.json")
    )
    connector = make_connector(make_settings())
    since = datetime(2018, 1, 1, tzinfo=UTC)

    pages = list(connector.stream("TicketNotes").read(since=since, resume={"after_id": 44}))

    assert pages[0].records[0]["ticketID"] == 100
    assert json.loads(query.calls.last.request.content)["Filter"] == [
        {
            "op": "and",
            "items": [
                {"op": "gte", "field": "lastActivityDate", "value": "2018-01-01T00:00:00.000Z"},
                {"op": "gt", "field": "id", "value": 44},
            ],
        }
    ]


def test_next_page_url_on_another_host_is_refused(router):
    _zone(router)
    page = example("contacts_query_response.json")
    page["pageDetails"]["nextPageUrl"] = "https://evil.example.com/V1.0/Contacts/query/next?paging=x"
    router.post(f"{ZONE}V1.0/Contacts/query").respond(json=page)
    connector = make_connector(make_settings())
    with pytest.raises(VendorError, match="away from the zone"):
        list(connector.stream("Contacts").read())


def test_zone_is_cached_in_the_state_store(router):
    zone = _zone(router)
    router.get(f"{ZONE}V1.0/ThresholdInformation").respond(
        json={
            "externalRequestThreshold": 10000,
            "requestThresholdTimeframe": 60,
            "currentTimeframeRequestCount": 42,
        }
    )
    state = MemoryKeyValueStore()
    first = make_connector(make_settings(), state=state).check()
    second = make_connector(make_settings(), state=state).check()

    assert zone.call_count == 1
    assert first.details["zone"] == f"America West ({ZONE})"
    assert second.details["usage"] == "42 of 10000 requests in the current 60-minute window"
    assert first.details["api user"] == "api-user@msp.example.com"
    assert "s3cr3t" not in json.dumps(first.details)


OLD_ZONE = "https://webservices2.autotask.net/atservicesrest/"


def _cached_zone(url: str) -> MemoryKeyValueStore:
    """A state store in which an earlier run remembered the zone at ``url``."""
    state = MemoryKeyValueStore()
    key = f"zone:{ROOT}:api-user@msp.example.com"
    state.set(key, {**ZONE_INFO, "url": url})
    return state


def test_a_401_from_a_remembered_zone_discovers_it_again_and_follows_the_move(router):
    zone = _zone(router)
    refused = router.post(f"{OLD_ZONE}V1.0/Companies/query").respond(
        401, json={"errors": ["User is not authorized"]}
    )
    moved = router.post(f"{ZONE}V1.0/Companies/query").respond(json=example("companies_query_response.json"))
    state = _cached_zone(OLD_ZONE)
    connector = make_connector(make_settings(), state=state)

    pages = list(connector.stream("Companies").read())

    assert [r["companyName"] for p in pages for r in p.records] == ["Autotask Corporation"]
    assert (refused.call_count, zone.call_count, moved.call_count) == (1, 1, 1)
    assert moved.calls.last.request.content == refused.calls.last.request.content
    assert state.get(f"zone:{ROOT}:api-user@msp.example.com")["url"] == ZONE  # the next run starts there


def test_a_401_from_an_unmoved_zone_is_the_credentials_and_is_not_retried(router):
    zone = _zone(router)
    refused = router.get(f"{ZONE}V1.0/ThresholdInformation").respond(401, json={"errors": ["Not authorized"]})
    connector = make_connector(make_settings(), state=_cached_zone(ZONE))
    with pytest.raises(AuthenticationError, match="HUB_AUTOTASK__SECRET"):
        connector.check()
    with pytest.raises(AuthenticationError):  # discovered once per connector, never again
        connector.check()
    assert (zone.call_count, refused.call_count) == (1, 2)


def test_unknown_api_user_is_a_config_error_that_says_so(router):
    router.get(f"{ROOT}v1.0/zoneInformation").respond(500, json={"errors": ["Zone could not be determined"]})
    with pytest.raises(ConfigError, match=r"does not know API user 'api-user@msp.example.com'.*USERNAME"):
        make_connector(make_settings()).check()


@pytest.mark.parametrize(("status", "error"), [(401, AuthenticationError), (403, PermissionDeniedError)])
def test_401_and_403_name_the_settings_to_check(router, status, error):
    _zone(router)
    router.get(f"{ZONE}V1.0/ThresholdInformation").respond(
        status, json={"errors": ["User is not authorized"]}
    )
    with pytest.raises(error) as caught:
        make_connector(make_settings()).check()
    text = str(caught.value)
    for name in ("HUB_AUTOTASK__USERNAME", "HUB_AUTOTASK__SECRET", "HUB_AUTOTASK__INTEGRATION_CODE"):
        assert name in text
    assert "s3cr3t-value" not in text and "INTEGRATION-CODE-1" not in text


def test_autotask_error_texts_are_the_message_and_500_is_not_retried(router):
    _zone(router)
    error = router.post(f"{ZONE}V1.0/Tickets/query").respond(500, json=example("error_response.SHAPE.json"))
    connector = make_connector(make_settings())
    with pytest.raises(VendorError) as caught:
        list(connector.stream("Tickets").read())
    assert (
        caught.value.vendor_message
        == "Invalid query syntax. Queries are limited to 500 or fewer 'OR' conditions."
    )
    assert "500 or fewer 'OR' conditions" in str(caught.value)
    assert error.call_count == 1


def test_429_with_retry_after_is_waited_out_on_the_clock(router):
    _zone(router)
    route = router.post(f"{ZONE}V1.0/Contacts/query")
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "7"}, json={"errors": ["Request threshold exceeded"]}),
        httpx.Response(200, json=example("contacts_query_response.json")),
    ]
    connector = make_connector(make_settings())
    pages = list(connector.stream("Contacts").read())
    assert pages[0].records[0]["emailAddress"] == "brobertson@autotaskdemo.com"
    assert 7 in connector.context.clock.sleeps


def test_503_is_retried_then_transient(router):
    _zone(router)
    route = router.get(f"{ZONE}V1.0/ThresholdInformation").respond(503)
    with pytest.raises(TransientError):
        make_connector(make_settings()).check()
    assert route.call_count == 4


def test_picklist_labels_from_entity_information(router):
    _zone(router)
    fields = router.get(f"{ZONE}V1.0/Tickets/entityInformation/fields").respond(
        json=example("tickets_entityInformation_fields_status_picklist.json")
    )
    connector = make_connector(make_settings())

    assert connector.picklist_label("Tickets", "status", 10) == "Scheduled"
    assert connector.picklist_value("Tickets", "status", "waiting  VENDOR") == 12
    assert connector.picklist_value("Tickets", "queueID", "Client Portal") == 5
    assert connector.picklist_label("Tickets", "title", "Printer") == "Printer"
    with pytest.raises(ConfigError) as caught:
        connector.picklist_value("Tickets", "status", "Pending Paperwork")
    assert "'Escalate', 'Scheduled', 'Waiting Materials', 'Waiting Vendor'" in str(caught.value)
    assert fields.call_count == 1  # cached for the run


def test_udf_picklist_labels(router):
    _zone(router)
    router.get(f"{ZONE}V1.0/Companies/entityInformation/userDefinedFields").respond(
        json=example("entityInformation_userDefinedFields.json")
    )
    connector = make_connector(make_settings())
    path = "userDefinedFields[name=Test UDF].value"
    assert connector.picklist_label("Companies", path, "1") == "One"
    assert connector.picklist_value("Companies", path, "one") == "1"
    with pytest.raises(ConfigError, match="no user-defined field 'Help Desk'; UDFs: Test UDF"):
        connector.picklist_value("Companies", "userDefinedFields[name=Help Desk].value", "x")


def test_get_by_id_unwraps_item_and_create_update_read_item_id(router):
    _zone(router)
    ticket = example("tickets_query_response.json")["items"][0]
    router.get(f"{ZONE}V1.0/Tickets/100").respond(json={"item": ticket})
    router.get(f"{ZONE}V1.0/Contacts/29683589").respond(
        json={"item": example("contacts_query_response.json")["items"][0]}
    )
    create = router.post(f"{ZONE}V1.0/Companies/174/Contacts").respond(json={"itemId": 29683590})
    patch = router.patch(f"{ZONE}V1.0/Companies/174/Contacts").respond(json={"itemId": 29683589})
    connector = make_connector(make_settings())

    assert connector.get("Tickets", "100")["ticketNumber"] == "T20120604.0002.005"
    assert (
        connector.create("Contacts", {"companyID": 174, "firstName": "A", "lastName": "B"}).id == "29683590"
    )
    assert connector.update("Contacts", "29683589", {"title": "CFO"}).id == "29683589"
    assert json.loads(patch.calls.last.request.content) == {"title": "CFO", "id": 29683589}
    assert json.loads(create.calls.last.request.content)["companyID"] == 174


def test_settings_come_from_the_documented_environment_names(monkeypatch):
    from connectors.autotask import AutotaskSettings
    from hub.settings import load_connector_settings

    monkeypatch.setenv("HUB_AUTOTASK__USERNAME", "api@msp.example.com")
    monkeypatch.setenv("HUB_AUTOTASK__SECRET", "env-secret")
    monkeypatch.setenv("HUB_AUTOTASK__INTEGRATION_CODE", "env-code")
    monkeypatch.setenv("HUB_AUTOTASK__WEBHOOK_SECRET", "env-hook")
    monkeypatch.setenv("HUB_AUTOTASK__IMPERSONATION_RESOURCE_ID", "29682885")
    settings = load_connector_settings(AutotaskSettings, "autotask")
    assert settings.username == "api@msp.example.com"
    assert settings.api_root == "https://webservices.autotask.net/atservicesrest/"
    assert settings.impersonation_resource_id == 29682885
    assert "env-secret" not in repr(settings) and "env-code" not in repr(settings)
    monkeypatch.setenv("HUB_AUTOTASK__API_ROOT", "webservices.autotask.net")
    with pytest.raises(ConfigError, match="HUB_AUTOTASK__API_ROOT"):
        load_connector_settings(AutotaskSettings, "autotask")
    monkeypatch.delenv("HUB_AUTOTASK__API_ROOT")
    monkeypatch.delenv("HUB_AUTOTASK__SECRET")
    with pytest.raises(ConfigError, match="HUB_AUTOTASK__SECRET: required but not set"):
        load_connector_settings(AutotaskSettings, "autotask")


def test_connector_is_registered_through_its_plugin():
    from connectors.autotask import AutotaskConnector, plugin

    added = []

    class Registry:
        def add(self, cls):
            added.append(cls)

    plugin.hub_register_connectors(Registry())
    assert added == [AutotaskConnector]
    caps = AutotaskConnector.capabilities()
    assert [s["cursor"] for s in caps["streams"]] == [
        "lastActivityDate",
        "lastActivityDate",
        "lastActivityDate",
        None,
        "lastModifiedTime",
        "lastActivityDate",
        "lastModifiedDate",
    ]
    # account team members and portal users have no change timestamp: written, never streamed
    streamed = {s["name"] for s in caps["streams"]}
    assert caps["webhooks"] is True and set(caps["writes"]) == streamed | {"CompanyTeams", "ClientPortalUsers"}
    assert caps["actions"] == [
        "activate_client_portal",
        "add_contract_services",
        "schedule_service_call",
        "set_account_team",
    ]
