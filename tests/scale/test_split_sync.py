"""psa-to-docs split across workers (``--part I/N``): the parts at once write every record
exactly once, an existing target record is adopted by one part only, and a whole run
afterwards has nothing left to write."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import httpx
import pytest

from hub.app import Hub
from hub.errors import ConfigError
from hub.sandbox import SandboxSet
from hub.settings import load_settings
from hub.state.leases import JobLocked
from hub.sync.engine import Part, run_job

pytestmark = pytest.mark.sandboxes(
    autotask={"size": 60, "seed": 11, "page_size": 10}, itglue={"size": 0, "seed": 2}
)


def companies_and_contacts(sandboxes: SandboxSet) -> tuple[dict[Any, dict[str, Any]], list[dict[str, Any]]]:
    sim = sandboxes.sandboxes["autotask"].extra["simulator"]
    companies = {r["id"]: r for r in sim.tables["Companies"].records.values() if r.get("isActive")}
    contacts = [r for r in sim.tables["Contacts"].records.values() if r.get("isActive") and r["companyID"] in companies]
    return companies, contacts


def add_organization(sandboxes: SandboxSet, name: str) -> None:
    """An organization someone made in IT Glue by hand, before the hub ran."""
    body = {"data": {"type": "organizations", "attributes": {"name": name}}}
    key = sandboxes.sandboxes["itglue"].settings(sandboxes.url("itglue"))["api_key"]
    answer = httpx.post(f"{sandboxes.url('itglue')}/organizations", json=body, headers={
        "x-api-key": key, "content-type": "application/vnd.api+json"})  # fmt: skip
    assert answer.status_code in (200, 201), answer.text


def run_parts(count: int) -> list[dict[str, Any]]:
    summaries: list[dict[str, Any]] = [{} for _ in range(count)]
    errors: list[BaseException] = []

    def part(i: int) -> None:
        try:
            with Hub(load_settings()) as hub:
                summaries[i] = run_job(hub, "psa-to-docs", part=Part(i + 1, count))
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=part, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return summaries


def test_parts_at_once_write_every_record_once(sandboxes: SandboxSet) -> None:
    companies, contacts = companies_and_contacts(sandboxes)
    # organizations already in IT Glue under some companies' names: each is adopted, by one part
    existing = sorted({c["companyName"].strip() for c in companies.values()})[:6]
    for name in existing:
        add_organization(sandboxes, name)

    summaries = run_parts(3)
    assert {s["status"] for s in summaries} == {"ok"}
    sim = sandboxes.sandboxes["autotask"].extra["simulator"]
    everything = len(sim.tables["Companies"].records) + len(sim.tables["Contacts"].records)
    assert sum(s["read"] for s in summaries) == everything, "a record was handled by no part, or by two"
    itglue = sandboxes.sandboxes["itglue"].control
    orgs = Counter(o["attributes"]["name"] for o in itglue.records("organizations"))
    assert {n for n, k in orgs.items() if k > 1} == set(), "an organization was created twice"
    assert set(orgs) >= {c["companyName"].strip() for c in companies.values()}
    people = Counter(
        (p["attributes"]["first-name"], p["attributes"]["last-name"], p["attributes"]["organization-id"])
        for p in itglue.records("contacts")
    )
    assert sum(people.values()) == len(contacts) and max(people.values()) == 1

    with Hub(load_settings()) as hub:
        whole = run_job(hub, "psa-to-docs")
        links = hub.store.crosswalk
        for org in itglue.records("organizations"):
            if org["attributes"]["name"] in existing:
                assert links.hub_id("organization", "itglue", org["id"]) is not None, "an existing one not adopted"
    assert whole["status"] == "ok"
    assert whole["created"] == whole["updated"] == 0, "the whole run after the parts found something to write"


def test_each_part_handles_a_disjoint_share_of_the_records(sandboxes: SandboxSet) -> None:
    companies, contacts = companies_and_contacts(sandboxes)
    summaries = run_parts(2)
    created = sum(s["created"] for s in summaries)
    assert created == len(companies) + len(contacts)
    assert all(s["created"] for s in summaries), "a part wrote nothing: the split is not a split"


def test_a_part_and_a_whole_run_never_run_together(sandboxes: SandboxSet) -> None:
    with Hub(load_settings()) as hub, hub.store.lock("sync:psa-to-docs"):
        with pytest.raises(JobLocked, match=r"sync:psa-to-docs is already running \(sync:psa-to-docs\)"):
            run_job(hub, "psa-to-docs", part=Part(1, 2))
    with Hub(load_settings()) as hub, hub.store.lock("sync:psa-to-docs#2/2"):
        with pytest.raises(JobLocked, match=r"already running \(sync:psa-to-docs#2/2\)"):
            run_job(hub, "psa-to-docs")


def test_only_jobs_of_entity_copies_split_and_parts_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"--part '3': give it as I/N"):
        Part.parse("3")
    with pytest.raises(ConfigError, match="between 1 and 2"):
        Part.parse("3/2")
    with Hub(load_settings()) as hub:
        with pytest.raises(ConfigError, match="job rmm-alerts cannot be split"):
            run_job(hub, "rmm-alerts", part=Part(1, 2))
        with pytest.raises(ConfigError, match="--full-refresh"):
            run_job(hub, "psa-to-docs", part=Part(1, 2), full_refresh=True)


def test_records_of_one_organization_stay_in_one_part() -> None:
    parts = [Part(i, 4) for i in range(1, 5)]
    for key in ("174", "0", "29682885", "abc"):
        assert sum(p.owns(key) for p in parts) == 1


def test_two_parts_never_adopt_the_same_record(sandboxes: SandboxSet) -> None:
    """Two companies named alike in two different parts, and one organization of that name in
    IT Glue: one part adopts it, the other gets a record of its own (as one whole run would)."""
    companies, _ = companies_and_contacts(sandboxes)
    # the last company of part 1: read at about the time part 2 reads the twin (the newest)
    first = max((c for c in companies.values() if Part(1, 2).owns(str(c["id"]))), key=lambda c: int(c["id"]))
    name = first["companyName"].strip()
    with Hub(load_settings()) as hub:
        autotask = hub.connector("autotask")
        payload = {k: v for k, v in first.items() if k not in ("id", "lastActivityDate", "createDate")}
        twin = str(autotask.create("Companies", payload).id)
    if not Part(2, 2).owns(twin):  # make sure the twin lands in the other part
        pytest.skip("the simulator gave the twin an id of the same part")
    add_organization(sandboxes, name)
    # each adoption's write answered a second late: both parts match before either commits
    sandboxes.faults["itglue"].after_write("late", method="PATCH", path="/organizations/", times=2, delay=1.0)

    run_parts(2)
    itglue = sandboxes.sandboxes["itglue"].control
    named = [o for o in itglue.records("organizations") if o["attributes"]["name"] == name]
    assert len(named) == 2, "the two companies should have one organization each"
    with Hub(load_settings()) as hub:
        owners = {hub.store.counterpart("organization", "itglue", o["id"], "autotask") for o in named}
    assert owners == {str(first["id"]), twin}, "one organization was adopted by both companies"
