"""Property: whatever faults the vendors produce, `psa-to-docs` leaves no duplicate and no gap.

Hypothesis draws a schedule of faults for the requests the hub sends (IT Glue's creates
answered too late, dropped after being applied, answered 502 after being applied, or
refused with 429 before being applied; any request refused at connection time). The
faults are played by an HTTP transport in front of the real simulators, on a fake clock,
so a schedule costs no real waiting. After the faulty run and at most two clean ones,
IT Glue holds exactly one organization per active Autotask company and one contact per
active contact, and one more run writes nothing.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.app import Hub
from hub.clock import FakeClock
from hub.http import RetryPolicy
from hub.plugins import HubPlugins
from hub.sandbox import SandboxSet
from hub.settings import HubSettings
from hub.sync import run_job

FAULTS = [None, None, "late", "drop", "502", "429", "refused"]


class FaultyTransport(httpx.BaseTransport):
    """Plays a schedule of faults on IT Glue's creates (and connection refusals on anything)."""

    def __init__(self, schedule: list[str | None]) -> None:
        self.schedule = list(schedule)
        self.real = httpx.HTTPTransport()
        self.played: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        fault = self.schedule.pop(0) if self.schedule else None
        path = request.url.path
        is_create = request.method == "POST" and (path == "/organizations" or path.endswith("/relationships/contacts"))
        if fault == "refused":
            self.played.append(fault)
            raise httpx.ConnectError("connection refused", request=request)
        if fault is None or not is_create:
            return self.real.handle_request(request)
        self.played.append(fault)
        if fault == "429":
            return httpx.Response(429, headers={"Retry-After": "1"}, request=request)
        response = self.real.handle_request(request)
        response.read()  # the write is applied; now its answer is lost
        if fault == "late":
            raise httpx.ReadTimeout("the answer came after the client's timeout", request=request)
        if fault == "drop":
            raise httpx.RemoteProtocolError("peer closed connection without sending a body", request=request)
        return httpx.Response(502, text="<h1>502 Bad Gateway</h1>", request=request)


def run(served: SandboxSet, state: Path, transport: httpx.BaseTransport) -> dict[str, Any]:
    overrides = {name: sandbox.settings(served.url(name)) for name, sandbox in served.sandboxes.items()}
    settings = HubSettings(state_url=f"sqlite:///{state}", documents_root=state.parent / "docs", sync_pin_cpu=False)
    with Hub(settings, clock=FakeClock(), transport=transport, retry=RetryPolicy(attempts=4, jitter=0.0),
             connector_overrides=overrides) as hub:  # fmt: skip
        return run_job(hub, "psa-to-docs")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=st.lists(st.sampled_from(FAULTS), min_size=5, max_size=60))
def test_no_fault_schedule_leaves_a_duplicate_or_a_gap(schedule: list[str | None]) -> None:
    classes = HubPlugins().connector_classes()
    options = {"autotask": {"size": 8, "seed": 9}, "itglue": {"size": 0, "seed": 1}}
    with tempfile.TemporaryDirectory() as tmp, SandboxSet(
        {name: classes[name] for name in options}, options
    ) as served:
        state = Path(tmp) / "state.sqlite"
        faulty = FaultyTransport(schedule)
        run(served, state, faulty)
        for _ in range(2):  # outcomes left unknown, or runs stopped by a fault, settle on clean runs
            summary = run(served, state, httpx.HTTPTransport())
            if summary["status"] == "ok":
                break
        assert summary["status"] == "ok", summary
        last = run(served, state, httpx.HTTPTransport())
        assert (last["created"], last["updated"], last["failed"]) == (0, 0, 0), last

        sim = served.sandboxes["autotask"].extra["simulator"]
        itglue = served.control("itglue")
        companies = {r["id"]: r for r in sim.tables["Companies"].records.values() if r.get("isActive")}
        contacts = [r for r in sim.tables["Contacts"].records.values()
                    if r.get("isActive") and r["companyID"] in companies]  # fmt: skip
        orgs = Counter(o["attributes"]["name"] for o in itglue.records("organizations"))
        assert max(orgs.values()) == 1, f"duplicate organizations after {faulty.played}: {orgs}"
        assert set(orgs) == {c["companyName"].strip() for c in companies.values()}, "an organization is missing"
        org_names = {int(o["id"]): o["attributes"]["name"] for o in itglue.records("organizations")}
        documented = Counter(
            (p["attributes"]["first-name"], p["attributes"]["last-name"], org_names[p["attributes"]["organization-id"]])
            for p in itglue.records("contacts")
        )
        expected = Counter(
            (c["firstName"], c["lastName"], companies[c["companyID"]]["companyName"].strip()) for c in contacts
        )
        assert documented == expected, f"contacts duplicated or missing after {faulty.played}"
