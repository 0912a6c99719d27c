"""``hub serve``, ``hub worker``, ``hub events [retry]``, ``hub webhooks register|status``."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from hub.cli.common import app, emit_json, get_hub, settings, stdout
from hub.errors import ConfigError
from hub.logging import get_logger, route_library_logs
from hub.sandbox import port_in_use

events_app = typer.Typer(help="Stored webhook events: list them, retry the failed ones.")
webhooks_app = typer.Typer(help="The hub's webhooks at each vendor.", no_args_is_help=True)
log = get_logger("hub.worker")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8080,
) -> None:
    """Receive vendor webhooks and run the schedules (sync jobs, polling, workflow timeouts, ticket rules)."""
    from hub.events.runtime import Runtime
    from hub.events.service import EventService
    from hub.web.app import attach

    if port_in_use(host, port):
        raise ConfigError(f"--port {port}: {host}:{port} is already in use (another hub serve?); choose another port")
    service = EventService(Runtime(get_hub()))
    console = attach(service)
    stdout.print(
        f"hub serve: listening on http://{host}:{port} (POST /webhooks/<connector>, /healthz, /metrics)"
        + (f"; the console at http://{host}:{port}/" if console else "")
    )
    if console is not None and console.accounts.count() == 0:
        stdout.print("hub serve: nobody can sign in to the console yet: hub users add NAME --role admin")
    try:
        # log_config None: uvicorn's lines go through the hub's logging (JSON with --log-json)
        service.serve(host, port, log_level=settings().log_level.lower(), log_config=None)
    except SystemExit:  # uvicorn gives up when it cannot bind (taken between the check and now)
        raise ConfigError(f"--port {port}: cannot listen on {host}:{port}; choose another port") from None


def worker(
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Tasks this process runs at once (threads).")
    ] = 2,
    queues: Annotated[
        str | None,
        typer.Option("--queues", "-Q", help="Queues to consume: events, syncs, workflows (default: all)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", min=1, max=65535, help="Serve /metrics, /livez and /readyz on this port."),
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Interface for --metrics-port.")] = "127.0.0.1",
) -> None:
    """Start a Celery worker on HUB_CELERY_BROKER_URL running syncs, events and workflow steps.

    One process runs its tasks in threads (their work waits on vendors and the database);
    run one worker process per CPU, each with its own --metrics-port.
    """
    from celery import signals

    from hub.app import Hub
    from hub.events.dispatch import parse_queues
    from hub.events.runtime import Runtime
    from hub.events.tasks import check_broker, make_celery

    core = settings()
    consumed = parse_queues(queues)
    if metrics_port is not None and port_in_use(metrics_host, metrics_port):
        raise ConfigError(f"--metrics-port {metrics_port}: {metrics_host}:{metrics_port} is already in use")
    check_broker(core.celery_broker_url)
    # The hub sets up logging (Celery's lines go through it, to stderr); Celery's banner,
    # which it prints on stdout, is logged instead, and so are its warnings.
    signals.setup_logging.connect(_hub_logging, weak=False)
    signals.celeryd_after_setup.connect(_log_banner, weak=False)
    logging.captureWarnings(True)
    route_library_logs(["py.warnings"], core.log_level)
    # What Celery's signal handlers write themselves ("Warm shutdown") goes to stderr too:
    # a worker has nothing to say on stdout.
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    celery = make_celery(lambda: Runtime(Hub(core)), core.celery_broker_url, worker_hijack_root_logger=False)
    if metrics_port is not None:
        from hub.events.probe import create_probe_app
        from hub.sandbox import serve_app

        serve_app(create_probe_app(celery.hub_runtime, core.celery_broker_url, consumed), metrics_host, metrics_port)
        log.info("worker probes", url=f"http://{metrics_host}:{metrics_port}", routes=["/metrics", "/livez", "/readyz"])
    argv = ["--quiet", "worker", "--pool=threads", f"--concurrency={concurrency}", f"--loglevel={core.log_level}",
            f"--queues={','.join(consumed)}"]  # fmt: skip
    celery.worker_main(argv)


def _hub_logging(**_: Any) -> None:
    """Celery's ``setup_logging``: the hub's logging is already in place."""


def _log_banner(sender: str, instance: Any, **_: Any) -> None:
    """Celery's start-up banner as one log line (stderr, JSON with --log-json), not stdout."""
    log.info("celery.worker", hostname=sender,
             banner=[line.strip() for line in instance.startup_info(artlines=False).splitlines() if line.strip()])


def _events_store() -> Any:
    from hub.events.store import EventStore

    hub = get_hub()
    return EventStore(hub.store, hub.clock)


