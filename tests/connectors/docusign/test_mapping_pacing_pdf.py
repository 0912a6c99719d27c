"""The mapping round trip, status mapping, the header pacer on its own, and the tiny PDF."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.docusign.pacing import RateLimitPacer
from connectors.docusign.pdf import tiny_pdf
from connectors.docusign.plugin import MAPPINGS
from hub.mapping import load_mapping
from hub.sdk import FakeClock, SignatureRequest, SignatureStatus

MAPPING = load_mapping("docusign", [MAPPINGS]).entity("envelopes")

STATUSES = {
    "created": "created",
    "sent": "sent",
    "processing": "sent",
    "correct": "sent",
    "delivered": "delivered",
    "signed": "delivered",
    "completed": "completed",
    "declined": "declined",
    "voided": "voided",
    "deleted": "voided",
    "timedout": "voided",
}


def envelope(status: str = "sent", **extra: Any) -> dict[str, Any]:
    return {
        "envelopeId": "env-1",
        "status": status,
        "emailSubject": "Please sign: Terms",
        "statusChangedDateTime": "2026-01-05T09:00:00.0000000Z",
        "sentDateTime": "2026-01-05T08:00:00.0000000Z",
        "customFields": {
            "textCustomFields": [
                {"name": "hub_run_id", "value": "run-1"},
                {"name": "hub_step_id", "value": "send-tc"},
                {"name": "hub_organization", "value": "autotask:42"},
            ]
        },
        "recipients": {"signers": [{"name": "Ann Lee", "email": "Ann@Example.com", "status": status}]},
        **extra,
    }


@pytest.mark.parametrize(("vendor", "core"), sorted(STATUSES.items()))
def test_every_documented_envelope_status_maps(vendor: str, core: str) -> None:
    assert MAPPING.to_core(envelope(vendor)).status is SignatureStatus(core)


def test_vendor_core_vendor_round_trip(example: Callable[[str], Any]) -> None:
    raw = envelope("declined")
    raw["recipients"]["signers"][0]["declinedReason"] = "Wrong company"
    core = MAPPING.to_core(raw)
    assert isinstance(core, SignatureRequest)
    assert (core.signer_name, core.signer_email, core.declined_reason) == (
        "Ann Lee",
        "ann@example.com",
        "Wrong company",
    )
    assert core.sent_at is not None and core.updated_at is not None
    back = MAPPING.to_vendor(core)
    assert back["emailSubject"] == raw["emailSubject"]
    assert {f["name"]: f["value"] for f in back["customFields"]["textCustomFields"]} == {
        f["name"]: f["value"] for f in raw["customFields"]["textCustomFields"]
    }
    assert MAPPING.to_core({**raw, **back}) == core
    # On create the envelope is sent right away.
    assert MAPPING.to_vendor(core, create=True)["status"] == "sent"

    shape = example("envelopes_listStatusChanges.SHAPE.json")["body"]["envelopes"][0]
    assert MAPPING.to_vendor(MAPPING.to_core(shape))["emailSubject"] == shape["emailSubject"]


@given(
    subject=st.text(min_size=1, max_size=100).map(str.strip).filter(bool),
    run=st.text(min_size=1, max_size=100),
    step=st.text(min_size=1, max_size=100),
)
def test_round_trip_property(subject: str, run: str, step: str) -> None:
    raw = envelope()
    raw["emailSubject"] = subject
    raw["customFields"]["textCustomFields"][:2] = [
        {"name": "hub_run_id", "value": run},
        {"name": "hub_step_id", "value": step},
    ]
    core = MAPPING.to_core(raw)
    back = MAPPING.to_vendor(core)
    assert back["emailSubject"] == subject
    assert MAPPING.to_core({**raw, **back}) == core


def _answer(**headers: str) -> httpx.Response:
    return httpx.Response(200, headers=headers)


def test_pacer_is_idle_without_headers_or_with_plenty_left() -> None:
    clock = FakeClock()
    pacer = RateLimitPacer(clock)
    pacer.before_request()
    reset = str(int(clock.now().timestamp()) + 600)
    pacer.observe(
        _answer(**{"X-RateLimit-Remaining": "301", "X-RateLimit-Limit": "3000", "X-RateLimit-Reset": reset})
    )
    assert pacer.delay() == 0
    pacer.observe(_answer(**{"X-BurstLimit-Remaining": "51", "X-BurstLimit-Limit": "500"}))
    assert pacer.delay() == 0
    assert clock.sleeps == []


def test_pacer_spreads_the_last_tenth_and_waits_for_resets() -> None:
    clock = FakeClock()
    pacer = RateLimitPacer(clock)
    reset = str(int(clock.now().timestamp()) + 600)
    pacer.observe(
        _answer(**{"X-RateLimit-Remaining": "60", "X-RateLimit-Limit": "3000", "X-RateLimit-Reset": reset})
    )
    assert pacer.delay() == pytest.approx(10.0)
    pacer.observe(
        _answer(**{"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "3000", "X-RateLimit-Reset": reset})
    )
    assert pacer.delay() == pytest.approx(600.0)
    pacer.before_request()
    assert clock.sleeps == [pytest.approx(600.0)]
    assert pacer.delay() == 0  # the budget is unknown again until the next answer

    pacer.observe(_answer(**{"X-BurstLimit-Remaining": "0", "X-BurstLimit-Limit": "500"}))
    clock.advance(10)
    assert pacer.delay() == pytest.approx(20.0)
    pacer.observe(_answer(**{"X-BurstLimit-Remaining": "25", "X-BurstLimit-Limit": "500"}))
    assert pacer.delay() == pytest.approx(30.0 / 25)


def test_pacer_ignores_garbage_headers() -> None:
    pacer = RateLimitPacer(FakeClock())
    pacer.observe(_answer(**{"X-RateLimit-Remaining": "lots", "X-BurstLimit-Remaining": ""}))
    assert pacer.delay() == 0


def test_tiny_pdf_is_structurally_valid() -> None:
    pdf = tiny_pdf(["Terms (signed)", "back\\slash"])
    assert pdf.startswith(b"%PDF-1.4\n") and pdf.endswith(b"%%EOF\n")
    startxref = int(re.search(rb"startxref\n(\d+)\n", pdf).group(1))
    assert pdf[startxref:].startswith(b"xref\n0 6\n")
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n", pdf)]
    assert len(offsets) == 5
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(b"%d 0 obj" % number)
    length = int(re.search(rb"/Length (\d+)", pdf).group(1))
    stream = pdf.split(b"stream\n", 1)[1].split(b"\nendstream", 1)[0]
    assert len(stream) == length
    assert b"(Terms \\(signed\\)) Tj" in pdf and b"(back\\\\slash) Tj" in pdf
    assert len(pdf) < 2048
