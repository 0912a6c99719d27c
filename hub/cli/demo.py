"""``hub demo``: the sandbox walk-through, with no vendor account and nothing of the user's touched.

It serves the simulators of the connectors filling the roles it shows (the PSA, the
documentation platform, the accounting system, e-signature and the RMM: the built-in
defaults, and ``--rmm`` chooses the RMM, e.g. ``dattormm``) on loopback, and the hub's own
webhook receiver (the app of ``hub serve``, with its event worker) on a free loopback port
that the e-signature simulator's signed messages go to. Then it runs, printing each step
as it happens:

1. the ``psa-to-docs`` sync (the PSA's companies and contacts into the documentation platform);
2. ``rmm-devices`` and ``rmm-alerts`` for the chosen RMM: its devices become configuration
   items of the PSA accounts of its customers, and its open alerts tickets (in real life the
   monitored customers are PSA accounts already; the demo adds them first, through the PSA's
   mapping);
3. the ``new-breakfix-customer`` workflow end to end: the demo plays the office admin
   who confirms the manual steps, the simulator's customer signs the terms, and the
   signed message, received and verified by the receiver, resumes the run;
4. ``hub compliance`` over every customer;
5. with ``--console``: the web console on the receiver's port, a demo user, and a new
   customer's run waiting on a person, until Ctrl-C (the simulated customer signs each
   envelope a few seconds after it is sent).

Everything lives in one folder (``--dir``, or a new temporary one): the state store and
the client folders where the signed PDF lands. Each run serves new simulators, so a
folder used before gets a new state store (an old one would point at simulators that
are gone). Settings come from the simulators only, never from the user's HUB_*
variables, .env or hub.yaml.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from hub.app import Hub
from hub.cli.common import app, stdout
from hub.compliance.report import render, run_compliance
from hub.errors import ConfigError, HubError
from hub.models import AccountType, Organization
from hub.sandbox import SandboxSet, ServedApp, free_port, start_afresh
from hub.settings import HubSettings, RoleSettings
from hub.workflow import RunStatus, WorkflowEngine
from hub.writes import PlannedWrite, Writer, write_key

WORKFLOW = "new-breakfix-customer"
#: the roles the demo shows, with how the simulator of the connector filling each is seeded (the
#: RMM simulators take the number of open alerts too)
SIMULATORS: dict[str, dict[str, Any]] = {
    "psa": {"size": 25, "seed": 7},
    "esign": {"size": 5, "seed": 7},
    "docs": {"size": 0, "seed": 7},
    "accounting": {"size": 10, "seed": 7},
    "rmm": {"size": 6, "seed": 7, "alerts": 2},
}
#: the phone number of a PSA account the demo adds for an RMM customer that has none
ACCOUNT_PHONE = "518-555-0100"
#: the new customer the office admin takes on the phone
CUSTOMER = {
    "name": "Maria Garcia",
    "first_name": "Maria",
    "last_name": "Garcia",
    "email": "maria.garcia@example.net",
    "phone": "518-555-0199",
    "street": "41 Columbia Turnpike",
    "city": "East Greenbush",
    "state": "NY",
    "postal_code": "12061",
    "computers": "2",
    "servers": "0",
    "referral": "a neighbour",
    "os": "Windows 11",
    "machine_age": "3",
    "customer": "residential",
    "visit": "onsite",
}
#: how long the demo waits for the signed Connect message to resume the run
SIGNATURE_WAIT_S = 20.0

_MARKS = {"done": "[green]✓[/green]", "skipped": "[dim]-[/dim]", "waiting": "[yellow]…[/yellow]",
          "failed": "[red]✗[/red]", "item": "[green]·[/green]", "reminder": "[yellow]![/yellow]"}  # fmt: skip


class DemoFailed(HubError):
    """The walk-through did not go as it should (the message says where)."""


def _say(text: str) -> None:
    stdout.print(text, highlight=False)


class _StepPrinter:
    """Prints each workflow step as it changes (called by the engine, in any thread)."""

    def __init__(self, engine: WorkflowEngine) -> None:
        self.engine = engine

    def __call__(self, run_id: str, step_id: str, status: str, detail: str) -> None:
        if status == "running":
            return
        definition = self.engine.definition(self.engine.runs.get(run_id))
        label = definition.locate(step_id).label
        extra = f" [dim]{escape(detail)}[/dim]" if detail else ""
        _say(f"   {_MARKS.get(status, status)} {escape(label)}{extra}")


def _settings(folder: Path, rmm: str | None) -> HubSettings:
    """The defaults, the demo's folder and its RMM: nothing read from the environment, ``.env``
    or ``hub.yaml`` (a user's bad or unknown setting cannot stop the demo)."""
    roles = RoleSettings(rmm=rmm) if rmm else RoleSettings()
    return HubSettings.model_construct(
        state_url=f"sqlite:///{folder / 'state.sqlite'}", documents_root=folder / "client-folders", roles=roles
    )


def _connectors(hub: Hub) -> dict[str, str]:
    """Role -> the connector filling it, for the roles the demo shows; each must have a simulator."""
    chosen: dict[str, str] = {}
    for role in SIMULATORS:
        try:
            name = hub.roles.connector(role)
        except ConfigError as exc:  # only --rmm can name another connector
            raise ConfigError(f"--rmm {hub.settings.roles.rmm}: {str(exc).split(': ', 1)[1]}") from None
        if hub.plugins.connector_class(name).sandbox() is None:
            raise ConfigError(f"--{role} {name}: the connector ships no simulator to show")
        chosen[role] = name
    return chosen


def _wait_while(engine: WorkflowEngine, run_id: str, step: str, timeout: float, what: str) -> None:
    """Until the run is past ``step`` and nobody is advancing it: the receiver's worker may
    be the one moving it on (a signature's message, or a confirmation made while it still
    held the run), so the demo reads the run again only once it has settled."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = engine.runs.get(run_id)
        if run.current_step != step and run.status is not RunStatus.running:
            return
        time.sleep(0.05)
    raise DemoFailed(f"{what} did not move the run past {step!r} within {timeout:g} s")


def _summary(job: str, summary: dict[str, Any]) -> None:
    _say(f"   {job}: {summary['status']}: read {summary['read']}, created {summary['created']}, "
         f"updated {summary['updated']}, skipped {summary.get('skipped', 0)}, failed {summary['failed']} "
         f"in {summary['duration_s']} s")  # fmt: skip
    if summary["status"] != "ok":
        raise DemoFailed(f"{job} ended {summary['status']}: {summary.get('error')}")


def _monitored_accounts(hub: Hub) -> list[str]:
    """The RMM's customers as accounts of the PSA, named alike (``rmm-devices`` links them by
    name): created through the PSA's mapping and the one write path, as any write of the hub."""
    rmm, psa = hub.roles.connector("rmm"), hub.roles.connector("psa")
    source = hub.connector(rmm)
    stream = source.stream(hub.roles.stream("rmm", "customers"))
    read = hub.mapping(rmm).entity(stream.mapping_entity)
    entity = hub.roles.entity("psa", "companies")
    write = hub.mapping(psa).entity(entity)
    writer = Writer(hub, "demo")
    names: list[str] = []
    for page in stream.read():
        for raw in page.records:
            customer = read.to_core(raw, source)
            assert isinstance(customer, Organization)
            account = Organization(name=customer.name, account_type=AccountType.customer,
                                   phone=customer.phone or ACCOUNT_PHONE)  # fmt: skip
            payload = write.to_vendor(account, hub.connector(psa), fields=["name", "account_type", "phone"],
                                      create=True)  # fmt: skip
            outcome = writer.send(PlannedWrite(psa, entity, "create", payload, account,
                                               key=write_key("demo", rmm, customer.name)))  # fmt: skip
            if not outcome.ok:
                raise DemoFailed(f"the {psa} account {customer.name!r}: {outcome.reason}")
            names.append(customer.name)
    return names


