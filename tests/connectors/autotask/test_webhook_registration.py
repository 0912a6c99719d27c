"""``register_webhooks``: the exact requests (respx), the simulator loop and ``hub webhooks register``.

The loop the issue asks for: register the hub's webhooks, let Autotask deactivate one
after 25 failed deliveries, receive its deactivation notice as a ``webhook.deactivated``
event, and bring it back with a second registration that creates nothing new.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import respx
import structlog

from connectors.autotask import AutotaskSettings
from connectors.autotask.registration import HOOKS
from connectors.autotask.sim_data import SCHEMAS
from hub.cli import main
from hub.sdk import ConfigError, Sandbox, VendorError

from .conftest import ROOT, ZONE, example, make_connector, make_settings

HOOK_URL = "https://hub.example.com/webhooks/autotask"
ZONE_INFO = {**example("zoneInformation_response.SHAPE.json"), "url": ZONE}
EMPTY = example("empty_query_response.json")
#: the 2020 swagger has these two; the live API serves the other three with the same models
IN_SWAGGER = {"Company", "Contact"}


def _props(swagger: dict[str, Any], model: str) -> set[str]:
    return {p.casefold() for p in swagger["definitions"][model]["properties"]}


def _has_operation(swagger: dict[str, Any], path: str, verb: str) -> bool:
    for candidate, ops in swagger["paths"].items():
        if candidate.casefold() == path.casefold():
            return verb.lower() in ops
    return False


def _field_ids(prefix: str) -> dict[str, int]:
    spec = next(s for s in HOOKS if s.prefix == prefix)
    return {name: 100 * (HOOKS.index(spec) + 1) + i for i, name in enumerate(spec.wanted())}


def _catalog(prefix: str) -> dict[str, Any]:
    """``{Name}WebhookFields/entityInformation/fields``: the ``fieldID`` picklist names the fields."""
    picks = [
        {"value": str(v), "label": k, "isDefaultValue": False, "sortOrder": 0, "isActive": True}
        for k, v in _field_ids(prefix).items()
    ]
    return {
        "fields": [
            {"name": "id", "dataType": "long", "isPickList": False, "picklistValues": None},
            {"name": "fieldID", "dataType": "integer", "isPickList": True, "picklistValues": picks},
            {"name": "isSubscribedField", "dataType": "boolean", "isPickList": False, "picklistValues": None},
        ]
    }


@pytest.fixture
def router() -> Iterator[respx.Router]:
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as mock:
        mock.get(f"{ROOT}v1.0/zoneInformation").respond(json=ZONE_INFO)
        yield mock


def _mock_catalogs(router: respx.Router) -> None:
    for spec in HOOKS:
        router.get(f"{ZONE}V1.0/{spec.prefix}WebhookFields/entityInformation/fields").respond(
            json=_catalog(spec.prefix)
        )


def test_first_registration_creates_each_webhook_adds_its_fields_then_marks_it_ready(router, swagger):
    _mock_catalogs(router)
    queries, creates, fields, patches = {}, {}, {}, {}
    for n, spec in enumerate(HOOKS, start=1):
        p = spec.prefix
        queries[p] = router.post(f"{ZONE}V1.0/{p}Webhooks/query").respond(json=EMPTY)
        creates[p] = router.post(f"{ZONE}V1.0/{p}Webhooks").respond(json={"itemId": 40 + n})
        fields[p] = router.post(f"{ZONE}V1.0/{p}Webhooks/{40 + n}/Fields").respond(json={"itemId": 900})
        patches[p] = router.patch(f"{ZONE}V1.0/{p}Webhooks").respond(json={"itemId": 40 + n})

    lines = make_connector(make_settings()).register_webhooks(HOOK_URL)

    assert lines == [f"{s.prefix} webhook {40 + n}: created" for n, s in enumerate(HOOKS, start=1)]
    for n, spec in enumerate(HOOKS, start=1):
        p, hook_id = spec.prefix, 40 + n
        assert json.loads(queries[p].calls.last.request.content) == {
            "MaxRecords": 500,
            "Filter": [{"op": "eq", "field": "webhookUrl", "value": HOOK_URL}],
        }
        created = json.loads(creates[p].calls.last.request.content)
        assert created == {
            "name": f"msp-hub {p}",
            "webhookUrl": HOOK_URL,
            "deactivationUrl": HOOK_URL,
            "secretKey": "hook-key",
            "isActive": True,
            "isReady": False,
            "isSubscribedToCreateEvents": True,
            "isSubscribedToUpdateEvents": True,
            "isSubscribedToDeleteEvents": True,
            "sendThresholdExceededNotification": False,
        }
        sent = [json.loads(c.request.content) for c in fields[p].calls]
        ids = _field_ids(p)
        assert sent == [
            {
                "webhookID": hook_id,
                "fieldID": ids[name],
                "isSubscribedField": name in spec.subscribed,
                "isDisplayAlwaysField": name in spec.display_always,
            }
            for name in spec.wanted()
        ]
        assert [json.loads(c.request.content) for c in patches[p].calls] == [{"id": hook_id, "isReady": True}]
        # ready only once the last field went in
        order = [c.request for c in router.calls]
        assert order.index(patches[p].calls.last.request) > order.index(fields[p].calls.last.request)
        if p in IN_SWAGGER:
            assert {k.casefold() for k in created} <= _props(swagger, f"{p}WebhookModel")
            assert {k.casefold() for b in sent for k in b} <= _props(swagger, f"{p}WebhookFieldModel")
            assert _has_operation(swagger, f"/V1.0/{p}Webhooks", "post")
            assert _has_operation(swagger, f"/V1.0/{p}Webhooks", "patch")
            assert _has_operation(swagger, f"/V1.0/{p}Webhooks/query", "post")
            assert _has_operation(swagger, f"/V1.0/{p}Webhooks/{{parentId}}/Fields", "post")
            assert _has_operation(swagger, f"/V1.0/{p}WebhookFields/entityInformation/fields", "get")


def test_an_existing_deactivated_webhook_is_patched_back_with_the_current_key_and_nothing_is_created(
    router,
):
    _mock_catalogs(router)
    patches: dict[str, respx.Route] = {}
    for n, spec in enumerate(HOOKS, start=1):
        p = spec.prefix
        record = {
            "id": 70 + n,
            "name": f"msp-hub {p}",
            "webhookUrl": HOOK_URL,
            "deactivationUrl": HOOK_URL,
            "isActive": p != "Ticket",  # Autotask deactivated the ticket webhook
            "isReady": True,
            "isSubscribedToCreateEvents": True,
            "isSubscribedToUpdateEvents": True,
            "isSubscribedToDeleteEvents": True,
            "webhookGUID": f"guid-{p}",
        }
        # a second, newer webhook for the same URL (made by hand) is left alone
        newer = {**record, "id": 170 + n}
        router.post(f"{ZONE}V1.0/{p}Webhooks/query").respond(json={**EMPTY, "items": [newer, record]})
        have = [
            {"id": 500 + i, "webhookID": 70 + n, "fieldID": fid, **spec.wanted()[name]}
            for i, (name, fid) in enumerate(_field_ids(p).items())
        ]
        router.post(f"{ZONE}V1.0/{p}WebhookFields/query").respond(json={**EMPTY, "items": have})
        if p == "Ticket":
            patches[p] = router.patch(f"{ZONE}V1.0/{p}Webhooks").respond(json={"itemId": 70 + n})

    lines = make_connector(make_settings()).register_webhooks(HOOK_URL)

    assert lines == [
        f"{s.prefix} webhook {70 + n}: " + ("re-activated" if s.prefix == "Ticket" else "already active")
        for n, s in enumerate(HOOKS, start=1)
    ]
    ticket = next(n for n, s in enumerate(HOOKS, start=1) if s.prefix == "Ticket")
    assert json.loads(patches["Ticket"].calls.last.request.content) == {
        "id": 70 + ticket,
        "isActive": True,
        "secretKey": "hook-key",
    }


def test_missing_field_records_are_added_and_flags_widened_on_an_existing_webhook(router):
    _mock_catalogs(router)
    field_posts: dict[str, respx.Route] = {}
    field_patches: dict[str, respx.Route] = {}
    for n, spec in enumerate(HOOKS, start=1):
        p = spec.prefix
        record = {
            "id": n,
            "webhookUrl": HOOK_URL,
            "deactivationUrl": HOOK_URL,
            "isActive": True,
            "isReady": True,
            "isSubscribedToCreateEvents": True,
            "isSubscribedToUpdateEvents": True,
            "isSubscribedToDeleteEvents": True,
        }
        router.post(f"{ZONE}V1.0/{p}Webhooks/query").respond(json={**EMPTY, "items": [record]})
        ids = _field_ids(p)
        first = next(iter(spec.wanted()))
        # one field is there but only as display-always; every other one is missing
        have = [
            {
                "id": 9,
                "webhookID": n,
                "fieldID": ids[first],
                "isSubscribedField": False,
                "isDisplayAlwaysField": True,
            }
        ]
        router.post(f"{ZONE}V1.0/{p}WebhookFields/query").respond(json={**EMPTY, "items": have})
        field_posts[p] = router.post(f"{ZONE}V1.0/{p}Webhooks/{n}/Fields").respond(json={"itemId": 1})
        field_patches[p] = router.patch(f"{ZONE}V1.0/{p}Webhooks/{n}/Fields").respond(json={"itemId": 9})

    lines = make_connector(make_settings()).register_webhooks(HOOK_URL)

    assert all(line.endswith(": updated") for line in lines)
    for spec in HOOKS:
        first = next(iter(spec.wanted()))
        assert len(field_posts[spec.prefix].calls) == len(spec.wanted()) - 1
        assert json.loads(field_patches[spec.prefix].calls.last.request.content) == {
            "id": 9,
            "isSubscribedField": True,
        }
        assert first in spec.subscribed


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"webhook_secret": None}, "HUB_AUTOTASK__WEBHOOK_SECRET: required to register webhooks"),
        ({"webhook_secret": "k" * 65}, "HUB_AUTOTASK__WEBHOOK_SECRET: must be 1 to 64 characters"),
    ],
)
def test_a_missing_or_too_long_secret_is_a_config_error_before_any_request(overrides, message):
    with respx.mock(assert_all_mocked=True) as mock:
        connector = make_connector(make_settings(**overrides))
        with pytest.raises(ConfigError, match=message) as caught:
            connector.register_webhooks(HOOK_URL)
        assert not mock.calls
    assert "k" * 65 not in str(caught.value)


def test_a_refusal_carries_autotask_s_message_and_never_the_secret(router):
    # Autotask answers a business-rule refusal with 500 and {"errors": [...]}: not retried
    first = HOOKS[0].prefix
    router.get(f"{ZONE}V1.0/{first}WebhookFields/entityInformation/fields").respond(json=_catalog(first))
    router.post(f"{ZONE}V1.0/{first}Webhooks/query").respond(json=EMPTY)
    router.post(f"{ZONE}V1.0/{first}Webhooks").respond(
        500, json={"errors": ["Your security level does not allow creating webhooks."]}
    )

    with pytest.raises(VendorError, match="security level does not allow creating webhooks") as caught:
        make_connector(make_settings()).register_webhooks(HOOK_URL)
    assert "hook-key" not in str(caught.value)


def test_a_field_autotask_does_not_offer_for_webhooks_is_named(router):
    first = HOOKS[0].prefix
    catalog = _catalog(first)
    picks = catalog["fields"][1]["picklistValues"]
    dropped = picks.pop(2)["label"]
    router.get(f"{ZONE}V1.0/{first}WebhookFields/entityInformation/fields").respond(json=catalog)
    with pytest.raises(VendorError, match=f"{first}WebhookFields offers no webhook field {dropped}"):
        make_connector(make_settings()).register_webhooks(HOOK_URL)


def test_every_hub_webhook_field_is_a_simulated_field_of_its_entity():
    for spec in HOOKS:
        assert set(spec.wanted()) <= set(SCHEMAS[spec.entity].fields), spec.entity


# -- the simulator loop -------------------------------------------------------------------


class _Receiver:
    """A loopback endpoint standing in for ``/webhooks/autotask``; its answer can change."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/autotask"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.close()


