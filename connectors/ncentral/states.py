"""N-central's service states, as the integer ``notificationState`` of an active issue.

The API-Service describes a monitored task's state with one enumeration, published in
its OpenAPI document (``ApplianceTaskInformation.state``): NO_STATE, NO_DATA, STALE,
NORMAL, WARNING, FAILED, MISCONFIGURED, DISCONNECTED, DISABLED. An active issue carries
the same state as an integer (``notificationState``); the documented example of an
active issue on a failed "Windows UAC Status" service has ``notificationState: 5``,
which is FAILED's position in that list. The integers here are those positions.

Only this module knows the numbers; the mapping file and the simulator use it (the
mapping by value, see ``mappings/ncentral.yaml``).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["NotificationState"]


class NotificationState(IntEnum):
    NO_STATE = 0
    NO_DATA = 1
    STALE = 2
    NORMAL = 3
    WARNING = 4
    FAILED = 5
    MISCONFIGURED = 6
    DISCONNECTED = 7
    DISABLED = 8

    @property
    def label(self) -> str:
        """The name N-central's UI shows ("Failed", "No Data")."""
        return self.name.replace("_", " ").title()

    @classmethod
    def from_label(cls, label: str) -> NotificationState:
        """``"failed"``, ``"Failed"`` or ``"FAILED"`` -> FAILED; a clear error otherwise."""
        key = label.strip().upper().replace(" ", "_")
        try:
            return cls[key]
        except KeyError:
            known = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown N-central state {label!r}; states: {known}") from None
