"""The QuickBooks connector held to the msp-hub connector contract suite (against its simulator)."""

from __future__ import annotations

import itertools

from connectors.quickbooks import QuickBooksConnector
from hub.testing import ConnectorContract

_names = itertools.count(1)


class TestQuickBooksContract(ConnectorContract):
    connector = QuickBooksConnector
    # 1,000 results a query page: 2,300 customers make three pages
    sandbox_options = {"size": 2300, "seed": 8}
    create_samples = {
        # display names are unique in QuickBooks: each create gets its own
        "Customer": lambda c, control: {"DisplayName": f"Contract Suite Dental {next(_names)}",
                                        "CompanyName": "Contract Suite Dental"},
        "InvoiceRecipient": {"CustomerRef": {"value": "8"}, "Address": "suite.ap@eight.example.com"},
    }  # fmt: skip
    update_samples = {"Customer": {"CompanyName": "Contract Suite Dental (renamed)"}}
    update_skips = {
        "InvoiceRecipient": "an invoice recipient is an address on a customer: its address is its identity, "
        "so changing it makes a new recipient (covered in test_writes_sim.py)",
    }
    # QuickBooks bumps these on every write
    volatile_fields = {"SyncToken", "LastUpdatedTime"}
    fault_stream = "customers"
