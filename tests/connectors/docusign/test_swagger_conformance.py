"""Every request the DocuSign connector sends, checked against DocuSign's eSignature v2.1 swagger.

The connector runs its reads, writes and actions against the simulator over loopback;
a recording transport keeps each request. Each must be an operation the swagger has
(path template and method) and its JSON body may only use properties of that
operation's body schema (top level and one level down), so neither the connector nor
the simulator can drift into an API DocuSign does not have.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

import httpx
import pytest

from connectors.docusign import DocuSignConnector
from hub.sdk import ConnectorContext, MemoryKeyValueStore
from tests.conftest import vendor_specs

SWAGGER = vendor_specs() / "docusign" / "esignature.rest.swagger-v2.1.json"


@cache
def swagger() -> dict[str, Any]:
    return json.loads(SWAGGER.read_text())


class Recorder(httpx.HTTPTransport):
    """A real transport that keeps every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.sent.append(request)
        return super().handle_request(request)


def _operation(path: str, method: str) -> dict[str, Any] | None:
    """The swagger operation whose path template matches ``path`` (under /restapi)."""
    parts = path.strip("/").split("/")
    for template, ops in swagger()["paths"].items():
        wanted = template.strip("/").split("/")
        if len(wanted) == len(parts) and method.lower() in ops and all(
            (w.startswith("{") and w.endswith("}") and p) or w == p for w, p in zip(wanted, parts, strict=True)
        ):
            return ops[method.lower()]
    return None


def _schema(ref: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in ref:
        return swagger()["definitions"][ref["$ref"].rsplit("/", 1)[-1]]
    return ref


def _check_body(body: Any, schema: dict[str, Any], where: str, depth: int = 0) -> list[str]:
    schema = _schema(schema)
    props = schema.get("properties") or {}
    if not isinstance(body, dict) or not props:
        return []
    wrong = [f"{where}.{k}" for k in body if k not in props]
    if depth < 1:
        for key, value in body.items():
            if key in props:
                inner = props[key]
                if inner.get("type") == "array" and isinstance(value, list):
                    for item in value:
                        wrong += _check_body(item, inner.get("items", {}), f"{where}.{key}[]", depth + 1)
                else:
                    wrong += _check_body(value, inner, f"{where}.{key}", depth + 1)
    return wrong


def test_every_request_is_a_swagger_operation_with_a_known_body(sim: Any, make_ctx: Callable, documents) -> None:
    recorder = Recorder()
    conn = DocuSignConnector(
        sim.settings(), ConnectorContext(state=MemoryKeyValueStore(), clock=sim.clock, transport=recorder)
    )
    conn.check()
    action = conn.action("send_terms")
    terms = {"signer_name": "Ann Lee", "signer_email": "ann@example.com", "organization_name": "Acme Dental"}
    sent = action.run(action.params(**terms), make_ctx())
    conn.get("envelopes", sent["envelope_id"])
    conn.update("envelopes", sent["envelope_id"], {"emailSubject": "Updated subject"})
    list(conn.stream("envelopes").read())
    sim.control.sign(sent["envelope_id"])
    download = conn.action("download_signed")
    download.run(download.params(envelope_id=sent["envelope_id"], account_name="Acme Dental"), make_ctx())
    other = {"signer_name": "Bo", "signer_email": "bo@example.com", "organization_name": "Beta"}
    conn.deactivate("envelopes", action.run(action.params(**other), make_ctx(run="r2"))["envelope_id"])

    api = [r for r in recorder.sent if "/restapi/" in r.url.path]
    assert len(api) >= 8
    problems = []
    for request in api:
        path = request.url.path[request.url.path.index("/restapi") + len("/restapi") :]
        operation = _operation(path, request.method)
        if operation is None:
            problems.append(f"{request.method} {path}: no such operation in the swagger")
            continue
        if request.content and request.headers.get("content-type", "").startswith("application/json"):
            body_param = next((p for p in operation.get("parameters", []) if p.get("in") == "body"), None)
            if body_param is None:
                problems.append(f"{request.method} {path}: the swagger takes no body")
            else:
                problems += _check_body(json.loads(request.content), body_param["schema"], f"{request.method} {path}")
    assert problems == []


@pytest.mark.parametrize(
    ("path", "method", "known"),
    [
        ("/v2.1/accounts/abc/envelopes", "POST", True),
        ("/v2.1/accounts/abc/envelopes/e1/documents/combined", "GET", True),
        ("/v2.1/accounts/abc/envelopes/e1/sign", "POST", False),
    ],
)
def test_the_operation_lookup_tells_known_from_unknown(path: str, method: str, known: bool) -> None:
    assert (_operation(path, method) is not None) is known
    assert _check_body({"emailSubject": "x", "notAField": 1}, {"$ref": "#/definitions/envelopeDefinition"}, "b") == [
        "b.notAField"
    ]
