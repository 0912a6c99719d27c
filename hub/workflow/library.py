"""Where workflow definitions come from: plugin folders, overridden by the user's folder.

Every plugin may ship a folder of definitions through the ``hub_workflow_dirs`` hook
(the hub's own built-ins are ``hub/workflows/``). ``HUB_WORKFLOWS_DIR`` holds the
user's definitions; one with the same name replaces the shipped one, so an MSP copies
a built-in procedure, changes it, and keeps its name. A definition's name is its file
name (``new-breakfix-customer.yaml``), so finding one never parses the others and a
broken unrelated file cannot stop a run.

A ``workflow`` step names another definition; :meth:`WorkflowLibrary.get` loads it too
and puts it in the step, so the run's stored definition holds every step it will take.

``HUB_WORKFLOW_VARS`` (``workflow_vars`` in hub.yaml) replaces some of a definition's
constants (``vars``) without copying its file: the services a contract bills, the ticket
queue. Only constants the file declares can be replaced.

A step names the connector it uses either by name (``connector: autotask``) or by role
(``connector: psa``; roles: :data:`hub.roles.ROLES`): a role is the connector
``HUB_ROLES__<ROLE>`` names, put in the step when the definition is loaded, so a run
stores (and finishes with) the connectors it started with. A role name comes first: a
connector named like a role is reached through ``HUB_ROLES__<ROLE>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from hub.errors import ConfigError
from hub.roles import ROLES
from hub.workflow.definition import StepBase, WorkflowDefinition
from hub.workflow.steps.workflow import WorkflowSpec

if TYPE_CHECKING:
    from hub.roles import RoleTable

__all__ = ["DefinitionSource", "WorkflowLibrary"]

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class DefinitionSource:
    """One definition file and where it came from (``user`` or a plugin folder)."""

    name: str
    path: Path
    origin: str
    overrides: Path | None = None


class WorkflowLibrary:
    """The definitions one hub can run: ``builtin_dirs`` first, then ``user_dir`` on top."""

    def __init__(
        self,
        builtin_dirs: Iterable[Path],
        user_dir: Path | None = None,
        variables: Mapping[str, Mapping[str, Any]] | None = None,
        roles: RoleTable | None = None,
    ) -> None:
        self.builtin_dirs = [Path(d) for d in builtin_dirs]
        self.user_dir = Path(user_dir) if user_dir else None
        self.variables = {name: dict(values) for name, values in (variables or {}).items()}
        self.roles = roles
        if self.user_dir is not None and not self.user_dir.is_dir():
            raise ConfigError(f"HUB_WORKFLOWS_DIR: {self.user_dir} is not a folder")

    @staticmethod
    def _files(folder: Path) -> list[Path]:
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file())

    def sources(self) -> dict[str, DefinitionSource]:
        """Every definition by name, the user's replacing a shipped one of the same name."""
        found: dict[str, DefinitionSource] = {}
        for folder in self.builtin_dirs:
            for path in self._files(folder):
                if path.stem in found:
                    raise ConfigError(
                        f"workflow {path.stem!r} is shipped twice: {found[path.stem].path} and {path}"
                    )
                found[path.stem] = DefinitionSource(path.stem, path, "builtin")
        if self.user_dir is not None:
            for path in self._files(self.user_dir):
                shipped = found.get(path.stem)
                if shipped is not None and shipped.origin == "user":
                    raise ConfigError(f"workflow {path.stem!r} is defined twice: {shipped.path} and {path}")
                found[path.stem] = DefinitionSource(
                    path.stem, path, "user", overrides=shipped.path if shipped else None
                )
        return found

    def path(self, name: str) -> Path:
        sources = self.sources()
        if name not in sources:
            known = ", ".join(sorted(sources)) or "none installed"
            raise ConfigError(f"unknown workflow {name!r}; workflows: {known}")
        return sources[name].path

    def get(self, name: str) -> WorkflowDefinition:
        """The definition ``name`` with its constants as configured and its sub-workflows loaded
        (ConfigError if any is broken)."""
        return self.resolve(self._load(self.path(name)), (name,))

    def _load(self, path: Path) -> WorkflowDefinition:
        return self.configure(WorkflowDefinition.load(path))

    def configure(self, definition: WorkflowDefinition) -> WorkflowDefinition:
        """``definition`` with the constants ``HUB_WORKFLOW_VARS`` gives it and its roles replaced
        by the connectors that fill them."""
        given = self.variables.get(definition.name) or {}
        unknown = sorted(set(given) - set(definition.vars))
        if unknown:
            known = ", ".join(sorted(definition.vars)) or "none"
            raise ConfigError(
                f"HUB_WORKFLOW_VARS: workflow {definition.name} has no var {unknown[0]!r}; vars: {known}"
            )
        definition.vars.update(given)
        if self.roles is not None:
            for step, _depth in definition.walk():
                try:
                    _bind_roles(step.spec, self.roles)
                except ConfigError as exc:
                    raise ConfigError(f"workflow {definition.name}: step {step.id}: {exc}") from None
        return definition

    def resolve(self, definition: WorkflowDefinition, chain: tuple[str, ...] = ()) -> WorkflowDefinition:
        """Load the sub-workflows ``definition`` names (a workflow may not use itself, even indirectly)."""
        chain = chain or (definition.name,)
        for step, _depth in definition.walk():
            spec = step.spec
            if not isinstance(spec, WorkflowSpec) or spec.definition is not None:
                continue
            if spec.name in chain:
                cycle = " -> ".join((*chain, spec.name))
                raise ConfigError(f"workflow {definition.name}: step {step.id} uses itself ({cycle})")
            try:
                sub = self.resolve(self._load(self.path(spec.name)), (*chain, spec.name))
            except ConfigError as exc:
                raise ConfigError(f"workflow {definition.name}: step {step.id}: {exc}") from None
            unknown = sorted(set(spec.with_) - set(sub.inputs))
            if unknown:
                raise ConfigError(
                    f"workflow {definition.name}: step {step.id}: workflow {spec.name} has no input "
                    f"{unknown[0]!r}; inputs: {', '.join(sorted(sub.inputs)) or 'none'}"
                )
            spec.definition = sub
        return definition

    def check(self, source: DefinitionSource) -> list[str]:
        """Every problem of one installed definition (its schema, then its sub-workflows)."""
        definition, found = WorkflowDefinition.check(source.path)
        if definition is None:
            return found
        try:
            self.resolve(self.configure(definition))
        except ConfigError as exc:
            return [str(exc)]
        return []


def _bind_roles(spec: BaseModel, roles: RoleTable) -> None:
    """Every ``connector:`` of ``spec`` (and of the specs inside it, not its nested steps) that
    names a role, replaced by the connector filling the role."""
    for name in type(spec).model_fields:
        value = getattr(spec, name)
        if name == "connector" and isinstance(value, str) and value in ROLES:
            setattr(spec, name, roles.connector(value))
        elif isinstance(value, BaseModel) and not isinstance(value, StepBase | WorkflowDefinition):
            _bind_roles(value, roles)
