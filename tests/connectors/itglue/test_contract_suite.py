"""The IT Glue connector held to the msp-hub connector contract suite (against its simulator)."""

from __future__ import annotations

from typing import Any

from connectors.itglue import ITGlueConnector
from hub.testing import ConnectorContract


def _free_org(connector: Any, control: Any) -> int:
    """An organization IT Glue does not keep in sync with a PSA (those refuse PATCH)."""
    synced = set(control.psa_synced_organizations())
    return next(i for i in range(100001, 100041) if str(i) not in synced)


class TestITGlueContract(ConnectorContract):
    connector = ITGlueConnector
    # page[size] 25 over 60 organizations: every stream spans several pages
    sandbox_options = {"size": 60, "seed": 3}
    settings_overrides = {"page_size": 25}
    create_samples = {
        "organizations": {"attributes": {"name": "Contract Suite Dental", "organization-type-id": 87}},
        "contacts": lambda c, control: {
            "attributes": {"organization-id": _free_org(c, control), "first-name": "Suite", "last-name": "Tester",
                           "title": "Office manager"}
        },
        "site_summaries": lambda c, control: {
            "attributes": {"organization-id": _free_org(c, control)},
            "labels": {"Site Name": "Suite Branch", "Authorization Permissions": "Purchases"},
        },
    }  # fmt: skip
    update_samples = {
        "organizations": {"attributes": {"quick-notes": "Onboarded by the suite"}},
        "contacts": {"attributes": {"title": "Controller"}},
        "site_summaries": {"labels": {"Authorization Permissions": "Purchases and new users"}},
    }
    # the traits behind the labels: a label's change is that trait's change under its name-key
    volatile_fields = {"updated-at", "attributes.traits.authorization-permissions"}
    fault_stream = "organizations"
