"""The DocuSign eSignature connector: terms and conditions out, status and signed PDFs back.

* ``send_terms`` sends the terms-and-conditions template to a contact, and
  ``send_form`` a template named by name whose fields the contact fills (copied to
  someone), each with the workflow run and step in the envelope's custom fields so a
  retried step finds the envelope it already sent instead of sending a second one;
* ``form_data`` reads what the contact filled in (:mod:`.forms`);
* the ``envelopes`` stream follows status through listStatusChanges, never by polling
  envelopes one by one;
* Connect webhooks (HMAC-signed JSON SIM messages) resume waiting workflow steps;
* ``download_signed`` saves a completed envelope's combined PDF into the client folder
  named like the PSA account.

Requests go to ``{base_uri}/restapi/v2.1/accounts/{account_id}/...`` with a JWT-grant
access token; errors are DocuSign's ``{errorCode, message}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.sdk import (
    ActionContext,
    Answer,
    CheckResult,
    ConfigError,
    Connector,
    ConnectorContext,
    Event,
    Finding,
    HttpClient,
    HubError,
    Need,
    NotFoundError,
    OutcomeUnknown,
    RateLimit,
    TransientError,
    VendorError,
    WriteResult,
    action,
    client_folder,
    message_from,
    parse_timestamp,
    save_new_file,
    send_once,
)

from . import forms
from .auth import BearerAuth, JwtGrant, discover_base_uri, oauth_error_message
from .connect import (
    ORGANIZATION_FIELD,
    RUN_FIELD,
    STEP_FIELD,
    custom_field_values,
    parse_connect_message,
    verify_signature,
)
from .forms import FormDataParams, SendFormParams
from .pacing import RateLimitPacer
from .settings import DocuSignSettings
from .streams import EnvelopesStream, StartPositions, envelopes_of, format_date

__all__ = [
    "DocuSignConnector",
    "DownloadSignedParams",
    "EnvelopeNotCompleted",
    "FormDataParams",
    "SendFormParams",
    "SendTermsParams",
]

ENTITY = "envelopes"
INCLUDE = "recipients,custom_fields"
#: how far back a retried send looks for its envelope when no attempt was recorded
SEND_LOOKBACK = timedelta(days=30)
#: margin before a recorded attempt, for clock skew between us and DocuSign
SEND_MARGIN = timedelta(minutes=15)
#: DocuSign's limit on a text custom field's value
CUSTOM_FIELD_MAX = 100
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


#: DocuSign's ``errorDetails`` (``{"errorCode", "message"}``) as ``CODE: message``; the auth
#: server's OAuth errors where an API answer is one
docusign_error_message = message_from(
    "{errorCode}: {message}", "{errorCode}", "{message}", "{error}: {error_description}", "{error}",
    "{error_description}",
)


class EnvelopeNotCompleted(HubError):
    """The signed PDF was asked for before every recipient signed."""


class SendTermsParams(BaseModel):
    """Who signs the terms and conditions, for which organization."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    signer_name: str = Field(min_length=1, max_length=100)
    signer_email: str = Field(min_length=3, max_length=100)
    organization_name: str = Field(min_length=1, max_length=CUSTOM_FIELD_MAX)
    organization_ref: str | None = Field(
        default=None, max_length=CUSTOM_FIELD_MAX, description="the PSA's id of the organization"
    )
    email_subject: str | None = Field(default=None, max_length=100)
    role_name: str | None = Field(
        default=None, description="template role of the signer; the template's first signer role if unset"
    )
    reuse_within_days: int | None = Field(
        default=None,
        gt=0,
        description="reuse the terms this workflow step sent this signer for this organization within so many "
        "days (out for signature or signed) instead of sending them again",
    )

    @field_validator("signer_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"not an e-mail address: {value!r}")
        return value


class DownloadSignedParams(BaseModel):
    """Which envelope, and the PSA account whose client folder receives the PDF."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    envelope_id: str = Field(min_length=1)
    account_name: str = Field(min_length=1, description="the PSA account name, exactly")
    file_name: str | None = Field(
        default=None, description="default: 'Terms and Conditions - signed <date>.pdf'"
    )


class DocuSignConnector(Connector):
    """DocuSign eSignature REST API v2.1."""

    name = "docusign"
    version = "1.0.0"
    title = "DocuSign eSignature"
    #: the e-signature role
    roles = {"esign": {}}
    settings_model = DocuSignSettings
    stream_classes = [EnvelopesStream]
    writable = {ENTITY: "signature_request"}
    rate_limits = [RateLimit(3000, 3600), RateLimit(500, 30)]
    has_webhooks = True
    auth_settings = ("integration_key", "user_id", "private_key_file", "auth_server")

    settings: DocuSignSettings

    def __init__(self, settings: DocuSignSettings, context: ConnectorContext | None = None) -> None:
        super().__init__(settings, context)
        self.pacer = RateLimitPacer(self.context.clock)
        self._auth_client: HttpClient | None = None
        self._grant: JwtGrant | None = None
        self._api: HttpClient | None = None

    # -- clients ------------------------------------------------------------------------

    def auth_client(self) -> HttpClient:
        """The auth server (token, userinfo): its own limits, not the account's API budget."""
        if self._auth_client is None:
            self._auth_client = self.make_client(
                self.settings.auth_url,
                budget_key=f"docusign-auth:{self.settings.integration_key}",
                limits=[],
                vendor_message=oauth_error_message,
            )
        return self._auth_client

    def grant(self) -> JwtGrant:
        if self._grant is None:
            self._grant = JwtGrant(self.settings, self.auth_client(), self.context.clock)
        return self._grant

    def base_uri(self) -> str:
        return discover_base_uri(self.settings, self.grant(), self.auth_client(), self.context.state)

    def _make_api(self) -> HttpClient:
        base = f"{self.base_uri()}/restapi/v2.1/accounts/{quote(self.settings.account_id, safe='')}/"
        return self.make_client(
            base,
            budget_key=f"docusign:{self.settings.account_id}",
            auth=BearerAuth(self.grant(), self.pacer.before_request, self.pacer.observe),
            vendor_message=docusign_error_message,
        )

    def client(self) -> HttpClient:
        """The account's API client (base URI discovered on first use)."""
        if self._api is None:
            self._api = self._make_api()
        return self._api

    # -- check --------------------------------------------------------------------------

    def check(self) -> CheckResult:
        details = {"auth server": self.settings.auth_url}
        self.grant().token()
        details["jwt grant"] = (
            f"ok (integration key {self.settings.integration_key}, user {self.settings.user_id})"
        )
        details["base uri"] = self.base_uri()
        account = self.client().get("").json()
        details["account"] = f"{account.get('accountName', '?')} ({self.settings.account_id})"
        template_id = self.settings.tc_template_id
        if template_id:
            template = self.client().get(f"templates/{quote(template_id, safe='')}").json()
            details["terms template"] = f"{template.get('name', '?')} ({template_id})"
        else:
            details["terms template"] = "not set (HUB_DOCUSIGN__TC_TEMPLATE_ID); send_terms unavailable"
        details["connect hmac keys"] = f"{len(self.settings.hmac_keys)} configured"
        return CheckResult(True, details)

    def readiness(self, needs: list[Need]) -> list[Finding]:
        """The terms-and-conditions template the workflows send (``check`` read it if set)."""
        if self.settings.tc_template_id:
            return [Finding(what="terms and conditions template", ok=True, detail=self.settings.tc_template_id,
                            source="setting HUB_DOCUSIGN__TC_TEMPLATE_ID")]  # fmt: skip
        return [
            Finding(
                what="terms and conditions template",
                ok=False,
                detail="HUB_DOCUSIGN__TC_TEMPLATE_ID is not set, so send_terms cannot send the terms",
                fix="create the template in DocuSign (Templates > New, one signer role) and set "
                "HUB_DOCUSIGN__TC_TEMPLATE_ID to its id",
                source="setting HUB_DOCUSIGN__TC_TEMPLATE_ID",
            )
        ]

    # -- reads and writes ---------------------------------------------------------------

    def list_status_changes(self, **params: Any) -> httpx.Response:
        """One page of listStatusChanges (``GET envelopes?from_date=...``)."""
        query = {"include": INCLUDE, "order_by": "status_changed", "order": "asc", **params}
        return self.client().get("envelopes", params={k: v for k, v in query.items() if v is not None})

    def _entity(self, entity: str) -> None:
        if entity != ENTITY:
            raise ConfigError(f"docusign has no entity {entity!r}; entities: {ENTITY}")

    def _envelope_path(self, envelope_id: str) -> str:
        return f"envelopes/{quote(envelope_id, safe='')}"

    def _not_found(self, exc: VendorError, envelope_id: str) -> HubError:
        if (exc.vendor_message or "").startswith("ENVELOPE_DOES_NOT_EXIST"):
            return NotFoundError(
                f"envelope {envelope_id} does not exist in account {self.settings.account_id}",
                connector=self.name,
                method=exc.method,
                url=exc.url,
                status=exc.status,
                vendor_message=exc.vendor_message,
            )
        return exc

    def get(self, entity: str, id: str) -> dict[str, Any]:
        self._entity(entity)
        try:
            return dict(self.client().get(self._envelope_path(id), params={"include": INCLUDE}).json())
        except VendorError as exc:
            raise self._not_found(exc, id) from None

    def create(self, entity: str, payload: dict[str, Any], *, key: str | None = None) -> WriteResult:
        """Create (send) an envelope. Not safe to repeat: the HTTP layer never sends it twice
        on its own, and a lost answer is resolved through :meth:`find_created`."""
        self._entity(entity)
        body = self.client().post("envelopes", json=payload).json()
        return WriteResult(str(body["envelopeId"]), body)

    def find_created(
        self, entity: str, payload: dict[str, Any], *, since: datetime, key: str | None = None
    ) -> WriteResult | None:
        """The envelope a create whose answer was lost made, by the hub's run and step custom
        fields (one listStatusChanges query); an envelope without them cannot be found."""
        self._entity(entity)
        fields = {
            str(f.get("name")): str(f.get("value"))
            for f in ((payload.get("customFields") or {}).get("textCustomFields") or [])
            if isinstance(f, dict)
        }
        if not fields.get(RUN_FIELD) or not fields.get(STEP_FIELD):
            raise OutcomeUnknown(
                "docusign: the envelope carries no hub run and step custom fields to look it up by, so whether "
                "it was sent cannot be told; look in DocuSign",
                connector=self.name,
            )
        found = self.find_sent(fields[RUN_FIELD], fields[STEP_FIELD], since)
        return None if found is None else WriteResult(str(found["envelopeId"]), found)

    def update(self, entity: str, id: str, changes: dict[str, Any], *, key: str | None = None) -> WriteResult:
        self._entity(entity)
        try:
            body = self.client().put(self._envelope_path(id), json=changes).json()
        except VendorError as exc:
            raise self._not_found(exc, id) from None
        return WriteResult(id, body)

    def deactivate(self, entity: str, id: str, *, key: str | None = None) -> WriteResult:
        """Void the envelope (DocuSign keeps it; recipients can no longer sign)."""
        return self.update(entity, id, {"status": "voided", "voidedReason": "Voided by msp-hub"})

    # -- send_terms ---------------------------------------------------------------------

    def template_signer_role(self, template_id: str) -> str:
        """The template's first signer role (by routing order), cached in the state store."""
        key = f"template_signer_role:{template_id}"
        cached = self.context.state.get(key)
        if isinstance(cached, str) and cached:
            return cached
        try:
            body = self.client().get(f"templates/{quote(template_id, safe='')}/recipients").json()
        except VendorError as exc:
            raise ConfigError(
                f"HUB_DOCUSIGN__TC_TEMPLATE_ID: template {template_id} unusable: {exc}"
            ) from None
        signers = sorted(
            (s for s in body.get("signers") or [] if isinstance(s, dict) and s.get("roleName")),
            key=lambda s: int(s.get("routingOrder") or 1),
        )
        if not signers:
            raise ConfigError(f"HUB_DOCUSIGN__TC_TEMPLATE_ID: template {template_id} has no signer role")
        role = str(signers[0]["roleName"])
        self.context.state.set(key, role)
        return role

    def status_changes(self, **query: Any) -> Iterator[dict[str, Any]]:
        """Every envelope a listStatusChanges query finds, page by page."""

        def fetch(start: int) -> Answer:
            return envelopes_of(self.list_status_changes(start_position=start, **query))

        for page in StartPositions().pages(fetch):
            yield from page.records

    def find_sent(self, run_id: str, step_id: str, since: Any) -> dict[str, Any] | None:
        """The envelope a step already created, found by its custom fields (one query)."""
        found = self.status_changes(from_date=format_date(since), custom_field=f"{RUN_FIELD}={run_id}")
        return next((e for e in found if custom_field_values(e).get(STEP_FIELD) == step_id), None)

    def find_sent_to(self, organization: str, signer_email: str, step_id: str, since: Any) -> dict[str, Any] | None:
        """The latest envelope a workflow step of this name sent ``signer_email`` for ``organization``
        that was not declined or voided (one listStatusChanges query by the organization field)."""
        latest = None
        for envelope in self.status_changes(
            from_date=format_date(since), custom_field=f"{ORGANIZATION_FIELD}={organization}"
        ):
            signers = (envelope.get("recipients") or {}).get("signers") or []
            if (
                custom_field_values(envelope).get(STEP_FIELD) == step_id
                and envelope.get("status") not in ("declined", "voided")
                and any(str(s.get("email", "")).casefold() == signer_email.casefold() for s in signers)
            ):
                latest = envelope
        return latest

    @action("send_terms", params=SendTermsParams)
    def send_terms(self, params: SendTermsParams, ctx: ActionContext) -> dict[str, Any]:
        """Send the terms-and-conditions template to a signer (once per workflow step; with
        ``reuse_within_days``, not again to a signer who has them from an earlier run)."""
        template_id = self.settings.tc_template_id
        if not template_id:
            raise ConfigError("HUB_DOCUSIGN__TC_TEMPLATE_ID: required by send_terms but not set")
        if params.reuse_within_days:
            since = self.context.clock.now() - timedelta(days=params.reuse_within_days)
            organization = params.organization_ref or params.organization_name
            earlier = self.find_sent_to(organization, params.signer_email, ctx.step_id, since)
            if earlier is not None:
                return {"envelope_id": str(earlier["envelopeId"]), "status": str(earlier.get("status")), "reused": True}
        return self._send_once(ctx, "send_terms", lambda: self._terms_envelope(params, ctx, template_id))

    @action("send_form", params=SendFormParams)
    def send_form(self, params: SendFormParams, ctx: ActionContext) -> dict[str, Any]:
        """Send a template (by name) whose fields the signer fills, copied to someone (once per step)."""
        template_id = forms.template_by_name(self, params.template)
        organization = params.organization_ref or params.organization_name
        if params.reuse_within_days:
            since = self.context.clock.now() - timedelta(days=params.reuse_within_days)
            earlier = self.find_sent_to(organization, params.signer_email, ctx.step_id, since)
            if earlier is not None:
                return {"envelope_id": str(earlier["envelopeId"]), "status": str(earlier.get("status")),
                        "template_id": template_id, "reused": True}  # fmt: skip
        roles = forms.template_roles(self, template_id)
        if params.cc_email and roles.carbon_copy is None:
            raise ConfigError(
                f"docusign: template {params.template!r} has no carbon-copy role to copy {params.cc_email} on; "
                "add one in DocuSign"
            )

        def envelope() -> dict[str, Any]:
            people = [{"roleName": roles.signer, "name": params.signer_name, "email": params.signer_email}]
            if params.cc_email and roles.carbon_copy:
                people.append({"roleName": roles.carbon_copy, "name": params.cc_name or params.cc_email,
                               "email": params.cc_email})  # fmt: skip
            subject = params.email_subject or f"{params.template} for {params.organization_name}"
            return self._template_envelope(template_id, people, ctx, organization, subject)

        return {**self._send_once(ctx, "send_form", envelope), "template_id": template_id}

    @action("form_data", params=FormDataParams)
    def form_data(self, params: FormDataParams, ctx: ActionContext) -> dict[str, Any]:
        """What the signer filled in: the form's fields by label (a read, safe to repeat)."""
        return forms.form_data(self, params.envelope_id)

    def _send_once(self, ctx: ActionContext, action: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Create the envelope ``build`` describes, once per workflow step.

        The step's run and step ids go in the envelope's custom fields, so a retried step
        finds the envelope its interrupted first attempt sent instead of sending another.
        """
        for label, value in (("run id", ctx.run_id), ("step id", ctx.step_id)):
            if len(value) > CUSTOM_FIELD_MAX:
                raise ConfigError(f"{action}: workflow {label} longer than {CUSTOM_FIELD_MAX} characters")
        done_key = f"{action}:{ctx.idempotency_key}"
        done = ctx.state.get(done_key)
        if isinstance(done, dict) and done.get("envelope_id"):
            return dict(done)
        now = self.context.clock.now()
        attempt_key = f"{action}_attempt:{ctx.idempotency_key}"
        attempt = ctx.state.get(attempt_key)
        started = parse_timestamp(attempt.get("started")) if isinstance(attempt, dict) else None
        since = (started - SEND_MARGIN) if started else (now - SEND_LOOKBACK)
        existing = self.find_sent(ctx.run_id, ctx.step_id, since)
        if existing is None:
            ctx.state.set(attempt_key, {"started": now.isoformat()})
            payload = build()
            # a lost answer is looked up by the custom fields before the envelope goes out again
            created, _ = send_once(
                lambda: self.create(ENTITY, payload),
                lambda: self.find_created(ENTITY, payload, since=now - SEND_MARGIN),
                self.context.clock,
            )
            existing = {**(created.record or {}), "envelopeId": created.id}
        result = {
            "envelope_id": str(existing["envelopeId"]),
            "status": str(existing.get("status") or "sent"),
        }
        ctx.state.set(done_key, result)
        ctx.state.delete(attempt_key)
        return result

    def _terms_envelope(
        self, params: SendTermsParams, ctx: ActionContext, template_id: str
    ) -> dict[str, Any]:
        role = params.role_name or self.template_signer_role(template_id)
        people = [{"roleName": role, "name": params.signer_name, "email": params.signer_email}]
        return self._template_envelope(template_id, people, ctx, params.organization_ref or params.organization_name,
                                       params.email_subject)  # fmt: skip

    @staticmethod
    def _template_envelope(
        template_id: str, people: list[dict[str, str]], ctx: ActionContext, organization: str, subject: str | None
    ) -> dict[str, Any]:
        """An envelope from ``template_id`` sent to ``people`` (by role), marked with the run and step."""
        fields = [(RUN_FIELD, ctx.run_id), (STEP_FIELD, ctx.step_id), (ORGANIZATION_FIELD, organization)]
        payload: dict[str, Any] = {
            "templateId": template_id,
            "templateRoles": people,
            "status": "sent",
            "customFields": {
                "textCustomFields": [
                    {"name": name, "value": value, "show": "false", "required": "false"}
                    for name, value in fields
                ]
            },
        }
        if subject:
            payload["emailSubject"] = subject
        return payload

    # -- download_signed ----------------------------------------------------------------

    @action("download_signed", params=DownloadSignedParams)
    def download_signed(self, params: DownloadSignedParams, ctx: ActionContext) -> dict[str, Any]:
        """Save a completed envelope's combined PDF into the PSA account's client folder."""
        done_key = f"download_signed:{ctx.idempotency_key}"
        done = ctx.state.get(done_key)
        if isinstance(done, dict) and Path(str(done.get("path"))).is_file():
            if Path(done["path"]).stat().st_size == done.get("size"):
                return dict(done)
        envelope = self.get(ENTITY, params.envelope_id)
        status = envelope.get("status")
        if status != "completed":
            raise EnvelopeNotCompleted(
                f"docusign: envelope {params.envelope_id} is {status!r}, not completed; "
                "the signed PDF exists once every recipient has signed"
            )
        content = self._combined_pdf(params.envelope_id)
        folder = client_folder(ctx.documents_root, params.account_name)
        completed = parse_timestamp(envelope.get("completedDateTime")) or self.context.clock.now()
        signed_on = completed.astimezone(self.context.zone).date()  # the MSP's day, not UTC's
        file_name = params.file_name or f"Terms and Conditions - signed {signed_on.isoformat()}.pdf"
        saved = save_new_file(folder, file_name, content)
        result = {
            "path": str(saved.path),
            "size": saved.size,
            "sha256": saved.sha256,
            "folder": str(folder),
            "envelope_id": params.envelope_id,
        }
        ctx.state.set(done_key, result)
        return result

    def _combined_pdf(self, envelope_id: str) -> bytes:
        """The combined PDF, checked: a PDF, and complete when the size is stated."""
        path = f"{self._envelope_path(envelope_id)}/documents/combined"
        try:
            response = self.client().get(path)
        except VendorError as exc:
            raise self._not_found(exc, envelope_id) from None
        content = response.content
        client = self.client()
        if not content.startswith(b"%PDF-"):
            raise client.error(response, f"envelope {envelope_id}: combined document is not a PDF")
        stated = response.headers.get("Content-Length")
        # With a Content-Encoding the stated length is of the encoded bytes, not the PDF.
        if stated is not None and response.headers.get("Content-Encoding", "identity") == "identity":
            if not stated.isdigit() or int(stated) != len(content):
                got = f"{len(content)} of {stated} bytes"
                raise client.error(
                    response, f"envelope {envelope_id}: combined PDF incomplete ({got})", TransientError
                )
        return content

    # -- webhooks -----------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        verify_signature(headers, body, self.settings.hmac_keys)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        return [parse_connect_message(body)]

    # -- sandbox ------------------------------------------------------------------------

    @classmethod
    def sandbox(cls, **options: Any) -> Any:
        from .simulator import build_sandbox

        return build_sandbox(**options)
