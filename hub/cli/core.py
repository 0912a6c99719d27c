"""``hub connectors``, ``hub check``, ``hub config show``."""

from __future__ import annotations

import json as jsonlib
import sys
from typing import Annotated, Any

import typer
from pydantic import BaseModel, SecretStr
from pydantic_core import to_jsonable_python
from rich.markup import escape
from rich.table import Table

from hub.cli.common import app, emit_json, get_hub, settings, stdout
from hub.connector import Finding
from hub.errors import ConfigError
from hub.logging import MASK, redact_url
from hub.readiness import collect_needs
from hub.settings import HubSettings, MissingSettings, configured, load_connector_settings

config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def connector_rows() -> list[dict[str, Any]]:
    """Every plugin and connector, working or broken, as ``hub connectors`` shows them."""
    hub = get_hub()
    plugins = hub.plugins
    classes = plugins.connector_classes()
    chosen = hub.roles.names()  # role -> the connector HUB_ROLES__* names for it
    rows: list[dict[str, Any]] = []
    for name, cls in sorted(classes.items()):
        origin = plugins.connector_registry.origin[name]
        info = plugins.infos.get(origin)
        try:
            caps = cls.capabilities()
            error = None
        except Exception as exc:  # a connector that cannot even describe itself is listed as broken
            caps, error = {"streams": [], "writes": {}, "actions": [], "webhooks": False, "roles": []}, f"{exc}"
        rows.append(
            {
                "name": name,
                "title": cls.title or name,
                "version": cls.version,
                "plugin": origin,
                "distribution": info.distribution if info else None,
                **caps,
                "fills": [role for role in caps["roles"] if chosen.get(role) == name],
                "status": "ok" if error is None else "error",
                "error": error,
            }
        )
    for info in plugins.infos.values():
        if info.error or info.disabled:
            rows.append(
                {
                    "name": info.name,
                    "title": info.name,
                    "version": info.version,
                    "plugin": info.name,
                    "distribution": info.distribution,
                    "streams": [],
                    "writes": {},
                    "actions": [],
                    "webhooks": False,
                    "roles": [],
                    "fills": [],
                    "status": "disabled" if info.disabled else "error",
                    "error": info.error,
                }
            )
    return rows