def _run_workflow(engine: WorkflowEngine, sandboxes: SandboxSet) -> str:
    service_date = (datetime.now(engine.hub.settings.zone).date() + timedelta(days=3)).isoformat()
    answers = {
        "appointment": ({}, "the customer confirms they want an appointment"),
        "payment": ({"method": "payment", "amount": "150"}, "payment of the $150 estimate taken"),
        "schedule": (
            {"service_date": service_date, "start_time": "10:00", "technician": "external", "resource_id": "29682886"},
            f"service call booked for {service_date} at 10:00 with an external technician",
        ),
    }
    esign = engine.hub.roles.connector("esign")
    title = engine.hub.plugins.connector_class(esign).title or esign
    run_id = engine.start(WORKFLOW, CUSTOMER)
    for _ in range(len(answers) + 2):
        run = engine.runs.get(run_id)
        if run.status is not RunStatus.waiting:
            break
        step = run.current_step or ""
        if step == "signed":
            envelope_id = run.values["send_terms"]["envelope_id"]
            _say(f"   [bold]{escape(title)}[/bold] (simulator): {CUSTOMER['name']} signs envelope {envelope_id}")
            sandboxes.control(esign).sign(envelope_id)
            _wait_while(engine, run_id, "signed", SIGNATURE_WAIT_S, "the signed Connect message")
            continue
        if step not in answers:
            raise DemoFailed(f"the run waits on {step!r}, which the demo does not answer")
        values, what = answers[step]
        _say(f"   [bold]office admin[/bold] confirms: {what}")
        engine.confirm(run_id, step, note="hub demo", values=values, actor="user:demo")
        _wait_while(engine, run_id, step, SIGNATURE_WAIT_S, "the confirmation")
    run = engine.runs.get(run_id)
    if run.status is not RunStatus.completed:
        raise DemoFailed(f"{WORKFLOW} ended {run.status.value}: {run.error or run.current_step}")
    return run_id