@events_app.callback(invoke_without_command=True)
def events(
    ctx: typer.Context,
    json: JsonOpt = False,
    status: Annotated[
        str | None, typer.Option(help="Only this status: pending, processing, done, failed or dead.")
    ] = None,
    type: Annotated[
        str | None, typer.Option("--type", help="Only this event type, e.g. webhook.deactivated.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 50,
) -> None:
    """Recent webhook events and their processing status."""
    if ctx.invoked_subcommand is not None:
        return
    from hub.events.store import STATUSES

    if status is not None and status not in STATUSES:
        raise ConfigError(f"--status: must be one of {', '.join(STATUSES)}, got {status!r}")
    rows = [e.as_dict() for e in _events_store().recent(limit, status=status, type=type)]
    if json:
        emit_json(rows)
        return
    table = Table(title="webhook events (newest first)")
    for col in ("id", "connector", "type", "entity", "record", "status", "attempts", "received", "error"):
        table.add_column(col)
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["connector"],
            row["type"],
            row["entity"] or "",
            row["record_id"] or "",
            row["status"],
            str(row["attempts"]),
            f"{row['received_at']:%Y-%m-%d %H:%M:%S}",
            row["error"] or "",
        )
    stdout.print(table)


@events_app.command("retry")
def events_retry(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Event ids (default: every failed or dead event).")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Reprocess failed (and dead) events now; exits 1 if any fails again."""
    from hub.events.runtime import Runtime

    runtime = Runtime(get_hub())
    queued = runtime.events.retry(ids or [])
    result = runtime.processor.drain()
    summary = {
        "retried": queued,
        "processed": result.processed,
        "failed": result.failed,
        "deferred": result.deferred,
        "resumed_runs": result.resumed_runs,
        "synced": result.synced,
    }
    if json:
        emit_json(summary)
    else:
        stdout.print(
            f"retried {len(queued)} event(s): {result.processed} processed, {result.failed} failed, "
            f"{result.deferred} deferred (sync job busy)"
        )
    if result.failed:
        raise typer.Exit(1)


@webhooks_app.command("register")
def webhooks_register(
    connector: Annotated[str, typer.Argument(help="connector name (hub connectors lists them)")],
    json: JsonOpt = False,
) -> None:
    """(Re)register the hub's webhooks at the vendor, pointing at HUB_PUBLIC_URL/webhooks/CONNECTOR."""
    from hub.events.registration import registrar, webhook_url

    hub = get_hub()
    cls = hub.plugins.connector_class(connector)
    url = webhook_url(settings().public_url, connector)
    if not cls.has_webhooks:
        raise ConfigError(f"{connector} receives no webhooks; nothing to register")
    register = registrar(hub.connector(connector))
    if register is None:
        raise ConfigError(
            f"{connector} cannot register webhooks through its API; set the webhook URL {url} "
            "in the vendor's console instead"
        )
    lines = register(url)
    if json:
        emit_json({"connector": connector, "url": url, "registered": lines})
        return
    stdout.print(f"{connector}: webhooks deliver to {url}")
    for line in lines:
        stdout.print(f"  {line}")


@webhooks_app.command("status")
def webhooks_status(json: JsonOpt = False) -> None:
    """Connectors with webhooks: receiver URL, whether the hub can register it, last deactivation."""
    from hub.events.processor import DEACTIVATED
    from hub.events.registration import can_register, webhook_url

    hub = get_hub()
    store = _events_store()
    rows: list[dict[str, Any]] = []
    for name, cls in sorted(hub.plugins.connector_classes().items()):
        if not cls.has_webhooks:
            continue
        last = store.recent(1, type=DEACTIVATED, connector=name)
        rows.append(
            {
                "connector": name,
                "url": webhook_url(settings().public_url, name) if settings().public_url else None,
                "can_register": can_register(cls),
                "last_deactivated_at": last[0].received_at if last else None,
            }
        )
    if json:
        emit_json(rows)
        return
    table = Table(title="webhooks")
    for col in ("connector", "url", "register", "last deactivation"):
        table.add_column(col)
    for row in rows:
        table.add_row(
            row["connector"],
            row["url"] or "(set HUB_PUBLIC_URL)",
            "yes" if row["can_register"] else "in the vendor's console",
            f"{row['last_deactivated_at']:%Y-%m-%d %H:%M:%S}" if row["last_deactivated_at"] else "",
        )
    stdout.print(table)


def register() -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.add_typer(events_app, name="events")
    app.add_typer(webhooks_app, name="webhooks")
