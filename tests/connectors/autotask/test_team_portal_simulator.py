"""Account teams and Client Portal users against the simulator over loopback HTTP.

The actions are idempotent (a retry after a crash finds what the first attempt did);
the simulator enforces Autotask's documented rules with its usual error shape; the
portal password appears in no answer, error or log line.
"""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest

from connectors.autotask import AutotaskConnector, AutotaskSettings
from connectors.autotask.portal import ActivatePortalParams
from connectors.autotask.team import AccountTeamParams
from hub.logging import configure_logging
from hub.sdk import ActionContext, AuthenticationError, MemoryKeyValueStore, VendorError

from .conftest import make_connector

COMPANY = 177  # seeded: n = 3, team member 29682886, no co-managed one
CONTACT = 29683500  # first contact of the first company, no portal user
INACTIVE_USER_CONTACT = 29683515  # owner of company n = 5: a deactivated portal user
PORTAL: dict[str, Any] = {"securityLevel": 1, "isClientPortalActive": True, "dateFormat": 1, "timeFormat": 1,
                          "numberFormat": 1}  # fmt: skip


def _ctx() -> ActionContext:
    return ActionContext(run_id="run-1", step_id="step", documents_root=".", state=MemoryKeyValueStore())


def _writes(sim: Any) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in sim.control.requests if r["method"] in ("POST", "PATCH", "DELETE")
            and not r["path"].endswith("/query")]  # fmt: skip


def _team(connector: AutotaskConnector, company: int) -> list[int]:
    return sorted(int(r["resourceID"]) for r in connector.find("CompanyTeams", {"companyID": company}))


def _raw(url: str, sandbox: Any, method: str, path: str, body: Any = None) -> httpx.Response:
    s = sandbox.settings(url)
    headers = {"ApiIntegrationCode": s["integration_code"], "UserName": s["username"], "Secret": s["secret"]}
    return httpx.request(method, f"{url}/ws5/atservicesrest/V1.0/{path}", json=body, headers=headers)


def test_set_account_team_twice_writes_once(sim, connector):
    sandbox, _ = sim
    params = AccountTeamParams(company_id=COMPANY, resources=[29682887, 4], exact=True)
    first = connector.action("set_account_team").run(params, _ctx())
    assert (first["added"], first["removed"]) == ([29682887, 4], [29682886])
    writes = len(_writes(sandbox))
    second = connector.action("set_account_team").run(params, _ctx())
    assert second["changed"] is False and len(_writes(sandbox)) == writes
    assert _team(connector, COMPANY) == [4, 29682887]


def test_a_retry_after_a_partial_first_attempt_finishes_the_rest(sim, connector):
    # the first attempt added 29682887 and died before adding 4 and removing 29682886
    connector.create("CompanyTeams", {"companyID": COMPANY, "resourceID": 29682887})
    out = connector.action("set_account_team").run(
        AccountTeamParams(company_id=COMPANY, resources=[29682887, 4], exact=True), _ctx()
    )
    assert (out["added"], out["removed"]) == ([4], [29682886])
    assert _team(connector, COMPANY) == [4, 29682887]


def test_comanaged_members_stay_on_the_team(sim, connector):
    # company 174 (n = 0): 29682885 and resource 10, added by a co-managing partner
    params = AccountTeamParams(company_id=174, resources=[], exact=True)
    out = connector.action("set_account_team").run(params, _ctx())
    assert (out["removed"], out["kept_comanaged"]) == ([29682885], [10])
    assert _team(connector, 174) == [10]


def test_without_exact_members_are_added_and_nobody_is_removed(sim, connector):
    params = AccountTeamParams(company_id=COMPANY, resources=[29682887, 4])
    out = connector.action("set_account_team").run(params, _ctx())
    assert (out["added"], out["removed"]) == ([29682887, 4], [])
    assert _team(connector, COMPANY) == [4, 29682886, 29682887]
    again = connector.action("set_account_team").run(params, _ctx())
    assert again["changed"] is False and again["resources"] == [29682887, 4, 29682886]


def test_activate_client_portal_twice_creates_one_user(sim, connector):
    sandbox, _ = sim
    params = ActivatePortalParams(contact_id=CONTACT, security_level="Advanced")
    first = connector.action("activate_client_portal").run(params, _ctx())
    second = connector.action("activate_client_portal").run(params, _ctx())
    assert (first["outcome"], second["outcome"]) == ("created", "already active")
    users = connector.find("ClientPortalUsers", {"contactID": CONTACT})
    assert len(users) == 1 and users[0]["securityLevel"] == 2 and "password" not in users[0]
    simulator = sandbox.extra["simulator"]
    assert simulator.portal_passwords[int(first["id"])]
    assert [m for m, p in _writes(sandbox) if p.lower().endswith("/clientportalusers")] == ["POST"]


def test_a_deactivated_user_is_reactivated(sim, connector):
    out = connector.action("activate_client_portal").run(
        ActivatePortalParams(contact_id=INACTIVE_USER_CONTACT), _ctx()
    )
    assert out["outcome"] == "re-activated"
    (user,) = connector.find("ClientPortalUsers", {"contactID": INACTIVE_USER_CONTACT})
    assert user["isClientPortalActive"] is True


def test_deactivate_and_read_back_without_the_password(sim, connector):
    user = connector.create("ClientPortalUsers", {"contactID": CONTACT, "userName": "kg@example.com", **PORTAL})
    connector.deactivate("ClientPortalUsers", user.id)
    record = connector.get("ClientPortalUsers", user.id)
    assert record["isClientPortalActive"] is False and "password" not in record


