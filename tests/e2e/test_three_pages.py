"""Done when: `hub sync psa-to-docs` of 1,234 Autotask companies (three query pages), against a
simulator that refuses GET on a POSTed query's next page, documents every active company
and every active contact of them exactly once.

The Autotask simulator plays the real-like database: unknown classifications on a share
of the companies and two companies whose names differ only by their legal form, which
used to fail or block 322 and 23 records of such a run.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from hub.sandbox import SandboxSet
from tests.core.fakes import run_cli

LIFTED = 1_000_000

pytestmark = [
    pytest.mark.slow,
    # IT Glue's published budget (3,000 requests in 5 minutes) would make this run wait for
    # minutes; it is lifted in the simulator and the hub, as the benchmark does
    pytest.mark.sandboxes(
        autotask={"size": 1234, "seed": 17, "profile": "real-like"}, itglue={"size": 0, "seed": 1, "budget": LIFTED}
    ),
]


def test_1234_companies_over_three_pages_are_documented_exactly_once(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_ITGLUE__RATE_LIMIT_REQUESTS", str(LIFTED))
    autotask, itglue = sandboxes.control("autotask"), sandboxes.control("itglue")
    sim = autotask.sim  # type: ignore[attr-defined]
    companies = {c["id"]: c for c in sim.tables["Companies"].records.values()}
    active = {cid for cid, c in companies.items() if c["isActive"]}
    contacts = [p for p in sim.tables["Contacts"].records.values() if p["isActive"] and p["companyID"] in active]

    code, out, err = run_cli(["sync", "psa-to-docs", "--json"], capsys)
    summary = json.loads(out)
    assert code == 0 and summary["status"] == "ok", (summary, err[-2000:])
    assert (summary["failed"], summary["conflicts"]) == (0, 0)
    assert summary["unmapped_values"] > 0

    # three pages: the first POSTed, the next two POSTed to nextPageUrl with the same body
    pages = [r for r in autotask.requests if r["path"].endswith(("/Companies/query", "/Companies/query/next"))]
    assert [r["method"] for r in pages] == ["POST"] * 3 and pages[1]["json"] == pages[0]["json"] == pages[2]["json"]

    store = itglue.sim.data  # type: ignore[attr-defined]
    documented = Counter(o["attributes"]["name"] for o in store.organizations.rows.values())
    assert documented == Counter(companies[cid]["companyName"].strip() for cid in active)
    assert documented["Okafor Architecture Pty Ltd"] == documented["Okafor Architecture GmbH"] == 1
    emails = Counter(
        e["value"].lower() for c in store.contacts.rows.values() for e in c["attributes"].get("contact-emails") or []
    )
    assert emails == Counter(p["emailAddress"].lower() for p in contacts)
