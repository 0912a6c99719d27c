"""Checks of a definition against the installed connectors, before anything runs.

The schema cannot know which connectors are installed; this can, from their class
declarations alone (no settings, no network): each step kind's handler checks its own
step (the connector exists, offers the action, can write the entity, has the stream a
poll or a recovery reads). ``hub workflow validate`` prints every problem with its file
and line; ``start`` refuses a run that would stop half-way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hub.errors import ConfigError
from hub.plugins import HubPlugins
from hub.workflow.definition import Step, WorkflowDefinition
from hub.workflow.kinds import handler

__all__ = ["problems", "require_runnable"]

Loc = tuple[Any, ...]


def _walk(steps: list[Step], loc: Loc) -> Iterator[tuple[Step, Loc]]:
    """Every step of the file with its key path (a sub-workflow is checked in its own file)."""
    for i, step in enumerate(steps):
        here = (*loc, i)
        yield step, here
        for child in step.children():
            if child.loc is not None:
                yield from _walk(child.steps, (*here, step.kind, *child.loc))


def problems(definition: WorkflowDefinition, plugins: HubPlugins, path: Path | None = None) -> list[str]:
    """Every problem, one line each (``file:line: where (step id): what`` when ``path`` is given)."""
    classes = plugins.connector_classes()
    lines: dict[Loc, int] = {}
    if path is not None:
        from hub.yamlfile import load_yaml_lines

        _data, lines = load_yaml_lines(path)
    found: list[str] = []
    for step, loc in _walk(definition.steps, ("steps",)):
        for where, what in handler(step.kind).lint(step.spec, classes):
            full = (*loc, step.kind, *where.split("."))
            line = next((lines[full[:n]] for n in range(len(full), 0, -1) if full[:n] in lines), None)
            dotted = ".".join(str(p) for p in full)
            prefix = f"{path}:{line}: " if path is not None and line else f"{path}: " if path else ""
            found.append(f"{prefix}{dotted} (step {step.id}): {what}")
    return found


def require_runnable(definition: WorkflowDefinition, plugins: HubPlugins) -> None:
    """ConfigError with the first problem, so a run never stops half-way on a missing connector.

    A sub-workflow's own steps are checked too.
    """
    found = problems(definition, plugins)
    for step, _depth in definition.walk():
        for child in step.children():
            if not child.own:
                sub = step.spec.resolved()  # type: ignore[attr-defined]
                found += [f"{step.id} -> {line}" for line in problems(sub, plugins)]
    if found:
        more = f" (and {len(found) - 1} more; see hub workflow validate)" if len(found) > 1 else ""
        raise ConfigError(f"workflow {definition.name}: {found[0]}{more}")
