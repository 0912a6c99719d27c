"""Templates named by name, and forms: an envelope whose fields the signer fills, read back.

A template is named in a workflow by its name, never by its id (ids differ per account):
``GET templates?search_text=<name>`` (eSignature v2.1 ``Templates_GetTemplates``,
answering ``envelopeTemplateResults.envelopeTemplates[]``) finds it, and the one whose
name is exactly that (case aside) is used; none or several is a configuration error.
The template's roles come from ``GET templates/{id}/recipients`` (``signers[]`` and
``carbonCopies[]``, each with ``roleName`` and ``routingOrder``): the form goes to its
first signer role, and a copy to its first carbon-copy role (the account's primary
contact, in the authorization-contact procedure).

What the signer typed is read with ``GET envelopes/{id}/form_data``
(``FormData_GetFormData``, ``envelopeFormData.formData[]`` of ``{name, value}``): the
tab labels and their values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.sdk import ConfigError, VendorError

if TYPE_CHECKING:
    from .connector import DocuSignConnector

__all__ = ["FormDataParams", "SendFormParams", "TemplateRoles", "form_data", "template_by_name", "template_roles"]

#: DocuSign's limit on ``search_text``
SEARCH_MAX = 48


def _email(value: str | None) -> str | None:
    if value is not None and ("@" not in value or value.strip() != value or " " in value):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


class SendFormParams(BaseModel):
    """A template (by name) sent to a signer who fills its fields, optionally copied to someone."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    template: str = Field(min_length=1, max_length=100, description="the template's name in DocuSign")
    signer_name: str = Field(min_length=1, max_length=100)
    signer_email: str = Field(min_length=3, max_length=100)
    cc_name: str | None = Field(default=None, max_length=100, description="who gets a copy (the primary contact)")
    cc_email: str | None = Field(default=None, max_length=100)
    organization_name: str = Field(min_length=1, max_length=100)
    organization_ref: str | None = Field(default=None, max_length=100, description="the PSA's id of the organization")
    email_subject: str | None = Field(default=None, max_length=100)
    reuse_within_days: int | None = Field(
        default=None,
        gt=0,
        description="reuse the form this workflow step sent this signer for this organization within so many days "
        "(out for signature or completed) instead of sending it again",
    )

    _emails = field_validator("signer_email", "cc_email")(_email)


class FormDataParams(BaseModel):
    """The envelope whose filled fields to read."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    envelope_id: str = Field(min_length=1)


class TemplateRoles(BaseModel):
    """A template's first signer role and first carbon-copy role (by routing order)."""

    signer: str
    carbon_copy: str | None = None


def template_by_name(ds: DocuSignConnector, name: str) -> str:
    """The id of the account's template named ``name`` (cached in the connector's state)."""
    key = f"template_by_name:{name.casefold()}"
    cached = ds.context.state.get(key)
    if isinstance(cached, str) and cached:
        return cached
    found: list[dict[str, Any]] = []
    start = 0
    while True:
        body = ds.client().get(
            "templates", params={"search_text": name[:SEARCH_MAX], "start_position": start, "count": 100}
        ).json()
        page = [t for t in body.get("envelopeTemplates") or [] if isinstance(t, dict)]
        found += [t for t in page if str(t.get("name", "")).casefold() == name.casefold()]
        total = int(body.get("totalSetSize") or 0)
        start += len(page)
        if not page or start >= total:
            break
    if len(found) != 1:
        what = "no template" if not found else f"{len(found)} templates"
        raise ConfigError(f"docusign: {what} named {name!r} in account {ds.settings.account_id}")
    template_id = str(found[0]["templateId"])
    ds.context.state.set(key, template_id)
    return template_id


def template_roles(ds: DocuSignConnector, template_id: str) -> TemplateRoles:
    """The template's signer and carbon-copy roles (cached in the connector's state)."""
    key = f"template_roles:{template_id}"
    cached = ds.context.state.get(key)
    if isinstance(cached, dict) and cached.get("signer"):
        return TemplateRoles.model_validate(cached)
    try:
        body = ds.client().get(f"templates/{quote(template_id, safe='')}/recipients").json()
    except VendorError as exc:
        raise ConfigError(f"docusign: template {template_id} unusable: {exc}") from None

    def first(kind: str) -> str | None:
        roles = sorted(
            (r for r in body.get(kind) or [] if isinstance(r, dict) and r.get("roleName")),
            key=lambda r: int(r.get("routingOrder") or 1),
        )
        return str(roles[0]["roleName"]) if roles else None

    signer = first("signers")
    if signer is None:
        raise ConfigError(f"docusign: template {template_id} has no signer role")
    roles = TemplateRoles(signer=signer, carbon_copy=first("carbonCopies"))
    ds.context.state.set(key, roles.model_dump())
    return roles


def form_data(ds: DocuSignConnector, envelope_id: str) -> dict[str, Any]:
    """The envelope's filled fields: ``fields`` (label -> value) and ``text`` (one ``label: value`` a line)."""
    try:
        body = ds.client().get(f"{ds._envelope_path(envelope_id)}/form_data").json()
    except VendorError as exc:
        raise ds._not_found(exc, envelope_id) from None
    fields: dict[str, str] = {}
    for item in body.get("formData") or []:
        if isinstance(item, dict) and item.get("name"):
            fields[str(item["name"])] = str(item.get("value") or "")
    return {
        "envelope_id": envelope_id,
        "status": body.get("status"),
        "fields": fields,
        "text": "\n".join(f"{name}: {value}" for name, value in fields.items()),
    }
