"""``send_form`` and ``form_data``: a template named by name, a copy to the primary, the filled fields back.

Contract tests with respx on the spec-derived shapes (every mocked route must be called),
then the same against the simulator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from connectors.docusign import DocuSignConnector
from connectors.docusign.sim_state import AUTHORIZATION_FORM
from hub.sdk import ActionContext, ConfigError, MemoryKeyValueStore

from .test_contract import API, ENVELOPE, token_route, userinfo_route

FORM_ID = "5a0b1c2d-0000-4000-8000-00000000f001"
EMPTY = {"resultSetSize": "0", "totalSetSize": "0", "envelopes": []}


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True) as router:
        yield router


def send(conn: DocuSignConnector, ctx: ActionContext, **extra: Any) -> dict[str, Any]:
    action = conn.action("send_form")
    params = {
        "template": "New Authorization Contact Request",
        "signer_name": "Wei Tester",
        "signer_email": "wei@example.com",
        "cc_name": "Olga Tester",
        "cc_email": "olga@example.com",
        "organization_name": "Cedar Clinic",
        "organization_ref": "174",
        **extra,
    }
    return dict(action.run(action.params(**params), ctx))


def test_send_form_finds_the_template_by_name_and_copies_the_primary(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector], make_ctx: Callable[..., ActionContext],
    example: Callable[[str], Any],
) -> None:  # fmt: skip
    token_route(mock)
    userinfo_route(mock)
    search = mock.get(f"{API}/templates").mock(
        return_value=httpx.Response(200, json=example("templates_list.SHAPE.json")["body"])
    )
    roles = mock.get(f"{API}/templates/{FORM_ID}/recipients").mock(
        return_value=httpx.Response(200, json=example("template_recipients.SHAPE.json")["body"])
    )
    mock.get(f"{API}/envelopes").mock(return_value=httpx.Response(200, json=EMPTY))
    post = mock.post(f"{API}/envelopes").mock(
        return_value=httpx.Response(201, json={"envelopeId": ENVELOPE, "status": "sent"})
    )
    state = MemoryKeyValueStore()
    conn = make(state)
    ctx = make_ctx(run="r1", step="form", state=MemoryKeyValueStore())
    result = send(conn, ctx)
    assert result == {"envelope_id": ENVELOPE, "status": "sent", "template_id": FORM_ID}
    # the exact name, not the one that merely contains it
    assert search.calls[0].request.url.params["search_text"] == "New Authorization Contact Request"
    sent = json.loads(post.calls[0].request.content)
    assert sent["templateId"] == FORM_ID and sent["status"] == "sent"
    assert sent["templateRoles"] == [
        {"roleName": "Requester", "name": "Wei Tester", "email": "wei@example.com"},
        {"roleName": "Primary Contact", "name": "Olga Tester", "email": "olga@example.com"},
    ]
    fields = {f["name"]: f["value"] for f in sent["customFields"]["textCustomFields"]}
    assert fields == {"hub_run_id": "r1", "hub_step_id": "form", "hub_organization": "174"}
    # a second step of another run reuses the template and roles it looked up (kept in the state)
    send(conn, make_ctx(run="r2", step="form", state=MemoryKeyValueStore()))
    assert search.call_count == 1 and roles.call_count == 1 and post.call_count == 2


@pytest.mark.parametrize(
    ("templates", "message"),
    [
        ([], "no template named 'New Authorization Contact Request'"),
        (
            [{"templateId": "a", "name": "New Authorization Contact Request"},
             {"templateId": "b", "name": "new authorization contact request"}],
            "2 templates named 'New Authorization Contact Request'",
        ),
    ],
)  # fmt: skip
def test_a_template_that_is_missing_or_ambiguous_is_a_configuration_error(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector], make_ctx: Callable[..., ActionContext],
    templates: list[dict[str, str]], message: str,
) -> None:  # fmt: skip
    token_route(mock)
    userinfo_route(mock)
    body = {"envelopeTemplates": templates, "resultSetSize": str(len(templates)), "totalSetSize": str(len(templates))}
    mock.get(f"{API}/templates").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ConfigError, match=message):
        send(make(), make_ctx())


def test_a_copy_to_a_template_without_a_carbon_copy_role_is_refused(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector], make_ctx: Callable[..., ActionContext],
    example: Callable[[str], Any],
) -> None:  # fmt: skip
    token_route(mock)
    userinfo_route(mock)
    listing = example("templates_list.SHAPE.json")["body"]
    mock.get(f"{API}/templates").mock(return_value=httpx.Response(200, json=listing))
    mock.get(f"{API}/templates/{FORM_ID}/recipients").mock(
        return_value=httpx.Response(200, json={"signers": [{"roleName": "Requester", "routingOrder": "1"}]})
    )
    with pytest.raises(ConfigError, match=re.escape("has no carbon-copy role to copy olga@example.com on")):
        send(make(), make_ctx())


def test_form_data_reads_the_filled_fields(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector], make_ctx: Callable[..., ActionContext],
    example: Callable[[str], Any],
) -> None:  # fmt: skip
    token_route(mock)
    userinfo_route(mock)
    mock.get(f"{API}/envelopes/{ENVELOPE}/form_data").mock(
        return_value=httpx.Response(200, json=example("envelope_form_data.SHAPE.json")["body"])
    )
    conn = make()
    action = conn.action("form_data")
    result = action.run(action.params(envelope_id=ENVELOPE), make_ctx())
    assert result["fields"] == {
        "Authority Replaced": "primary",
        "New Contact First Name": "Nora",
        "New Contact Email": "nora@example.com",
    }
    assert result["text"].splitlines()[1] == "New Contact First Name: Nora" and result["status"] == "completed"


def test_against_the_simulator_one_envelope_per_step_and_the_fields_the_signer_typed(
    sim: Any, make_ctx: Callable[..., ActionContext]
) -> None:
    state = MemoryKeyValueStore()
    first = send(sim.connector(), make_ctx(run="run-9", step="form", state=state))
    again = send(sim.connector(), make_ctx(run="run-9", step="form", state=MemoryKeyValueStore()))
    assert again["envelope_id"] == first["envelope_id"] and sim.control.envelopes_created == 1
    envelope = sim.control.envelope(first["envelope_id"])
    assert [c["email"] for c in envelope["recipients"]["carbonCopies"]] == ["olga@example.com"]
    answers = {"Authority Replaced": "secondary", "New Contact Email": "sam@example.com"}
    sim.control.sign(first["envelope_id"], answers)
    conn = sim.connector()
    action = conn.action("form_data")
    result = action.run(action.params(envelope_id=first["envelope_id"]), make_ctx())
    assert result["fields"]["New Contact Email"] == "sam@example.com"
    assert set(result["fields"]) == set(AUTHORIZATION_FORM.tabs) and result["status"] == "completed"
    with pytest.raises(ConfigError, match="no template named 'Nonexistent Form'"):
        send(sim.connector(), make_ctx(run="run-9", step="other"), template="Nonexistent Form")
