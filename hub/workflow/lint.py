"""Checks of a definition against the installed connectors, before anything runs.

The schema cannot know which connectors are installed; this can, from their class
declarations alone (no settings, no network): the connector exists, offers the
action, can write the entity, and has the stream a poll or a recovery reads.
``hub workflow validate`` prints every
problem with its file and line; ``start`` refuses a run that would stop half-way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hub.connector import Connector
from hub.errors import ConfigError
from hub.plugins import HubPlugins
from hub.workflow.definition import Step, WorkflowDefinition

__all__ = ["problems", "require_runnable"]

Loc = tuple[Any, ...]


def _walk(steps: list[Step], loc: Loc) -> Iterator[tuple[Step, Loc]]:
    for i, step in enumerate(steps):
        here = (*loc, i)
        yield step, here
        if step.branch is not None:
            yield from _walk(step.branch.then, (*here, "branch", "then"))
            yield from _walk(step.branch.else_, (*here, "branch", "else"))
        for kind in ("wait", "manual"):
            spec = getattr(step, kind)
            if spec is not None and spec.on_timeout:
                yield from _walk(spec.on_timeout, (*here, kind, "on_timeout"))


def _connector(classes: dict[str, type[Connector]], name: str) -> tuple[type[Connector] | None, str | None]:
    if name in classes:
        return classes[name], None
    known = ", ".join(sorted(classes)) or "none"
    return None, f"unknown connector {name!r}; installed: {known}"


def _streams(cls: type[Connector]) -> dict[str, Any]:
    return {s.name: s for s in cls.stream_classes}


def _step_problems(step: Step, classes: dict[str, type[Connector]]) -> Iterator[tuple[str, str]]:
    if step.foreach is not None:
        inner = step.model_copy(update={"foreach": None, "action": step.foreach.action, "write": step.foreach.write})
        for where, what in _step_problems(inner, classes):
            yield f"foreach.{where}", what
        return
    if step.action is not None:
        cls, err = _connector(classes, step.action.connector)
        if err:
            yield "action.connector", err
        elif cls is not None and step.action.name not in cls.action_specs:
            known = ", ".join(sorted(cls.action_specs)) or "none"
            yield "action.name", f"{cls.name} has no action {step.action.name!r}; actions: {known}"
        elif cls is not None:
            params = cls.action_specs[step.action.name][1]
            unknown = sorted(set(step.action.with_) - set(params.model_fields))
            if unknown and params.model_config.get("extra") == "forbid":
                yield "action.with", f"{cls.name}.{step.action.name} takes no parameter {unknown[0]!r}"
    if step.write is not None:
        spec = step.write
        cls, err = _connector(classes, spec.connector)
        if err:
            yield "write.connector", err
        elif cls is not None and spec.op not in ("get", "list") and spec.entity not in cls.writable:
            known = ", ".join(sorted(cls.writable)) or "none"
            yield "write.entity", f"{cls.name} cannot write {spec.entity!r}; writable: {known}"
        elif (
            cls is not None
            and spec.recover
            and spec.recover.stream
            and spec.recover.stream not in _streams(cls)
        ):
            yield "write.recover.stream", f"{cls.name} has no stream {spec.recover.stream!r}"
        elif cls is not None and spec.op == "list" and not any(
            s.entity == spec.entity or s.name == spec.entity for s in cls.stream_classes
        ):
            yield "write.entity", f"{cls.name} has no stream of {spec.entity!r} to list"
    if step.wait is not None:
        wait = step.wait
        cls, err = _connector(classes, wait.connector)
        if err:
            yield "wait.connector", err
        elif cls is not None:
            if wait.poll and wait.poll.stream and wait.poll.stream not in _streams(cls):
                known = ", ".join(sorted(_streams(cls))) or "none"
                yield "wait.poll.stream", f"{cls.name} has no stream {wait.poll.stream!r}; streams: {known}"


def problems(definition: WorkflowDefinition, plugins: HubPlugins, path: Path | None = None) -> list[str]:
    """Every problem, one line each (``file:line: where: what`` when ``path`` is given)."""
    classes = plugins.connector_classes()
    lines: dict[Loc, int] = {}
    if path is not None:
        from hub.yamlfile import load_yaml_lines

        _data, lines = load_yaml_lines(path)
    found: list[str] = []
    for step, loc in _walk(definition.steps, ("steps",)):
        for where, what in _step_problems(step, classes):
            full = (*loc, *where.split("."))
            line = next((lines[full[:n]] for n in range(len(full), 0, -1) if full[:n] in lines), None)
            dotted = ".".join(str(p) for p in full)
            prefix = f"{path}:{line}: " if path is not None and line else f"{path}: " if path else ""
            found.append(f"{prefix}{dotted} (step {step.id}): {what}")
    return found


def require_runnable(definition: WorkflowDefinition, plugins: HubPlugins) -> None:
    """ConfigError with the first problem, so a run never stops half-way on a missing connector."""
    found = problems(definition, plugins)
    if found:
        more = f" (and {len(found) - 1} more; see hub workflow validate)" if len(found) > 1 else ""
        raise ConfigError(f"workflow {definition.name}: {found[0]}{more}")
