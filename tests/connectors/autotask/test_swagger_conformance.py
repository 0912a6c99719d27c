"""The simulator and the connector checked against the vendor's swagger.

The swagger spells properties in PascalCase and the live API answers in camelCase, so
names compare case-insensitively. The one known, documented difference is listed
explicitly: ``query/next`` (the paging URL the API hands out, not a swagger path).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors.autotask.entities import ENTITIES
from connectors.autotask.plugin import MAPPINGS
from connectors.autotask.sim_data import SCHEMAS
from connectors.autotask.simulator import (
    _PARENT_ROUTES,
    _TOP_LEVEL_WRITES,
    ROOT_PREFIX,
    ZONE_PREFIX,
    build_app,
)
from hub.mapping import load_mapping
from hub.sdk import Organization

MODELS = {
    "Companies": "CompanyModel",
    "Contacts": "ContactModel",
    "Tickets": "TicketModel",
    "Contracts": "ContractModel",
    "ConfigurationItems": "ConfigurationItemModel",
    "TicketNotes": "TicketNoteModel",
    "CompanyNotes": "CompanyNoteModel",
    "CompanyTeams": "CompanyTeamModel",
    "ClientPortalUsers": "ClientPortalUserModel",
    "Resources": "ResourceModel",
    "Roles": "RoleModel",
    "Products": "ProductModel",
    "ServiceCalls": "ServiceCallModel",
    "ServiceCallTickets": "ServiceCallTicketModel",
    "ServiceCallTicketResources": "ServiceCallTicketResourceModel",
    "Services": "ServiceModel",
    "ContractServices": "ContractServiceModel",
}


def _props(swagger: dict[str, Any], model: str) -> set[str]:
    return {p.casefold() for p in swagger["definitions"][model]["properties"]}


def _operation(swagger: dict[str, Any], path: str, verb: str) -> dict[str, Any] | None:
    for candidate, ops in swagger["paths"].items():
        if candidate.casefold() == path.casefold():
            return ops.get(verb.lower())
    return None


def _served(sim_app: Any) -> list[tuple[str, str]]:
    """Every concrete (verb, swagger-style path) the simulator answers."""
    out = []
    zone = f"{ZONE_PREFIX}/v1.0".lower()
    for route in sim_app.app.routes:
        for verb in sorted(route.methods - {"HEAD"}):
            template = route.path
            if template.startswith(f"{ROOT_PREFIX}/"):
                out.append((verb, "/V1.0/ZoneInformation"))
                continue
            rest = template.removeprefix(zone)
            if "{parent}" in rest and rest.endswith("{id:int}"):
                out += [
                    (verb, f"/V1.0/{p}/{{parentId}}/{c}/{{id}}")
                    for (p, c), e in _PARENT_ROUTES.items()
                    if ENTITIES[e].deletable
                ]
            elif "{parent}" in rest:
                out += [
                    (verb, f"/V1.0/{p}/{{parentId}}/{c}")
                    for (p, c), e in _PARENT_ROUTES.items()
                    if verb != "PATCH" or ENTITIES[e].updatable
                ]
            elif rest == "/{entity}":
                out += [(verb, f"/V1.0/{e}") for e in _TOP_LEVEL_WRITES]
            elif "{entity}" in rest:
                out += [
                    (verb, "/V1.0" + rest.replace("{entity}", e).replace("{id:int}", "{id}"))
                    for e in ENTITIES
                ]
            else:
                out.append((verb, "/V1.0" + rest))
    return out


def test_every_served_path_and_verb_exists_in_the_swagger(swagger):
    served = _served(build_app(_tiny_sim()))
    missing = [
        (v, p) for v, p in served if _operation(swagger, p, v) is None and not p.endswith("/query/next")
    ]
    assert missing == []
    assert len(served) > 50
    # the paging URL is the one documented extension
    assert all(_operation(swagger, p, v) is None for v, p in served if p.endswith("/query/next"))


def test_child_entities_have_no_top_level_writes_in_the_swagger(swagger):
    for entity in ("Contacts", "TicketNotes", "CompanyNotes"):
        assert _operation(swagger, f"/V1.0/{entity}", "post") is None
        assert ENTITIES[entity].parent is not None
    for entity in _TOP_LEVEL_WRITES:
        assert _operation(swagger, f"/V1.0/{entity}", "patch") is not None


@pytest.mark.parametrize("entity", list(SCHEMAS))
def test_simulated_fields_are_swagger_model_properties(swagger, entity):
    props = _props(swagger, MODELS[entity])
    extra = {f.casefold() for f in SCHEMAS[entity].fields} - props
    assert extra == set()


def test_write_and_query_bodies_validate_against_the_swagger_models(swagger, sim, connector):
    sandbox, _ = sim
    mapping = load_mapping("autotask", [MAPPINGS])
    org = Organization(
        name="Conformance Co", account_type="customer", classification="BN", phone="518-555-0101"
    )
    company = connector.create(
        "Companies", mapping.entity("Companies").to_vendor(org, connector, create=True)
    ).id
    connector.create(
        "Contacts",
        {
            "companyID": int(company),
            "firstName": "A",
            "lastName": "B",
            "isActive": 1,
            "userDefinedFields": [{"name": "Receives Reports", "value": "1"}],
        },
    )
    connector.create(
        "TicketNotes", {"ticketID": 7000, "title": "t", "description": "d", "noteType": 1, "publish": 1}
    )
    connector.update("Tickets", "7000", {"status": 8, "dueDateTime": "2026-03-01T10:00:00Z"})
    list(connector.stream("Tickets").read())

    checked = 0
    for request in sandbox.control.requests:
        body = request["json"]
        path = request["path"].split("/atservicesrest", 1)[1]
        if body is None:
            continue
        if path.endswith("/query"):
            assert set(k.casefold() for k in body) <= _props(swagger, "QueryModel")
            assert all(set(f) <= {"op", "field", "value", "udf", "items"} for f in _flatten(body["Filter"]))
        else:
            template = _template(path)
            operation = _operation(swagger, template, request["method"])
            assert operation is not None, (request["method"], template)
            model = next(
                p["schema"]["$ref"].rsplit("/", 1)[1] for p in operation["parameters"] if p["in"] == "body"
            )
            assert {k.casefold() for k in body} <= _props(swagger, model), (model, body)
            for udf in body.get("userDefinedFields", []):
                assert {k.casefold() for k in udf} <= _props(swagger, "UserDefinedField")
        checked += 1
    assert checked >= 5


def test_metadata_answers_use_the_swagger_result_models(swagger, sim, connector):
    fields = connector.client().get("V1.0/Tickets/entityInformation/fields").json()["fields"]
    assert {k.casefold() for f in fields for k in f} <= _props(swagger, "FieldInformationModel")
    picks = [v for f in fields for v in f["picklistValues"] or []]
    assert picks and {k.casefold() for v in picks for k in v} <= _props(swagger, "PickListValue")
    threshold = connector.client().get("V1.0/ThresholdInformation").json()
    assert {k.casefold() for k in threshold} == _props(swagger, "ThresholdStatusResultModel")
    assert {k.casefold() for k in connector.zone()} == _props(swagger, "ZoneInformationResultModel")


def _flatten(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        out.append(item)
        out += _flatten(item.get("items", []))
    return out


def _template(path: str) -> str:
    parts = path.split("/")
    return "/".join("{parentId}" if p.isdigit() else p for p in parts)


def _tiny_sim() -> Any:
    from connectors.autotask.simulator import AutotaskSimulator

    return AutotaskSimulator(size=1)


def test_query_example_request_matches_what_the_connector_builds():
    from connectors.autotask.query import all_of, any_of, cond, query_body

    from .conftest import example

    expected = example("query_request_body.SYNTHETIC.json")
    built = query_body(
        all_of(
            cond("gte", "lastActivityDate", "2025-01-01T00:00:00Z"),
            any_of(cond("eq", "status", 1), cond("eq", "status", 5)),
            cond("eq", "MyUdfName", "x", udf=True),
        ),
        include_fields=["title", "status", "companyID", "lastActivityDate"],
    )
    assert json.loads(json.dumps(built)) == expected


def test_what_hub_check_fix_sends_is_in_the_swagger_models(swagger, sandbox_factory):
    from connectors.autotask import AutotaskSettings
    from hub.app import Hub
    from hub.readiness import collect_needs

    from .conftest import make_connector

    sandbox, url = sandbox_factory(profile="real-like")
    connector = make_connector(AutotaskSettings(**sandbox.settings(url)))
    with Hub() as hub:
        needs = collect_needs(hub, "autotask")
    created = connector.fix([f for f in connector.readiness(needs) if f.fixable and not f.ok])
    assert created
    models = {
        "userdefinedfielddefinitions": "UserDefinedFieldDefinitionModel",
        "listitems": "UserDefinedFieldListItemModel",
        "roles": "RoleModel",
        "products": "ProductModel",
    }
    sent = [r for r in sandbox.control.requests if r["method"] == "POST" and "/query" not in r["path"]]
    assert {r["path"].rsplit("/", 1)[-1].casefold() for r in sent} == {"userdefinedfielddefinitions", "listitems",
                                                                       "roles"}  # fmt: skip
    for request in sent:
        props = _props(swagger, models[request["path"].rsplit("/", 1)[-1].casefold()])
        assert {k.casefold() for k in request["json"]} <= props, request
