"""``rmm-devices``: RMM devices -> PSA configuration items.

Two steps, both plain :class:`~hub.sync.jobs.EntityStep` s between the RMM and PSA roles
(``HUB_ROLES__RMM``, ``HUB_ROLES__PSA``):

1. *link* the RMM's customers to the PSA's companies through the crosswalk, matched by
   normalized name (the PSA mapping's match rule). The PSA is the system of record for
   accounts, so nothing is created or updated there: a customer with no company of that
   name is reported for a person to create or link. Read whole every run, so a company
   created later is linked on the next run;
2. copy the devices into configuration items under their linked company (name and
   serial number; the OS is the PSA's own read-only RMM audit field, so it is not
   written). A device whose customer is not linked is skipped with the reason; an
   existing item is matched by serial number, then name. Every item created is reported
   for contract review: ``hub report uncovered-devices`` lists the devices no
   recurring-service contract covers.
"""

from __future__ import annotations

from hub.sync.jobs import EntityStep, SyncJob

__all__ = ["RMM_DEVICES", "rmm_devices_job"]

RMM_DEVICES = "rmm-devices"


def rmm_devices_job() -> SyncJob:
    """The job over the RMM and PSA roles."""
    return SyncJob(
        RMM_DEVICES,
        "RMM devices -> PSA configuration items (customers linked to companies by name)",
        [
            EntityStep("rmm", "customers", "psa", "companies", by_role=True, deactivate=False, create=False,
                       update=False, incremental=False),
            EntityStep("rmm", "devices", "psa", "configuration_items", by_role=True,
                       fields=("organization", "name", "serial_number"),
                       report_created="review its contract (hub report uncovered-devices)"),
        ],
    )  # fmt: skip
