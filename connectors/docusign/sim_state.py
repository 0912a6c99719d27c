"""State and behaviour of the DocuSign simulator (one account), independent of HTTP.

Envelopes live in memory with indexes so listStatusChanges stays fast at 100,000
envelopes: by id, a list ordered by ``statusChangedDateTime`` (bisected for
``from_date``/``to_date``), and (custom field name, value) -> ids for ``custom_field``.
Answers are DocuSign's own shapes: ``{"errorCode", "message"}`` errors, string counts
in listStatusChanges, seven-digit UTC timestamps. The control methods (fail_next,
touch, count, sample_webhook, deliver/sign/decline) drive tests and ``hub demo``.
"""

from __future__ import annotations

import bisect
import functools
import gc
import json
import random
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import JSONResponse

from hub.sdk import Clock, SystemClock, get_logger

from .auth import JWT_GRANT
from .connect import sign_body

__all__ = [
    "API",
    "AUTHORIZATION_FORM",
    "DocuSignSimulator",
    "SimAccount",
    "SimTemplate",
    "ds_time",
    "error",
    "missing_envelope",
    "rsa_key_pair",
    "unauthorized",
]

log = get_logger("hub.simulator.docusign")

API = "/restapi/v2.1/accounts/{account_id}"
SEED_START = datetime(2025, 1, 1, tzinfo=UTC)
PAGE_DEFAULT = 100
PAGE_MAX = 1000
FINAL = {"completed", "declined", "voided"}
_NAMES = ["Alex Morgan", "Sam Patel", "Jordan Lee", "Casey Nguyen", "Riley Fischer", "Taylor Okafor"]
_ORGS = ["Acme Dental", "Harbor Logistics", "Pine & Oak Legal", "Northwind Clinic", "Blue Fin Marine"]


@functools.cache
def rsa_key_pair() -> tuple[bytes, bytes]:
    """An RSA key pair (private PEM, public PEM) made at runtime, once per process."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def guid(bits: int) -> str:
    """A GUID-shaped id (version 4 layout) from 128 bits; cheaper than uuid.UUID at 100,000 seeds."""
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def ds_time(value: datetime) -> str:
    """DocuSign's timestamp format: UTC with seven fractional digits."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _parse_date(value: str) -> datetime:
    text = value.strip().replace(" ", "+")  # a '+' in a query string arrives as a space
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"errorCode": code, "message": message}, status_code=status, headers=headers)