def _writes(sandbox: Sandbox, since: int) -> list[tuple[str, str]]:
    """(method, path) of the webhook writes the simulator received after request ``since``."""
    return [
        (r["method"], r["path"])
        for r in sandbox.control.requests[since:]
        if r["method"] in ("POST", "PATCH") and "Webhook" in r["path"] and not r["path"].endswith("/query")
    ]


def test_simulator_registration_is_idempotent_and_builds_what_autotask_needs(sandbox_factory, swagger):
    sandbox, url = sandbox_factory()
    connector = make_connector(AutotaskSettings(**sandbox.settings(url)))

    first = connector.register_webhooks(HOOK_URL)
    mark = len(sandbox.control.requests)
    second = connector.register_webhooks(HOOK_URL)

    assert [line.rsplit(": ", 1)[1] for line in first] == ["created"] * 5
    assert second == [line.replace("created", "already active") for line in first]
    assert _writes(sandbox, mark) == []  # the second run only read
    for spec in HOOKS:
        (hook,) = sandbox.control.registered_webhooks(spec.prefix)
        assert (hook["webhookUrl"], hook["deactivationUrl"]) == (HOOK_URL, HOOK_URL)
        assert hook["isActive"] is True and hook["isReady"] is True
        assert hook["subscribed"] == sorted(spec.subscribed)
        assert hook["displayAlways"] == sorted(spec.display_always)
        assert "secretKey" not in hook
    for request in sandbox.control.requests:
        prefix = re.match(r".*/v1\.0/(Company|Contact)Webhooks(/\d+/Fields)?$", request["path"], re.I)
        if prefix and request["json"] is not None:
            model = f"{prefix[1]}WebhookFieldModel" if prefix[2] else f"{prefix[1]}WebhookModel"
            assert {k.casefold() for k in request["json"]} <= _props(swagger, model)


