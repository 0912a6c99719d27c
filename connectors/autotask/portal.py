"""Client Portal access for a contact (``activate_client_portal``), and portal passwords.

A contact's portal login is its ClientPortalUsers record (``POST``/``PATCH
V1.0/ClientPortalUsers``): ``contactID`` (fixed once created), a unique ``userName``,
the ``securityLevel`` picklist, ``isClientPortalActive`` and the required date, time and
number format picklists. Autotask never deletes a portal user; it deactivates it.

The action is idempotent by nature: it looks the contact's portal user up by
``contactID`` first, so a step retried after a crash finds the user its first attempt
created and only changes what still differs (a re-activation, another security level).

The password is required on create and never answered by the API. When the workflow
gives none, one is generated (:func:`generate_password`, the ``secrets`` module) and
forgotten: it is not returned, logged or stored, and the contact sets their own through
the portal's password reset. A given or generated password is added to the HTTP
client's redactor before it is sent, so no error can repeat it.
"""

from __future__ import annotations

import secrets
import string
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, SecretStr

from hub.sdk import RecordRejected, create_once

if TYPE_CHECKING:
    from .connector import AutotaskConnector

__all__ = [
    "PORTAL_ENTITY",
    "ActivatePortalParams",
    "activate_client_portal",
    "check_password",
    "generate_password",
]

PORTAL_ENTITY = "ClientPortalUsers"
#: Autotask: 5 to 50 printable characters, no single quotes, no spaces
PASSWORD_MIN, PASSWORD_MAX = 5, 50
_SYMBOLS = "!#$%&*+-=?^_~"
_FORMATS = (("date_format", "dateFormat"), ("time_format", "timeFormat"), ("number_format", "numberFormat"))


class ActivatePortalParams(BaseModel):
    """Whose portal to activate, at which security level; labels as shown in Autotask."""

    contact_id: int = Field(gt=0)
    security_level: str | None = Field(
        default=None, min_length=1, description="securityLevel label (none: the picklist's default)"
    )
    user_name: str | None = Field(
        default=None, min_length=1, max_length=200, description="default: the contact's e-mail address"
    )
    password: SecretStr | None = Field(default=None, description="none: one is generated and not kept")
    date_format: str | None = Field(default=None, min_length=1, description="dateFormat label")
    time_format: str | None = Field(default=None, min_length=1, description="timeFormat label")
    number_format: str | None = Field(default=None, min_length=1, description="numberFormat label")


def generate_password(length: int = 24) -> str:
    """A random password within Autotask's rules, with a lower, upper, digit and symbol."""
    alphabet = string.ascii_letters + string.digits + _SYMBOLS
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in candidate)
            and any(c.isupper() for c in candidate)
            and any(c.isdigit() for c in candidate)
            and any(c in _SYMBOLS for c in candidate)
        ):
            return candidate


def check_password(password: str) -> None:
    """Autotask's documented rules, checked before sending; the message never holds the value."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise RecordRejected(f"autotask: a portal password has {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    if any(c == "'" or c.isspace() or not c.isprintable() for c in password):
        raise RecordRejected("autotask: a portal password has printable characters only, no quotes or spaces")


def activate_client_portal(at: AutotaskConnector, params: ActivatePortalParams) -> dict[str, Any]:
    """Create the contact's portal user, or re-activate and adjust the one it has."""
    contact = at.get("Contacts", str(params.contact_id))
    level = _label_value(at, "securityLevel", params.security_level)
    formats = {api: _label_value(at, api, getattr(params, name)) for name, api in _FORMATS}
    given = params.password.get_secret_value() if params.password is not None else None
    existing = at.find(PORTAL_ENTITY, {"contactID": params.contact_id})
    if existing:
        user = existing[0]
        changes: dict[str, Any] = {}
        if not user.get("isClientPortalActive"):
            changes["isClientPortalActive"] = True
        if user.get("securityLevel") != level:
            changes["securityLevel"] = level
        if params.user_name and params.user_name != user.get("userName"):
            changes["userName"] = params.user_name
        for name, api in _FORMATS:
            if getattr(params, name) is not None and user.get(api) != formats[api]:
                changes[api] = formats[api]
        if given is not None:
            changes["password"] = given
        if changes:
            at.update(PORTAL_ENTITY, str(user["id"]), changes)
        outcome = (
            "re-activated"
            if "isClientPortalActive" in changes
            else "updated"
            if changes
            else "already active"
        )
        user_id, user_name = str(user["id"]), str(changes.get("userName", user.get("userName")))
        password = "given" if given is not None else "unchanged"
    else:
        user_name = params.user_name or str(contact.get("emailAddress") or "").strip()
        if not user_name:
            raise RecordRejected(
                f"autotask: contact {params.contact_id} has no e-mail address for a portal user name; give user_name"
            )
        payload = {
            "contactID": params.contact_id,
            "userName": user_name,
            "securityLevel": level,
            "isClientPortalActive": True,
            **formats,
        }
        if given is not None:
            payload["password"] = given
        user_id = create_once(at, PORTAL_ENTITY, payload).id
        outcome = "created"
        password = "given" if given is not None else "generated"
    at.log.info(
        "autotask.client_portal", contact_id=params.contact_id, portal_user_id=user_id, outcome=outcome
    )
    return {
        "id": user_id,
        "contact_id": str(params.contact_id),
        "user_name": user_name,
        "security_level": at.picklist_label(PORTAL_ENTITY, "securityLevel", level),
        "active": True,
        "outcome": outcome,
        "password_source": password,
    }


def _label_value(at: AutotaskConnector, field: str, label: str | None) -> Any:
    """The stored value of a picklist label; without a label, the picklist's default."""
    if label is None:
        return at.vocabulary.default(PORTAL_ENTITY, field)
    return at.picklist_value(PORTAL_ENTITY, field, label)
