"""The N-central connector held to the msp-hub connector contract suite (against its simulator)."""

from __future__ import annotations

from connectors.ncentral import NcentralConnector
from hub.testing import ConnectorContract


class TestNcentralContract(ConnectorContract):
    connector = NcentralConnector
    # 50 records a page over the seeded customers and devices: every stream spans pages
    sandbox_options = {"size": 40, "seed": 6}
    settings_overrides = {"page_size": 50}
    fault_stream = "customers"