def test_deactivated_after_25_failures_reported_then_re_activated(sandbox_factory, receiver):
    sandbox, url = sandbox_factory()
    connector = make_connector(AutotaskSettings(**sandbox.settings(url)))
    lines = connector.register_webhooks(receiver.url)
    ticket_line = next(line for line in lines if line.startswith("Ticket "))
    (hook,) = sandbox.control.registered_webhooks("Ticket")

    # a change to a subscribed field calls out, signed with HUB_AUTOTASK__WEBHOOK_SECRET
    connector.update("Tickets", "7000", {"status": 13})
    sandbox.control.flush_webhooks()
    (headers, body) = receiver.received[-1]
    connector.verify_webhook(headers, body)
    (event,) = connector.parse_webhook(headers, body)
    assert (event.type, event.record_id, event.correlation["webhook_guid"]) == (
        "ticket.updated",
        "7000",
        hook["webhookGUID"],
    )
    assert event.data["fields"]["status"] == 13 and "companyID" in event.data["fields"]
    # a change to no subscribed field does not
    seen = len(receiver.received)
    connector.update("Tickets", "7000", {"assignedResourceID": 29682885})
    sandbox.control.flush_webhooks()
    assert len(receiver.received) == seen

    receiver.status = 503
    for n in range(25):
        connector.update("Tickets", "7000", {"title": f"printer jam {n}"})
    sandbox.control.flush_webhooks()
    receiver.status = 200
    connector.update("Tickets", "7000", {"title": "nobody hears this"})
    sandbox.control.flush_webhooks()

    (headers, notice) = receiver.received[-1]
    assert len(receiver.received) == seen + 26  # 25 failed callouts, then the notice, then silence
    connector.verify_webhook(headers, notice)
    (deactivated,) = connector.parse_webhook(headers, notice)
    assert deactivated.type == "webhook.deactivated"
    assert deactivated.correlation == {"webhook_guid": hook["webhookGUID"]}
    assert sandbox.control.registered_webhooks("Ticket")[0]["isActive"] is False

    mark = len(sandbox.control.requests)
    again = connector.register_webhooks(receiver.url)
    assert again == [
        ticket_line.replace("created", "re-activated")
        if line.startswith("Ticket ")
        else line.replace("created", "already active")
        for line in lines
    ]
    assert _writes(sandbox, mark) == [("PATCH", "/ws5/atservicesrest/V1.0/TicketWebhooks")]
    connector.update("Tickets", "7000", {"title": "heard again"})
    sandbox.control.flush_webhooks()
    (headers, body) = receiver.received[-1]
    connector.verify_webhook(headers, body)
    assert connector.parse_webhook(headers, body)[0].data["fields"]["title"] == "heard again"


