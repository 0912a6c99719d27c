"""Contract tests with respx, built from the vendor-spec payloads (every mocked route must be called)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import httpx
import jwt
import pytest
import respx

from connectors.docusign import DocuSignConnector
from connectors.docusign.auth import JWT_GRANT
from connectors.docusign.connector import EnvelopeNotCompleted
from connectors.docusign.pdf import tiny_pdf
from connectors.docusign.plugin import MAPPINGS
from connectors.docusign.settings import DocuSignSettings
from connectors.docusign.sim_state import rsa_key_pair
from hub.mapping import load_mapping
from hub.sdk import (
    ActionContext,
    AuthenticationError,
    ConfigError,
    ConnectorContext,
    FakeClock,
    MemoryKeyValueStore,
    NotFoundError,
    SignatureRequest,
    SignatureStatus,
    TransientError,
    VendorError,
)

from .conftest import ACCOUNT

AUTH = "https://account-d.docusign.com"
BASE = "https://demo.docusign.net"
API = f"{BASE}/restapi/v2.1/accounts/{ACCOUNT}"
ENVELOPE = "93be49ab-0000-4000-8000-000000000000"
USERINFO = {
    "sub": "user-guid",
    "name": "Hub Service",
    "email": "hub@example.com",
    "accounts": [
        {
            "account_id": "other",
            "is_default": True,
            "account_name": "Other",
            "base_uri": "https://na2.docusign.net",
        },
        {"account_id": ACCOUNT, "is_default": False, "account_name": "Example MSP", "base_uri": BASE},
    ],
}


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True) as router:
        yield router


def token_route(mock: respx.MockRouter, expires_in: int = 3600) -> respx.Route:
    return mock.post(f"{AUTH}/oauth/token").mock(
        return_value=httpx.Response(
            200, json={"access_token": "tok", "token_type": "Bearer", "expires_in": expires_in}
        )
    )


def userinfo_route(mock: respx.MockRouter) -> respx.Route:
    return mock.get(f"{AUTH}/oauth/userinfo").mock(return_value=httpx.Response(200, json=USERINFO))


def test_jwt_grant_assertion_userinfo_discovery_and_token_cache(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector], clock: FakeClock, example: Callable
) -> None:
    token = token_route(mock)
    info = userinfo_route(mock)
    listing = mock.get(f"{API}/envelopes").mock(
        return_value=httpx.Response(200, json=example("envelopes_listStatusChanges.SHAPE.json")["body"])
    )
    state = MemoryKeyValueStore()
    conn = make(state)
    list(conn.stream("envelopes").read())
    list(conn.stream("envelopes").read())
    assert token.call_count == 1 and info.call_count == 1 and listing.call_count == 2

    form = parse_qs(token.calls[0].request.content.decode())
    assert form["grant_type"] == [JWT_GRANT]
    claims = jwt.decode(
        form["assertion"][0],
        rsa_key_pair()[1],
        algorithms=["RS256"],
        audience="account-d.docusign.com",
        options={"verify_exp": False},
    )
    assert claims["iss"] == "ik-guid" and claims["sub"] == "user-guid"
    assert claims["scope"] == "signature impersonation"
    assert claims["exp"] - claims["iat"] == 3600
    assert info.calls[0].request.headers["Authorization"] == "Bearer tok"
    assert listing.calls[0].request.headers["Authorization"] == "Bearer tok"

    clock.advance(3600 - 5 * 60 + 1)  # inside the refresh margin: a new token
    list(conn.stream("envelopes").read())
    assert token.call_count == 2

    # The base URI is cached in the state store: a new connector does not ask again.
    list(make(state).stream("envelopes").read())
    assert info.call_count == 1


def test_base_uri_setting_skips_discovery(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector]
) -> None:
    token_route(mock)
    route = mock.get(f"{API}/").mock(return_value=httpx.Response(200, json={"accountName": "Example MSP"}))
    mock.get(f"{API}/templates/tpl-guid").mock(return_value=httpx.Response(200, json={"name": "T&C"}))
    result = make(base_uri=BASE).check()
    assert route.called
    assert result.ok
    assert result.details["account"] == f"Example MSP ({ACCOUNT})"
    assert result.details["terms template"] == "T&C (tpl-guid)"
    assert "k1" not in json.dumps(result.details)


def test_unknown_account_in_userinfo_is_a_config_error(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector]
) -> None:
    token_route(mock)
    userinfo_route(mock)
    with pytest.raises(ConfigError, match=r"^HUB_DOCUSIGN__ACCOUNT_ID: user user-guid has no account nope"):
        make(account_id="nope").client()


def test_list_status_changes_request_and_example_mapped_to_core(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector], clock: FakeClock, example: Callable
) -> None:
    token_route(mock)
    userinfo_route(mock)
    listing = mock.get(f"{API}/envelopes").mock(
        return_value=httpx.Response(200, json=example("envelopes_listStatusChanges.SHAPE.json")["body"])
    )
    since = clock.now() - timedelta(days=3)
    pages = list(make().stream("envelopes").read(since=since))
    assert len(pages) == 1 and pages[0].resume is None
    params = listing.calls[0].request.url.params
    assert params["from_date"] == "2026-01-02T09:00:00.000000Z"
    assert params["to_date"] == "2026-01-05T09:00:00.000000Z"
    assert params["include"] == "recipients,custom_fields"
    assert (params["order_by"], params["order"], params["start_position"]) == ("status_changed", "asc", "0")
    record = pages[0].records[0]
    core = load_mapping("docusign", [MAPPINGS]).entity("envelopes").to_core(record)
    assert isinstance(core, SignatureRequest)
    assert core.status is SignatureStatus.completed
    assert core.subject == "Please sign: MSA - Acme"
    assert core.ref_id("docusign") == "93be49ab-0000-4000-8000-000000000000"
    assert core.completed_at is not None and core.completed_at.isoformat() == "2025-01-11T09:12:00+00:00"


def test_vendor_error_body_is_the_message_shown(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector], example: Callable
) -> None:
    token_route(mock)
    userinfo_route(mock)
    mock.get(f"{API}/envelopes").mock(
        return_value=httpx.Response(400, json=example("error_response.SHAPE.json")["body"])
    )
    with pytest.raises(VendorError) as err:
        list(make().stream("envelopes").read())
    line = str(err.value)
    assert "HOURLY_APIINVOCATION_LIMIT_EXCEEDED: The maximum number of hourly API invocations" in line
    assert "\n" not in line and "tok" not in line


def test_consent_required_is_one_clear_line(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector]
) -> None:
    mock.post(f"{AUTH}/oauth/token").mock(
        return_value=httpx.Response(400, json={"error": "consent_required"})
    )
    with pytest.raises(ConfigError) as err:
        make().check()
    line = str(err.value)
    assert "\n" not in line
    assert "has not granted consent to integration key ik-guid" in line
    assert f"{AUTH}/oauth/auth?response_type=code&scope=signature%20impersonation&client_id=ik-guid" in line


def test_invalid_grant_names_the_settings(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector]
) -> None:
    mock.post(f"{AUTH}/oauth/token").mock(
        return_value=httpx.Response(
            400, json={"error": "invalid_grant", "error_description": "issuer_not_found"}
        )
    )
    with pytest.raises(AuthenticationError) as err:
        make().check()
    assert "HUB_DOCUSIGN__INTEGRATION_KEY" in str(err.value)
    assert "invalid_grant: issuer_not_found" in str(err.value)


def test_unreadable_private_key_is_a_config_error(
    make: Callable[..., DocuSignConnector], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"^HUB_DOCUSIGN__PRIVATE_KEY_FILE: cannot read"):
        make(private_key_file=tmp_path / "missing.pem").grant().token()
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match=r"is not a usable RSA key"):
        make(private_key_file=bad).grant().token()


def test_api_401_names_settings_and_drops_the_token(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector], example: Callable
) -> None:
    token = token_route(mock)
    userinfo_route(mock)
    body = {
        "errorCode": "USER_AUTHENTICATION_FAILED",
        "message": "One or both of Username and Password are invalid.",
    }
    mock.get(f"{API}/envelopes").mock(
        side_effect=[
            httpx.Response(401, json=body),
            httpx.Response(200, json=example("envelopes_listStatusChanges.SHAPE.json")["body"]),
        ]
    )
    conn = make()
    with pytest.raises(AuthenticationError) as err:
        list(conn.stream("envelopes").read())
    assert "HUB_DOCUSIGN__INTEGRATION_KEY" in str(err.value)
    assert "USER_AUTHENTICATION_FAILED" in str(err.value)
    list(conn.stream("envelopes").read())
    assert token.call_count == 2


def test_429_retry_after_is_waited_out_on_the_fake_clock(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector], clock: FakeClock, example: Callable
) -> None:
    token_route(mock)
    userinfo_route(mock)
    route = mock.get(f"{API}/envelopes").mock(
        side_effect=[
            httpx.Response(
                429, headers={"Retry-After": "7"}, json={"errorCode": "TOO_MANY_REQUESTS", "message": "x"}
            ),
            httpx.Response(200, json=example("envelopes_listStatusChanges.SHAPE.json")["body"]),
        ]
    )
    pages = list(make().stream("envelopes").read())
    assert route.call_count == 2 and len(pages[0].records) == 1
    assert 7 in clock.sleeps


def test_5xx_is_retried_then_transient(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector]
) -> None:
    token_route(mock)
    userinfo_route(mock)
    route = mock.get(f"{API}/envelopes").mock(
        return_value=httpx.Response(503, json={"errorCode": "UNSPECIFIED_ERROR"})
    )
    with pytest.raises(TransientError):
        list(make().stream("envelopes").read())
    assert route.call_count == 5


def _limit_headers(remaining: int, reset: int, burst: int = 400) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "3000",
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset),
        "X-BurstLimit-Limit": "500",
        "X-BurstLimit-Remaining": str(burst),
    }


def test_rate_limit_headers_slow_down_before_the_wall(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector], clock: FakeClock, example: Callable
) -> None:
    token_route(mock)
    userinfo_route(mock)
    body = example("envelopes_listStatusChanges.SHAPE.json")["body"]
    reset = int(clock.now().timestamp()) + 600
    mock.get(f"{API}/envelopes").mock(
        side_effect=[
            httpx.Response(200, json=body, headers=_limit_headers(2000, reset)),
            httpx.Response(200, json=body, headers=_limit_headers(100, reset)),
            httpx.Response(200, json=body, headers=_limit_headers(0, reset)),
            httpx.Response(200, json=body, headers=_limit_headers(2999, reset + 3600, burst=0)),
            httpx.Response(200, json=body, headers=_limit_headers(2998, reset + 3600)),
        ]
    )
    conn = make()
    stream = conn.stream("envelopes")
    list(stream.read())
    assert clock.sleeps == []  # plenty left: no wait
    list(stream.read())
    assert clock.sleeps == []
    list(stream.read())  # 100 of 3000 left (< 10 %): spread over the 600 s left
    assert clock.sleeps == [pytest.approx(6.0)]
    list(stream.read())  # none left: wait for the hourly reset
    assert clock.sleeps[-1] == pytest.approx(600 - 6.0)
    list(stream.read())  # burst spent: wait out the 30-second window
    assert clock.sleeps[-1] == pytest.approx(30.0)


def test_unknown_envelope_is_not_found(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector]
) -> None:
    token_route(mock)
    userinfo_route(mock)
    mock.get(f"{API}/envelopes/nope").mock(
        return_value=httpx.Response(
            400,
            json={
                "errorCode": "ENVELOPE_DOES_NOT_EXIST",
                "message": "The envelope specified either does not exist",
            },
        )
    )
    with pytest.raises(NotFoundError, match="envelope nope does not exist"):
        make().get("envelopes", "nope")


def test_send_terms_never_retries_the_post_and_reconciles_a_lost_answer(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector], make_ctx: Callable[..., ActionContext]
) -> None:
    token_route(mock)
    userinfo_route(mock)
    mock.get(f"{API}/templates/tpl-guid/recipients").mock(
        return_value=httpx.Response(
            200,
            json={
                "signers": [
                    {"roleName": "Approver", "routingOrder": "2"},
                    {"roleName": "Client", "routingOrder": "1"},
                ]
            },
        )
    )
    created = {
        "envelopeId": ENVELOPE,
        "status": "sent",
        "customFields": {
            "textCustomFields": [
                {"name": "hub_run_id", "value": "r1"},
                {"name": "hub_step_id", "value": "s1"},
            ]
        },
    }
    empty = {"resultSetSize": "0", "totalSetSize": "0", "envelopes": []}
    found = {
        "resultSetSize": "1",
        "startPosition": "0",
        "endPosition": "0",
        "totalSetSize": "1",
        "envelopes": [created],
    }
    listing = mock.get(f"{API}/envelopes").mock(
        side_effect=[httpx.Response(200, json=empty), httpx.Response(200, json=found)]
    )
    post = mock.post(f"{API}/envelopes").mock(return_value=httpx.Response(504))
    ctx = make_ctx(run="r1", step="s1")
    conn = make()
    result = conn.action("send_terms").run(
        conn.action("send_terms").params(
            signer_name="Ann Lee",
            signer_email="ann@example.com",
            organization_name="Acme",
            organization_ref="at:42",
        ),
        ctx,
    )
    assert result == {"envelope_id": ENVELOPE, "status": "sent"}
    assert post.call_count == 1  # a lost answer is never blindly re-sent
    assert listing.calls[0].request.url.params["custom_field"] == "hub_run_id=r1"
    sent = json.loads(post.calls[0].request.content)
    assert sent["templateId"] == "tpl-guid" and sent["status"] == "sent"
    assert sent["templateRoles"] == [{"roleName": "Client", "name": "Ann Lee", "email": "ann@example.com"}]
    fields = {f["name"]: f["value"] for f in sent["customFields"]["textCustomFields"]}
    assert fields == {"hub_run_id": "r1", "hub_step_id": "s1", "hub_organization": "at:42"}


def _completed(mock: respx.MockRouter) -> None:
    mock.get(f"{API}/envelopes/{ENVELOPE}").mock(
        return_value=httpx.Response(200, json={"envelopeId": ENVELOPE, "status": "completed"})
    )


def test_download_refuses_what_is_not_a_pdf(
    mock: respx.MockRouter,
    make: Callable[..., DocuSignConnector],
    make_ctx: Callable[..., ActionContext],
    documents: Path,
) -> None:
    token_route(mock)
    userinfo_route(mock)
    _completed(mock)
    mock.get(f"{API}/envelopes/{ENVELOPE}/documents/combined").mock(
        return_value=httpx.Response(
            200, content=b"<html>maintenance</html>", headers={"Content-Type": "text/html"}
        )
    )
    conn = make()
    with pytest.raises(VendorError, match="not a PDF"):
        conn.action("download_signed").run(
            conn.action("download_signed").params(envelope_id=ENVELOPE, account_name="Acme"), make_ctx()
        )
    assert list(documents.rglob("*.pdf")) == []


def test_download_refuses_a_truncated_pdf(
    mock: respx.MockRouter,
    make: Callable[..., DocuSignConnector],
    make_ctx: Callable[..., ActionContext],
    documents: Path,
) -> None:
    token_route(mock)
    userinfo_route(mock)
    _completed(mock)
    pdf = tiny_pdf(["signed"])
    mock.get(f"{API}/envelopes/{ENVELOPE}/documents/combined").mock(
        return_value=httpx.Response(200, content=pdf[:100], headers={"Content-Length": str(len(pdf))})
    )
    conn = make()
    with pytest.raises(TransientError, match=f"incomplete \\(100 of {len(pdf)} bytes\\)"):
        conn.action("download_signed").run(
            conn.action("download_signed").params(envelope_id=ENVELOPE, account_name="Acme"), make_ctx()
        )
    assert list(documents.iterdir()) == []  # checked before anything is written


def test_download_of_an_unsigned_envelope_is_refused(
    mock: respx.MockRouter, make: Callable[..., DocuSignConnector], make_ctx: Callable[..., ActionContext]
) -> None:
    token_route(mock)
    userinfo_route(mock)
    mock.get(f"{API}/envelopes/{ENVELOPE}").mock(
        return_value=httpx.Response(200, json={"envelopeId": ENVELOPE, "status": "delivered"})
    )
    conn = make()
    with pytest.raises(EnvelopeNotCompleted, match="is 'delivered', not completed"):
        conn.action("download_signed").run(
            conn.action("download_signed").params(envelope_id=ENVELOPE, account_name="Acme"), make_ctx()
        )


@pytest.mark.parametrize(
    ("zone", "day"), [("UTC", "2026-03-03"), ("America/New_York", "2026-03-02"), ("Australia/Sydney", "2026-03-03")]
)
def test_the_signed_file_is_named_by_the_msp_s_day_of_signing(
    mock: respx.MockRouter,
    settings: DocuSignSettings,
    clock: FakeClock,
    make_ctx: Callable[..., ActionContext],
    documents: Path,
    zone: str,
    day: str,
) -> None:
    token_route(mock)
    userinfo_route(mock)
    # completed at 02:30 UTC: still the evening before in New York
    mock.get(f"{API}/envelopes/{ENVELOPE}").mock(
        return_value=httpx.Response(
            200, json={"envelopeId": ENVELOPE, "status": "completed", "completedDateTime": "2026-03-03T02:30:00Z"}
        )
    )
    mock.get(f"{API}/envelopes/{ENVELOPE}/documents/combined").mock(
        return_value=httpx.Response(200, content=tiny_pdf(["signed"]), headers={"Content-Type": "application/pdf"})
    )
    conn = DocuSignConnector(settings, ConnectorContext(clock=clock, zone=ZoneInfo(zone)))
    result = conn.action("download_signed").run(
        conn.action("download_signed").params(envelope_id=ENVELOPE, account_name="Acme"), make_ctx()
    )
    assert Path(result["path"]).name == f"Terms and Conditions - signed {day}.pdf"
