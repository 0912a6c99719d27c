"""The registry of step kinds: each kind's key in a step and the handler that owns it.

The file model (:mod:`hub.workflow.definition`) builds its ``Step`` from this registry,
so a kind that is not registered is an unknown key when a file is loaded, never
something a run meets.
"""

from __future__ import annotations

from typing import Any

from hub.errors import ConfigError
from hub.workflow.steps.action import ActionHandler
from hub.workflow.steps.base import StepHandler
from hub.workflow.steps.branch import BranchHandler
from hub.workflow.steps.check import CheckHandler
from hub.workflow.steps.fail import FailHandler
from hub.workflow.steps.foreach import ForeachHandler
from hub.workflow.steps.wait import ManualHandler, WaitHandler
from hub.workflow.steps.workflow import WorkflowHandler
from hub.workflow.steps.write import WriteHandler

__all__ = ["HANDLERS", "handler"]

#: every step kind, by the key that names it in a step, in the order the docs list them
HANDLERS: dict[str, StepHandler[Any]] = {
    h.kind: h
    for h in (
        ActionHandler(),
        WriteHandler(),
        CheckHandler(),
        WaitHandler(),
        ManualHandler(),
        BranchHandler(),
        FailHandler(),
        ForeachHandler(),
        WorkflowHandler(),
    )
}


def handler(kind: str) -> StepHandler[Any]:
    """The handler of ``kind`` (ConfigError naming the known kinds)."""
    found = HANDLERS.get(kind)
    if found is None:
        raise ConfigError(f"unknown step kind {kind!r}; kinds: {', '.join(HANDLERS)}")
    return found
