"""A DocuSign simulator: the OAuth server, the eSignature v2.1 API subset the hub uses, Connect.

Faithful to the published behaviour the connector relies on:

* ``POST /oauth/token`` (JWT grant): the assertion's RS256 signature is verified with
  the integration key's public key; ``iss``, ``sub``, ``aud`` (this server's host) and
  the scope are checked; errors are ``{"error": ...}`` (``consent_required`` when
  consent is withdrawn through the control);
* ``GET /oauth/userinfo``: the user's accounts with their ``base_uri`` (this server);
* under ``/restapi/v2.1/accounts/{accountId}``: the account, its templates (listed with
  ``search_text``, each with its signer and carbon-copy roles: the terms and conditions,
  and the "New Authorization Contact Request" form with text tabs), envelopes created
  from a template (``templateRoles`` by role, custom fields, status ``sent``), the
  form's tab values (``form_data``), listStatusChanges (``from_date``/``to_date``, ``custom_field``,
  ``status``, ``start_position``/``count``, ``include``, ``order``), one envelope,
  void/update (PUT), and ``documents/combined`` returning a real tiny PDF;
* every API answer carries ``X-RateLimit-*`` and ``X-BurstLimit-*`` headers; past the
  hourly budget or the 30-second burst it answers 429 with ``Retry-After`` and
  ``HOURLY_APIINVOCATION_LIMIT_EXCEEDED``; errors are ``{"errorCode", "message"}``;
* a bad or expired access token gets DocuSign's 401 ``USER_AUTHENTICATION_FAILED``.

Control (Python and HTTP, for tests and ``hub demo``): make the recipient open, sign
(filling the form's fields: ``{"values": {label: text}}``) or decline
(``POST /_simulator/envelopes/{id}/sign`` ...). Each status change posts a
Connect JSON (SIM) message, HMAC-signed with every configured key, to ``webhook_url``.

Data lives in memory with indexes: envelopes by id, a list ordered by
``statusChangedDateTime`` (bisected for ``from_date``), and custom field -> ids.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.sdk import Clock, Sandbox

from .pdf import tiny_pdf
from .sim_state import API, DocuSignSimulator, error, missing_envelope, rsa_key_pair, unauthorized

__all__ = ["DocuSignSimulator", "build_app", "build_sandbox"]


def build_app(sim: DocuSignSimulator) -> Starlette:
    """The simulator's ASGI app: OAuth, API and control routes over ``sim``."""
    acct = sim.account

    def api(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """Budget, injected failures, account and token checks around an API route."""

        async def wrapped(request: Request) -> Response:
            with sim._lock:
                sim.api_calls += 1
                headers, over = sim.budget.spend()
                failure = sim._failures.popleft() if sim._failures else None
            if over is not None:
                sim.budget_refusals += 1
                headers["Retry-After"] = str(max(1, int(over + 0.999)))
                return error(
                    429,
                    "HOURLY_APIINVOCATION_LIMIT_EXCEEDED",
                    f"The maximum number of hourly API invocations has been exceeded. "
                    f"The hourly limit is {sim.budget.hourly}.",
                    headers,
                )
            if failure is not None:
                status, retry_after = failure
                if retry_after is not None:
                    headers["Retry-After"] = str(retry_after)
                if status == 401:
                    return unauthorized(headers)
                code = "HOURLY_APIINVOCATION_LIMIT_EXCEEDED" if status == 429 else "UNSPECIFIED_ERROR"
                return error(status, code, f"Simulated failure (HTTP {status}).", headers)
            if not sim.token_valid(request):
                return unauthorized(headers)
            if request.path_params["account_id"] != acct.account_id:
                return error(
                    400,
                    "USER_DOES_NOT_BELONG_TO_SPECIFIED_ACCOUNT",
                    "The specified User is not a member of the specified Account.",
                    headers,
                )
            response = await handler(request)
            response.headers.update(headers)
            return response

        return wrapped

    async def token(request: Request) -> Response:
        # application/x-www-form-urlencoded, parsed by hand (no multipart parser needed)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        return sim.issue_token({k: v[0] for k, v in form.items()}, request.url.netloc)

    async def userinfo(request: Request) -> Response:
        if not sim.token_valid(request):
            return JSONResponse(
                {"error": "invalid_request", "error_description": "invalid access token"}, 401
            )
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "sub": acct.user_id,
                "name": acct.user_name,
                "email": "hub-service@example.com",
                "accounts": [
                    {
                        "account_id": acct.account_id,
                        "is_default": True,
                        "account_name": acct.account_name,
                        "base_uri": base,
                    }
                ],
            }
        )

    async def account(request: Request) -> Response:
        return JSONResponse(
            {"accountIdGuid": acct.account_id, "accountName": acct.account_name, "accountId": "100200300"}
        )

    async def templates(request: Request) -> Response:
        return sim.list_templates(dict(request.query_params))

    async def template(request: Request) -> Response:
        found = acct.template(request.path_params["template_id"])
        if found is None:
            return error(400, "TEMPLATE_ID_INVALID", "Invalid template ID.")
        return JSONResponse({"templateId": found.template_id, "name": found.name, "shared": "false", "description": ""})

    async def template_recipients(request: Request) -> Response:
        return sim.template_recipients(request.path_params["template_id"])

    async def form_data(request: Request) -> Response:
        return sim.form_data(request.path_params["envelope_id"])

    async def envelopes(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = json.loads(await request.body())
            except ValueError:
                return error(
                    400, "INVALID_REQUEST_BODY", "The request body is missing or improperly formatted."
                )
            if not isinstance(body, dict):
                return error(
                    400, "INVALID_REQUEST_BODY", "The request body is missing or improperly formatted."
                )
            return sim.create_envelope(body)
        return sim.list_status_changes(dict(request.query_params))

    async def one_envelope(request: Request) -> Response:
        envelope_id = request.path_params["envelope_id"]
        if request.method == "PUT":
            try:
                body = json.loads(await request.body())
            except ValueError:
                return error(
                    400, "INVALID_REQUEST_BODY", "The request body is missing or improperly formatted."
                )
            return await run_in_threadpool(sim.update_envelope, envelope_id, body)
        envelope = sim.envelope(envelope_id)
        if envelope is None:
            return missing_envelope()
        include = {p.strip() for p in request.query_params.get("include", "").split(",")}
        return JSONResponse(sim._view(envelope, include))

    async def combined(request: Request) -> Response:
        envelope_id = request.path_params["envelope_id"]
        envelope = sim.envelope(envelope_id)
        if envelope is None:
            return missing_envelope()
        signer = envelope["recipients"]["signers"][0]
        pdf = tiny_pdf(
            [
                envelope["emailSubject"],
                f"Envelope {envelope_id} - status {envelope['status']}",
                f"Signer: {signer['name']} <{signer['email']}> - {signer['status']}",
            ]
        )
        return Response(
            pdf,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'file; filename="{acct.template_name}.pdf"; documentid="combined"'
            },
        )

    async def control(request: Request) -> Response:
        envelope_id, what = request.path_params["envelope_id"], request.path_params["what"]
        actions: dict[str, Callable[[str], dict[str, Any]]] = {
            "sign": sim.sign,
            "deliver": sim.deliver,
            "decline": sim.decline,
        }
        if what not in actions:
            return JSONResponse({"error": f"unknown control {what!r}; known: {', '.join(actions)}"}, 404)
        raw = await request.body()
        values = json.loads(raw).get("values") if raw and what == "sign" else None
        try:
            if values:
                outcome = await run_in_threadpool(sim.sign, envelope_id, values)
            else:
                outcome = await run_in_threadpool(actions[what], envelope_id)
        except KeyError:
            return JSONResponse({"error": f"no envelope {envelope_id}"}, status_code=404)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse(outcome)

    routes = [
        Route("/oauth/token", token, methods=["POST"]),
        Route("/oauth/userinfo", userinfo, methods=["GET"]),
        Route(API, api(account), methods=["GET"]),
        Route(API + "/", api(account), methods=["GET"]),
        Route(API + "/templates", api(templates), methods=["GET"]),
        Route(API + "/templates/{template_id}", api(template), methods=["GET"]),
        Route(API + "/templates/{template_id}/recipients", api(template_recipients), methods=["GET"]),
        Route(API + "/envelopes", api(envelopes), methods=["GET", "POST"]),
        Route(API + "/envelopes/{envelope_id}", api(one_envelope), methods=["GET", "PUT"]),
        Route(API + "/envelopes/{envelope_id}/documents/combined", api(combined), methods=["GET"]),
        Route(API + "/envelopes/{envelope_id}/form_data", api(form_data), methods=["GET"]),
        Route("/_simulator/envelopes/{envelope_id}/{what}", control, methods=["POST"]),
    ]
    return Starlette(routes=routes)


