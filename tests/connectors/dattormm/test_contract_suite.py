"""The Datto RMM connector held to the msp-hub connector contract suite (against its simulator)."""

from __future__ import annotations

from connectors.dattormm import DattormmConnector
from hub.testing import ConnectorContract


class TestDattormmContract(ConnectorContract):
    connector = DattormmConnector
    # 9 records a page over 40 devices, 3 sites and 12 alerts: devices and alerts span
    # pages. The suite reads every list many times within a minute on the real clock, more
    # than the account's 600 reads: the simulator's budget is lifted for it (the budget
    # has its own tests).
    sandbox_options = {"size": 40, "seed": 6, "alerts": 12, "check_answers": True, "read_limit": 100_000}
    settings_overrides = {"page_size": 9}
    fault_stream = "customers"
