"""Which monitored thing a Datto RMM alert is about: the alert's part of the problem key.

Datto RMM raises a new alert (a new ``alertUid``) every time a monitor triggers again,
and an alert auto-resolves after ``autoresolveMins`` and is raised anew while the
condition lasts. The hub must see one *problem* across all of them: the device, the kind
of monitor (``alertContext['@class']``) and the instance it watches (the disk, the
service, the event-log source). The alert list carries no monitor id, so the instance
comes from the context fields that name what is watched, never from the ones that
change between notifications (samples, free space, counts, timestamps, texts, status).

The fields are those of the spec's context schemas (``DiskUsageContext``,
``ResourceUsageContext``, ``EventLogContext`` ...); ``serviceName`` is what public
clients see on ``srvc_status_ctx`` alerts, which the spec's ``StatusContext`` calls
``processName``. A component (script) monitor has no instance field: its sample names
(the component's result variables, not their values) tell two components apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["IDENTITY_FIELDS", "INSTANCE_FIELD", "monitor_instance", "with_instance"]

#: context fields naming what a monitor watches, in the order they are shown
IDENTITY_FIELDS = (
    "diskName",  # DiskUsageContext: the volume
    "serviceName",  # service monitors, as public clients see them
    "processName",  # ResourceUsageContext, StatusContext: the process or service
    "type",  # resource kind (CPU, MEMORY, FAN ...) or the event type of EventLogContext
    "packageName",  # ActionContext: the software package
    "instanceName",  # PingContext: the target
    "displayName",  # CustomSNMPContext: the monitor's name
    "monitorInstance",  # CustomSNMPContext
    "monitorName",  # SNMPProbeContext
    "ruleName",  # SNMPProbeContext
    "OID",  # SNMPProbeContext (spelled both ways in the spec)
    "oid",
    "logName",  # EventLogContext: log, source and event id
    "source",
    "code",
    "path",  # FileSystemContext: the file or folder
    "objectType",
    "policyUid",  # PatchContext: the patch policy
    "esAlertId",  # endpoint security: each detection is its own problem
    "productName",  # antivirus and security-centre products
    "alertType",  # SecCenterContext: disabled or out of date
    "markerSupplyIndex",  # PrinterContext: which toner or ink
)
#: the key the stream adds to each alert record, for the mapping's ``condition``
INSTANCE_FIELD = "_instance"


def monitor_instance(context: Mapping[str, Any] | None) -> str:
    """The watched instance, e.g. ``"C:"``, ``"Spooler"``, ``"System / 7031"``; "" if none."""
    if not isinstance(context, Mapping):
        return ""
    parts = [
        str(value).strip()
        for name in IDENTITY_FIELDS
        if (value := context.get(name)) not in (None, "") and not isinstance(value, dict | list)
    ]
    samples = context.get("samples")
    if not parts and isinstance(samples, Mapping) and samples:
        parts = [", ".join(sorted(str(k) for k in samples))]
    return " / ".join(p for p in parts if p)


def with_instance(alert: dict[str, Any]) -> dict[str, Any]:
    """The alert with its monitored instance under :data:`INSTANCE_FIELD`."""
    return {**alert, INSTANCE_FIELD: monitor_instance(alert.get("alertContext"))}
