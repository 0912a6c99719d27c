"""What the hub needs of a NinjaOne alert besides the alert: its severity and organization.

The spec's ``Alert`` (``GET /v2/alerts``) names the device, the kind of condition
(``sourceType``), the policy condition (``sourceConfigUid``, ``sourceName``) and texts, but
no severity and no organization:

* The severity of a triggered condition is on the activity that triggered it: the spec's
  ``Activity`` has ``severity`` (``NONE``, ``MINOR``, ``MODERATE``, ``MAJOR``,
  ``CRITICAL``) and ``seriesUid``, "Activity series UID (job/condition UID)", the alert's
  ``uid`` ("Alert UID (activity series UID)"); ``GET /v2/activities?seriesUid=`` reads
  them. An alert that carries ``severity`` itself (public clients report one on some
  instances) is taken at its word and costs no request.
* The organization is the device's: ``device.organizationId`` of the spec's
  ``NodeWithDetailedReferences`` embedded in the alert, or the device read by id.

The problem's key (see ``mappings/ninjaone.yaml``) is the device, the kind of condition
and the condition's name in the policy (``sourceName``): the same every time the
condition triggers again, unlike the alert ``uid`` (a new series each time), the message
or any timestamp.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ORGANIZATION_FIELD", "SEVERITIES", "SEVERITY_FIELD", "severity_of"]

#: the spec's ``Activity.severity`` values, least severe first
SEVERITIES = ("NONE", "MINOR", "MODERATE", "MAJOR", "CRITICAL")
#: the keys the connector adds to each alert record, for the mapping
SEVERITY_FIELD = "_severity"
ORGANIZATION_FIELD = "_organizationId"


def _valid(value: Any) -> str | None:
    text = str(value).strip().upper() if isinstance(value, str) else ""
    return text if text in SEVERITIES else None


def severity_of(alert: Mapping[str, Any], activities: Iterable[Mapping[str, Any]] = ()) -> str | None:
    """The alert's own severity, else that of the activity that triggered its series (the
    newest ``TRIGGERED`` one; the spec lists activities newest first), else the newest
    activity's of the series that has one; None if nothing says."""
    own = _valid(alert.get("severity"))
    if own:
        return own
    series = [a for a in activities if a.get("seriesUid") in (None, alert.get("uid"))]
    triggered = [a for a in series if a.get("statusCode") == "TRIGGERED"]
    for activity in (*triggered, *series):
        found = _valid(activity.get("severity"))
        if found:
            return found
    return None
