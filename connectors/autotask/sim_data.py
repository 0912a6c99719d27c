"""The simulated Autotask database: field schemas, picklists, UDFs and seeded records.

Field names are the live API's camelCase spellings of the swagger models' properties
(``CompanyModel.CompanyName`` -> ``companyName``); a test checks every one against the
swagger. Picklists carry the labels the MSP procedures use ("Pending Paperwork",
"Scheduled - external tech", classification "R0", UDF "Help Desk", ...).

Seeding is deterministic for a ``seed`` and scales with ``size`` (companies): three
contacts per company, and fewer tickets, contracts, devices and notes, so 100,000
companies stay within a few hundred MB.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "API_ONLY_RESOURCES",
    "LOOKUPS",
    "PORTAL_SECURITY_LEVELS",
    "PRODUCTS",
    "RESOURCES",
    "SCHEMAS",
    "SERVICES",
    "TASKFIRE_LEVELS",
    "UDFS",
    "EntitySchema",
    "seed_records",
    "stamp",
]


def stamp(value: datetime) -> str:
    """Timestamps as the API writes them: UTC, milliseconds, ``Z`` (sortable as text)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclass
class EntitySchema:
    """One simulated entity: its fields, which are read-only, required, dates and picklists."""

    name: str
    fields: tuple[str, ...]
    required: tuple[str, ...]
    read_only: tuple[str, ...]
    dates: tuple[str, ...]
    picklists: dict[str, dict[int, str]] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)
    has_udfs: bool = True
    #: picklist field -> the value flagged ``isDefaultValue``
    defaults: dict[str, int] = field(default_factory=dict)
    #: fields written but never answered (a portal user's password reads back null)
    write_only: tuple[str, ...] = ()
    #: values a created record starts from where the request gives none
    initial: dict[str, Any] = field(default_factory=dict)


_COMMON_RO = ("id", "createDate", "createDateTime")
#: Client Portal security levels; the Taskfire ones need a company with Taskfire enabled
PORTAL_SECURITY_LEVELS = {
    1: "Basic",
    2: "Advanced",
    3: "Manager",
    4: "Taskfire Resource",
    5: "Taskfire Administrator",
}
TASKFIRE_LEVELS = (4, 5)

