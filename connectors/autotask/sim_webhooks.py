"""The simulator's webhook resources: ``{Name}Webhooks``, their ``Fields`` and the callouts they make.

What it imitates (Autotask's webhook documentation and the ``CompanyWebhookModel`` /
``CompanyWebhookFieldModel`` of the swagger, in the live API's camelCase):

* one resource per entity that calls out (``CompanyWebhooks``, ``ContactWebhooks``,
  ``ConfigurationItemWebhooks``, ``TicketWebhooks``, ``TicketNoteWebhooks``), queried,
  created (``name``, ``webhookUrl``, ``deactivationUrl`` and ``secretKey`` required)
  and PATCHed like any entity; ``webhookGUID`` and ``ownerResourceID`` are set by the API;
  ``secretKey`` is write-only (never answered);
* ``{Name}Webhooks/{id}/Fields`` (POST, PATCH) and ``{Name}WebhookFields/query``: field
  records naming a field by ``fieldID``, the ids listed as the ``fieldID`` picklist of
  ``{Name}WebhookFields/entityInformation/fields``;
* a webhook calls out only when active and ready; ``isReady`` needs at least one field
  record ("at least one callout field must be present"); an update calls out only when
  a subscribed field changed, with the display-always fields in ``Fields``;
* each webhook counts its failed deliveries; the 25th in a row deactivates it and its
  ``deactivationUrl`` gets a ``Deactivated`` notice signed with its own key. PATCHing
  ``isActive`` back to true re-activates it with a fresh count.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .sim_data import SCHEMAS, EntitySchema, stamp
from .sim_store import QueryError, compile_filter

__all__ = ["PREFIXES", "Hook", "HookError", "HookRegistry", "hook_resource"]

#: resource prefix -> the entity it calls out for
PREFIXES = {
    "Company": "Companies",
    "Contact": "Contacts",
    "ConfigurationItem": "ConfigurationItems",
    "Ticket": "Tickets",
    "TicketNote": "TicketNotes",
}
MAX_FAILED_DELIVERIES = 25
_HOOK_FIELDS = (
    "id",
    "name",
    "webhookUrl",
    "deactivationUrl",
    "secretKey",
    "isActive",
    "isReady",
    "isSubscribedToCreateEvents",
    "isSubscribedToUpdateEvents",
    "isSubscribedToDeleteEvents",
    "notificationEmailAddress",
    "ownerResourceID",
    "sendThresholdExceededNotification",
    "webhookGUID",
)
_FIELD_FIELDS = ("id", "webhookID", "fieldID", "isSubscribedField", "isDisplayAlwaysField")
_REQUIRED = ("name", "webhookUrl", "deactivationUrl", "secretKey")
_SET_BY_API = ("id", "webhookGUID", "ownerResourceID")
_LIMITS = {
    "name": 50,
    "webhookUrl": 500,
    "deactivationUrl": 500,
    "secretKey": 64,
    "notificationEmailAddress": 150,
}
_BOOLEANS = tuple(f for f in _HOOK_FIELDS if f.startswith(("is", "send")))


class HookError(Exception):
    """A refusal in Autotask's shape: ``status`` and the ``errors`` text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def hook_resource(name: str) -> tuple[str, str] | None:
    """``("Ticket", "hooks")`` for ``TicketWebhooks``, ``(..., "fields")`` for ``...WebhookFields``."""
    lowered = name.casefold()
    for prefix in PREFIXES:
        if lowered == f"{prefix}webhooks".casefold():
            return prefix, "hooks"
        if lowered == f"{prefix}webhookfields".casefold():
            return prefix, "fields"
    return None


@dataclass
class Hook:
    """One registered webhook: its record, its field records and its delivery state."""

    prefix: str
    record: dict[str, Any]
    fields: dict[int, dict[str, Any]] = field(default_factory=dict)
    failed: int = 0
    sequence: int = 0

    @property
    def secret(self) -> bytes:
        return str(self.record["secretKey"]).encode("utf-8")

    def answer(self) -> dict[str, Any]:
        return {k: v for k, v in self.record.items() if k != "secretKey"}


def _schema(name: str, fields: tuple[str, ...]) -> EntitySchema:
    return EntitySchema(name, fields, required=(), read_only=(), dates=(), has_udfs=False)


