"""The core domain model every connector maps to and from.

Hub and spokes: a vendor record is mapped into one of these models, and only these
models travel between connectors. Each record carries its external references
(system, kind, id) so that one organization is known by its Autotask, IT Glue and
QuickBooks ids at once. References *between* records (a contact's organization, a
ticket's device) are :class:`ExternalRef` values in the system the record came from;
the sync engine translates them through the crosswalk when it writes to another
system.

The roles and attributes here are the ones the MSP procedures in ``shared/procedures``
rely on (account type, service model, authorization contacts, report and invoice
recipients, ...). Validation is strict: unknown fields and bad values fail with the
field named, so bad vendor data or a bad mapping is caught at the boundary.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "KINDS",
    "AccountType",
    "Address",
    "Alert",
    "AlertSeverity",
    "AlertState",
    "ConfigurationItem",
    "Contact",
    "ContactRole",
    "Contract",
    "ContractType",
    "Document",
    "ExternalRef",
    "InvoiceRecipient",
    "Note",
    "Organization",
    "Record",
    "ServiceModel",
    "SignatureRequest",
    "SignatureStatus",
    "SiteSummary",
    "Ticket",
    "fold_case",
    "model_for_kind",
]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ExternalRef(BaseModel):
    """Where a record lives in one vendor system: ``(system, kind, id)``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: str = Field(min_length=1, description="the name of the connector the record lives in")
    kind: str = Field(min_length=1, description="core kind, e.g. 'organization'")
    id: str = Field(min_length=1, description="the vendor's id, always as a string")

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_str(cls, value: Any) -> Any:
        # Vendors use integers (Autotask), strings (IT Glue) or GUIDs (DocuSign);
        # one string form keeps the crosswalk and comparisons uniform.
        if isinstance(value, bool):
            raise ValueError("an id cannot be a boolean")
        return str(value) if isinstance(value, int) else value

    def __str__(self) -> str:
        return f"{self.system}:{self.kind}:{self.id}"


