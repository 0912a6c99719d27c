"""What a step kind is: one handler owning its schema, execution, checks, children and preview.

The engine knows no kind. It walks a run's steps and, for each one, asks the kind's
:class:`StepHandler` to run it (:meth:`StepHandler.execute`), which nested steps run
after it (:meth:`StepHandler.chosen`), what nested step lists it holds at all
(:meth:`StepHandler.children`, the one walk over nesting that validation, lint, the
checklist and lookups by step key share), what is wrong with it against the installed
connectors (:meth:`StepHandler.lint`) and what it would do (:meth:`StepHandler.preview`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from hub.workflow.schema import Spec

if TYPE_CHECKING:
    from hub.connector import Connector
    from hub.workflow.context import RunContext
    from hub.workflow.definition import Step
    from hub.workflow.preview import Planner
    from hub.workflow.runs import StepRecord

__all__ = ["Child", "ConnectorClasses", "Outcome", "StepHandler", "connector_class", "first_line"]

S = TypeVar("S", bound=Spec)
ConnectorClasses = dict[str, type["Connector"]]


class Outcome(Enum):
    """How far a walk over steps got."""

    proceed = "proceed"  # the steps walked so far are finished
    blocked = "blocked"  # a step waits for an event or a person
    failed = "failed"
    stopped = "stopped"  # the run was cancelled while it was being advanced


def first_line(exc: BaseException) -> str:
    """The first line of an error's text (a step's failure reason is one line)."""
    return (str(exc).splitlines() or [""])[0]


def connector_class(classes: ConnectorClasses, name: str) -> tuple[type[Connector] | None, str]:
    """The installed connector class ``name``, or None and why not."""
    if name in classes:
        return classes[name], ""
    return None, f"unknown connector {name!r}; installed: {', '.join(sorted(classes)) or 'none'}"


@dataclass(frozen=True)
class Child:
    """One list of steps nested in a step.

    ``loc`` is where the list is in the file below the kind's key (``("then",)``), or
    ``None`` when it comes from another file (a sub-workflow). ``own``: its step ids
    belong to this file (unique in it, readable by later steps). ``scoped``: each run
    of the list has its own step keys (``tie[12].note``, ``team.account_team``).
    """

    label: str
    steps: list[Step]
    loc: tuple[str | int, ...] | None
    own: bool = True
    scoped: bool = False


class StepHandler(Generic[S]):
    """One step kind. Subclasses set :attr:`kind` and :attr:`spec` and implement :meth:`execute`."""

    #: the key that names the kind in a step (``write:``)
    kind: ClassVar[str]
    #: the schema of that key's value
    spec: ClassVar[type[Spec]]
    #: keys of the value that hold nested step lists (read before validation, for reference order)
    nested: ClassVar[tuple[str, ...]] = ()

    def children(self, spec: S) -> list[Child]:
        """Every nested step list."""
        return []

    def chosen(self, spec: S, rec: StepRecord) -> list[Step]:
        """The nested steps that run after this finished step (a branch's side, on_timeout)."""
        return []

    def execute(self, ctx: RunContext, step: Step, rec: StepRecord | None) -> Outcome:
        """Run the step (again, if ``rec`` says an earlier attempt was interrupted or failed)."""
        raise NotImplementedError

    def lint(self, spec: S, classes: ConnectorClasses) -> Iterator[tuple[str, str]]:
        """Problems against the installed connectors: (dotted place below the kind key, what)."""
        return iter(())

    def preview(self, planner: Planner, step: Step, names: dict[str, Any]) -> dict[str, Any]:
        """What the step would output, recording in ``planner`` every write it would make."""
        return {}

    def summary(self, spec: S, result: dict[str, Any]) -> str:
        """One line about a finished step's outputs, for the checklist."""
        return ""
