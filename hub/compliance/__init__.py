"""``hub compliance``: rules over every customer, evaluated from live reads of the vendors.

* :mod:`~hub.compliance.sources` reads the PSA and the accounting system into core records;
* :mod:`~hub.compliance.rules` says what must hold and lists each violation with a stable key;
* :mod:`~hub.compliance.tickets` opens one PSA ticket per violation, never two.
"""

from hub.compliance.rules import RULES, Violation, evaluate
from hub.compliance.sources import Snapshot, Sources, read_snapshot
from hub.compliance.tickets import TicketOpener, TicketOutcome

__all__ = [
    "RULES",
    "Snapshot",
    "Sources",
    "TicketOpener",
    "TicketOutcome",
    "Violation",
    "evaluate",
    "read_snapshot",
]
