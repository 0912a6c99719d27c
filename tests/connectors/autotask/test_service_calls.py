"""Service calls and contract services: the exact requests (respx, checked against the swagger
models and paths), then idempotency against the simulator (a retry finds what its first
attempt did, including a call left without its ticket by a crash)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from connectors.autotask import AutotaskConnector
from connectors.autotask.contract_services import ContractServicesParams
from connectors.autotask.service_calls import ServiceCallParams
from hub.sdk import ActionContext, ConfigError, MemoryKeyValueStore, VendorError

from .conftest import ROOT, ZONE, example, make_connector, make_settings

ZONE_INFO = {**example("zoneInformation_response.SHAPE.json"), "url": ZONE}
TICKET, COMPANY = 7001, 174
START = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


@pytest.fixture
def router():
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as mock:
        mock.get(f"{ROOT}v1.0/zoneInformation", params={"user": "api-user@msp.example.com"}).respond(json=ZONE_INFO)
        yield mock


def _ctx() -> ActionContext:
    return ActionContext(run_id="run-1", step_id="call", documents_root=".", state=MemoryKeyValueStore())


def _page(*items: dict[str, Any]) -> dict[str, Any]:
    return {"items": list(items), "pageDetails": {"count": len(items), "nextPageUrl": None}}


def _props(swagger: dict[str, Any], model: str) -> set[str]:
    return {p.casefold() for p in swagger["definitions"][model]["properties"]}


def _body(route: respx.Route, n: int = -1) -> Any:
    return json.loads(route.calls[n].request.content)


def _schedule(at: AutotaskConnector, **extra: Any) -> dict[str, Any]:
    params = ServiceCallParams(ticket_id=TICKET, start=START, duration_minutes=90, resource="29682887", **extra)
    return dict(at.action("schedule_service_call").run(params, _ctx()))


def test_a_service_call_is_created_with_its_ticket_and_technician(router: respx.MockRouter, swagger: Any) -> None:
    router.get(f"{ZONE}V1.0/Tickets/{TICKET}").respond(
        json={"item": {"id": TICKET, "companyID": COMPANY, "ticketNumber": "T20260301.0001", "title": "Onsite"}}
    )
    links = router.post(f"{ZONE}V1.0/ServiceCallTickets/query").respond(json=_page())
    calls = router.post(f"{ZONE}V1.0/ServiceCalls/query").respond(json=_page())
    call = router.post(f"{ZONE}V1.0/ServiceCalls").respond(json={"itemId": 3600})
    link = router.post(f"{ZONE}V1.0/ServiceCalls/3600/Tickets").respond(json={"itemId": 4100})
    people = router.post(f"{ZONE}V1.0/ServiceCallTicketResources/query").respond(json=_page())
    person = router.post(f"{ZONE}V1.0/ServiceCallTickets/4100/Resources").respond(json={"itemId": 4700})
    out = _schedule(make_connector(make_settings()))
    assert _body(call) == {
        "companyID": COMPANY,
        "startDateTime": "2026-03-10T14:00:00Z",
        "endDateTime": "2026-03-10T15:30:00Z",
        "description": "T20260301.0001: Onsite",
    }
    assert _body(link) == {"serviceCallID": 3600, "ticketID": TICKET}
    assert _body(person) == {"serviceCallTicketID": 4100, "resourceID": 29682887}
    for route, model in ((call, "ServiceCallModel"), (link, "ServiceCallTicketModel"),
                         (person, "ServiceCallTicketResourceModel")):  # fmt: skip
        assert {k.casefold() for k in _body(route)} <= _props(swagger, model)
    for path in ("/V1.0/ServiceCalls", "/V1.0/ServiceCalls/{parentId}/Tickets",
                 "/V1.0/ServiceCallTickets/{parentId}/Resources"):  # fmt: skip
        assert "post" in swagger["paths"][path]
    assert _body(links)["Filter"] == [{"op": "eq", "field": "ticketID", "value": TICKET}]
    assert _body(calls)["Filter"] == [{"op": "eq", "field": "companyID", "value": COMPANY}]
    assert _body(people)["Filter"] == [{"op": "eq", "field": "serviceCallTicketID", "value": 4100}]
    assert out == {
        "service_call_id": "3600",
        "service_call_ticket_id": "4100",
        "resource_ids": [29682887],
        "start": "2026-03-10T14:00:00Z",
        "end": "2026-03-10T15:30:00Z",
        "created": True,
        "changed": True,
    }


def test_contract_services_are_added_by_name_at_the_catalog_price(router: respx.MockRouter, swagger: Any) -> None:
    workstation = {"id": 12, "name": "Managed Workstation", "unitPrice": 45.0, "isActive": True}
    server = {"id": 13, "name": "Managed Server", "unitPrice": 150.0, "isActive": True}
    services = router.post(f"{ZONE}V1.0/Services/query").mock(
        side_effect=[httpx.Response(200, json=_page(workstation)), httpx.Response(200, json=_page(server))]
    )
    existing = _page({"id": 5200, "contractID": 900, "serviceID": 12})
    router.post(f"{ZONE}V1.0/ContractServices/query").respond(json=existing)
    add = router.post(f"{ZONE}V1.0/Contracts/900/Services").respond(json={"itemId": 5201})
    at = make_connector(make_settings())
    params = ContractServicesParams(contract_id=900, services=["Managed Workstation", "Managed Server"])
    out = at.action("add_contract_services").run(params, _ctx())
    assert _body(add) == {"contractID": 900, "serviceID": 13, "unitPrice": 150.0}
    assert {k.casefold() for k in _body(add)} <= _props(swagger, "ContractServiceModel")
    assert [_body(services, n)["Filter"][0]["value"] for n in (0, 1)] == ["Managed Workstation", "Managed Server"]
    assert out == {"contract_id": "900", "services": {"Managed Workstation": "5200", "Managed Server": "5201"},
                   "added": ["Managed Server"], "changed": True}  # fmt: skip


def test_an_unknown_service_name_is_a_configuration_error(router: respx.MockRouter) -> None:
    router.post(f"{ZONE}V1.0/Services/query").respond(json=_page())
    at = make_connector(make_settings())
    params = ContractServicesParams(contract_id=900, services=["Gold Support"])
    with pytest.raises(ConfigError, match="no active service named 'Gold Support'"):
        at.action("add_contract_services").run(params, _ctx())


# -- against the simulator ------------------------------------------------------------------


def _ticket(connector: AutotaskConnector) -> int:
    return int(connector.create("Tickets", {"companyID": COMPANY, "title": "Onsite", "status": 1, "priority": 2}).id)


def _calls(sim: Any, company: int) -> list[dict[str, Any]]:
    return [c for c in sim[0].extra["simulator"].tables["ServiceCalls"].records.values() if c["companyID"] == company]


def test_scheduling_twice_makes_one_call(sim: Any, connector: AutotaskConnector) -> None:
    ticket = _ticket(connector)
    params = ServiceCallParams(ticket_id=ticket, start=START, resource="29682887")
    first = connector.action("schedule_service_call").run(params, _ctx())
    again = connector.action("schedule_service_call").run(params, _ctx())
    assert again["service_call_id"] == first["service_call_id"] and again["changed"] is False
    assert len(_calls(sim, COMPANY)) == 1
    links = connector.find("ServiceCallTickets", {"ticketID": ticket})
    people = connector.find("ServiceCallTicketResources", {"serviceCallTicketID": links[0]["id"]})
    assert [int(r["resourceID"]) for r in people] == [29682887]


def test_a_call_left_without_its_ticket_by_a_crash_is_adopted(sim: Any, connector: AutotaskConnector) -> None:
    ticket = _ticket(connector)
    number = connector.get("Tickets", str(ticket))["ticketNumber"]
    orphan = connector.create("ServiceCalls", {"companyID": COMPANY, "startDateTime": "2026-03-10T14:00:00Z",
                                                "endDateTime": "2026-03-10T15:00:00Z",
                                                "description": f"{number}: Onsite"}).id  # fmt: skip
    out = connector.action("schedule_service_call").run(
        ServiceCallParams(ticket_id=ticket, start=START, resource="29682887"), _ctx()
    )
    assert out["service_call_id"] == orphan and out["created"] is False
    assert len(_calls(sim, COMPANY)) == 1


def test_adding_services_twice_adds_each_once(sim: Any, connector: AutotaskConnector) -> None:
    body = {"companyID": COMPANY, "contractName": "MS", "contractType": 7, "status": 1,
            "startDate": "2026-01-01", "endDate": "2026-12-31"}  # fmt: skip
    contract = connector.create("Contracts", body).id
    params = ContractServicesParams(contract_id=int(contract), services=["Managed Workstation", "Backup"])
    first = connector.action("add_contract_services").run(params, _ctx())
    again = connector.action("add_contract_services").run(params, _ctx())
    assert first["added"] == ["Managed Workstation", "Backup"]
    assert again["added"] == [] and again["services"] == first["services"]
    rows = connector.find("ContractServices", {"contractID": int(contract)})
    assert sorted(r["unitPrice"] for r in rows) == [45.0, 60.0]


def test_the_simulator_refuses_a_contract_service_without_a_price(connector: AutotaskConnector) -> None:
    with pytest.raises(VendorError, match="Value is required for field unitPrice"):
        connector.create("ContractServices", {"contractID": 29684100, "serviceID": 12})


def test_new_statuses_and_categories_are_picklist_labels(connector: AutotaskConnector) -> None:
    for label in ("Assigned", "Waiting Internal Review", "Vendor No Response", "Feedback Received"):
        assert connector.picklist_value("Tickets", "status", label) is not None
    assert connector.picklist_value("Tickets", "ticketCategory", "Administrative Changes") == 3
    with pytest.raises(ConfigError):
        connector.picklist_value("Tickets", "ticketCategory", "Nope")


def test_a_contact_note_makes_the_contact_the_last_actor(sim: Any, connector: AutotaskConnector) -> None:
    ticket = _ticket(connector)
    assert connector.get("Tickets", str(ticket))["lastActivityPersonType"] == 1
    sim[0].extra["simulator"].contact_note(ticket, "It works again, thanks")
    after = connector.get("Tickets", str(ticket))
    assert after["lastActivityPersonType"] == 2
    (note,) = connector.find("TicketNotes", {"ticketID": ticket})
    assert note["description"] == "It works again, thanks"