def test_a_half_built_webhook_from_an_interrupted_run_is_finished(sandbox_factory):
    sandbox, url = sandbox_factory()
    connector = make_connector(AutotaskSettings(**sandbox.settings(url)))
    client = connector.client()
    # what a run cut short after the create leaves behind: no fields, not ready
    client.post(
        "V1.0/TicketNoteWebhooks",
        json={
            "name": "msp-hub TicketNote",
            "webhookUrl": HOOK_URL,
            "deactivationUrl": HOOK_URL,
            "secretKey": "sim-webhook-key",
            "isActive": True,
            "isReady": False,
            "isSubscribedToCreateEvents": True,
            "isSubscribedToUpdateEvents": True,
            "isSubscribedToDeleteEvents": True,
        },
    )
    with pytest.raises(VendorError, match="at least one webhook field"):
        client.patch("V1.0/TicketNoteWebhooks", json={"id": 1, "isReady": True})

    lines = connector.register_webhooks(HOOK_URL)

    assert "TicketNote webhook 1: updated" in lines
    (hook,) = sandbox.control.registered_webhooks("TicketNote")
    assert hook["isReady"] is True and hook["subscribed"] == ["description", "publish", "title"]


# -- the CLI ----------------------------------------------------------------------------------


@pytest.fixture
def cli_env(
    sandbox_factory: Callable[..., tuple[Sandbox, str]], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Sandbox]:
    sandbox, url = sandbox_factory()
    for key, value in sandbox.settings(url).items():
        monkeypatch.setenv(f"HUB_AUTOTASK__{key.upper()}", str(value))
    monkeypatch.setenv("HUB_STATE_URL", f"sqlite:///{tmp_path / 'state.sqlite'}")
    monkeypatch.setenv("HUB_PUBLIC_URL", "https://hub.example.com/")
    monkeypatch.chdir(tmp_path)
    yield sandbox
    structlog.reset_defaults()  # the CLI pointed logging at this test's captured stderr