class Record(BaseModel):
    """Base of every core record: strict fields plus external references."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_assignment=True)

    kind: ClassVar[str] = "record"

    refs: list[ExternalRef] = Field(default_factory=list)
    updated_at: datetime | None = None

    def ref(self, system: str) -> ExternalRef | None:
        """The reference of this record in ``system``, if it has one."""
        return next((r for r in self.refs if r.system == system), None)

    def ref_id(self, system: str) -> str | None:
        ref = self.ref(system)
        return ref.id if ref else None

    def with_ref(self, system: str, id: str | int) -> Record:
        """A copy that also carries its id in ``system`` (replacing an older one)."""
        refs = [r for r in self.refs if r.system != system]
        refs.append(ExternalRef(system=system, kind=self.kind, id=str(id)))
        return self.model_copy(update={"refs": refs})


class AccountType(StrEnum):
    prospect = "prospect"
    customer = "customer"
    inactive = "inactive"
    vendor = "vendor"
    partner = "partner"
    other = "other"


class ServiceModel(StrEnum):
    """Break/fix customers pay per job; managed-services (MSA/RMM) customers per contract."""

    break_fix = "break_fix"
    managed_services = "managed_services"


class ContactRole(StrEnum):
    primary = "primary"
    primary_authorization = "primary_authorization"
    secondary_authorization = "secondary_authorization"
    report_recipient = "report_recipient"
    invoice_recipient = "invoice_recipient"
    portal_user = "portal_user"
    billing = "billing"


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    street1: str | None = None
    street2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


class Organization(Record):
    """A customer (or prospect) account: an Autotask company, an IT Glue organization."""

    kind: ClassVar[str] = "organization"

    name: str = Field(min_length=1, max_length=255)
    account_type: AccountType | None = None
    service_model: ServiceModel | None = None
    classification: str | None = Field(default=None, description="e.g. R0 residential, BN business")
    active: bool = True
    phone: str | None = None
    website: str | None = None
    address: Address | None = None
    parent: ExternalRef | None = None
    account_team: list[str] = Field(default_factory=list, description="resource ids or names")
    primary_contact: ExternalRef | None = None
    tax_region: str | None = None
    tax_id: str | None = None
    invoice_attention: str | None = Field(default=None, description="billing contact on invoices")
    billing_address: Address | None = None
    help_desk: str | None = Field(default=None, description="Help Desk service level, e.g. 'none'")
    invoice_recipients: list[str] = Field(
        default_factory=list, description="addresses that receive the customer's invoices (accounting)"
    )
    udfs: dict[str, str | None] = Field(default_factory=dict, description="user-defined fields by label")


class Contact(Record):
    """A person at a customer, with the roles the procedures rely on."""

    kind: ClassVar[str] = "contact"

    organization: ExternalRef | None = None
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = None
    mobile_phone: str | None = None
    title: str | None = None
    active: bool = True
    roles: set[ContactRole] = Field(default_factory=set)
    client_portal: bool = False
    portal_security_level: str | None = None
    permissions: list[str] = Field(default_factory=list, description="what an authority may approve")

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not _EMAIL.match(value):
            raise ValueError(f"not an e-mail address: {value!r}")
        return value

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    def has_role(self, role: ContactRole) -> bool:
        return role in self.roles


class Ticket(Record):
    """A PSA ticket. Status, priority and queue are the PSA's picklist *labels*."""

    kind: ClassVar[str] = "ticket"

    organization: ExternalRef | None = None
    contact: ExternalRef | None = None
    title: str = Field(min_length=1, max_length=255)
    description: str | None = None
    status: str | None = None
    priority: str | None = None
    queue: str | None = None
    ticket_type: str | None = None
    issue_type: str | None = None
    sub_issue_type: str | None = None
    category: str | None = Field(default=None, description="ticket category (a PSA label)")
    source: str | None = None
    due_date: datetime | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    configuration_item: ExternalRef | None = None
    contract: ExternalRef | None = None
    primary_resource: str | None = Field(default=None, description="the person assigned, by name (or the PSA's id)")
    resource_role: str | None = Field(default=None, description="the role the assignment is made in, by name")
    assigned_to: str | None = Field(
        default=None, description="the PSA's id of the person the ticket is assigned to, as read (none: nobody)"
    )
    last_activity_at: datetime | None = Field(default=None, description="when someone last acted on the ticket")
    last_activity_by: str | None = Field(
        default=None, description="who acted last: 'customer' (a contact of the account) or 'staff'"
    )
    external_key: str | None = Field(default=None, description="stable dedup key, e.g. of an RMM alert")

    @field_validator("primary_resource", "resource_role", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        """A person may give the PSA's id (a number) where a name is expected."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ContractType(StrEnum):
    time_and_materials = "time_and_materials"
    fixed_price = "fixed_price"
    block_hours = "block_hours"
    retainer = "retainer"
    incident = "incident"
    recurring_service = "recurring_service"
    per_ticket = "per_ticket"


class Contract(Record):
    kind: ClassVar[str] = "contract"

    organization: ExternalRef | None = None
    name: str = Field(min_length=1, max_length=255)
    contract_type: ContractType | None = None
    active: bool = True
    start_date: date | None = None
    end_date: date | None = None
    service_level_agreement: str | None = None
    is_default: bool = False


class ConfigurationItem(Record):
    """A device: an RMM device, a PSA configuration item (asset)."""

    kind: ClassVar[str] = "configuration_item"

    organization: ExternalRef | None = None
    name: str = Field(min_length=1, max_length=255)
    serial_number: str | None = None
    os: str | None = None
    device_class: str | None = None
    last_seen: datetime | None = None
    active: bool = True
    contract: ExternalRef | None = None
    product: str | None = None


class AlertSeverity(StrEnum):
    information = "information"
    warning = "warning"
    critical = "critical"

    @property
    def rank(self) -> int:
        return {"information": 0, "warning": 1, "critical": 2}[self.value]


class AlertState(StrEnum):
    open = "open"
    cleared = "cleared"


def fold_case(text: str) -> str:
    """``text`` without surrounding space, in one case whatever case a vendor sends it in.

    ``casefold`` alone is not enough: the dotless i (U+0131) folds to itself while its
    upper case ``I`` folds to ``i``, so a word with it and the same word from a system
    that upper-cases would be two problems and open two tickets. Folding the upper case
    makes every case variant of a text fold alike (U+0131 is the one character of
    Unicode where the two differ).
    """
    return text.strip().upper().casefold()


class Alert(Record):
    """An RMM alert (an N-central active issue).

    ``dedup_key`` identifies the *problem*, not one notification of it: the device, the
    service and the condition, never the alert text or a timestamp (which change on
    every poll and once opened a new ticket each time in other tools).
    """

    kind: ClassVar[str] = "alert"

    organization: ExternalRef | None = None
    device: ExternalRef | None = None
    device_name: str | None = None
    service: str = Field(min_length=1)
    condition: str = Field(min_length=1)
    severity: AlertSeverity = AlertSeverity.warning
    state: AlertState = AlertState.open
    message: str | None = None
    triggered_at: datetime | None = None
    cleared_at: datetime | None = None

    @property
    def dedup_key(self) -> str:
        device = self.device.id if self.device else (self.device_name or "-")
        system = self.device.system if self.device else "-"
        return f"{system}|{device}|{fold_case(self.service)}|{fold_case(self.condition)}"


class SignatureStatus(StrEnum):
    created = "created"
    sent = "sent"
    delivered = "delivered"
    completed = "completed"
    declined = "declined"
    voided = "voided"

    @property
    def final(self) -> bool:
        return self in (SignatureStatus.completed, SignatureStatus.declined, SignatureStatus.voided)


class SignatureRequest(Record):
    """An envelope sent for signature (terms and conditions)."""

    kind: ClassVar[str] = "signature_request"

    organization: ExternalRef | None = None
    subject: str | None = None
    signer_name: str | None = None
    signer_email: str | None = None
    template_id: str | None = None
    status: SignatureStatus = SignatureStatus.created
    sent_at: datetime | None = None
    completed_at: datetime | None = None
    declined_reason: str | None = None
    custom_fields: dict[str, str] = Field(default_factory=dict)


class InvoiceRecipient(Record):
    """An address that receives a customer's invoices in accounting."""

    kind: ClassVar[str] = "invoice_recipient"

    organization: ExternalRef | None = None
    email: str = Field(min_length=3, max_length=254)
    name: str | None = None
    source: str = Field(default="customer", description="'customer' address or seen on an 'invoice'")

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"not an e-mail address: {value!r}")
        return value