class HookRegistry:
    """Every ``{Name}Webhooks`` table of one simulated database (callers hold the simulator lock)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.hooks: dict[str, dict[int, Hook]] = {p: {} for p in PREFIXES}
        #: ids are per entity ("the first webhook you create for Account has ID = 1")
        self.next_id = dict.fromkeys(PREFIXES, 1)
        self.next_field_id = dict.fromkeys(PREFIXES, 1)
        #: prefix -> field name -> fieldID (stable, like Autotask's internal ids)
        self.catalog = {
            prefix: {
                name: 1000 * (n + 1) + i for i, name in enumerate(SCHEMAS[entity].fields) if name != "id"
            }
            for n, (prefix, entity) in enumerate(PREFIXES.items())
        }

    # -- the API ------------------------------------------------------------------------

    def query(self, prefix: str, kind: str, search: dict[str, Any]) -> list[dict[str, Any]]:
        filters = search.get("Filter") or search.get("filter")
        if not isinstance(filters, list) or not filters:
            raise HookError(500, "A query must contain at least one filter.")
        name = f"{prefix}Webhook" if kind == "hooks" else f"{prefix}WebhookField"
        schema = _schema(name, _HOOK_FIELDS if kind == "hooks" else _FIELD_FIELDS)
        try:
            preds = [compile_filter(f, schema, ()) for f in filters]
        except QueryError as exc:
            raise HookError(500, str(exc)) from None
        hooks = self.hooks[prefix].values()
        rows = (
            [h.answer() for h in hooks]
            if kind == "hooks"
            else [dict(f) for h in hooks for f in h.fields.values()]
        )
        return sorted((r for r in rows if all(p(r) for p in preds)), key=lambda r: r["id"])

    def create(self, prefix: str, body: Any, actor: int) -> int:
        values = self._values(prefix, body, create=True)
        missing = [f for f in _REQUIRED if values.get(f) in (None, "")]
        if missing:
            raise HookError(500, "; ".join(f"Value is required for field {f}." for f in missing))
        if values.get("isReady"):
            raise HookError(500, "A webhook needs at least one webhook field before it is ready.")
        rid = self.next_id[prefix]
        self.next_id[prefix] += 1
        record = dict.fromkeys(_HOOK_FIELDS)
        record.update({b: False for b in _BOOLEANS})
        record.update(values)
        record.update(
            id=rid, ownerResourceID=actor, webhookGUID=str(uuid.UUID(int=(self.seed << 96) + (1 << 64) + rid))
        )
        self.hooks[prefix][rid] = Hook(prefix, record)
        return rid

    def update(self, prefix: str, body: Any) -> int:
        hook = self._hook(prefix, body.get("id") if isinstance(body, dict) else None)
        values = self._values(prefix, body, create=False)
        if values.get("isReady") and not hook.fields:
            raise HookError(500, "A webhook needs at least one webhook field before it is ready.")
        if values.get("isActive") and not hook.record["isActive"]:
            hook.failed = 0
        hook.record.update(values)
        return int(hook.record["id"])

    def add_field(self, prefix: str, hook_id: int, body: Any) -> int:
        hook = self._hook(prefix, hook_id)
        values = self._field_values(prefix, body)
        if values.get("webhookID", hook_id) != hook_id:
            raise HookError(500, f"webhookID {values['webhookID']} does not match the parent id {hook_id}.")
        field_id = values.get("fieldID")
        if field_id not in self.catalog[prefix].values():
            raise HookError(500, f"Value {field_id} does not exist for field fieldID.")
        if any(f["fieldID"] == field_id for f in hook.fields.values()):
            raise HookError(500, f"Field {field_id} is already part of webhook {hook_id}.")
        rid = self.next_field_id[prefix]
        self.next_field_id[prefix] += 1
        hook.fields[rid] = {
            "id": rid,
            "webhookID": hook_id,
            "fieldID": field_id,
            "isSubscribedField": bool(values.get("isSubscribedField")),
            "isDisplayAlwaysField": bool(values.get("isDisplayAlwaysField")),
        }
        return rid

    def update_field(self, prefix: str, hook_id: int, body: Any) -> int:
        hook = self._hook(prefix, hook_id)
        values = self._field_values(prefix, body)
        record = hook.fields.get(body.get("id"))
        if record is None:
            raise HookError(404, f"{prefix}WebhookField {body.get('id')} was not found.")
        for flag in ("isSubscribedField", "isDisplayAlwaysField"):
            if flag in values:
                record[flag] = bool(values[flag])
        return int(record["id"])

    def _hook(self, prefix: str, rid: Any) -> Hook:
        hook = self.hooks[prefix].get(rid) if isinstance(rid, int) and not isinstance(rid, bool) else None
        if hook is None:
            raise HookError(404, f"{prefix}Webhook {rid} was not found.")
        return hook

    def _values(self, prefix: str, body: Any, *, create: bool) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise HookError(500, "The request body must be a JSON object.")
        out: dict[str, Any] = {}
        for key, value in body.items():
            name = next((f for f in _HOOK_FIELDS if f.casefold() == key.casefold()), None)
            if name is None:
                raise HookError(500, f"Unable to find {key} in the {prefix}Webhook entity.")
            if name in _SET_BY_API:
                continue
            if name in _BOOLEANS and not isinstance(value, bool):
                raise HookError(500, f"'{value}' is not a valid boolean value for {name}.")
            limit = _LIMITS.get(name)
            if limit is not None and value is not None and len(str(value)) > limit:
                raise HookError(500, f"{name} is longer than {limit} characters.")
            out[name] = value
        return out

    def _field_values(self, prefix: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise HookError(500, "The request body must be a JSON object.")
        out: dict[str, Any] = {}
        for key, value in body.items():
            name = next((f for f in _FIELD_FIELDS if f.casefold() == key.casefold()), None)
            if name is None:
                raise HookError(500, f"Unable to find {key} in the {prefix}WebhookField entity.")
            if name != "id":
                out[name] = value
        return out

    # -- callouts -----------------------------------------------------------------------

    def targets(self, entity: str, action: str, changed: set[str]) -> list[Hook]:
        """The webhooks a change of ``entity`` calls out to."""
        out = []
        for prefix, hooks in self.hooks.items():
            if PREFIXES[prefix] != entity:
                continue
            for hook in hooks.values():
                r = hook.record
                if not (r["isActive"] and r["isReady"] and r[f"isSubscribedTo{action}Events"]):
                    continue
                if action == "Update" and not changed & self.field_names(hook, "isSubscribedField"):
                    continue
                out.append(hook)
        return out

    def field_names(self, hook: Hook, flag: str) -> set[str]:
        by_id = {v: k for k, v in self.catalog[hook.prefix].items()}
        return {by_id[f["fieldID"]] for f in hook.fields.values() if f[flag]}

    def callout(
        self, hook: Hook, action: str, record: dict[str, Any], changes: dict[str, Any], actor: int
    ) -> bytes:
        """The signed-to-be body of one callout of ``hook``."""
        shown = {k: record.get(k) for k in sorted(self.field_names(hook, "isDisplayAlwaysField"))}
        subscribed = self.field_names(hook, "isSubscribedField")
        hook.sequence += 1
        payload = {
            "Action": action,
            "Guid": hook.record["webhookGUID"],
            "EntityType": hook.prefix,
            "Id": record["id"],
            "Fields": {**shown, **{k: v for k, v in changes.items() if k in subscribed}},
            "EventTime": _now(),
            "SequenceNumber": hook.sequence,
            "PersonID": actor,
        }
        return json.dumps(payload).encode("utf-8")

    def delivered(self, hook: Hook, status: int) -> bytes | None:
        """Count one delivery; the deactivation notice to send when this failure was the 25th."""
        if 200 <= status < 300:
            hook.failed = 0
            return None
        hook.failed += 1
        if hook.failed < MAX_FAILED_DELIVERIES or not hook.record["isActive"]:
            return None
        hook.record["isActive"] = False
        notice = {"Action": "Deactivated", "Guid": hook.record["webhookGUID"], "EventTime": _now()}
        return json.dumps(notice).encode("utf-8")


def _now() -> str:
    return stamp(datetime.now(UTC))