#: the newcomer's own customer, left waiting for them at the first manual step
NEWCOMER_CUSTOMER = {**CUSTOMER, "name": "Sam Lee", "first_name": "Sam", "last_name": "Lee",
                     "email": "sam.lee@example.net", "phone": "518-555-0123", "customer": "business"}  # fmt: skip
#: how long after an envelope is sent the demo's simulated customer signs it
CUSTOMER_SIGNS_AFTER_S = 10.0


class _SimulatedCustomer(threading.Thread):
    """Plays the customers of the console demo: signs each new envelope a little after it was sent.

    In real life the customer signs from the e-signature vendor's e-mail; here the
    simulator's control signs it, and the simulator's signed message to the receiver moves
    the run on, exactly as a real signature would.
    """

    def __init__(self, esign: Any, title: str, delay: float) -> None:
        super().__init__(name="hub-demo-customer", daemon=True)
        self.esign = esign
        self.title = title
        self.delay = delay
        self.known = set(esign.envelopes)
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(1.0):
            for envelope_id, envelope in list(self.esign.envelopes.items()):
                if envelope_id in self.known or envelope.get("status") != "sent":
                    continue
                first = self.seen.setdefault(envelope_id, time.monotonic())
                if time.monotonic() - first >= self.delay:
                    self.known.add(envelope_id)
                    _say(f"   [bold]{escape(self.title)}[/bold] (simulator): the customer signs envelope {envelope_id}")
                    self.esign.sign(envelope_id)


def _serve_console(hub: Hub, engine: WorkflowEngine, sandboxes: SandboxSet, url: str) -> None:
    """Leave a run waiting on a person, make a demo user, and serve until Ctrl-C."""
    from hub.web.accounts import AccountStore, Role

    password = secrets.token_urlsafe(9)
    accounts = AccountStore(hub.store)
    if accounts.get("demo") is None:
        accounts.add("demo", Role.admin, password, actor="user:demo")
    else:
        accounts.set_password("demo", password, actor="user:demo")
    run_id = engine.start(WORKFLOW, NEWCOMER_CUSTOMER, actor="user:demo")
    esign = hub.roles.connector("esign")
    title = hub.plugins.connector_class(esign).title or esign
    customer = _SimulatedCustomer(sandboxes.control(esign), title, CUSTOMER_SIGNS_AFTER_S)
    customer.start()
    _say("\n[bold]5. the web console[/bold] (hub serve): take a break/fix customer from start to the signed PDF")
    _say(f"   open [bold]{url}/[/bold] and sign in as [bold]demo[/bold] with password [bold]{password}[/bold]")
    _say(f"   {NEWCOMER_CUSTOMER['name']}'s run waits on you: {url}/workflows/runs/{run_id}")
    _say(f"   the simulated customer signs each envelope {CUSTOMER_SIGNS_AFTER_S:g} s after it is sent")
    _say("   press Ctrl-C to stop")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        _say("\nconsole stopped")
    finally:
        customer.stop.set()


