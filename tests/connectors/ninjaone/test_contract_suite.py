"""The NinjaOne connector held to the msp-hub connector contract suite (against its simulator)."""

from __future__ import annotations

from connectors.ninjaone import NinjaoneConnector
from hub.testing import ConnectorContract


class TestNinjaoneContract(ConnectorContract):
    connector = NinjaoneConnector
    # 9 records a page over 40 devices, 3 organizations and 12 alerts: devices span pages,
    # the alerts come in one answer (the API does not page them)
    sandbox_options = {"size": 40, "seed": 6, "alerts": 12, "check_answers": True}
    settings_overrides = {"page_size": 9}
    fault_stream = "customers"