SCHEMAS: dict[str, EntitySchema] = {
    s.name: s
    for s in (
        EntitySchema(
            "Companies",
            (
                "id",
                "companyName",
                "companyNumber",
                "companyType",
                "classification",
                "phone",
                "fax",
                "webAddress",
                "address1",
                "address2",
                "city",
                "state",
                "postalCode",
                "countryID",
                "isActive",
                "isClientPortalActive",
                "isTaskFireActive",
                "ownerResourceID",
                "parentCompanyID",
                "taxRegionID",
                "taxID",
                "billToAttention",
                "billingAddress1",
                "billingAddress2",
                "billToCity",
                "billToState",
                "billToZipCode",
                "createDate",
                "createdByResourceID",
                "lastActivityDate",
                "lastTrackedModifiedDateTime",
            ),
            required=("companyName", "companyType", "phone", "ownerResourceID"),
            read_only=(*_COMMON_RO, "createdByResourceID", "lastActivityDate", "lastTrackedModifiedDateTime"),
            dates=("createDate", "lastActivityDate", "lastTrackedModifiedDateTime"),
            picklists={
                "companyType": {
                    1: "Customer",
                    2: "Lead",
                    3: "Prospect",
                    4: "Dead",
                    5: "Inactive",
                    6: "Cancelation",  # sic: Autotask spells the company type with one L
                    7: "Vendor",
                    8: "Partner",
                },
                "classification": {101: "R0", 102: "BN", 103: "MS", 104: "MR"},
                "taxRegionID": {1: "Default", 2: "New York", 3: "New Jersey"},
            },
            references={"parentCompanyID": "Companies", "ownerResourceID": "Resources"},
        ),
        EntitySchema(
            "Contacts",
            (
                "id",
                "companyID",
                "firstName",
                "lastName",
                "emailAddress",
                "emailAddress2",
                "phone",
                "mobilePhone",
                "title",
                "isActive",
                "primaryContact",
                "receivesEmailNotifications",
                "createDate",
                "lastActivityDate",
                "lastModifiedDate",
            ),
            required=("companyID", "firstName", "lastName", "isActive"),
            read_only=(*_COMMON_RO, "lastActivityDate", "lastModifiedDate"),
            dates=("createDate", "lastActivityDate", "lastModifiedDate"),
            references={"companyID": "Companies"},
        ),
        EntitySchema(
            "Tickets",
            (
                "id",
                "ticketNumber",
                "companyID",
                "contactID",
                "configurationItemID",
                "contractID",
                "title",
                "description",
                "status",
                "priority",
                "queueID",
                "issueType",
                "subIssueType",
                "source",
                "ticketType",
                "dueDateTime",
                "createDate",
                "completedDate",
                "externalID",
                "assignedResourceID",
                "assignedResourceRoleID",
                "ticketCategory",
                "creatorResourceID",
                "lastActivityDate",
                "lastActivityResourceID",
                "lastActivityPersonType",
            ),
            required=("companyID", "title", "status", "priority"),
            read_only=(
                *_COMMON_RO,
                "ticketNumber",
                "completedDate",
                "creatorResourceID",
                "lastActivityDate",
                "lastActivityResourceID",
                "lastActivityPersonType",
            ),
            dates=("dueDateTime", "createDate", "completedDate", "lastActivityDate"),
            picklists={
                "status": {
                    1: "New",
                    5: "Complete",
                    7: "Waiting Customer",
                    8: "In Progress",
                    9: "Waiting Materials",
                    10: "Scheduled",
                    11: "Escalate",
                    12: "Waiting Vendor",
                    13: "Pending Paperwork",
                    14: "Scheduled - external tech",
                    15: "Scheduled - internal tech",
                    16: "Client No Response",
                    17: "Auto-Complete in 2 Days",
                    18: "Ticket Reopened",
                    19: "Auto-Resolved",
                    # the statuses of the co-managed help desk's inbox
                    # (shared/procedures/co-managed-helpdesk-setup.txt, step 14)
                    20: "Assigned",
                    21: "Waiting Internal Review",
                    22: "Vendor No Response",
                    23: "Feedback Received",
                },
                "priority": {1: "High", 2: "Medium", 3: "Low", 4: "Critical"},
                "queueID": {
                    5: "Client Portal",
                    6: "Post Sale",
                    8: "Monitoring Alert",
                    29682833: "Level I Support",
                    29682969: "Level II Support",
                },
                "issueType": {1: "Administrative Changes", 2: "Hardware", 3: "Software", 4: "Network"},
                "subIssueType": {136: "Add or Replace Authorization Contact", 137: "Printer", 138: "Email"},
                # TicketModel.TicketCategory (a TicketCategories picklist); "Administrative Changes"
                # is the category the authorization-contact procedure names
                "ticketCategory": {1: "Standard", 3: "Administrative Changes", 4: "Curr MSA, add/del device/service"},
                # TicketModel.LastActivityPersonType: who acted last, a resource or a contact
                "lastActivityPersonType": {1: "Resource", 2: "Contact"},
                "source": {2: "Phone", 4: "Email", 6: "Client Portal", 8: "Monitoring Alert", 11: "Web Form"},
                "ticketType": {
                    1: "Service Request",
                    2: "Incident",
                    3: "Problem",
                    4: "Change Request",
                    5: "Alert",
                },
            },
            references={
                "companyID": "Companies",
                "contactID": "Contacts",
                "configurationItemID": "ConfigurationItems",
                "contractID": "Contracts",
                "assignedResourceID": "Resources",
                "assignedResourceRoleID": "Roles",
            },
        ),
        EntitySchema(
            "Contracts",
            (
                "id",
                "companyID",
                "contractName",
                "contractNumber",
                "contractType",
                "contractCategory",
                "status",
                "startDate",
                "endDate",
                "isDefaultContract",
                "serviceLevelAgreementID",
                "description",
            ),
            # no change timestamp: the swagger's ContractModel has none (see entities.py)
            required=("companyID", "contractName", "contractType", "startDate", "endDate", "status"),
            read_only=("id",),
            dates=("startDate", "endDate"),
            picklists={
                "contractType": {
                    1: "Time and Materials",
                    3: "Fixed Price",
                    4: "Block Hours",
                    6: "Retainer",
                    7: "Recurring Service",
                    8: "Per Ticket",
                },
                "status": {0: "Inactive", 1: "Active"},
                "contractCategory": {15: "Managed Services", 16: "Break/Fix"},
                "serviceLevelAgreementID": {1: "Standard SLA", 2: "Managed Services SLA"},
            },
            references={"companyID": "Companies"},
        ),
        EntitySchema(
            "ConfigurationItems",
            (
                "id",
                "companyID",
                "contractID",
                "contractServiceID",
                "productID",
                "referenceTitle",
                "referenceNumber",
                "serialNumber",
                "configurationItemType",
                "isActive",
                "installDate",
                "rmmDeviceAuditOperatingSystem",
                "createDate",
                "lastModifiedTime",
            ),
            required=("companyID", "productID", "isActive"),
            read_only=(*_COMMON_RO, "lastModifiedTime"),
            dates=("installDate", "createDate", "lastModifiedTime"),
            picklists={
                "configurationItemType": {1: "Workstation", 2: "Server", 3: "Network Device", 4: "Printer"}
            },
            references={
                "companyID": "Companies",
                "contractID": "Contracts",
                "contractServiceID": "ContractServices",
                "productID": "Products",
            },
        ),
        EntitySchema(
            "TicketNotes",
            (
                "id",
                "ticketID",
                "title",
                "description",
                "noteType",
                "publish",
                "createDateTime",
                "creatorResourceID",
                "lastActivityDate",
            ),
            required=("ticketID", "title", "description", "noteType", "publish"),
            read_only=(*_COMMON_RO, "creatorResourceID", "lastActivityDate"),
            dates=("createDateTime", "lastActivityDate"),
            picklists={
                "noteType": {1: "Task Summary", 2: "Task Detail", 3: "Internal Note"},
                "publish": {1: "All Autotask Users", 2: "Internal Project Team", 4: "Internal & Co-Managed"},
            },
            references={"ticketID": "Tickets"},
            has_udfs=False,
        ),
        EntitySchema(
            "CompanyNotes",
            (
                "id",
                "companyID",
                "contactID",
                "name",
                "note",
                "actionType",
                "createDateTime",
                "lastModifiedDate",
            ),
            required=("companyID", "actionType", "note"),
            read_only=(*_COMMON_RO, "lastModifiedDate"),
            dates=("createDateTime", "lastModifiedDate"),
            picklists={"actionType": {1: "Phone Call", 2: "Meeting", 3: "General"}},
            references={"companyID": "Companies", "contactID": "Contacts"},
            has_udfs=False,
        ),
        EntitySchema(
            "CompanyTeams",
            ("id", "companyID", "resourceID", "isAssociatedAsComanaged"),
            required=("companyID", "resourceID"),
            read_only=("id",),
            dates=(),
            references={"companyID": "Companies", "resourceID": "Resources"},
            has_udfs=False,
            initial={"isAssociatedAsComanaged": False},
        ),
        EntitySchema(
            "ClientPortalUsers",
            (
                "id",
                "contactID",
                "userName",
                "password",
                "securityLevel",
                "isClientPortalActive",
                "dateFormat",
                "timeFormat",
                "numberFormat",
            ),
            required=(
                "contactID",
                "userName",
                "securityLevel",
                "isClientPortalActive",
                "dateFormat",
                "timeFormat",
                "numberFormat",
            ),
            read_only=("id",),
            dates=(),
            # 4 and 5 are the documented Taskfire levels; the three Client Portal system
            # levels are named as the Client Portal's own help names them
            picklists={
                "securityLevel": PORTAL_SECURITY_LEVELS,
                "dateFormat": {1: "mm/dd/yyyy", 2: "dd/mm/yyyy", 3: "yyyy/mm/dd", 4: "dd.mm.yyyy"},
                "timeFormat": {1: "hh:mm a", 2: "HH:mm"},
                # labels are digit-grouping patterns, as the date and time labels above are
                # date patterns ("X" a digit): not placeholders
                "numberFormat": {1: "X,XXX.XX", 2: "X.XXX,XX", 3: "X XXX,XX"},
            },
            references={"contactID": "Contacts"},
            has_udfs=False,
            defaults={"securityLevel": 1, "dateFormat": 1, "timeFormat": 1, "numberFormat": 1},
            write_only=("password",),
        ),
        # looked up by name (resources, roles, products), never streamed
        EntitySchema(
            "Resources",
            ("id", "firstName", "lastName", "userName", "email", "isActive", "resourceType"),
            required=("firstName", "lastName", "userName", "email"),
            read_only=("id",),
            dates=(),
            has_udfs=False,
        ),
        EntitySchema(
            "Roles",
            ("id", "name", "description", "isActive"),
            required=("name",),
            read_only=("id",),
            dates=(),
            has_udfs=False,
            initial={"isActive": True},
        ),
        EntitySchema(
            "Products",
            ("id", "name", "description", "isActive", "isSerialized"),
            # the swagger's ProductModel lists no required fields; a name is the least a product has
            required=("name",),
            read_only=("id",),
            dates=(),
            has_udfs=False,
            initial={"isActive": True, "isSerialized": False},
        ),
        # Service calls (swagger ServiceCallModel, ServiceCallTicketModel,
        # ServiceCallTicketResourceModel): "instances of time, with specified start and stop
        # times, that are scheduled to perform work for a Company"; a ticket is tied to a
        # call by a ServiceCallTicket (POST V1.0/ServiceCalls/{id}/Tickets), a resource to
        # that by a ServiceCallTicketResource (POST V1.0/ServiceCallTickets/{id}/Resources)
        EntitySchema(
            "ServiceCalls",
            (
                "id",
                "companyID",
                "companyLocationID",
                "description",
                "startDateTime",
                "endDateTime",
                "duration",
                "status",
                "isComplete",
                "cancelationNoticeHours",
                "canceledByResourceID",
                "canceledDateTime",
                "createDateTime",
                "creatorResourceID",
                "lastModifiedDateTime",
            ),
            required=("companyID", "startDateTime", "endDateTime"),
            read_only=("id", "createDateTime", "creatorResourceID", "lastModifiedDateTime", "duration"),
            dates=("startDateTime", "endDateTime", "canceledDateTime", "createDateTime", "lastModifiedDateTime"),
            picklists={"status": {1: "New", 2: "Confirmed", 3: "Complete", 4: "Canceled"}},
            references={"companyID": "Companies"},
            has_udfs=False,
            defaults={"status": 1},
            initial={"status": 1, "isComplete": 0},
        ),
        EntitySchema(
            "ServiceCallTickets",
            ("id", "serviceCallID", "ticketID"),
            required=("serviceCallID", "ticketID"),
            read_only=("id",),
            dates=(),
            references={"serviceCallID": "ServiceCalls", "ticketID": "Tickets"},
            has_udfs=False,
        ),
        EntitySchema(
            "ServiceCallTicketResources",
            ("id", "serviceCallTicketID", "resourceID"),
            required=("serviceCallTicketID", "resourceID"),
            read_only=("id",),
            dates=(),
            references={"serviceCallTicketID": "ServiceCallTickets", "resourceID": "Resources"},
            has_udfs=False,
        ),
        # the service catalog (swagger ServiceModel) and a contract's services
        # (ContractServiceModel, POST V1.0/Contracts/{id}/Services), which recurring
        # service contracts bill and configuration items are tied to (contractServiceID)
        EntitySchema(
            "Services",
            ("id", "name", "description", "invoiceDescription", "isActive", "unitPrice", "unitCost", "periodType"),
            required=("name", "periodType", "unitPrice"),
            read_only=("id",),
            dates=(),
            picklists={"periodType": {1: "Monthly", 2: "Quarterly", 3: "Semi-Annual", 4: "Yearly"}},
            has_udfs=False,
        ),
        EntitySchema(
            "ContractServices",
            ("id", "contractID", "serviceID", "unitPrice", "unitCost", "invoiceDescription", "internalDescription"),
            required=("contractID", "serviceID", "unitPrice"),
            read_only=("id",),
            dates=(),
            references={"contractID": "Contracts", "serviceID": "Services"},
            has_udfs=False,
        ),
    )
}

