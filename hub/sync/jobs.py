"""Sync job definitions: what a job reads, from where, and what it writes, where.

A job is an ordered list of steps (organizations before their contacts). The common
step is :class:`EntityStep`, a one-way copy of one stream of one connector into one
entity of another, driven entirely by the two connectors' mapping files. Jobs whose
logic is not a plain copy (two-way recipients, alert-to-ticket) provide their own step
objects with the same ``run(run)`` method.

A step may name *roles* instead of connectors (``EntityStep("psa", "companies", "docs",
"organizations", by_role=True)``: the PSA's companies into the documentation platform's
organizations). Such a step has a ``bind(roles)`` method that gives the step for the
connectors filling those roles now (``HUB_ROLES__*``, :mod:`hub.roles`); the engine binds
a job when it runs it (:func:`hub.sync.engine.get_job`), so the built-in jobs work with any
connector that can fill their roles.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from hub.errors import ConfigError

if TYPE_CHECKING:
    from hub.sync.engine import SyncRun

__all__ = ["EntityStep", "RoleNamed", "Roles", "Step", "SyncJob"]


class Roles(Protocol):
    """Which connector, entity and stream fill a role (:class:`hub.roles.RoleTable`)."""

    def connector(self, role: str) -> str: ...

    def entity(self, role: str, slot: str, connector: str | None = None) -> str: ...

    def stream(self, role: str, slot: str, connector: str | None = None) -> str: ...


class Step(Protocol):
    """One unit of a job; ``sources`` say which (connector, stream) it reads."""

    @property
    def label(self) -> str: ...

    @property
    def sources(self) -> list[tuple[str, str]]: ...

    @property
    def connectors(self) -> list[str]: ...

    def run(self, run: SyncRun) -> None: ...


@runtime_checkable
class RoleNamed(Protocol):
    """A step that names roles: ``bind`` gives the step for the connectors that fill them."""

    def bind(self, roles: Roles) -> Step: ...


@dataclass(frozen=True)
class EntityStep:
    """Copy ``source``'s ``stream`` into ``target``'s ``entity`` (one way).

    Fields written are the target mapping's writable fields that the source owns and
    the target does not (``owned`` in the mapping files): nothing a person maintains in
    the target is overwritten. Deactivations and, on a full refresh, deletions at the
    source deactivate the target record (``deactivate``), behind the mass-deactivation
    guard.

    The flags narrow what the step may do. ``create=False`` never creates a target
    record: an unmatched source record is reported for a person instead.
    ``update=False`` never writes a matched one; with both off the step only *links*
    records (crosswalk entries for later steps and jobs to resolve references through).
    ``incremental=False`` reads the whole stream every run (a link step must see
    records that did not change but whose counterpart appeared meanwhile). ``fields``
    limits the written fields further; ``report_created`` is a line reported for every
    target record created (what a person should do about it).

    ``by_role=True``: ``source`` and ``target`` name roles and ``stream`` and ``entity`` their
    slots (:data:`hub.roles.ROLES`), until :meth:`bind` names the connectors.
    """

    source: str
    stream: str
    target: str
    entity: str
    deactivate: bool = True
    create: bool = True
    update: bool = True
    incremental: bool = True
    fields: tuple[str, ...] | None = None
    report_created: str | None = None
    by_role: bool = False

    @property
    def label(self) -> str:
        return f"{self.source}.{self.stream} -> {self.target}.{self.entity}"

    def bind(self, roles: Roles) -> EntityStep:
        """This step between the connectors that fill its roles (itself if it names connectors)."""
        if not self.by_role:
            return self
        return replace(
            self,
            source=roles.connector(self.source),
            stream=roles.stream(self.source, self.stream),
            target=roles.connector(self.target),
            entity=roles.entity(self.target, self.entity),
            by_role=False,
        )

    @property
    def sources(self) -> list[tuple[str, str]]:
        return [(self.source, self.stream)]

    @property
    def connectors(self) -> list[str]:
        return [self.source, self.target]

    def run(self, run: SyncRun) -> None:
        from hub.sync.entity import run_entity_step

        if self.by_role:
            raise ConfigError(f"step {self.label} names roles: run its job bound to them (hub.sync.get_job)")
        run_entity_step(run, self)


@dataclass
class SyncJob:
    """A named job (``hub sync NAME``); names of the built-in ones are part of the contract."""

    name: str
    description: str
    steps: list[Step] = field(default_factory=list)

    @property
    def sources(self) -> list[tuple[str, str]]:
        return [s for step in self.steps for s in step.sources]

    def bind(self, roles: Roles) -> SyncJob:
        """This job with every role-named step bound to the connectors that fill its roles."""
        steps = [step.bind(roles) if isinstance(step, RoleNamed) else step for step in self.steps]
        return SyncJob(self.name, self.description, steps)

    @property
    def connectors(self) -> list[str]:
        seen: list[str] = []
        for step in self.steps:
            for name in step.connectors:
                if name not in seen:
                    seen.append(name)
        return seen