def demo(
    folder: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Folder for the demo's state store and client folders (default: a new temp folder)."
        ),
    ] = None,
    console: Annotated[
        bool,
        typer.Option(
            "--console",
            help="Afterwards keep the simulators and the console running, with a demo user, until Ctrl-C.",
        ),
    ] = False,
    rmm: Annotated[
        str | None,
        typer.Option("--rmm", help="The RMM connector to show (default: HUB_ROLES__RMM's default), e.g. dattormm."),
    ] = None,
) -> None:
    """Run the sandbox walk-through: syncs, RMM devices and alerts, a break/fix onboarding signed, compliance."""
    from hub.events.receiver import create_app
    from hub.events.runtime import Runtime
    from hub.events.service import EventService
    from hub.sync import run_job

    started = time.monotonic()
    base = start_afresh(folder or Path(tempfile.mkdtemp(prefix="hub-demo-")))
    settings = _settings(base, rmm)
    hub = Hub(settings)
    chosen = _connectors(hub)
    _say(f"[bold]hub demo[/bold] in {base} (its own state store; your settings are not used)")
    port = free_port()
    webhook_url = f"http://127.0.0.1:{port}/webhooks/{chosen['esign']}"
    options = {chosen[role]: dict(seeded) for role, seeded in SIMULATORS.items()}
    options[chosen["esign"]]["webhook_url"] = webhook_url
    classes = hub.plugins.connector_classes()
    titles = {role: classes[name].title or name for role, name in chosen.items()}
    with SandboxSet({name: classes[name] for name in options}, options) as sandboxes:
        overrides = {n: s.settings(sandboxes.url(n)) for n, s in sandboxes.sandboxes.items()}
        hub.connector_overrides = overrides
        for name in sandboxes.served:
            _say(f"simulator [bold]{name}[/bold] on {sandboxes.url(name)}")
        engine = WorkflowEngine(hub)
        engine.on_step = _StepPrinter(engine)
        service = EventService(Runtime(hub, workflow=engine, sync=None, lifecycle=None))
        receiver_app = create_app(hub, service.runtime.events, on_stored=service.wake)
        if console:
            from hub.web.app import Console, mount

            mount(receiver_app, Console(hub, events=service.runtime.events, process_events=service.wake))
        receiver = ServedApp(receiver_app, port=port)
        receiver.start()
        service.start()
        try:
            _say(f"webhook receiver (hub serve) on http://127.0.0.1:{port}; {titles['esign']} posts to {webhook_url}")
            _say(f"\n[bold]1. hub sync psa-to-docs[/bold]: {titles['psa']} companies and contacts into "
                 f"{titles['docs']}")  # fmt: skip
            _summary("psa-to-docs", run_job(hub, "psa-to-docs"))
            _say(f"\n[bold]2. hub sync rmm-devices, rmm-alerts[/bold]: {titles['rmm']} devices and alerts into "
                 f"{titles['psa']}")  # fmt: skip
            accounts = _monitored_accounts(hub)
            _say(f"   the monitored customers as {titles['psa']} accounts (in real life they are there already): "
                 f"{escape(', '.join(accounts))}")  # fmt: skip
            _summary("rmm-devices", run_job(hub, "rmm-devices"))
            _summary("rmm-alerts", run_job(hub, "rmm-alerts"))
            _say(f"\n[bold]3. hub workflow start {WORKFLOW}[/bold] for {CUSTOMER['name']}")
            run_id = _run_workflow(engine, sandboxes)
            pdf = engine.runs.get(run_id).values["save_terms"]["path"]
            _say(f"   run {run_id} completed")
            _say(f"   [bold]signed PDF saved to[/bold] {escape(pdf)}")
            _say(f"   (the demo documents root is {escape(str(settings.documents_root))}, a demo folder)")
            _say("\n[bold]4. hub compliance[/bold]: rules over every customer, read live from the simulators")
            result = run_compliance(hub)
            render(result, stdout, limit=10)
            counts = ", ".join(f"{rule} {n}" for rule, n in result.as_dict()["counts"].items())
            _say(f"   compliance: {len(result.violations)} violations ({counts}); the seeded data is imperfect on "
                 "purpose, and `hub compliance` exits 1 on it")  # fmt: skip
            if console:
                _serve_console(hub, engine, sandboxes, f"http://127.0.0.1:{port}")
        finally:
            service.stop()
            receiver.stop()
            hub.close()
    _say(f"\n[green]demo finished in {time.monotonic() - started:.1f} s[/green]; files kept in {base}")


def register() -> None:
    app.command("demo")(demo)