def test_hub_webhooks_register_autotask_through_the_cli(cli_env, capsys):
    assert main(["webhooks", "register", "autotask"]) == 0
    out = capsys.readouterr().out
    assert f"autotask: webhooks deliver to {HOOK_URL}" in out
    assert out.count(": created") == 5
    for spec in HOOKS:
        assert cli_env.control.registered_webhooks(spec.prefix)[0]["webhookUrl"] == HOOK_URL

    assert main(["webhooks", "register", "autotask", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["url"] == HOOK_URL
    assert [line.rsplit(": ", 1)[1] for line in answer["registered"]] == ["already active"] * 5


def test_hub_webhooks_register_without_the_secret_exits_2_naming_the_setting(cli_env, monkeypatch, capsys):
    monkeypatch.delenv("HUB_AUTOTASK__WEBHOOK_SECRET")
    assert main(["webhooks", "register", "autotask"]) == 2
    captured = capsys.readouterr()
    assert "HUB_AUTOTASK__WEBHOOK_SECRET: required to register webhooks" in captured.err
    assert "sim-secret" not in captured.err + captured.out
    assert cli_env.control.registered_webhooks("Ticket") == []


def test_registration_goes_through_the_one_retry_layer(sandbox_factory):
    sandbox, url = sandbox_factory()
    connector = make_connector(AutotaskSettings(**sandbox.settings(url)))
    connector.zone()
    sandbox.control.fail_next(429, retry_after=1)
    sandbox.control.fail_next(503)
    before = connector.context.clock.monotonic()
    lines = connector.register_webhooks(HOOK_URL)
    assert len(lines) == 5 and all(line.endswith("created") for line in lines)
    # the hub's HttpClient waited out Retry-After and the 503 backoff on the FakeClock
    assert connector.context.clock.monotonic() - before >= 1
