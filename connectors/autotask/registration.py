"""Registering the hub's Autotask webhooks through the REST API, idempotently.

Autotask has one webhook resource per entity that can call out: ``CompanyWebhooks``,
``ContactWebhooks``, ``ConfigurationItemWebhooks``, ``TicketWebhooks`` and
``TicketNoteWebhooks`` (the 2020 swagger in ``shared/vendor-specs`` has only the first
two; the live API serves all five with the same model). A webhook is built in steps:

1. ``POST V1.0/{Name}Webhooks`` with ``webhookUrl``, ``deactivationUrl``, ``secretKey``
   and ``name`` (all four required) and the create/update/delete subscriptions;
2. one ``POST V1.0/{Name}Webhooks/{id}/Fields`` per field: ``isSubscribedField`` (a
   change to it triggers an update callout) and/or ``isDisplayAlwaysField`` (it is in
   every payload). Fields are named by their internal ``fieldID``, listed as the
   picklist of ``fieldID`` in ``V1.0/{Name}WebhookFields/entityInformation/fields``
   (labels are the REST field names);
3. ``PATCH`` ``isReady: true`` once the fields are in place, so Autotask never calls out
   with a half-built field list. A run interrupted between the steps leaves a webhook
   that is not ready; the next run finds it by URL and finishes it.

Idempotence: the hub's webhook for an entity is the one whose ``webhookUrl`` is the
receiver URL. Running twice creates nothing: an existing webhook gets only the missing
fields and, if Autotask deactivated it (25 failed deliveries in a row) or it is not
ready, one PATCH that re-activates it with the current ``HUB_AUTOTASK__WEBHOOK_SECRET``.

``deactivationUrl`` is the receiver URL too: Autotask's deactivation notice
(``Action: "Deactivated"``) then reaches ``/webhooks/autotask``, is verified like any
callout and becomes a ``webhook.deactivated`` event (see :mod:`.webhooks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from hub.sdk import ConfigError, VendorError

from .query import cond, query_body

if TYPE_CHECKING:
    from .connector import AutotaskConnector

__all__ = ["HOOKS", "HookSpec", "register_webhooks"]

#: documented column sizes of the webhook entity
MAX_URL = 500
MAX_SECRET = 64
#: a field record's flags, in the order the API names them
_FLAGS = ("isSubscribedField", "isDisplayAlwaysField")


@dataclass(frozen=True)
class HookSpec:
    """The hub's webhook for one entity: which field changes call out, which always ride along."""

    entity: str
    #: singular resource prefix: ``Ticket`` -> ``TicketWebhooks``, ``TicketWebhookFields``
    prefix: str
    #: the fields the hub maps: a change to any of them is a change the hub must sync
    subscribed: tuple[str, ...]
    #: parent ids that let the hub correlate a callout without reading the record
    display_always: tuple[str, ...] = ()

    @property
    def resource(self) -> str:
        return f"{self.prefix}Webhooks"

    @property
    def field_resource(self) -> str:
        return f"{self.prefix}WebhookFields"

    @property
    def name(self) -> str:
        return f"msp-hub {self.prefix}"

    def wanted(self) -> dict[str, dict[str, bool]]:
        """Field name -> the flags its field record must carry."""
        names = dict.fromkeys((*self.subscribed, *self.display_always))
        return {
            n: {"isSubscribedField": n in self.subscribed, "isDisplayAlwaysField": n in self.display_always}
            for n in names
        }


HOOKS: tuple[HookSpec, ...] = (
    HookSpec(
        "Companies",
        "Company",
        (
            "companyName",
            "companyType",
            "classification",
            "isActive",
            "phone",
            "webAddress",
            "address1",
            "address2",
            "city",
            "state",
            "postalCode",
            "parentCompanyID",
            "taxRegionID",
            "taxID",
            "billToAttention",
            "billingAddress1",
            "billToCity",
            "billToState",
            "billToZipCode",
        ),
    ),
    HookSpec(
        "Contacts",
        "Contact",
        (
            "companyID",
            "firstName",
            "lastName",
            "emailAddress",
            "phone",
            "mobilePhone",
            "title",
            "isActive",
            "primaryContact",
        ),
        display_always=("companyID",),
    ),
    HookSpec(
        "ConfigurationItems",
        "ConfigurationItem",
        ("companyID", "contractID", "referenceTitle", "serialNumber", "configurationItemType", "isActive"),
        display_always=("companyID",),
    ),
    HookSpec(
        "Tickets",
        "Ticket",
        (
            "companyID",
            "contactID",
            "configurationItemID",
            "contractID",
            "title",
            "description",
            "status",
            "priority",
            "queueID",
            "ticketType",
            "issueType",
            "subIssueType",
            "source",
            "dueDateTime",
            "completedDate",
            "externalID",
        ),
        display_always=("companyID", "contactID"),
    ),
    HookSpec("TicketNotes", "TicketNote", ("title", "description", "publish"), display_always=("ticketID",)),
)