#: the entities the simulator keeps only to be looked up by name
LOOKUPS = ("Resources", "Roles", "Products")

_YES_NO = {"1": "Yes", "0": "No"}
#: user-defined fields per entity: name -> picklist (None: free text)
UDFS: dict[str, dict[str, dict[str, str] | None]] = {
    "Companies": {
        "Help Desk": {"1": "none - as tech is available", "2": "Business hours", "3": "24x7"},
        "Site Summary URL": None,
    },
    "Contacts": {
        "Primary Authorization": _YES_NO,
        "Secondary Authorization": _YES_NO,
        "Receives Reports": _YES_NO,
        "Invoice Recipient": _YES_NO,
        "Authority Permissions": None,
    },
    "Tickets": {"RMM Alert Key": None},
    "Contracts": {},
    "ConfigurationItems": {"RMM Device ID": None},
}

#: resources (technicians) that may own records or be impersonated
RESOURCES = (29682885, 29682886, 29682887, 4, 10)
#: API-only resources (the integration's own user): Autotask keeps them off account teams
API_ONLY_RESOURCES = (29682999,)
PRODUCTS = (232, 233, 234)

_ADJ = (
    "Blue",
    "Granite",
    "Summit",
    "Harbor",
    "Maple",
    "Cedar",
    "Silver",
    "Pioneer",
    "Lakeside",
    "Northern",
    "Riverbend",
    "Golden",
    "Evergreen",
    "Redwood",
    "Prairie",
    "Coastal",
    "Upstate",
    "Keystone",
)
_NOUN = (
    "Dental",
    "Legal",
    "Logistics",
    "Bakery",
    "Accounting",
    "Realty",
    "Clinic",
    "Outfitters",
    "Builders",
    "Media",
    "Insurance",
    "Veterinary",
    "Design",
    "Motors",
    "Foods",
    "Consulting",
    "Printing",
    "Pharmacy",
)
_SUFFIX = ("LLC", "Inc.", "Co.", "Group", "Partners", "Ltd.", "")
_FIRST = (
    "Mary",
    "James",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Susan",
    "Carlos",
    "Aisha",
    "Wei",
    "Priya",
    "Olga",
    "Kwame",
    "Sofia",
    "Liam",
    "Noah",
)
_LAST = (
    "Smith",
    "Johnson",
    "Garcia",
    "Brown",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Nguyen",
    "O'Brien",
    "Kowalski",
    "Okafor",
    "Chen",
    "Patel",
    "Schmidt",
    "Rossi",
    "Murphy",
    "Larsen",
)
_CITIES = (
    ("East Greenbush", "NY", "12061"),
    ("Albany", "NY", "12207"),
    ("Troy", "NY", "12180"),
    ("Hoboken", "NJ", "07030"),
    ("Newark", "NJ", "07102"),
    ("Stamford", "CT", "06901"),
)
_TITLES = (
    "Printer offline",
    "Cannot send email",
    "New laptop setup",
    "VPN drops",
    "Password reset",
    "Backup failed",
    "Slow workstation",
    "Add new user",
    "Disk space low on server",
    "Wi-Fi unreachable",
)
_ID_START = {
    "Companies": 174,
    "Contacts": 29683500,
    "Tickets": 7000,
    "Contracts": 29684100,
    "ConfigurationItems": 52000,
    "TicketNotes": 45,
    "CompanyNotes": 900,
    "CompanyTeams": 3100,
    "ClientPortalUsers": 610,
    "ServiceCalls": 3600,
    "ServiceCallTickets": 4100,
    "ServiceCallTicketResources": 4700,
    "Services": 12,
    "ContractServices": 5200,
}
#: the MSP's service catalog: what recurring service contracts bill per device
SERVICES = (
    ("Managed Workstation", 45.0),
    ("Managed Server", 150.0),
    ("Network Device Monitoring", 20.0),
    ("Backup", 60.0),
)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 700 * 86400


