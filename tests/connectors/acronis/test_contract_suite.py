"""The Acronis connector held to the msp-hub connector contract suite (against its simulator)."""

from __future__ import annotations

from typing import Any

from connectors.acronis import AcronisConnector
from hub.testing import ConnectorContract


def _new_customer(connector: Any, control: Any) -> dict[str, Any]:
    return {"name": "Contract Suite Dental", "contact": {"email": "office@suite.example", "city": "Troy"}}


class TestAcronisContract(ConnectorContract):
    connector = AcronisConnector
    # 3 tenants a page over 10 customers, a folder and their units: the subtree spans pages
    sandbox_options = {"size": 10, "seed": 6}
    settings_overrides = {"page_size": 3}
    create_samples = {"tenants": _new_customer}
    update_samples = {"tenants": {"name": "Contract Suite Dental (renamed)"}}
    volatile_fields = {"version", "updated_at"}
    fault_stream = "tenants"
