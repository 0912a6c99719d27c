"""Sync job definitions: what a job reads, from where, and what it writes, where.

A job is an ordered list of steps (organizations before their contacts). The common
step is :class:`EntityStep`, a one-way copy of one stream of one connector into one
entity of another, driven entirely by the two connectors' mapping files. Jobs whose
logic is not a plain copy (two-way recipients, alert-to-ticket) provide their own step
objects with the same ``run(run)`` method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from hub.sync.engine import SyncRun

__all__ = ["EntityStep", "Step", "SyncJob"]


class Step(Protocol):
    """One unit of a job; ``sources`` say which (connector, stream) it reads."""

    @property
    def label(self) -> str: ...

    @property
    def sources(self) -> list[tuple[str, str]]: ...

    @property
    def connectors(self) -> list[str]: ...

    def run(self, run: SyncRun) -> None: ...


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

    @property
    def label(self) -> str:
        return f"{self.source}.{self.stream} -> {self.target}.{self.entity}"

    @property
    def sources(self) -> list[tuple[str, str]]:
        return [(self.source, self.stream)]

    @property
    def connectors(self) -> list[str]:
        return [self.source, self.target]

    def run(self, run: SyncRun) -> None:
        from hub.sync.entity import run_entity_step

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

    @property
    def connectors(self) -> list[str]:
        seen: list[str] = []
        for step in self.steps:
            for name in step.connectors:
                if name not in seen:
                    seen.append(name)
        return seen
