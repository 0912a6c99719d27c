"""`hub report acronis-billing` names every gap seeded in the simulator, with the amount at stake."""

from __future__ import annotations

import json

import pytest

from hub.sandbox import SandboxSet
from tests.core.fakes import run_cli

pytestmark = pytest.mark.sandboxes(acronis={"size": 14, "seed": 4})


def test_the_report_names_every_seeded_gap(sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str]) -> None:
    sim = sandboxes.control("acronis")
    code, out, err = run_cli(["report", "acronis-billing", "--json"], capsys)
    assert code == 1, err  # something needs a person
    report = json.loads(out)
    found = {(g["kind"], g["tenant_id"], g["product"]) for g in report["gaps"]}
    assert found == set(sim.seeded_gaps())
    assert report["count"] == len(sim.seeded_gaps()) and report["connector"] == "acronis"
    assert report["monthly_amount"] == round(sum(abs(g["monthly_amount"]) for g in report["gaps"]), 2)
    # a client with services and no contract: its usage at the products' list prices
    data = sim.data
    tenant = next(t for k, t, _p in sim.seeded_gaps() if k == "services_without_contract"
                  and data.usage[t].get("workstations"))  # fmt: skip
    prices = {p["Name"]: p["Price"] for p in data.products.values()}
    usage = data.usage[tenant]
    expected = (usage["workstations"] * prices["workstations"] + usage["servers"] * prices["servers"]
                + -(-usage["storage"] // 1024**3) * prices["storage"])  # fmt: skip
    gap = next(g for g in report["gaps"] if g["tenant_id"] == tenant and g["kind"] == "services_without_contract")
    assert gap["monthly_amount"] == pytest.approx(round(expected, 2))


def test_the_table_shows_the_clients_and_what_is_at_stake(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.cli.common import stdout

    monkeypatch.setattr(stdout, "_width", 250)  # one line per row, for the assertions
    code, out, _err = run_cli(["report", "acronis-billing"], capsys)
    assert code == 1
    assert "billing gaps in acronis" in out and "at stake a month:" in out
    assert "services, no contract" in out and "no billing information" in out and "Birch & Lowe LLP" in out
    assert "hub workflow start onboard-existing-client-billing-acronis" in out


def test_a_billing_role_without_the_report_is_a_configuration_error(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_ROLES__BILLING", "ncentral")
    monkeypatch.setenv("HUB_NCENTRAL__BASE_URL", "https://ncentral.example.com")
    monkeypatch.setenv("HUB_NCENTRAL__JWT", "x.y.z")
    code, out, err = run_cli(["report", "acronis-billing", "--json"], capsys)
    one_line = err.strip().removeprefix("hub: ")
    assert code == 2 and json.loads(out) == {"status": "error", "exit_code": 2, "error": one_line}
    assert "HUB_ROLES__BILLING: ncentral cannot fill the billing role: it fills rmm; connectors that can: acronis" \
        in err
    assert len(err.strip().splitlines()) == 1


def test_missing_acronis_settings_name_the_variable(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_ACRONIS__DATACENTER_URL")
    code, _out, err = run_cli(["report", "acronis-billing"], capsys)
    assert code == 2 and "HUB_ACRONIS__DATACENTER_URL: required but not set" in err
