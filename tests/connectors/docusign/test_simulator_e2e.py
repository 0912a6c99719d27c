"""End-to-end over real loopback HTTP against the simulator: auth, streams, writes, actions, errors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.docusign.connector import EnvelopeNotCompleted
from connectors.docusign.plugin import MAPPINGS
from hub.folders import decode_name
from hub.logging import configure_logging
from hub.mapping import load_mapping
from hub.sdk import (
    ActionContext,
    AuthenticationError,
    ConfigError,
    MemoryKeyValueStore,
    NotFoundError,
    SignatureStatus,
    TransientError,
    VendorError,
)


def send(conn: Any, ctx: ActionContext, **params: Any) -> dict[str, Any]:
    values = {"signer_name": "Ann Lee", "signer_email": "ann@example.com", "organization_name": "Acme Dental"}
    action = conn.action("send_terms")
    return action.run(action.params(**{**values, **params}), ctx)


def download(conn: Any, ctx: ActionContext, envelope_id: str, account: str, **params: Any) -> dict[str, Any]:
    action = conn.action("download_signed")
    return action.run(action.params(envelope_id=envelope_id, account_name=account, **params), ctx)


def test_check_reports_account_template_and_discovered_base_uri(sim: Any) -> None:
    result = sim.connector().check()
    assert result.ok
    assert result.details["base uri"] == sim.url
    assert result.details["account"].startswith("Example MSP (")
    assert result.details["terms template"].startswith("Terms and Conditions (")
    assert result.details["connect hmac keys"] == "1 configured"


def test_full_read_pages_through_every_envelope(sim: Any) -> None:
    pages = list(sim.connector().stream("envelopes").read())
    ids = [e["envelopeId"] for p in pages for e in p.records]
    assert len(pages) == 3 and [len(p.records) for p in pages] == [100, 100, 50]
    assert len(ids) == len(set(ids)) == sim.control.count("envelopes") == 250
    stamps = [e["statusChangedDateTime"] for p in pages for e in p.records]
    assert stamps == sorted(stamps)  # sorted_by_cursor holds
    assert all("recipients" in e and "customFields" in e for p in pages for e in p.records)


def test_resume_token_continues_after_a_page(sim: Any) -> None:
    stream = sim.connector().stream("envelopes")
    first = next(iter(stream.read()))
    rest = list(sim.connector().stream("envelopes").read(resume=first.resume))
    ids = [e["envelopeId"] for e in first.records] + [e["envelopeId"] for p in rest for e in p.records]
    assert len(ids) == len(set(ids)) == 250


def test_incremental_read_returns_changes_at_or_after_since(sim: Any, clock: Any) -> None:
    conn = sim.connector()
    everything = [e for p in conn.stream("envelopes").read() for e in p.records]
    stream = conn.stream("envelopes")
    since = max(stream.cursor_value(e) for e in everything)
    at_since = [e["envelopeId"] for p in stream.read(since=since) for e in p.records]
    assert at_since == [everything[-1]["envelopeId"]]  # "at or after": the boundary record again
    clock.advance(60)
    later = clock.now()
    touched = sim.control.touch("envelopes", everything[3]["envelopeId"])
    changed = [e["envelopeId"] for p in stream.read(since=later) for e in p.records]
    assert changed == [touched]


def test_far_future_since_returns_nothing(sim: Any, clock: Any) -> None:
    pages = list(sim.connector().stream("envelopes").read(since=clock.now() + timedelta(days=3650)))
    assert [p.records for p in pages] == [[]]


def test_send_terms_creates_one_envelope_and_a_retry_finds_it(sim: Any, make_ctx: Callable) -> None:
    conn = sim.connector()
    first = send(conn, make_ctx(run="run-7", step="tc"), email_subject="Please sign our terms")
    assert first["status"] == "sent"
    envelope = conn.get("envelopes", first["envelope_id"])
    assert envelope["emailSubject"] == "Please sign our terms"
    signer = envelope["recipients"]["signers"][0]
    assert (signer["roleName"], signer["name"], signer["email"]) == ("Client", "Ann Lee", "ann@example.com")
    core = load_mapping("docusign", [MAPPINGS]).entity("envelopes").to_core(envelope)
    assert core.custom_fields == {
        "hub_run_id": "run-7",
        "hub_step_id": "tc",
        "hub_organization": "Acme Dental",
    }

    # The step is retried after a crash that lost everything the hub had recorded.
    again = send(sim.connector(), make_ctx(run="run-7", step="tc", state=MemoryKeyValueStore()))
    assert again["envelope_id"] == first["envelope_id"]
    # Another step of the same run is another envelope.
    other = send(sim.connector(), make_ctx(run="run-7", step="tc-secondary"))
    assert other["envelope_id"] != first["envelope_id"]
    assert sim.control.envelopes_created == 2


def test_send_terms_remembers_its_result_without_asking_again(sim: Any, make_ctx: Callable) -> None:
    conn = sim.connector()
    ctx = make_ctx()
    first = send(conn, ctx)
    calls = sim.control.api_calls
    assert send(conn, ctx) == first
    assert sim.control.api_calls == calls


def test_send_terms_without_template_setting_is_a_config_error(sim: Any, make_ctx: Callable) -> None:
    with pytest.raises(
        ConfigError, match=r"^HUB_DOCUSIGN__TC_TEMPLATE_ID: required by send_terms but not set$"
    ):
        send(sim.connector(tc_template_id=None), make_ctx())


def test_unknown_template_is_a_config_error(sim: Any, make_ctx: Callable) -> None:
    with pytest.raises(
        ConfigError, match=r"HUB_DOCUSIGN__TC_TEMPLATE_ID: template nope unusable.*TEMPLATE_ID_INVALID"
    ):
        send(sim.connector(tc_template_id="nope"), make_ctx())


def test_signing_completes_and_the_pdf_lands_in_the_client_folder(
    sim: Any, make_ctx: Callable, documents: Path
) -> None:
    conn = sim.connector()
    sent = send(conn, make_ctx())
    with pytest.raises(EnvelopeNotCompleted):
        download(conn, make_ctx(step="download"), sent["envelope_id"], "Acme Dental, Inc.")
    assert list(documents.iterdir()) == []

    answer = httpx.post(f"{sim.url}/_simulator/envelopes/{sent['envelope_id']}/sign")
    assert answer.status_code == 200 and answer.json()["status"] == "completed"
    core = load_mapping("docusign", [MAPPINGS]).entity("envelopes").to_core(conn.get("envelopes", sent["envelope_id"]))
    assert core.status is SignatureStatus.completed and core.completed_at is not None

    result = download(conn, make_ctx(step="download"), sent["envelope_id"], "Acme Dental, Inc.")
    path = Path(result["path"])
    assert path.parent == documents / "Acme Dental, Inc."  # named exactly like the PSA account
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert result["size"] == len(data) and result["sha256"] == hashlib.sha256(data).hexdigest()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


def test_download_is_idempotent_and_never_overwrites(sim: Any, make_ctx: Callable, documents: Path) -> None:
    conn = sim.connector()
    sent = send(conn, make_ctx())
    sim.control.sign(sent["envelope_id"])
    folder = documents / "Acme %2F Widgets%3A East"
    folder.mkdir()
    existing = folder / "Terms.pdf"
    existing.write_bytes(b"%PDF-1.4 an older, different document")

    first = download(
        conn, make_ctx(step="dl"), sent["envelope_id"], "Acme / Widgets: East", file_name="Terms.pdf"
    )
    assert Path(first["path"]) == folder / "Terms (2).pdf"
    assert existing.read_bytes() == b"%PDF-1.4 an older, different document"
    assert decode_name(Path(first["path"]).parent.name) == "Acme / Widgets: East"

    # A retried step (its record lost) finds the same bytes and reuses the file.
    again = download(
        conn,
        make_ctx(step="dl", state=MemoryKeyValueStore()),
        sent["envelope_id"],
        "Acme / Widgets: East",
        file_name="Terms.pdf",
    )
    assert again["path"] == first["path"]
    assert sorted(p.name for p in folder.iterdir()) == ["Terms (2).pdf", "Terms.pdf"]


def test_decline_maps_to_declined_with_the_reason(sim: Any, make_ctx: Callable) -> None:
    conn = sim.connector()
    sent = send(conn, make_ctx())
    answer = httpx.post(f"{sim.url}/_simulator/envelopes/{sent['envelope_id']}/decline")
    assert answer.json()["status"] == "declined"
    core = load_mapping("docusign", [MAPPINGS]).entity("envelopes").to_core(conn.get("envelopes", sent["envelope_id"]))
    assert core.status is SignatureStatus.declined
    assert core.declined_reason == "Declined by the recipient"


def test_create_through_the_mapping_and_read_back(sim: Any) -> None:
    conn = sim.connector()
    mapping = load_mapping("docusign", [MAPPINGS]).entity("envelopes")
    record = mapping.to_core(
        {
            "emailSubject": "Terms for Harbor",
            "customFields": {
                "textCustomFields": [
                    {"name": "hub_run_id", "value": "r"},
                    {"name": "hub_step_id", "value": "s"},
                    {"name": "hub_organization", "value": "Harbor"},
                ]
            },
        }
    )
    record = record.model_copy(update={"template_id": conn.settings.tc_template_id})
    payload = mapping.to_vendor(record, create=True)
    payload["templateRoles"] = [{"roleName": "Client", "name": "Bo Diaz", "email": "bo@example.com"}]
    created = conn.create("envelopes", payload)
    back = conn.get("envelopes", created.id)
    assert back["status"] == "sent" and back["emailSubject"] == "Terms for Harbor"
    assert mapping.to_core(back).custom_fields == record.custom_fields


def test_update_changes_only_the_given_fields_and_deactivate_voids(sim: Any, make_ctx: Callable) -> None:
    conn = sim.connector()
    sent = send(conn, make_ctx())
    before = conn.get("envelopes", sent["envelope_id"])
    conn.update("envelopes", sent["envelope_id"], {"emailSubject": "Updated subject"})
    after = conn.get("envelopes", sent["envelope_id"])
    assert after["emailSubject"] == "Updated subject"
    assert after["recipients"] == before["recipients"] and after["customFields"] == before["customFields"]
    assert after["status"] == before["status"]

    conn.deactivate("envelopes", sent["envelope_id"])
    voided = conn.get("envelopes", sent["envelope_id"])
    assert voided["status"] == "voided" and voided["voidedReason"] == "Voided by msp-hub"
    with pytest.raises(VendorError, match="ENVELOPE_CANNOT_VOID_INVALID_STATE"):
        conn.deactivate("envelopes", sent["envelope_id"])


def test_missing_envelope_and_unknown_entity(sim: Any) -> None:
    conn = sim.connector()
    with pytest.raises(NotFoundError, match="does not exist"):
        conn.get("envelopes", "00000000-0000-4000-8000-000000000000")
    with pytest.raises(ConfigError, match="docusign has no entity 'templates'"):
        conn.get("templates", "x")


# -- errors and limits ------------------------------------------------------------------


def test_429_with_retry_after_is_waited_out(sim: Any, clock: Any) -> None:
    conn = sim.connector()
    conn.client()  # authenticate first so the failure hits the listing
    sim.control.fail_next(429, retry_after=9)
    pages = list(conn.stream("envelopes").read())
    assert sum(len(p.records) for p in pages) == 250
    assert 9 in clock.sleeps


def test_5xx_is_retried_then_transient(sim: Any) -> None:
    conn = sim.connector()
    conn.client()
    sim.control.fail_next(503, count=10)
    with pytest.raises(TransientError, match="UNSPECIFIED_ERROR"):
        list(conn.stream("envelopes").read())


def test_401_is_an_authentication_error_naming_the_settings(sim: Any) -> None:
    conn = sim.connector()
    conn.client()
    sim.control.fail_next(401)
    with pytest.raises(AuthenticationError) as err:
        list(conn.stream("envelopes").read())
    assert "USER_AUTHENTICATION_FAILED" in str(err.value)
    assert "HUB_DOCUSIGN__INTEGRATION_KEY" in str(err.value)


def test_expired_token_is_replaced_after_a_401(sim: Any) -> None:
    conn = sim.connector()
    conn.client()
    sim.control.revoke_tokens()
    with pytest.raises(AuthenticationError):
        list(conn.stream("envelopes").read())
    assert sum(len(p.records) for p in conn.stream("envelopes").read()) == 250


def test_wrong_private_key_is_refused_by_the_token_endpoint(sim: Any, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "other.pem"
    path.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(AuthenticationError, match="no_valid_keys_or_signatures"):
        sim.connector(private_key_file=str(path)).check()
    with pytest.raises(AuthenticationError, match="user_not_found"):
        sim.connector(user_id="someone-else").check()


def test_withdrawn_consent_is_explained(sim: Any) -> None:
    sim.control.set_consent(False)
    with pytest.raises(ConfigError, match="has not granted consent"):
        sim.connector().check()


def test_pacing_on_headers_keeps_a_small_budget_from_ever_answering_429(serve: Callable, clock: Any) -> None:
    small = serve(size=30, budget=20, clock=clock)
    conn = small.connector()
    for _ in range(40):
        list(conn.stream("envelopes").read())
    assert small.control.budget_refusals == 0  # slowed down before the wall
    assert sum(clock.sleeps) >= 3600  # two hourly resets were waited for, on the fake clock


def test_over_budget_answers_429_like_the_vendor_and_the_connector_waits_for_the_reset(
    serve: Callable, clock: Any
) -> None:
    small = serve(size=5, budget=2, clock=clock)
    assertion = small.connector().grant().assertion()
    token = httpx.post(
        f"{small.url}/oauth/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
    ).json()["access_token"]
    base = f"{small.url}/restapi/v2.1/accounts/{small.control.account.account_id}/envelopes"
    headers = {"Authorization": f"Bearer {token}"}
    answers = [httpx.get(base, params={"from_date": "2020-01-01"}, headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[1].headers["X-RateLimit-Remaining"] == "0"
    assert answers[2].json()["errorCode"] == "HOURLY_APIINVOCATION_LIMIT_EXCEEDED"
    retry_after = int(answers[2].headers["Retry-After"])
    assert 0 < retry_after <= 3600

    # A connector meeting the spent budget learns it from the 429's headers and waits for the reset.
    pages = list(small.connector().stream("envelopes").read())
    assert sum(len(p.records) for p in pages) == 5
    assert sum(clock.sleeps) >= retry_after


def test_list_status_changes_requires_from_date(sim: Any) -> None:
    conn = sim.connector()
    with pytest.raises(VendorError, match="INVALID_REQUEST_PARAMETER"):
        conn.client().get("envelopes")


def test_hundred_thousand_envelopes_are_possible(serve: Callable, clock: Any) -> None:
    big = serve(size=100_000, seed=3)
    conn = big.connector()
    first = next(iter(conn.stream("envelopes").read(since=datetime(2025, 12, 1, tzinfo=UTC))))
    assert big.control.count("envelopes") == 100_000
    assert len(first.records) == 100 and first.resume is not None


def test_no_secret_reaches_the_logs(sim: Any, make_ctx: Callable, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="DEBUG")  # whatever an earlier test left, every request is logged here
    conn = sim.connector()
    sent = send(conn, make_ctx())
    sim.control.sign(sent["envelope_id"])
    download(conn, make_ctx(step="dl"), sent["envelope_id"], "Acme")
    token = conn.grant().token()
    out = capsys.readouterr()
    logs = out.out + out.err
    assert "http.request" in logs  # the requests were logged ...
    for secret in (token, *sim.control.account.hmac_keys, "PRIVATE KEY"):
        assert secret not in logs  # ... without the token, the HMAC keys or the key file
