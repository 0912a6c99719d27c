"""The hub's own plugin: built-in sync jobs and workflow definitions.

Registered through the same ``msp_hub`` entry-point group as every connector. The
job names are part of the CLI contract (``hub sync psa-to-docs``). The jobs name roles,
not vendors: they run with whichever connectors ``HUB_ROLES__*`` names.
"""

from __future__ import annotations

from pathlib import Path

from hub.hookspecs import hookimpl
from hub.plugins import JobRegistry
from hub.sync.alerts import rmm_alerts_job
from hub.sync.devices import rmm_devices_job
from hub.sync.jobs import EntityStep, SyncJob
from hub.sync.recipients import accounting_recipients_job

WORKFLOWS_DIR = Path(__file__).parent / "workflows"


@hookimpl
def hub_workflow_dirs() -> list[Path]:
    return [WORKFLOWS_DIR] if WORKFLOWS_DIR.is_dir() else []


@hookimpl
def hub_register_sync_jobs(registry: JobRegistry) -> None:
    registry.add(
        SyncJob(
            "psa-to-docs",
            "PSA companies and contacts -> documentation organizations and contacts",
            [
                EntityStep("psa", "companies", "docs", "organizations", by_role=True),
                EntityStep("psa", "contacts", "docs", "contacts", by_role=True),
            ],
        )
    )
    registry.add(rmm_devices_job())
    registry.add(rmm_alerts_job())
    registry.add(accounting_recipients_job())
