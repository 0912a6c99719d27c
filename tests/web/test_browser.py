"""The console in a real headless Chromium (Debian's package, driven by Playwright), against the simulators.

A person signs in with the keyboard, starts ``new-breakfix-customer``, confirms the
appointment through its form, watches the run move on to the signature wait, runs a
sync that dead-letters a record, fixes it and retries it, and signs out; every page
is photographed into ``test-output/console-e2e/`` and checked for unlabelled form
controls. ``scripts/with-chromium.sh`` (run by ``make test``) installs Chromium; the
test is skipped where there is none. Playwright never downloads a browser here.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.app import Hub
from hub.events.receiver import create_app
from hub.events.runtime import Runtime
from hub.events.service import EventService
from hub.sandbox import SandboxSet, ServedApp, free_port
from hub.settings import load_settings
from hub.web.accounts import AccountStore, Role
from hub.web.app import Console, mount
from hub.workflow import RunStatus, WorkflowEngine

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "console-e2e"
PASSWORD = "a long test password"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
#: how long the browser waits for something to show (the run moves on in the background)
UI_TIMEOUT_MS = 30_000

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium (make test installs it with apt)"),
    pytest.mark.slow,
]

CUSTOMER = {
    "name": "Maria Garcia", "first name": "Maria", "last name": "Garcia", "email": "maria.garcia@example.net",
    "phone": "518-555-0199", "street": "41 Columbia Turnpike", "city": "East Greenbush", "state": "NY",
    "postal code": "12061", "machine age": "3", "os": "Windows 11",
}  # fmt: skip


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Hub, SandboxSet]]:
    """Simulators, and ``hub serve``'s app with its console on a real port (uvicorn)."""
    from hub.plugins import HubPlugins

    port = free_port()
    options = {
        "autotask": {"size": 12, "seed": 11},
        "docusign": {"size": 3, "seed": 5, "webhook_url": f"http://127.0.0.1:{port}/webhooks/docusign"},
        "itglue": {"size": 0, "seed": 2},
    }
    classes = HubPlugins().connector_classes()
    with SandboxSet({n: classes[n] for n in options}, options) as sandboxes:
        for key, value in sandboxes.env.items():
            monkeypatch.setenv(key, value)
        hub = Hub(load_settings())
        AccountStore(hub.store).add("otto", Role.operator, PASSWORD, actor="user:test")
        service = EventService(Runtime(hub, sync=None, lifecycle=None))
        app = create_app(hub, service.runtime.events, on_stored=service.wake)
        console = Console(hub, events=service.runtime.events, process_events=service.wake)
        mount(app, console)
        server = ServedApp(app, port=port).start()
        service.start()
        try:
            yield server.url, hub, sandboxes
        finally:
            service.stop()
            server.stop()
            console.tasks.close()
            hub.close()


def _unlabelled(page: Any) -> list[str]:
    """Visible form controls without a label (by <label for>, wrapping label or aria-label)."""
    return list(page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
        .map(e => e.outerHTML)"""))


def _shoot(page: Any, name: str) -> None:
    assert _unlabelled(page) == [], name
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


def field(page: Any, label: str) -> Any:
    """The form control labelled ``label`` (a required one's label ends with an asterisk)."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))


def _press(page: Any, locator: Any) -> None:
    """Act from the keyboard: focus the control and press Enter."""
    locator.focus()
    page.keyboard.press("Enter")


def test_a_person_takes_breakfix_to_the_signature_and_retries_a_dead_letter(
    served: tuple[str, Hub, SandboxSet],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, hub, sandboxes = served
    OUTPUT.mkdir(parents=True, exist_ok=True)
    sim = sandboxes.control("autotask").sim
    company = next(c for c in sim.tables["Companies"].records.values() if c["isActive"])
    real_name = company["companyName"]
    company["companyName"] = "   "  # the core model refuses a blank name: this one is dead-lettered

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(UI_TIMEOUT_MS)
        expect.set_options(timeout=UI_TIMEOUT_MS)

        # nothing without signing in: the browser lands on the sign-in form
        page.goto(f"{url}/workflows")
        assert "/login?next=" in page.url
        _shoot(page, "01-login")
        page.locator("#username").focus()
        page.keyboard.type("otto")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{url}/workflows")

        for path, name in (("/", "02-overview"), ("/compliance", "03-compliance"), ("/events", "04-events"),
                           ("/connectors", "05-connectors")):  # fmt: skip
            page.goto(url + path)
            _shoot(page, name)

        # start the workflow from its generated form
        page.goto(f"{url}/workflows")
        _shoot(page, "06-workflows")
        _press(page, page.get_by_role("link", name="New break/fix customer"))
        page.wait_for_url(f"{url}/workflows/start/new-breakfix-customer")
        for label, value in CUSTOMER.items():
            field(page, label).fill(value)
        field(page, "customer").select_option("residential")
        _shoot(page, "07-start-form")
        field(page, "os").press("Enter")  # Enter in a field submits the form
        page.wait_for_url(f"{url}/workflows/runs/*")
        run_id = page.url.rsplit("/", 1)[1]

        # the appointment step waits on a person: confirm it through its form
        card = page.locator("section.todo")
        expect(card).to_contain_text("Ask Maria Garcia (518-555-0199) to confirm they want an appointment")
        _shoot(page, "08-run-appointment")
        card.get_by_label("Note for the audit log (optional)").fill("customer said yes on the phone")
        _press(page, card.get_by_role("button", name="Confirm"))

        # ... and the run moves on, by itself, to the customer's signature
        signature = page.locator("li.st-waiting", has_text="11. Customer e-signs the terms")
        expect(signature).to_be_visible()
        expect(page.locator("h1")).to_contain_text("waiting")
        _shoot(page, "09-run-signature-wait")
        run = WorkflowEngine(hub).runs.get(run_id)
        assert (run.status, run.current_step) == (RunStatus.waiting, "signed")

        # a sync run from the console dead-letters the nameless company
        page.goto(f"{url}/sync")
        job = page.locator("tr", has=page.get_by_role("link", name="psa-to-docs", exact=True))
        _press(page, job.get_by_role("button", name="Run now"))
        row = page.locator("#dead-letters-section tr", has_text=f"organization {company['id']}")
        retry = row.get_by_role("button", name="Retry")
        expect(retry).to_be_visible()  # the page reloads itself when the run ends
        _shoot(page, "10-sync-dead-letter")
        company["companyName"] = real_name  # fixed at the source
        _press(page, retry)
        expect(page.locator(".flash")).to_contain_text("written")
        expect(row).to_have_count(0)
        _shoot(page, "11-sync-retried")

        page.goto(f"{url}/audit?actor=user:otto")
        expect(page.locator("main")).to_contain_text("deadletter.retried")
        expect(page.locator("main")).to_contain_text("step.confirmed")
        _shoot(page, "12-audit")

        # sign out from the keyboard: the console is closed again
        _press(page, page.get_by_role("button", name="Sign out"))
        page.wait_for_url(f"{url}/login")
        page.goto(f"{url}/workflows/runs/{run_id}")
        assert "/login?next=" in page.url
        _shoot(page, "13-signed-out")
        browser.close()
