"""Sync jobs: read changed records, map through the core model, match, write, checkpoint.

The job definitions (:mod:`hub.sync.jobs`) load on their own: ``hub.sdk`` exports them to
connector plugins, and importing a plugin must not load the engine and the state store.
The engine's names load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from hub.sync.jobs import EntityStep, Step, SyncJob

if TYPE_CHECKING:
    from hub.sync.engine import (
        MassDeactivation,
        PlanEntry,
        SyncProgress,
        SyncRun,
        discard_dead_letters,
        get_job,
        retry_dead_letters,
        run_job,
    )

__all__ = [
    "EntityStep",
    "MassDeactivation",
    "PlanEntry",
    "Step",
    "SyncJob",
    "SyncProgress",
    "SyncRun",
    "discard_dead_letters",
    "get_job",
    "retry_dead_letters",
    "run_job",
]

_ENGINE = {name for name in __all__ if name not in ("EntityStep", "Step", "SyncJob")}


def __getattr__(name: str) -> Any:
    if name in _ENGINE:
        return getattr(import_module("hub.sync.engine"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
