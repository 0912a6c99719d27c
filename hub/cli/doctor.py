"""``hub doctor``: everything the hub depends on, checked in one report (like ``dbt debug``).

The settings, the state store, the Celery broker, each configured connector's own check
(credentials and connectivity), the mappings and the workflow definitions. A connector
nobody configured is listed as skipped, not failed: an MSP without an RMM runs the hub
without one. The broker is only a warning: one machine runs without it.

Exit 0 when nothing failed (warnings allowed), 2 when something is misconfigured (a
missing or refused credential, a broken mapping or workflow, a store that cannot be
opened), 1 when only something unreachable failed (a vendor down: try again later).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated

import typer
from rich.markup import escape

from hub.cli.common import app, emit_json, get_hub, settings, stdout
from hub.cli.mappings import mapping_report
from hub.errors import FailureType, HubError
from hub.logging import redact_url
from hub.settings import MissingSettings, configured
from hub.state import tables
from hub.state.store import StateStore

__all__ = ["Finding", "doctor", "findings"]

_STYLE = {"ok": "green", "warn": "yellow", "skip": "dim", "fail": "red"}


@dataclass
class Finding:
    """One line of the report: what was checked, how it went, and what to do about it."""

    name: str
    status: str  # ok, warn, skip or fail
    detail: str
    #: for a failure: ``config`` (fix a setting or a file) or ``transient`` (try again later)
    failure: str | None = None


def _fail(name: str, exc: BaseException) -> Finding:
    kind = exc.failure_type.value if isinstance(exc, HubError) else FailureType.system.value
    return Finding(name, "fail", str(exc).splitlines()[0] if str(exc) else type(exc).__name__, kind)


def _store() -> Finding:
    url = settings().state_url
    try:
        store = StateStore.open(url)
    except HubError as exc:
        return _fail("state store", exc)
    try:
        revision = store.current_revision()
    finally:
        store.close()
    return Finding("state store", "ok", f"{redact_url(url)} (schema {revision}, current {tables.SCHEMA_REVISION})")


def _broker() -> Finding:
    from hub.events.tasks import check_broker

    url = settings().celery_broker_url
    try:
        check_broker(url, timeout=2.0)
    except HubError as exc:
        return Finding("broker", "warn", f"{exc}; only `hub worker` (Celery, past one machine) needs it")
    return Finding("broker", "ok", redact_url(url))


def _connector(name: str) -> Finding:
    hub = get_hub()
    if not configured(name):
        try:
            hub.connector(name)
        except MissingSettings as exc:
            return Finding(name, "skip", f"not configured ({', '.join(exc.variables)} not set)")
    try:
        result = hub.connector(name).check()
    except Exception as exc:  # any failure of one connector's check is that line's finding
        return _fail(name, exc)
    detail = "; ".join(f"{k}: {v}" for k, v in result.details.items())
    return Finding(name, "ok" if result.ok else "fail", detail, None if result.ok else FailureType.config.value)


def _mappings() -> list[Finding]:
    out = []
    for entry in mapping_report():
        if entry["ok"]:
            out.append(Finding(f"mapping {entry['connector']}", "ok", entry["path"]))
        else:
            out.append(Finding(f"mapping {entry['connector']}", "fail", "; ".join(entry["problems"]),
                               FailureType.config.value))  # fmt: skip
    return out


def _workflows() -> list[Finding]:
    from hub.workflow import WorkflowDefinition, WorkflowEngine
    from hub.workflow.lint import problems

    hub = get_hub()
    library = WorkflowEngine(hub).library
    try:
        sources = library.sources()
    except HubError as exc:
        return [_fail("workflows", exc)]
    out = []
    for source in sorted(sources.values(), key=lambda s: s.name):
        name = f"workflow {source.name}"
        try:
            definition = library.configure(WorkflowDefinition.load(source.path))
            found = problems(definition, hub.plugins, source.path)
        except HubError as exc:
            out.append(_fail(name, exc))
            continue
        if found:
            out.append(Finding(name, "fail", "; ".join(found), FailureType.config.value))
        else:
            over = f" (overrides {source.overrides})" if source.overrides else ""
            out.append(Finding(name, "ok", f"{source.origin}: {source.path}{over}"))
    return out


def findings() -> list[Finding]:
    """Every check, in the report's order."""
    core = settings()  # a settings problem stops here with its one line and exit 2
    found = [Finding("settings", "ok", f"timezone {core.timezone}; roles " + ", ".join(
        f"{role}={name}" for role, name in core.roles.model_dump().items()))]  # fmt: skip
    found.append(_store())
    found.append(_broker())
    for name in sorted(get_hub().plugins.connector_classes()):
        found.append(_connector(name))
    found += _mappings()
    found += _workflows()
    return found


def doctor(json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False) -> None:
    """Check the settings, the store, the broker, every configured connector, the mappings and workflows."""
    report = findings()
    failed = [f for f in report if f.status == "fail"]
    code = 0 if not failed else (2 if any(f.failure != FailureType.transient.value for f in failed) else 1)
    if json:
        emit_json({"ok": not failed, "checks": [asdict(f) for f in report]})
    else:
        width = max(len(f.name) for f in report)
        for f in report:
            style = _STYLE[f.status]
            stdout.print(f"{escape(f.name):<{width}}  [{style}]{f.status:<4}[/{style}]  {escape(f.detail)}",
                         highlight=False)  # fmt: skip
        summary = "all checks passed" if not failed else f"{len(failed)} check(s) failed"
        stdout.print(f"\n{summary}", highlight=False)
    raise typer.Exit(code)


def register() -> None:
    app.command("doctor")(doctor)