def build_sandbox(
    *,
    size: int = 25,
    seed: int = 1,
    budget: int = 3000,
    burst: int = 500,
    webhook_url: str | None = None,
    clock: Clock | None = None,
) -> Sandbox:
    """The simulator, its control, and the settings that point the connector at it.

    The integration key's RSA key pair is made at runtime; the private half is written
    to a temp file whose path goes in ``private_key_file``.
    """
    private, public = rsa_key_pair()
    sim = DocuSignSimulator(
        size=size,
        seed=seed,
        budget=budget,
        burst=burst,
        webhook_url=webhook_url,
        clock=clock,
        public_key=public,
    )
    key_dir = tempfile.TemporaryDirectory(prefix="hub-docusign-sim-")
    key_file = Path(key_dir.name) / "integration-key.pem"
    key_file.write_bytes(private)
    key_file.chmod(0o600)
    acct = sim.account

    def settings(base_url: str) -> dict[str, Any]:
        return {
            "auth_server": base_url.rstrip("/"),
            "account_id": acct.account_id,
            "integration_key": acct.integration_key,
            "user_id": acct.user_id,
            "private_key_file": str(key_file),
            "connect_hmac_keys": ",".join(acct.hmac_keys),
            "tc_template_id": acct.template_id,
        }

    return Sandbox(app=build_app(sim), settings=settings, control=sim, extra={"key_dir": key_dir})