def connectors(json: JsonOpt = False) -> None:
    """Installed connectors with version, the roles they can fill (* the ones HUB_ROLES__* gives
    them) and capabilities; broken plugins with their error."""
    rows = connector_rows()
    if json:
        emit_json(rows)
        return
    table = Table(title="msp-hub connectors", caption="roles: * the connector HUB_ROLES__<ROLE> names")
    table.add_column("name", no_wrap=True)
    table.add_column("version", no_wrap=True)
    table.add_column("roles", no_wrap=True)
    for col in ("streams", "writes", "actions"):
        table.add_column(col)
    table.add_column("webhooks", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for row in rows:
        table.add_row(
            row["name"],
            row["version"] or "",
            ", ".join(f"{r}*" if r in row["fills"] else r for r in row["roles"]),
            ", ".join(s["name"] for s in row["streams"]),
            ", ".join(row["writes"]),
            ", ".join(row["actions"]),
            "yes" if row["webhooks"] else "",
            row["status"],
        )
    stdout.print(table)
    for row in rows:
        if row["error"]:
            stdout.print(f"[red]{escape(row['name'])}[/red]: {escape(row['error'])}", highlight=False)


def check(
    connector: Annotated[str, typer.Argument(help="connector name (hub connectors lists them)")],
    fix: Annotated[
        bool, typer.Option("--fix", help="create what is missing where the vendor's API can, after listing it")
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Check a connector's credentials and connectivity, and what its tenant lacks.

    Whether the tenant has what the mappings, workflows and settings name (exit 1 if
    something required is missing); --fix creates what the vendor's API can.
    """
    from hub.cli.users import person
    from hub.health import check_connector

    hub = get_hub()
    instance = hub.connector(connector)
    result = check_connector(hub, connector, actor=person())
    findings = instance.readiness(collect_needs(hub, connector)) if result.ok else []
    created: list[str] = []
    if fix and any(f.fixable and not f.ok for f in findings):
        plan = [f for f in findings if f.fixable and not f.ok]
        if not json:
            stdout.print(f"creating in {connector}:", highlight=False)
            for finding in plan:
                stdout.print(f"  {escape(finding.what)}", highlight=False)
        created = instance.fix(plan)
        findings = instance.readiness(collect_needs(hub, connector))
    missing = [f for f in findings if not f.ok and f.required]
    if json:
        emit_json({"connector": connector, "ok": result.ok, "details": result.details,
                   "ready": result.ok and not missing, "created": created,
                   "findings": [_finding_row(f) for f in findings]})  # fmt: skip
    else:
        mark = "[green]ok[/green]" if result.ok else "[red]failed[/red]"
        stdout.print(f"{connector}: {mark}")
        for key, value in result.details.items():
            stdout.print(f"  {key}: {value}")
        for line in created:
            stdout.print(f"  created: {escape(line)}", highlight=False)
        _print_findings(connector, findings)
    if not result.ok or missing:
        raise typer.Exit(1)


def _finding_row(finding: Finding) -> dict[str, Any]:
    return {"what": finding.what, "ok": finding.ok, "required": finding.required, "detail": finding.detail,
            "fix": finding.fix, "fixable": finding.fixable, "source": finding.source}  # fmt: skip


def _print_findings(connector: str, findings: list[Finding]) -> None:
    if not findings:
        return
    present = sum(1 for f in findings if f.ok)
    stdout.print(f"first run on this tenant: {present} of {len(findings)} things the hub names are in {connector}")
    for finding in findings:
        if finding.ok:
            continue
        mark = "[red]missing[/red]" if finding.required else "[yellow]not found[/yellow] (only read)"
        source = f" ({escape(finding.source)})" if finding.source else ""
        stdout.print(f"  {mark} {escape(finding.what)}{source}: {escape(finding.detail)}", highlight=False)
        if finding.fix:
            hint = " [dim](hub check --fix can)[/dim]" if finding.fixable else ""
            stdout.print(f"    -> {escape(finding.fix)}{hint}", highlight=False)


def _masked(model: BaseModel) -> dict[str, Any]:
    """``model``'s values as JSON data: secrets masked, URLs without credentials, nested
    settings as nested objects, dates as ISO text."""
    out: dict[str, Any] = {}
    for name in type(model).model_fields:
        out[name] = _masked_value(getattr(model, name))
    return out


def _masked_value(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if isinstance(value, BaseModel):
        return _masked(value)
    if isinstance(value, list | tuple):
        return [_masked_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _masked_value(v) for k, v in value.items()}
    if isinstance(value, str) and "://" in value:
        return redact_url(value)
    return to_jsonable_python(value)


def _lines(prefix: str, model: BaseModel) -> list[tuple[str, str]]:
    """(variable, shown value) of every setting, nested sections flattened into their names."""
    rows: list[tuple[str, str]] = []
    for key in type(model).model_fields:
        name, value = f"{prefix}{key.upper()}", getattr(model, key)
        if isinstance(value, BaseModel):
            rows += _lines(f"{name}__", value)
            continue
        shown = _masked_value(value)
        if shown is None:
            rows.append((name, "(not set)"))
        elif isinstance(shown, list) and all(not isinstance(v, dict | list) for v in shown):
            rows.append((name, ", ".join(str(v) for v in shown) or "(none)"))
        elif isinstance(shown, dict | list):
            rows.append((name, jsonlib.dumps(shown)))
        else:
            rows.append((name, str(shown)))
    return rows


def config_show(json: JsonOpt = False) -> None:
    """The effective settings of the hub and of every connector, secrets masked."""
    core = settings()
    models: dict[str, BaseModel] = {"hub": core}
    problems: dict[str, dict[str, Any]] = {}
    for name, cls in sorted(get_hub().plugins.connector_classes().items()):
        try:
            models[name] = load_connector_settings(cls.settings_model, name)
        except ConfigError as exc:
            missing = exc.variables if isinstance(exc, MissingSettings) else []
            problems[name] = {"error": str(exc), "missing": missing, "configured": configured(name)}
    if json:
        emit_json({**{name: _masked(model) for name, model in models.items()}, **problems})
        return
    for section in sorted(models.keys() | problems.keys(), key=lambda s: (s != "hub", s)):
        if section in problems:
            problem = problems[section]
            state = "incomplete" if problem["configured"] else "not configured"
            stdout.print(f"[bold]{section}[/bold]: {state}: {escape(problem['error'])}", highlight=False)
            continue
        stdout.print(f"[bold]{section}[/bold]")
        prefix = "HUB_" if section == "hub" else f"HUB_{section.upper()}__"
        for variable, shown in _lines(prefix, models[section]):
            stdout.print(f"  {variable} = {escape(shown)}", highlight=False)


def _default(field: Any) -> str:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if "doc_default" in extra:
        return str(extra["doc_default"])
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, list | dict) and not value:
            return "none"
        return "built in" if isinstance(value, list | dict | BaseModel) else f"`{value}`"
    if field.default is None:
        return "none"
    return f"`{field.default}`"


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str]]:
    rows = []
    for name, field in model.model_fields.items():
        annotation = str(field.annotation)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            rows += _rows(field.annotation, f"{prefix}{name.upper()}__")  # HUB_LIFECYCLE__ENABLED ...
            continue
        if "ScheduleSpec" in annotation or "dict[str, dict" in annotation or "Window" in annotation:
            what = (field.description or f"{name} settings").rstrip(".")
            rows.append((f"`{prefix}{name.upper()}`", f"{what} (structured: set it in hub.yaml)", "built in"))
            continue
        secret = " (secret)" if "SecretStr" in annotation else ""
        description = (field.description or "").rstrip(".") + secret
        rows.append((f"`{prefix}{name.upper()}`", description.strip(), _default(field)))
    return rows


def reference_markdown() -> str:
    """Every HUB_* variable of the core and of each installed connector, as Markdown tables."""
    header = ["| variable | meaning | default |", "| --- | --- | --- |"]
    lines = [*header, *(f"| {a} | {b} | {c} |" for a, b, c in _rows(HubSettings, "HUB_"))]
    for name, cls in sorted(get_hub().plugins.connector_classes().items()):
        lines += ["", f"**{cls.title or name}** (`{name}`)", "", *header]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in _rows(cls.settings_model, f"HUB_{name.upper()}__")]
    return "\n".join(lines) + "\n"


def config_reference() -> None:
    """Every HUB_* setting (core and installed connectors) as Markdown, for the README."""
    sys.stdout.write(reference_markdown())


def register() -> None:
    app.command("connectors")(connectors)
    app.command("check")(check)
    config_app.command("show")(config_show)
    config_app.command("reference")(config_reference)
    app.add_typer(config_app, name="config")


__all__ = ["HubSettings", "connector_rows", "register"]