def start_id(entity: str) -> int:
    return _ID_START[entity]


class _Draw:
    """Fast deterministic draws: ``random()`` indexing instead of ``choice``/``randrange``.

    Timestamps come from a pre-formatted pool (formatting dominated seeding time at
    100,000 companies); ties between records are realistic for a change cursor.
    """

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.random = rng.random
        self.stamps = sorted(
            stamp(EPOCH + timedelta(seconds=rng.randrange(SPAN_SECONDS), milliseconds=rng.randrange(1000)))
            for _ in range(20_000)
        )

    def pick(self, seq: Any) -> Any:
        return seq[int(self.random() * len(seq))]

    def below(self, n: int) -> int:
        return int(self.random() * n)

    def when(self) -> str:
        return self.stamps[int(self.random() * len(self.stamps))]

    def after(self, earliest: str) -> str:
        """A timestamp not before ``earliest`` (activity follows creation)."""
        value = self.when()
        return value if value >= earliest else earliest


def _udfs(entity: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": name, "value": values.get(name)} for name in UDFS.get(entity, {})]


def seed_records(size: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    """Deterministic records for ``size`` companies, in ascending id order per entity."""
    rng = _Draw(seed)
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in SCHEMAS}
    types = (1, 1, 1, 1, 3, 3, 2, 5, 7)
    for n in range(size):
        cid = _ID_START["Companies"] + n
        city, state, zip_code = rng.pick(_CITIES)
        name = f"{rng.pick(_ADJ)} {rng.pick(_NOUN)} {rng.pick(_SUFFIX)}".strip() + f" #{n + 1}"
        ctype = rng.pick(types)
        created = rng.when()
        out["Companies"].append(
            {
                "id": cid,
                "companyName": name,
                "companyNumber": str(289843 + n),
                "companyType": ctype,
                "classification": rng.pick((101, 102, 103, 104)),
                "phone": f"518-555-{rng.below(10000):04d}",
                "fax": "",
                "webAddress": f"www.{name.split()[0].lower()}{n + 1}.example.com",
                "address1": f"{1 + rng.below(998)} Tech Valley Drive",
                "address2": "",
                "city": city,
                "state": state,
                "postalCode": zip_code,
                "countryID": 237,
                "isActive": ctype not in (4, 5),
                "isClientPortalActive": rng.random() < 0.5,
                "isTaskFireActive": False,
                "ownerResourceID": rng.pick(RESOURCES[:3]),
                "parentCompanyID": _ID_START["Companies"] + rng.below(n)
                if n > 10 and rng.random() < 0.05
                else None,
                "taxRegionID": 2 if state == "NY" else 3,
                "taxID": "",
                "billToAttention": "",
                "billingAddress1": "",
                "billingAddress2": "",
                "billToCity": city,
                "billToState": state,
                "billToZipCode": zip_code,
                "createDate": created,
                "createdByResourceID": 29682885,
                "lastActivityDate": rng.after(created),
                "lastTrackedModifiedDateTime": created,
                "userDefinedFields": _udfs("Companies", {"Help Desk": rng.pick(("1", "2", "3"))}),
            }
        )
        for k in range(3):
            first, last = rng.pick(_FIRST), rng.pick(_LAST)
            handle = f"{first[0]}{last}".lower().replace("'", "")
            out["Contacts"].append(
                {
                    "id": _ID_START["Contacts"] + 3 * n + k,
                    "companyID": cid,
                    "firstName": first,
                    "lastName": last,
                    "emailAddress": f"{handle}{3 * n + k}@{name.split()[0].lower()}{n + 1}.example.com",
                    "emailAddress2": "",
                    "phone": f"518-555-{rng.below(10000):04d}",
                    "mobilePhone": "",
                    "title": ("Owner", "Office Manager", "Bookkeeper")[k],
                    "isActive": 1,
                    "primaryContact": k == 0,
                    "receivesEmailNotifications": True,
                    "createDate": created,
                    "lastActivityDate": rng.after(created),
                    "lastModifiedDate": rng.after(created),
                    "userDefinedFields": _udfs(
                        "Contacts",
                        {
                            "Primary Authorization": "1" if k == 0 else "0",
                            "Secondary Authorization": "1" if k == 1 else "0",
                            "Receives Reports": "1" if k == 0 else "0",
                            "Invoice Recipient": "1" if k == 2 else "0",
                        },
                    ),
                }
            )
        if n % 2 == 0:
            tid = _ID_START["Tickets"] + n // 2
            status = rng.pick((1, 1, 5, 7, 8, 13, 14, 15))
            out["Tickets"].append(
                {
                    "id": tid,
                    "ticketNumber": f"T20240101.{n // 2:04d}",
                    "companyID": cid,
                    "contactID": _ID_START["Contacts"] + 3 * n,
                    "configurationItemID": None,
                    "contractID": None,
                    "title": rng.pick(_TITLES),
                    "description": "Reported by phone.",
                    "status": status,
                    "priority": rng.pick((1, 2, 2, 3)),
                    "queueID": rng.pick((5, 29682833, 29682969)),
                    "issueType": rng.pick((2, 3, 4)),
                    "subIssueType": None,
                    "source": rng.pick((2, 4, 6)),
                    "ticketType": 1,
                    "dueDateTime": rng.when(),
                    "createDate": created,
                    "completedDate": rng.when() if status == 5 else None,
                    "externalID": "",
                    "assignedResourceID": None,
                    "assignedResourceRoleID": None,
                    "ticketCategory": 1,
                    "creatorResourceID": 4,
                    "lastActivityDate": rng.after(created),
                    "lastActivityResourceID": 4,
                    "lastActivityPersonType": 1,
                    "userDefinedFields": _udfs("Tickets", {}),
                }
            )
            out["TicketNotes"].append(
                {
                    "id": _ID_START["TicketNotes"] + n // 2,
                    "ticketID": tid,
                    "title": "Called customer",
                    "description": "Left a voicemail.",
                    "noteType": 1,
                    "publish": 1,
                    "createDateTime": created,
                    "creatorResourceID": 4,
                    "lastActivityDate": rng.after(created),
                }
            )
            out["ConfigurationItems"].append(
                {
                    "id": _ID_START["ConfigurationItems"] + n // 2,
                    "companyID": cid,
                    "contractID": None,
                    "contractServiceID": None,
                    "productID": rng.pick(PRODUCTS),
                    "referenceTitle": f"WS-{cid}-01",
                    "referenceNumber": f"A{cid:06d}",
                    "serialNumber": f"SN{rng.below(16**8):08X}",
                    "configurationItemType": rng.pick((1, 1, 2, 4)),
                    "isActive": True,
                    "installDate": created,
                    "rmmDeviceAuditOperatingSystem": rng.pick(
                        ("Windows 11 Pro", "Windows Server 2022", "macOS 14")
                    ),
                    "createDate": created,
                    "lastModifiedTime": rng.after(created),
                    "userDefinedFields": _udfs("ConfigurationItems", {}),
                }
            )
        if n % 4 == 0:
            managed = rng.random() < 0.5
            out["Contracts"].append(
                {
                    "id": _ID_START["Contracts"] + n // 4,
                    "companyID": cid,
                    "contractName": f"{name} - {'Managed Services' if managed else 'Time and Materials'}",
                    "contractNumber": str(2343451 + n),
                    "contractType": 7 if managed else 1,
                    "contractCategory": 15 if managed else 16,
                    "status": 1,
                    "startDate": "2024-01-01T00:00:00.000Z",
                    "endDate": "2026-12-31T00:00:00.000Z",
                    "isDefaultContract": True,
                    "serviceLevelAgreementID": 2 if managed else 1,
                    "description": "",
                    "userDefinedFields": _udfs("Contracts", {}),
                }
            )
            out["CompanyNotes"].append(
                {
                    "id": _ID_START["CompanyNotes"] + n // 4,
                    "companyID": cid,
                    "contactID": None,
                    "name": "Kick-off call",
                    "note": "Discussed onboarding.",
                    "actionType": 1,
                    "createDateTime": created,
                    "lastModifiedDate": rng.after(created),
                }
            )
    _seed_teams_and_portal_users(out)
    out["Services"] = [
        {"id": _ID_START["Services"] + n, "name": name, "description": "", "invoiceDescription": name,
         "isActive": True, "unitPrice": price, "unitCost": 0.0, "periodType": 1}
        for n, (name, price) in enumerate(SERVICES)
    ]  # fmt: skip
    return out


def _seed_teams_and_portal_users(out: dict[str, list[dict[str, Any]]]) -> None:
    """Account teams on every third company, portal users for some owners (no random draws).

    Computed from the companies and contacts already seeded, so adding them left every
    earlier entity's seeded values as they were.
    """
    team_id, portal_id = _ID_START["CompanyTeams"], _ID_START["ClientPortalUsers"]
    for n, company in enumerate(out["Companies"]):
        if n % 3 == 0:
            members = [(RESOURCES[(n // 3) % 3], False)]
            if n % 15 == 0:
                members.append((RESOURCES[4], True))  # added by a co-managing partner
            for resource, comanaged in members:
                out["CompanyTeams"].append(
                    {
                        "id": team_id,
                        "companyID": company["id"],
                        "resourceID": resource,
                        "isAssociatedAsComanaged": comanaged,
                    }
                )
                team_id += 1
        if n % 4 == 1:
            owner = out["Contacts"][3 * n]
            out["ClientPortalUsers"].append(
                {
                    "id": portal_id,
                    "contactID": owner["id"],
                    "userName": owner["emailAddress"],
                    "password": None,
                    "securityLevel": 3 if n % 8 == 1 else 1,
                    "isClientPortalActive": n % 8 == 1,
                    "dateFormat": 1,
                    "timeFormat": 1,
                    "numberFormat": 1,
                }
            )
            portal_id += 1