class SiteSummary(Record):
    """The documentation platform's per-customer Site Summary.

    ``fields`` holds every other trait by label, so an update can send back what the hub
    does not manage (IT Glue replaces all traits on update).
    """

    kind: ClassVar[str] = "site_summary"

    organization: ExternalRef | None = None
    name: str | None = None
    points_of_contact: list[str] = Field(default_factory=list)
    primary_authorization: str | None = None
    secondary_authorization: str | None = None
    authorization_permissions: str | None = None
    report_recipients: list[str] = Field(default_factory=list)
    fields: dict[str, Any] = Field(default_factory=dict)


class Note(Record):
    """A note on a ticket or an organization (Autotask TicketNotes / CompanyNotes)."""

    kind: ClassVar[str] = "note"

    organization: ExternalRef | None = None
    ticket: ExternalRef | None = None
    title: str | None = None
    body: str = ""
    created_at: datetime | None = None
    created_by: str | None = None
    publish: str | None = Field(default=None, description="who may see the note: a label of the PSA's picklist")


class Document(Record):
    """A file kept for a customer, such as a signed terms-and-conditions PDF."""

    kind: ClassVar[str] = "document"

    organization: ExternalRef | None = None
    name: str = Field(min_length=1)
    path: str | None = None
    content_type: str = "application/pdf"
    size: int | None = Field(default=None, ge=0)
    sha256: str | None = None
    source: ExternalRef | None = None


KINDS: dict[str, type[Record]] = {
    cls.kind: cls
    for cls in (
        Organization,
        Contact,
        Ticket,
        Contract,
        ConfigurationItem,
        Alert,
        SignatureRequest,
        InvoiceRecipient,
        SiteSummary,
        Note,
        Document,
    )
}


def model_for_kind(kind: str) -> type[Record]:
    """The model class of a core kind; a clear error lists the known kinds."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}") from None
