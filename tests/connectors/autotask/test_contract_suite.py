"""The Autotask connector held to the msp-hub connector contract suite (against its simulator)."""

from __future__ import annotations

from typing import Any

from connectors.autotask import AutotaskConnector
from hub.testing import ConnectorContract

COMPANY = 174  # the simulator's first seeded company
TICKET = 7000  # and its first ticket


def portal_user(connector: AutotaskConnector, control: Any) -> dict[str, Any]:
    """A portal user for a new contact (one per contact); no password: the connector makes one."""
    contact = connector.create(
        "Contacts", {"companyID": COMPANY, "firstName": "Portal", "lastName": "Suite", "isActive": 1}
    ).id
    return {"contactID": int(contact), "userName": f"portal.suite.{contact}@example.com", "securityLevel": 1,
            "isClientPortalActive": True, "dateFormat": 1, "timeFormat": 1, "numberFormat": 1}  # fmt: skip


class TestAutotaskContract(ConnectorContract):
    connector = AutotaskConnector
    # 3 contacts per company and 500 records per page: several pages of contacts
    sandbox_options = {"size": 240, "seed": 7}
    create_samples = {
        "Companies": {"companyName": "Contract Suite Dental", "companyType": 1, "phone": "518-555-0100",
                      "ownerResourceID": 29682885},
        "Contacts": {"companyID": COMPANY, "firstName": "Suite", "lastName": "Tester", "isActive": 1,
                     "emailAddress": "suite.tester@example.com"},
        "Tickets": {"companyID": COMPANY, "title": "Contract suite ticket", "status": 1, "priority": 2},
        "Contracts": {"companyID": COMPANY, "contractName": "Suite Block Hours", "contractType": 4,
                      "startDate": "2026-01-01T00:00:00Z", "endDate": "2026-12-31T00:00:00Z", "status": 1},
        "ConfigurationItems": {"companyID": COMPANY, "productID": 232, "isActive": True,
                               "referenceTitle": "SUITE-PC-01", "serialNumber": "SN-SUITE-1"},
        "TicketNotes": {"ticketID": TICKET, "title": "Suite note", "description": "Written by the suite",
                        "noteType": 1, "publish": 1},
        "CompanyNotes": {"companyID": COMPANY, "name": "Suite note", "note": "Written by the suite",
                         "actionType": 3},
        # the first seeded company's team is resource 29682885 and a co-managed 10
        "CompanyTeams": {"companyID": COMPANY, "resourceID": 29682886},
        "ClientPortalUsers": portal_user,
    }  # fmt: skip
    update_samples = {
        "Companies": {"phone": "518-555-0199"},
        "Contacts": {"title": "Controller"},
        "Tickets": {"title": "Contract suite ticket (renamed)"},
        "Contracts": {"contractName": "Suite Block Hours (renamed)"},
        "ConfigurationItems": {"serialNumber": "SN-SUITE-2"},
        "TicketNotes": {"description": "Edited by the suite"},
        "CompanyNotes": {"note": "Edited by the suite"},
        "ClientPortalUsers": {"securityLevel": 2, "isClientPortalActive": False},
    }
    update_skips = {"CompanyTeams": "Autotask cannot update account team members; they are created and deleted"}
    # Autotask maintains these on every write
    volatile_fields = {"lastActivityDate", "lastTrackedModifiedDateTime", "lastModifiedDateTime",
                       "lastModifiedTime", "lastModifiedDate"}  # fmt: skip
    fault_stream = "Companies"