class _Budget:
    """DocuSign's hourly budget (reset at the top of the hour) and 30-second burst."""

    def __init__(self, hourly: int, burst: int, clock: Clock) -> None:
        self.hourly, self.burst, self.clock = hourly, burst, clock
        self._hour: int | None = None
        self._burst_window: int | None = None
        self.used_hour = 0
        self.used_burst = 0

    def spend(self) -> tuple[dict[str, str], float | None]:
        """Count one call; the headers to send, and a Retry-After if it is over budget."""
        now = self.clock.now().timestamp()
        hour, window = int(now // 3600), int(now // 30)
        if hour != self._hour:
            self._hour, self.used_hour = hour, 0
        if window != self._burst_window:
            self._burst_window, self.used_burst = window, 0
        over: float | None = None
        if self.used_hour >= self.hourly:
            over = (hour + 1) * 3600 - now
        elif self.used_burst >= self.burst:
            over = (window + 1) * 30 - now
        else:
            self.used_hour += 1
            self.used_burst += 1
        headers = {
            "X-RateLimit-Limit": str(self.hourly),
            "X-RateLimit-Remaining": str(max(0, self.hourly - self.used_hour)),
            "X-RateLimit-Reset": str((hour + 1) * 3600),
            "X-BurstLimit-Limit": str(self.burst),
            "X-BurstLimit-Remaining": str(max(0, self.burst - self.used_burst)),
        }
        return headers, over


@dataclass(frozen=True)
class SimTemplate:
    """A server template: its signer role, an optional carbon-copy role, and the text tabs
    (fields, by ``tabLabel``) the signer fills."""

    template_id: str
    name: str
    signer_role: str
    cc_role: str | None = None
    tabs: tuple[str, ...] = ()


#: the MSP's "New Authorization Contact Request" form (shared/procedures/new-authorization-contact-workflow.txt):
#: the ticket contact fills it, the account's primary contact is copied
AUTHORIZATION_FORM = SimTemplate(
    "c0ffee00-0000-4000-8000-0000000t0002",
    "New Authorization Contact Request",
    "Requester",
    "Primary Contact",
    (
        "Authority Replaced",
        "New Contact First Name",
        "New Contact Last Name",
        "New Contact Email",
        "New Contact Phone",
        "Previous Contact Email",
        "Previous Contact Leaving",
        "Receives Monthly Reports",
        "Permissions",
    ),
)


@dataclass
class SimAccount:
    account_id: str = "9f1c2d3e-0000-4000-8000-00000000a001"
    account_name: str = "Example MSP"
    integration_key: str = "5a1b2c3d-0000-4000-8000-0000000ik001"
    user_id: str = "7e6d5c4b-0000-4000-8000-0000000u0001"
    user_name: str = "Hub Service User"
    template_id: str = "c0ffee00-0000-4000-8000-0000000t0001"
    template_name: str = "Terms and Conditions"
    role_name: str = "Client"
    hmac_keys: list[str] = field(default_factory=lambda: ["sim-connect-key-1"])
    forms: tuple[SimTemplate, ...] = (AUTHORIZATION_FORM,)

    @property
    def templates(self) -> list[SimTemplate]:
        """Every template of the account, the terms and conditions first."""
        terms = SimTemplate(self.template_id, self.template_name, self.role_name)
        return [terms, *self.forms]

    def template(self, template_id: str | None) -> SimTemplate | None:
        return next((t for t in self.templates if t.template_id == template_id), None)


class DocuSignSimulator:
    """State and control of one simulated DocuSign account (thread-safe)."""

    def __init__(
        self,
        *,
        size: int = 25,
        seed: int = 1,
        budget: int = 3000,
        burst: int = 500,
        webhook_url: str | None = None,
        clock: Clock | None = None,
        account: SimAccount | None = None,
        public_key: bytes | None = None,
    ) -> None:
        self.account = account or SimAccount()
        self.clock = clock or SystemClock()
        self.public_key = public_key or rsa_key_pair()[1]
        self.webhook_url = webhook_url
        self.consent = True
        self.budget = _Budget(budget, burst, self.clock)
        self.envelopes: dict[str, dict[str, Any]] = {}
        #: envelope id -> the form's tab labels and what the signer typed (empty until signed)
        self.form_values: dict[str, dict[str, str]] = {}
        self._order: list[tuple[str, str]] = []  # (statusChangedDateTime, envelopeId), sorted
        self._by_field: dict[tuple[str, str], set[str]] = {}
        self._tokens: dict[str, datetime] = {}
        self._failures: deque[tuple[int, float | None]] = deque()
        self._lock = threading.RLock()
        self.api_calls = 0
        self.budget_refusals = 0
        self.envelopes_created = 0
        self.connect_log: list[dict[str, Any]] = []
        self._seed(size, seed)

    # -- data -----------------------------------------------------------------------------

    def _seed(self, size: int, seed: int) -> None:
        # Hundreds of thousands of small dicts make the cyclic GC rescan the heap again
        # and again; none of them can form a cycle, so it is paused while seeding.
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._seed_envelopes(size, seed)
        finally:
            if enabled:
                gc.enable()

    def _seed_envelopes(self, size: int, seed: int) -> None:
        rng = random.Random(seed)
        statuses = ["sent", "delivered", "completed", "completed", "declined", "voided"]
        for i in range(size):
            when = SEED_START + timedelta(minutes=7 * i)
            org = _ORGS[i % len(_ORGS)]
            name = _NAMES[rng.randrange(len(_NAMES))]
            envelope_id = guid(rng.getrandbits(128))
            envelope = self._new_envelope(
                envelope_id,
                subject=f"Please sign: Terms and Conditions - {org}",
                signer={"name": name, "email": f"signer{i}@example.com", "roleName": self.account.role_name},
                fields=[("hub_organization", org)],
                when=when,
            )
            status = statuses[rng.randrange(len(statuses))]
            if status != "sent":
                self._apply_status(envelope, status, when + timedelta(minutes=3), reason="Seeded")
            self._index(envelope)

    def _new_envelope(
        self,
        envelope_id: str,
        *,
        subject: str,
        signer: dict[str, str],
        fields: list[tuple[str, str]],
        when: datetime,
        cc: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        stamp = ds_time(when)
        # a carbon-copy recipient routes after the signer and gets the completed copy
        # (eSignature v2.1 ``recipients.carbonCopies``)
        copies = [
            {"recipientId": "2", "routingOrder": "2", "roleName": cc["roleName"], "name": cc["name"],
             "email": cc["email"], "status": "created"}
        ] if cc else []  # fmt: skip
        return {
            "envelopeId": envelope_id,
            "status": "sent",
            "emailSubject": subject,
            "envelopeUri": f"/envelopes/{envelope_id}",
            "createdDateTime": stamp,
            "sentDateTime": stamp,
            "lastModifiedDateTime": stamp,
            "statusChangedDateTime": stamp,
            "customFields": {
                "textCustomFields": [
                    {"fieldId": str(10000 + n), "name": k, "value": v, "show": "false", "required": "false"}
                    for n, (k, v) in enumerate(fields)
                ],
                "listCustomFields": [],
            },
            "recipients": {
                "signers": [
                    {
                        "recipientId": "1",
                        "recipientIdGuid": guid(int(envelope_id.replace("-", ""), 16) ^ 0x5A5A),
                        "routingOrder": "1",
                        "roleName": signer["roleName"],
                        "name": signer["name"],
                        "email": signer["email"],
                        "status": "sent",
                        "sentDateTime": stamp,
                    }
                ],
                "carbonCopies": copies,
                "recipientCount": str(1 + len(copies)),
                "currentRoutingOrder": "1",
            },
        }

    def _apply_status(self, envelope: dict[str, Any], status: str, when: datetime, reason: str = "") -> None:
        stamp = ds_time(when)
        signer = envelope["recipients"]["signers"][0]
        envelope["status"] = status
        envelope["statusChangedDateTime"] = stamp
        envelope["lastModifiedDateTime"] = stamp
        if status == "delivered":
            envelope["deliveredDateTime"] = stamp
            signer.update(status="delivered", deliveredDateTime=stamp)
        elif status == "completed":
            envelope.setdefault("deliveredDateTime", stamp)
            envelope["completedDateTime"] = stamp
            signer.update(status="completed", signedDateTime=stamp)
            signer.setdefault("deliveredDateTime", stamp)
            for copy in envelope["recipients"].get("carbonCopies") or []:
                copy.update(status="completed", deliveredDateTime=stamp)
        elif status == "declined":
            envelope["declinedDateTime"] = stamp
            signer.update(status="declined", declinedDateTime=stamp, declinedReason=reason or "Declined")
        elif status == "voided":
            envelope["voidedDateTime"] = stamp
            envelope["voidedReason"] = reason or "Voided"

    def _index(self, envelope: dict[str, Any]) -> None:
        envelope_id = envelope["envelopeId"]
        self.envelopes[envelope_id] = envelope
        bisect.insort(self._order, (envelope["statusChangedDateTime"], envelope_id))
        for item in envelope["customFields"]["textCustomFields"]:
            self._by_field.setdefault((item["name"], item["value"]), set()).add(envelope_id)

    def _changed(self, envelope: dict[str, Any], old_stamp: str) -> None:
        """Move an envelope to its new place in the change order."""
        envelope_id = envelope["envelopeId"]
        pos = bisect.bisect_left(self._order, (old_stamp, envelope_id))
        if pos < len(self._order) and self._order[pos] == (old_stamp, envelope_id):
            del self._order[pos]
        bisect.insort(self._order, (envelope["statusChangedDateTime"], envelope_id))

    def _set_status(self, envelope_id: str, status: str, reason: str = "") -> dict[str, Any]:
        with self._lock:
            envelope = self.envelopes[envelope_id]
            old = envelope["statusChangedDateTime"]
            self._apply_status(envelope, status, self.clock.now(), reason)
            self._changed(envelope, old)
            return json.loads(json.dumps(envelope))

    # -- control (SimulatorControl) ---------------------------------------------------------

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        with self._lock:
            self._failures.extend([(status, retry_after)] * count)

    def touch(self, stream: str, record_id: str | None = None) -> str:
        self._stream(stream)
        with self._lock:
            envelope_id = record_id or self._order[0][1]
            envelope = self.envelopes[envelope_id]
            old = envelope["statusChangedDateTime"]
            stamp = ds_time(self.clock.now())
            envelope["statusChangedDateTime"] = envelope["lastModifiedDateTime"] = stamp
            self._changed(envelope, old)
            return envelope_id

    def count(self, stream: str) -> int:
        self._stream(stream)
        return len(self.envelopes)

    def sample_webhook(self) -> tuple[dict[str, str], bytes]:
        with self._lock:
            envelope_id = next(
                (i for i, e in self.envelopes.items() if e["status"] == "completed"),
                next(iter(self.envelopes)),
            )
            envelope = json.loads(json.dumps(self.envelopes[envelope_id]))
        return self.connect_message(f"envelope-{envelope['status']}", envelope)

    @staticmethod
    def _stream(stream: str) -> None:
        if stream != "envelopes":
            raise KeyError(f"the DocuSign simulator has no stream {stream!r}; streams: envelopes")

    def deliver(self, envelope_id: str) -> dict[str, Any]:
        """The recipient opens the envelope (status ``delivered``)."""
        return self._transition(envelope_id, "delivered")

    def sign(self, envelope_id: str, values: dict[str, str] | None = None) -> dict[str, Any]:
        """The recipient fills the form's fields (``values`` by tab label) and signs: the envelope
        is ``completed`` and Connect is told."""
        if values:
            with self._lock:
                tabs = self.form_values.get(envelope_id)
                unknown = sorted(set(values) - set(tabs or {}))
                if unknown:
                    raise ValueError(f"envelope {envelope_id} has no field {unknown[0]!r}")
                assert tabs is not None
                tabs.update({k: str(v) for k, v in values.items()})
        return self._transition(envelope_id, "completed")

    def decline(self, envelope_id: str, reason: str = "Declined by the recipient") -> dict[str, Any]:
        return self._transition(envelope_id, "declined", reason)

    def _transition(self, envelope_id: str, status: str, reason: str = "") -> dict[str, Any]:
        with self._lock:
            envelope = self.envelopes.get(envelope_id)
            if envelope is None:
                raise KeyError(f"no envelope {envelope_id}")
            if envelope["status"] in FINAL:
                raise ValueError(f"envelope {envelope_id} is already {envelope['status']}")
        snapshot = self._set_status(envelope_id, status, reason)
        delivery = self.post_connect(f"envelope-{status}", snapshot)
        return {"envelopeId": envelope_id, "status": status, "connect": delivery}

    def set_consent(self, granted: bool) -> None:
        """Withdraw (or grant) the user's consent to the integration key."""
        self.consent = granted

    def find_by_field(self, name: str, value: str) -> list[str]:
        with self._lock:
            return sorted(self._by_field.get((name, value), set()))

    # -- Connect --------------------------------------------------------------------------

    def connect_message(self, event: str, envelope: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        """A Connect JSON (SIM) message for ``envelope``, signed with every HMAC key."""
        message = {
            "event": event,
            "uri": f"/restapi/v2.1/accounts/{self.account.account_id}/envelopes/{envelope['envelopeId']}",
            "retryCount": 0,
            "configurationId": 10501,
            "apiVersion": "v2.1",
            "generatedDateTime": ds_time(self.clock.now()),
            "data": {
                "accountId": self.account.account_id,
                "userId": self.account.user_id,
                "envelopeId": envelope["envelopeId"],
                "envelopeSummary": envelope,
            },
        }
        body = json.dumps(message, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", "X-Authorization-Digest": "HMACSHA256"}
        for n, key in enumerate(self.account.hmac_keys, start=1):
            headers[f"X-DocuSign-Signature-{n}"] = sign_body(key, body)
        return headers, body

    def post_connect(self, event: str, envelope: dict[str, Any]) -> dict[str, Any]:
        """Deliver a Connect message to ``webhook_url`` (if set); the outcome is logged."""
        if not self.webhook_url:
            return {"url": None, "status": None}
        headers, body = self.connect_message(event, envelope)
        try:
            answer = httpx.post(self.webhook_url, content=body, headers=headers, timeout=10.0)
            outcome: dict[str, Any] = {"url": self.webhook_url, "status": answer.status_code}
        except httpx.HTTPError as exc:
            outcome = {"url": self.webhook_url, "status": None, "error": type(exc).__name__}
            log.warning("simulator.connect_failed", url=self.webhook_url, error=type(exc).__name__)
        self.connect_log.append({"event": event, "envelope_id": envelope["envelopeId"], **outcome})
        return outcome

    # -- OAuth ----------------------------------------------------------------------------

    def issue_token(self, form: dict[str, str], host: str) -> JSONResponse:
        if form.get("grant_type") != JWT_GRANT:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self.public_key,
                algorithms=["RS256"],
                audience=host,
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "require": ["iss", "sub", "aud", "iat", "exp"],
                },
            )
        except jwt.InvalidAudienceError:
            return JSONResponse({"error": "invalid_grant", "error_description": "invalid_audience"}, 400)
        except jwt.PyJWTError:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "no_valid_keys_or_signatures"},
                status_code=400,
            )
        if claims["iss"] != self.account.integration_key:
            return JSONResponse({"error": "invalid_grant", "error_description": "issuer_not_found"}, 400)
        if claims["sub"] != self.account.user_id:
            return JSONResponse({"error": "invalid_grant", "error_description": "user_not_found"}, 400)
        if not 0 < int(claims["exp"]) - int(claims["iat"]) <= 3600:
            return JSONResponse({"error": "invalid_grant", "error_description": "invalid_exp"}, 400)
        if "signature" not in str(claims.get("scope", "")).split():
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        if not self.consent:
            return JSONResponse({"error": "consent_required"}, status_code=400)
        token = f"sim-{uuid.uuid4().hex}"
        with self._lock:
            self._tokens[token] = self.clock.now() + timedelta(hours=1)
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def token_valid(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        with self._lock:
            expires = self._tokens.get(token.strip())
        return expires is not None and self.clock.now() < expires

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    # -- envelopes ------------------------------------------------------------------------

    def create_envelope(self, body: dict[str, Any]) -> JSONResponse:
        template = self.account.template(body.get("templateId"))
        if template is None:
            return error(400, "TEMPLATE_ID_INVALID", f"Invalid template ID: {body.get('templateId')!r}.")
        status = body.get("status", "created")
        if status not in ("sent", "created"):
            return error(400, "INVALID_ENVELOPE_STATUS", f"Invalid envelope status {status!r} on create.")
        # templateRoles fill the template's roles by roleName (eSignature v2.1 ``templateRole``);
        # the signer role must be given a name and an e-mail, a role not in the template is refused
        roles = {str(r.get("roleName")): r for r in body.get("templateRoles") or [] if isinstance(r, dict)}
        unknown = sorted(set(roles) - {template.signer_role, *([template.cc_role] if template.cc_role else [])})
        if unknown:
            return error(400, "INVALID_ROLE_NAME", f"Role {unknown[0]!r} is not a role of template {template.name!r}.")
        for name in {template.signer_role, *roles}:
            given = roles.get(name) or {}
            if not given.get("email") or not given.get("name") or "@" not in str(given.get("email")):
                return error(
                    400,
                    "INVALID_EMAIL_ADDRESS_FOR_RECIPIENT",
                    f"The email address for the recipient with role '{name}' is missing or invalid.",
                )
        role = roles[template.signer_role]
        cc = roles.get(template.cc_role) if template.cc_role else None
        fields: list[tuple[str, str]] = []
        for item in (body.get("customFields") or {}).get("textCustomFields") or []:
            value = str(item.get("value") or "")
            if len(value) > 100:
                return error(
                    400, "INVALID_REQUEST_PARAMETER", f"Custom field {item.get('name')!r} is too long."
                )
            fields.append((str(item.get("name")), value))
        with self._lock:
            envelope_id = str(uuid.uuid4())
            envelope = self._new_envelope(
                envelope_id,
                subject=body.get("emailSubject") or f"Please sign: {template.name}",
                signer={"name": role["name"], "email": role["email"], "roleName": template.signer_role},
                fields=fields,
                when=self.clock.now(),
                cc={"name": cc["name"], "email": cc["email"], "roleName": str(template.cc_role)} if cc else None,
            )
            if status == "created":
                envelope["status"] = "created"
                envelope.pop("sentDateTime")
                envelope["recipients"]["signers"][0]["status"] = "created"
            self._index(envelope)
            self.form_values[envelope_id] = dict.fromkeys(template.tabs, "")
            self.envelopes_created += 1
            stamp = envelope["statusChangedDateTime"]
        return JSONResponse(
            {
                "envelopeId": envelope_id,
                "uri": f"/envelopes/{envelope_id}",
                "statusDateTime": stamp,
                "status": status,
            },
            status_code=201,
        )

    def list_templates(self, query: dict[str, str]) -> JSONResponse:
        """``GET templates``: ``envelopeTemplateResults``; ``search_text`` matches template names."""
        text = query.get("search_text", "").casefold()
        try:
            start = int(query.get("start_position", 0))
            count = min(int(query.get("count", PAGE_DEFAULT)), PAGE_MAX)
        except ValueError as exc:
            message = f"The request contained at least one invalid parameter. {exc}"
            return error(400, "INVALID_REQUEST_PARAMETER", message)
        found = [t for t in self.account.templates if text in t.name.casefold()]
        page = found[start : start + count]
        return JSONResponse(
            {
                "envelopeTemplates": [
                    {"templateId": t.template_id, "name": t.name, "shared": "false", "description": ""} for t in page
                ],
                "resultSetSize": str(len(page)),
                "startPosition": str(start),
                "endPosition": str(start + len(page) - 1 if page else start),
                "totalSetSize": str(len(found)),
            }
        )

    def template_recipients(self, template_id: str) -> JSONResponse:
        """``GET templates/{id}/recipients``: the template's roles (signers, carbon copies)."""
        template = self.account.template(template_id)
        if template is None:
            return error(400, "TEMPLATE_ID_INVALID", "Invalid template ID.")
        copies = [{"roleName": template.cc_role, "recipientId": "2", "routingOrder": "2"}] if template.cc_role else []
        return JSONResponse(
            {
                "signers": [{"roleName": template.signer_role, "recipientId": "1", "routingOrder": "1"}],
                "carbonCopies": copies,
                "recipientCount": str(1 + len(copies)),
            }
        )

    def form_data(self, envelope_id: str) -> JSONResponse:
        """``GET envelopes/{id}/form_data``: ``envelopeFormData`` with the tab labels and values."""
        with self._lock:
            envelope = self.envelopes.get(envelope_id)
            if envelope is None:
                return missing_envelope()
            values = dict(self.form_values.get(envelope_id) or {})
            signer = envelope["recipients"]["signers"][0]
            items = [{"name": name, "value": value} for name, value in values.items()]
            return JSONResponse(
                {
                    "envelopeId": envelope_id,
                    "status": envelope["status"],
                    "emailSubject": envelope["emailSubject"],
                    "sentDateTime": envelope.get("sentDateTime"),
                    "formData": items,
                    "recipientFormData": [
                        {
                            "recipientId": signer["recipientId"],
                            "name": signer["name"],
                            "email": signer["email"],
                            "SignedTime": signer.get("signedDateTime"),
                            "formData": items,
                        }
                    ],
                }
            )

    @staticmethod
    def _view(envelope: dict[str, Any], include: set[str]) -> dict[str, Any]:
        view = {k: v for k, v in envelope.items() if k not in ("recipients", "customFields")}
        if "recipients" in include:
            view["recipients"] = envelope["recipients"]
        if "custom_fields" in include:
            view["customFields"] = envelope["customFields"]
        return json.loads(json.dumps(view))

    def list_status_changes(self, query: dict[str, str]) -> JSONResponse:
        ids_param = query.get("envelope_ids")
        if not query.get("from_date") and not ids_param and not query.get("transaction_ids"):
            return error(
                400,
                "INVALID_REQUEST_PARAMETER",
                "The request contained at least one invalid parameter. "
                "A from_date, envelope_ids or transaction_ids must be given.",
            )
        try:
            from_date = _parse_date(query["from_date"]) if query.get("from_date") else None
            to_date = _parse_date(query["to_date"]) if query.get("to_date") else self.clock.now()
            start = int(query.get("start_position", 0))
            count = min(int(query.get("count", PAGE_DEFAULT)), PAGE_MAX)
        except ValueError as exc:
            return error(
                400,
                "INVALID_REQUEST_PARAMETER",
                f"The request contained at least one invalid parameter. {exc}",
            )
        if start < 0 or count <= 0:
            return error(400, "INVALID_REQUEST_PARAMETER", "start_position and count must be positive.")
        include = {part.strip() for part in query.get("include", "").split(",") if part.strip()}
        with self._lock:
            if ids_param:
                wanted = {i.strip() for i in ids_param.split(",")}
                ordered = [(s, i) for s, i in self._order if i in wanted]
            else:
                assert from_date is not None
                lo = bisect.bisect_left(self._order, (ds_time(from_date), ""))
                hi = bisect.bisect_right(self._order, (ds_time(to_date), "\uffff"))
                ordered = self._order[lo:hi]
            custom = query.get("custom_field")
            if custom:
                name, _, value = custom.partition("=")
                matching = self._by_field.get((name, value), set())
                ordered = [(s, i) for s, i in ordered if i in matching]
            statuses = {
                s.strip() for s in query.get("status", "").split(",") if s.strip() and s.strip() != "any"
            }
            if statuses:
                ordered = [(s, i) for s, i in ordered if self.envelopes[i]["status"] in statuses]
            if query.get("order") == "desc":
                ordered = ordered[::-1]
            total = len(ordered)
            page = [self._view(self.envelopes[i], include) for _, i in ordered[start : start + count]]
        body: dict[str, Any] = {
            "resultSetSize": str(len(page)),
            "startPosition": str(start),
            "endPosition": str(start + len(page) - 1 if page else start),
            "totalSetSize": str(total),
            "envelopes": page,
            "lastQueriedDateTime": ds_time(self.clock.now()),
        }
        if start + len(page) < total:
            body["nextUri"] = f"/envelopes?start_position={start + len(page)}&count={count}"
        return JSONResponse(body)

    def envelope(self, envelope_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self.envelopes.get(envelope_id)

    def update_envelope(self, envelope_id: str, body: dict[str, Any]) -> JSONResponse:
        with self._lock:
            envelope = self.envelopes.get(envelope_id)
            if envelope is None:
                return missing_envelope()
            if body.get("status") == "voided":
                if envelope["status"] in FINAL:
                    return error(
                        400,
                        "ENVELOPE_CANNOT_VOID_INVALID_STATE",
                        f"Only envelopes in the 'Sent' or 'Delivered' states may be voided "
                        f"(this one is {envelope['status']}).",
                    )
                if not body.get("voidedReason"):
                    return error(
                        400, "ENVELOPE_VOID_REASON_REQUIRED", "A reason is required to void an envelope."
                    )
                snapshot = self._set_status(envelope_id, "voided", str(body["voidedReason"]))
            else:
                old = envelope["statusChangedDateTime"]
                if "emailSubject" in body:
                    envelope["emailSubject"] = str(body["emailSubject"])
                stamp = ds_time(self.clock.now())
                envelope["lastModifiedDateTime"] = envelope["statusChangedDateTime"] = stamp
                self._changed(envelope, old)
                snapshot = None
        if snapshot is not None:
            self.post_connect("envelope-voided", snapshot)
        return JSONResponse({"envelopeId": envelope_id})


def missing_envelope() -> JSONResponse:
    return error(
        400,
        "ENVELOPE_DOES_NOT_EXIST",
        "The envelope specified either does not exist or you have no rights to it.",
    )


def unauthorized(headers: dict[str, str]) -> JSONResponse:
    return error(
        401,
        "USER_AUTHENTICATION_FAILED",
        "One or both of Username and Password are invalid. Invalid access token",
        headers,
    )