def test_the_password_never_reaches_a_log_line_or_an_error(sim):
    sandbox, url = sim
    simulator = sandbox.extra["simulator"]
    buffer = io.StringIO()
    configure_logging(json=True, level="DEBUG", stream=buffer)
    try:
        # built after logging is configured: a connector's logger keeps the configuration it was made with
        connector = make_connector(AutotaskSettings(**sandbox.settings(url)))
        out = connector.action("activate_client_portal").run(ActivatePortalParams(contact_id=CONTACT), _ctx())
        # the same contact again under a taken user name: refused, and the error carries no password
        taken = connector.get("ClientPortalUsers", "610")["userName"]
        with pytest.raises(VendorError) as info:
            connector.create(
                "ClientPortalUsers",
                {"contactID": 29683501, "userName": taken, "password": "Ok-Pass-77", **PORTAL},
            )
    finally:
        configure_logging(json=False, level="WARNING")
    generated = simulator.portal_passwords[int(out["id"])]
    assert "already in use" in str(info.value) and "Ok-Pass-77" not in str(info.value)
    logs = buffer.getvalue()
    assert "autotask.client_portal" in logs
    assert generated not in logs and "Ok-Pass-77" not in logs and generated not in str(out)


# -- the simulator's rules, in Autotask's error shape ------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"contactID": CONTACT, "userName": "a@example.com", **PORTAL}, "Value is required for field password."),
        ({"contactID": CONTACT, "userName": "a@example.com", "password": "abc", **PORTAL}, "between 5 and 50"),
        ({"contactID": CONTACT, "userName": "a@example.com", "password": "two words", **PORTAL}, "spaces"),
        ({"contactID": CONTACT, "userName": "a@example.com", "password": "it'sme12", **PORTAL}, "single quotes"),
        ({"contactID": CONTACT, "userName": "a@example.com", "password": "Secret-1", **PORTAL,
          "securityLevel": 9}, "Value 9 does not exist for field securityLevel."),
        ({"contactID": CONTACT, "userName": "a@example.com", "password": "Secret-1", **PORTAL,
          "securityLevel": 4}, "do not have Taskfire access"),
        ({"contactID": 29683515, "userName": "a@example.com", "password": "Secret-1", **PORTAL},
         "already has a Client Portal user"),
        ({"contactID": 1, "userName": "a@example.com", "password": "Secret-1", **PORTAL},
         "contactID: Contacts 1 does not exist."),
        ({"contactID": CONTACT, "password": "Secret-1", "securityLevel": 1}, "Value is required for field userName."),
    ],
)  # fmt: skip
def test_portal_user_creates_are_validated(sim, body, message):
    sandbox, url = sim
    response = _raw(url, sandbox, "POST", "ClientPortalUsers", body)
    assert response.status_code == 500
    errors = response.json()["errors"]
    assert any(message in e for e in errors), errors
    assert all(body.get("password", "\0") not in e for e in errors)


def test_portal_user_updates_keep_the_contact_and_reject_a_password_query(sim):
    sandbox, url = sim
    moved = _raw(url, sandbox, "PATCH", "ClientPortalUsers", {"id": 610, "contactID": CONTACT})
    assert moved.status_code == 500 and moved.json()["errors"] == ["contactID cannot be modified once created."]
    query = {"Filter": [{"op": "eq", "field": "password", "value": "x"}]}
    refused = _raw(url, sandbox, "POST", "ClientPortalUsers/query", query)
    assert refused.status_code == 500 and "cannot be queried" in refused.json()["errors"][0]
    replaced = _raw(url, sandbox, "PUT", "ClientPortalUsers", {"id": 610, "contactID": 29683503})
    assert replaced.status_code == 500 and "Value is required for field userName." in replaced.json()["errors"]


def test_team_rules(sim):
    sandbox, url = sim
    api_only = _raw(url, sandbox, "POST", f"Companies/{COMPANY}/Teams", {"resourceID": 29682999})
    assert api_only.status_code == 500 and "API Only user" in api_only.json()["errors"][0]
    twice = _raw(url, sandbox, "POST", f"Companies/{COMPANY}/Teams", {"resourceID": 29682886})
    assert twice.status_code == 500 and "already on the team" in twice.json()["errors"][0]
    patch = _raw(url, sandbox, "PATCH", f"Companies/{COMPANY}/Teams", {"id": 3101, "resourceID": 4})
    assert patch.status_code == 405
    comanaged = _raw(url, sandbox, "DELETE", "Companies/174/Teams/3101")
    assert comanaged.status_code == 500 and "co-managed" in comanaged.json()["errors"][0]
    elsewhere = _raw(url, sandbox, "DELETE", f"Companies/{COMPANY}/Teams/3100")
    assert elsewhere.status_code == 404
    gone = _raw(url, sandbox, "DELETE", "Companies/174/Teams/3100")
    assert gone.status_code == 200 and gone.json() == {"itemId": 3100}
    assert sandbox.control.record("CompanyTeams", 3100) is None


def test_the_new_paths_need_the_api_credentials(sim, connector):
    sandbox, url = sim
    anonymous = httpx.post(f"{url}/ws5/atservicesrest/V1.0/ClientPortalUsers", json={})
    assert anonymous.status_code == 401 and anonymous.json()["errors"]
    sandbox.control.fail_next(401)
    with pytest.raises(AuthenticationError):
        connector.find("CompanyTeams", {"companyID": COMPANY})
