"""Reports over the records the hub keeps in step: rules a person or ``hub compliance`` checks."""

from hub.reports.coverage import UncoveredDevice, uncovered_devices

__all__ = ["UncoveredDevice", "uncovered_devices"]
