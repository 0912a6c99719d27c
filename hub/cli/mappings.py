"""``hub mappings validate [FILE]``: every problem of a mapping file, before a sync meets it.

Without a file, the mapping that applies to each installed connector is checked (the
user's in ``HUB_MAPPINGS_DIR``, a plugin's, or the built-in one). A file is the mapping
of the connector it is named after (``autotask.yaml``). Checked: the schema (every
problem with file and line, not only the first), the ``connector:`` it names, that each
entity is one the connector reads or writes, and that the sync jobs find the entities
they copy between.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hub.cli.common import app, emit_json, get_hub, stdout
from hub.errors import ConfigError
from hub.mapping import load_mapping, mapping_path, mapping_problems
from hub.sync.engine import get_job
from hub.sync.jobs import EntityStep

mappings_app = typer.Typer(help="Declarative mappings between each vendor's records and the core model.",
                           no_args_is_help=True)  # fmt: skip

__all__ = ["mapping_report", "register"]


def _entities(cls: Any) -> set[str]:
    """The entity names a connector reads (its streams' mapping entities) or writes."""
    return {s.entity or s.name for s in cls.stream_classes} | set(cls.writable)


def _job_problems(connector: str, path: Path) -> list[str]:
    """Entities the sync jobs copy from or into ``connector`` that the mapping lacks."""
    hub = get_hub()
    try:
        entities = set(load_mapping(connector, [path.parent]).spec.entities)
    except ConfigError:
        return []  # the file's own problems are reported already
    problems = []
    for name in sorted(hub.plugins.jobs()):
        try:
            job = get_job(hub, name)  # bound to the connectors that fill its roles
        except ConfigError:
            continue  # a role no connector can fill: the job names no entity of this one
        for step in job.steps:
            if not isinstance(step, EntityStep):
                continue
            wanted: list[str] = []
            if step.source == connector:
                cls = hub.plugins.connector_class(connector)
                stream = next((s for s in cls.stream_classes if s.name == step.stream), None)
                if stream is not None:
                    wanted.append(stream.entity or stream.name)
            if step.target == connector:
                wanted.append(step.entity)
            problems += [f"{path}: entities: no {name!r}, which job {job.name} ({step.label}) needs"
                         for name in wanted if name not in entities]  # fmt: skip
    return problems


def mapping_report(file: Path | None = None) -> list[dict[str, Any]]:
    """One entry per mapping file checked: connector, path, ok, problems."""
    hub = get_hub()
    classes = hub.plugins.connector_classes()
    missing: list[dict[str, Any]] = []
    if file is not None:
        if not file.is_file():
            raise ConfigError(f"{file}: no such file")
        connector = file.stem
        if connector not in classes:
            return [{"connector": connector, "path": str(file), "ok": False, "problems": [
                f"{file}: no installed connector is named {connector!r} (a mapping file is named after its "
                f"connector: {', '.join(sorted(classes))})"]}]  # fmt: skip
        targets = [(connector, file)]
    else:
        dirs = hub.mapping_dirs()
        targets = []
        for name in sorted(classes):
            try:
                targets.append((name, mapping_path(name, dirs)))
            except ConfigError as exc:  # a connector with no mapping file at all
                missing.append({"connector": name, "path": None, "ok": False, "problems": [str(exc)]})
    report = []
    for name, path in targets:
        problems = mapping_problems(path, name, _entities(classes[name]))
        if not problems:
            problems = _job_problems(name, path)
        report.append({"connector": name, "path": str(path), "ok": not problems, "problems": problems})
    return report + missing


def validate(
    file: Annotated[Path | None, typer.Argument(help="a mapping file (default: each connector's that applies)")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Check mapping files: schema (every problem with file:line), connector, entities, what the jobs need."""
    report = mapping_report(file)
    ok = all(entry["ok"] for entry in report)
    if json:
        emit_json({"ok": ok, "files": report})
    else:
        for entry in report:
            if entry["ok"]:
                stdout.print(f"{entry['path']}: ok ({entry['connector']})", markup=False, highlight=False)
            for line in entry["problems"]:
                stdout.print(line, markup=False, highlight=False)
    if not ok:
        raise typer.Exit(2)


def register() -> None:
    mappings_app.command("validate")(validate)
    app.add_typer(mappings_app, name="mappings")
