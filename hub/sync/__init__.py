"""Sync jobs: read changed records, map through the core model, match, write, checkpoint."""

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
from hub.sync.jobs import EntityStep, Step, SyncJob

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
