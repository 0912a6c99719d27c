"""Hook specifications: every extension point of msp-hub, one documented spec each.

Plugins implement these with ``@hub.sdk.hookimpl`` and are found through the
``msp_hub`` entry-point group (the built-in connectors register the same way a third
party does). pluggy is synchronous, so the hooks are for *registration* and
*cross-cutting concerns*; the I/O itself happens on connector objects.

Grouped by what they wrap (after kedro): registration, records, writes, sync
lifecycle, events.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from hub.connector import Event
    from hub.models import Record
    from hub.plugins import ConnectorRegistry, JobRegistry

PROJECT = "msp_hub"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- registration ---------------------------------------------------------------------


@hookspec
def hub_register_connectors(registry: ConnectorRegistry) -> None:
    """Register connector classes: ``registry.add(MyConnector)``.

    Called once when the plugin manager loads. A connector class declares its name,
    version, settings model, streams, writable entities, actions and webhooks (see
    :class:`hub.connector.Connector`).
    """


@hookspec
def hub_register_sync_jobs(registry: JobRegistry) -> None:
    """Register sync job definitions: ``registry.add(SyncJob(...))``.

    The built-in jobs (``psa-to-docs``, ``accounting-recipients``, ``rmm-devices``,
    ``rmm-alerts``) are registered through this hook too.
    """


@hookspec
def hub_workflow_dirs() -> list[Path]:
    """Folders of workflow definition files (YAML) that this plugin ships.

    User folders (``HUB_WORKFLOWS_DIR``) override a plugin's workflow of the same name.
    """


@hookspec
def hub_mapping_dirs() -> list[Path]:
    """Folders of mapping files (``<connector>.yaml``) that this plugin ships.

    A third-party connector ships its mapping file this way; ``HUB_MAPPINGS_DIR`` still
    overrides it.
    """


# -- records ----------------------------------------------------------------------------


@hookspec
def hub_transform_record(job: str, system: str, record: Record) -> Record | None:
    """Transform a core record after mapping from ``system``, before matching.

    Return a replacement record, or ``None`` to leave it as it is. Implementations run
    in turn, each seeing the previous one's result (e.g. normalize phone numbers,
    fill a classification from a naming rule).
    """


# -- writes -----------------------------------------------------------------------------


@hookspec
def hub_before_write(
    job: str, system: str, entity: str, operation: str, record: Record, payload: dict[str, Any]
) -> str | None:
    """Veto or enrich a write about to be sent to ``system``.

    ``operation`` is ``create``, ``update`` or ``deactivate``. Mutate ``payload`` to
    enrich it; return a reason string to veto the write, which dead-letters the record
    with that reason (the run goes on).
    """


@hookspec
def hub_after_write(
    job: str, system: str, entity: str, operation: str, record: Record, result_id: str
) -> None:
    """Observe a write that the vendor accepted (``result_id`` is the vendor's id)."""


# -- sync lifecycle -----------------------------------------------------------------


@hookspec
def hub_sync_started(job: str, dry_run: bool) -> None:
    """A sync run of ``job`` begins (after its lock is taken), before any record is read."""


@hookspec
def hub_sync_finished(job: str, summary: dict[str, Any]) -> None:
    """A sync run ended; ``summary`` is the JSON summary of ``hub sync --json``."""


@hookspec
def hub_sync_error(job: str, error: BaseException) -> None:
    """A sync run stopped on an error that was not a single record's failure."""


# -- events -----------------------------------------------------------------------------


@hookspec
def hub_event_received(event: Event) -> None:
    """A verified webhook event was stored, before the hub processes it."""
