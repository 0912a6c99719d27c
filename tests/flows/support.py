"""Helpers for the built-in workflow tests: a hub on the simulators, a driver, and crashes.

A test plays the people and the vendors a run waits on: :func:`drive` confirms manual
steps with the values a test gives and makes the DocuSign simulator sign envelopes.
:class:`CrashAt` stands for the process dying right after a step's side effect and
before the hub recorded it (the worst moment): the step's outputs never reach the
state store, so the step is found ``running`` and must be retried without repeating
what the vendor already did.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from hub.app import Hub
from hub.sandbox import SandboxSet
from hub.settings import load_settings
from hub.workflow import RunStatus, WorkflowEngine

#: Autotask classifications: managed services, residential break/fix
MS, R0 = 103, 101

SignHow = str  # "event" (the Connect message, parsed as the receiver would) or "poll"


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the hub catches it."""


def make_hub() -> Hub:
    """A hub configured from the HUB_* environment the sandboxes set."""
    return Hub(load_settings())


class CrashAt:
    """Makes ``engine`` die once, after step ``step_id``'s side effect, before it is recorded."""

    def __init__(self, engine: WorkflowEngine, step_id: str) -> None:
        self.step_id = step_id
        self.fired = False
        #: the run that was killed (a run that waits on nobody dies inside ``start``)
        self.run_id: str | None = None
        original = engine.runs.store_output

        def store_output(conn: Any, run_id: str, sid: str, outputs: Any, now: Any) -> None:
            if sid == self.step_id and not self.fired:
                self.fired, self.run_id = True, run_id
                raise Crash(f"killed after the side effect of {sid}")
            original(conn, run_id, sid, outputs, now)

        engine.runs.store_output = store_output  # type: ignore[method-assign]


class CrashInForeach:
    """Makes ``engine`` die once, after item number ``n`` (from 1) of a foreach step's side effects.

    The item's write reached the vendor; the commit that records it as done never happens.
    """

    def __init__(self, engine: WorkflowEngine, step_id: str, n: int) -> None:
        self.fired = False
        self.run_id: str | None = None
        original = engine.runs.save_step

        def save_step(conn: Any, run_id: str, sid: str, **values: Any) -> None:
            result = values.get("result")
            done = result.get("done") if isinstance(result, dict) else None
            real = [k for k, v in (done or {}).items() if not v.get("skipped")]
            if sid == step_id and not self.fired and len(real) == n and result.get("current") is None:
                self.fired, self.run_id = True, run_id
                raise Crash(f"killed after item {n} of {sid}")
            original(conn, run_id, sid, **values)

        engine.runs.save_step = save_step  # type: ignore[method-assign]


def sign_envelope(
    hub: Hub, docusign: Any, envelope_id: str, how: SignHow, engine: WorkflowEngine, values: Any = None
) -> None:
    """The signer signs (filling the form's fields with ``values``); the hub hears of it by the
    signed Connect message or by polling."""
    result = docusign.sign(envelope_id, values)
    if how == "poll":
        assert engine.poll() >= 1
        return
    headers, body = docusign.connect_message("envelope-completed", docusign.envelope(envelope_id))
    connector = hub.connector("docusign")
    connector.verify_webhook(headers, body)
    for event in connector.parse_webhook(headers, body):
        engine.handle_event(event)
    assert result["status"] == "completed"


Answer = Mapping[str, Any] | Callable[[WorkflowEngine, str], None]


def drive(
    engine: WorkflowEngine,
    run_id: str,
    answers: Mapping[str, Answer],
    *,
    docusign: Any = None,
    sign: SignHow = "event",
    limit: int = 20,
    fill: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Answer every wait of the run until it completes (a manual step by its ``answers`` entry,
    a form the signer fills by its ``fill`` entry)."""
    for _ in range(limit):
        run = engine.runs.get(run_id)
        if run.status is RunStatus.completed:
            return
        assert run.status is RunStatus.waiting, (run.status, run.current_step, run.error)
        step = run.current_step
        assert step is not None
        rec = engine.runs.step(run_id, step)
        assert rec is not None and rec.waiting_on is not None
        if rec.waiting_on.get("type") == "event":
            assert docusign is not None, f"{step} waits on a vendor event"
            envelope_id = rec.waiting_on["value"]
            sign_envelope(engine.hub, docusign, envelope_id, sign, engine, (fill or {}).get(step))
            continue
        answer = answers.get(step, {})
        if callable(answer):
            answer(engine, run_id)
        else:
            engine.confirm(run_id, step, values=dict(answer))
    raise AssertionError(f"run {run_id} did not complete")


def yes(flag: bool) -> str:
    return "1" if flag else "0"


class Psa:
    """Builds customers in the Autotask simulator through the connector."""

    def __init__(self, hub: Hub) -> None:
        self.at = hub.connector("autotask")

    def company(self, name: str, classification: int, company_type: int = 1) -> str:
        payload = {
            "companyName": name,
            "companyType": company_type,
            "classification": classification,
            "phone": "518-555-0100",
            "ownerResourceID": 29682885,
            "isActive": True,
        }
        return str(self.at.create("Companies", payload).id)

    def contact(
        self,
        company: str,
        first: str,
        *,
        primary: bool = False,
        reports: bool = False,
        authority: str | None = None,
        invoices: bool = False,
    ) -> str:
        """A contact; ``authority`` is ``primary`` or ``secondary`` (its authorization role)."""
        payload = {
            "companyID": int(company),
            "firstName": first,
            "lastName": "Tester",
            "emailAddress": f"{first.lower()}@example.com",
            "isActive": 1,
            "primaryContact": primary,
            "userDefinedFields": [
                {"name": "Receives Reports", "value": yes(reports)},
                {"name": "Primary Authorization", "value": yes(authority == "primary")},
                {"name": "Secondary Authorization", "value": yes(authority == "secondary")},
                {"name": "Invoice Recipient", "value": yes(invoices)},
            ],
        }
        return str(self.at.create("Contacts", payload).id)

    def contract(self, company: str, name: str, active: bool = True) -> str:
        payload = {
            "companyID": int(company),
            "contractName": name,
            "contractType": 7,
            "status": 1 if active else 0,
            "startDate": "2026-01-01T00:00:00Z",
            "endDate": "2026-12-31T00:00:00Z",
        }
        return str(self.at.create("Contracts", payload).id)

    def device(self, company: str, name: str, contract: str | None = None) -> str:
        payload: dict[str, Any] = {"companyID": int(company), "productID": 232, "isActive": True}
        payload["referenceTitle"] = name
        if contract:
            payload["contractID"] = int(contract)
        return str(self.at.create("ConfigurationItems", payload).id)


def vendor_state(sandboxes: SandboxSet) -> str:
    """Everything the served simulators hold, as text: the same before and after a run means
    the run changed nothing in any system (every write stamps a change time or adds a record)."""
    state: dict[str, Any] = {}
    for name, sandbox in sandboxes.sandboxes.items():
        if name == "autotask":
            state[name] = {e: t.records for e, t in sandbox.extra["simulator"].tables.items()}
        elif name == "docusign":
            state[name] = sandbox.control.envelopes
        elif name == "itglue":
            data = sandbox.extra["simulator"].data
            state[name] = {t: getattr(data, t).rows for t in ("organizations", "contacts", "assets")}
        elif name == "quickbooks":
            state[name] = sandbox.control.data.customers
    return json.dumps(state, sort_keys=True, default=str)