def _check(url: str, key: SecretStr | None) -> str:
    if key is None:
        raise ConfigError(
            "HUB_AUTOTASK__WEBHOOK_SECRET: required to register webhooks "
            "(Autotask signs every callout with it and the receiver checks it)"
        )
    secret = key.get_secret_value()
    if not secret or len(secret) > MAX_SECRET:
        raise ConfigError(
            f"HUB_AUTOTASK__WEBHOOK_SECRET: must be 1 to {MAX_SECRET} characters (Autotask's limit)"
        )
    if len(url) > MAX_URL:
        raise ConfigError(
            f"HUB_PUBLIC_URL: the webhook URL must be at most {MAX_URL} characters for Autotask"
        )
    return secret


def register_webhooks(connector: AutotaskConnector, url: str) -> list[str]:
    """Create, complete or re-activate the hub's webhook for every entity; one line each."""
    secret = _check(url, connector.settings.webhook_secret)
    return [_Registrar(connector, spec, url, secret).run() for spec in HOOKS]


class _Registrar:
    """One entity's webhook brought to the wanted state."""

    def __init__(self, connector: AutotaskConnector, spec: HookSpec, url: str, secret: str) -> None:
        self.connector = connector
        self.spec = spec
        self.url = url
        self.secret = secret

    def run(self) -> str:
        ids = self._field_ids()
        existing = self._existing()
        if existing is None:
            hook_id = self._create()
            self._complete_fields(hook_id, ids, {})
            self._patch(hook_id, {"isReady": True})
            return self._line(hook_id, "created")
        hook_id = int(existing["id"])
        added = self._complete_fields(hook_id, ids, self._field_records(hook_id))
        changes = self._changes(existing)
        if changes:
            # re-activating: the current key goes with it, so a rotated secret heals here
            self._patch(hook_id, {**changes, "secretKey": self.secret})
        if existing.get("isActive") is not True:
            return self._line(hook_id, "re-activated")
        if changes or added:
            return self._line(hook_id, "updated")
        return self._line(hook_id, "already active")

    def _line(self, hook_id: int, status: str) -> str:
        return f"{self.spec.prefix} webhook {hook_id}: {status}"

    def _field_ids(self) -> dict[str, int]:
        """Field name -> fieldID, from the ``fieldID`` picklist of the webhook-field entity."""
        path = f"V1.0/{self.spec.field_resource}/entityInformation/fields"
        fields = self.connector.call("GET", path).json().get("fields") or []
        picklist = next(
            (f.get("picklistValues") for f in fields if str(f.get("name")).casefold() == "fieldid"), None
        )
        known = {
            str(p.get("label")).casefold(): int(p["value"]) for p in picklist or [] if p.get("isActive", True)
        }
        wanted = self.spec.wanted()
        missing = [n for n in wanted if n.casefold() not in known]
        if missing:
            raise VendorError(
                f"{self.spec.field_resource} offers no webhook field {', '.join(missing)}",
                connector=self.connector.name,
                url=path,
            )
        return {n: known[n.casefold()] for n in wanted}

    def _existing(self) -> dict[str, Any] | None:
        """The hub's webhook (the oldest one calling ``url``), if there is one."""
        body = query_body(cond("eq", "webhookUrl", self.url))
        found = [r for page in self.connector.query_pages(self.spec.resource, body) for r in page.records]
        return min(found, key=lambda r: int(r["id"])) if found else None

    def _create(self) -> int:
        body = {
            "name": self.spec.name,
            "webhookUrl": self.url,
            "deactivationUrl": self.url,
            "secretKey": self.secret,
            "isActive": True,
            "isReady": False,
            "isSubscribedToCreateEvents": True,
            "isSubscribedToUpdateEvents": True,
            "isSubscribedToDeleteEvents": True,
            "sendThresholdExceededNotification": False,
        }
        return int(self.connector.item_id(self.connector.call("POST", f"V1.0/{self.spec.resource}", json=body)))

    def _changes(self, record: dict[str, Any]) -> dict[str, Any]:
        wanted: dict[str, Any] = {
            "isActive": True,
            "isReady": True,
            "isSubscribedToCreateEvents": True,
            "isSubscribedToUpdateEvents": True,
            "isSubscribedToDeleteEvents": True,
            "deactivationUrl": self.url,
        }
        return {k: v for k, v in wanted.items() if record.get(k) != v}

    def _patch(self, hook_id: int, changes: dict[str, Any]) -> None:
        self.connector.call("PATCH", f"V1.0/{self.spec.resource}", json={"id": hook_id, **changes})

    def _field_records(self, hook_id: int) -> dict[int, dict[str, Any]]:
        """The webhook's field records by ``fieldID``."""
        body = query_body(cond("eq", "webhookID", hook_id))
        pages = self.connector.query_pages(self.spec.field_resource, body)
        return {int(r["fieldID"]): r for page in pages for r in page.records}

    def _complete_fields(self, hook_id: int, ids: dict[str, int], current: dict[int, dict[str, Any]]) -> int:
        """Add the missing field records and widen the flags of existing ones; how many changed."""
        path = f"V1.0/{self.spec.resource}/{hook_id}/Fields"
        changed = 0
        for name, flags in self.spec.wanted().items():
            record = current.get(ids[name])
            if record is None:
                self.connector.call("POST", path, json={"webhookID": hook_id, "fieldID": ids[name], **flags})
                changed += 1
                continue
            widen = {f: True for f in _FLAGS if flags[f] and record.get(f) is not True}
            if widen:
                self.connector.call("PATCH", path, json={"id": int(record["id"]), **widen})
                changed += 1
        return changed
