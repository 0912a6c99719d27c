"""Streams against the simulator over loopback HTTP: pages, CDC, the 30-day fallback."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.quickbooks import QuickBooksConnector, streams
from connectors.quickbooks.simulator import QuickBooksSimulator
from hub.sdk import FakeClock


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams.QuickBooksStream, "page_size", 25)


def ids(qb: QuickBooksConnector, stream: str, **kw: object) -> list[str]:
    return [r["Id"] for p in qb.stream(stream).read(**kw) for r in p.records]  # type: ignore[arg-type]


@pytest.mark.parametrize("stream", ["customers", "invoice_recipients", "invoice_emails"])
def test_full_read_pages_through_everything(
    qb: QuickBooksConnector, sim: QuickBooksSimulator, stream: str
) -> None:
    pages = list(qb.stream(stream).read())
    got = [r["Id"] for p in pages for r in p.records]
    assert len(pages) > 3
    assert len(got) == len(set(got)) == sim.count(stream)
    assert [p.resume is None for p in pages].count(True) == 1 and pages[-1].resume is None


def test_inactive_customers_are_read_too(qb: QuickBooksConnector, sim: QuickBooksSimulator) -> None:
    records = [r for p in qb.stream("customers").read() for r in p.records]
    assert any(r["Active"] is False for r in records)


def test_resume_continues_after_a_page(qb: QuickBooksConnector) -> None:
    stream = qb.stream("customers")
    pages = stream.read()
    first = next(pages)
    rest = [r["Id"] for p in stream.read(resume=first.resume) for r in p.records]
    assert [r["Id"] for r in first.records] + rest == ids(qb, "customers")


def test_two_incremental_reads_through_cdc(
    qb: QuickBooksConnector, sim: QuickBooksSimulator, clock: FakeClock
) -> None:
    records = [r for p in qb.stream("customers").read() for r in p.records]
    cursor = max(qb.stream("customers").cursor_value(r) for r in records)  # type: ignore[type-var]
    clock.advance(60)
    touched = sim.touch("customers")
    before = len(sim.requests)
    changed = ids(qb, "customers", since=cursor)
    assert touched in changed and len(changed) < len(records)
    assert [r["path"].rsplit("/", 1)[-1] for r in list(sim.requests)[before:]] == ["cdc"]
    clock.advance(60)
    assert ids(qb, "customers", since=clock.now()) == []


def test_far_future_cursor_returns_nothing(qb: QuickBooksConnector, clock: FakeClock) -> None:
    assert ids(qb, "customers", since=clock.now() + timedelta(days=365 * 70)) == []


def test_cursor_older_than_30_days_falls_back_to_the_query(
    qb: QuickBooksConnector, sim: QuickBooksSimulator, clock: FakeClock
) -> None:
    since = clock.now() - timedelta(days=45)
    before = len(sim.requests)
    got = set(ids(qb, "customers", since=since))
    paths = {
        r["path"].rsplit("/", 1)[-1] for r in list(sim.requests)[before:] if r["path"].startswith("/v3/")
    }
    assert paths == {"query"}
    expected = {
        str(cid)
        for cid, when in sim.data.changed["Customer"].items()
        if when >= since.replace(microsecond=0).timestamp()
    }
    assert got == expected and got


def test_a_capped_cdc_answer_is_completed_by_the_query(
    qb: QuickBooksConnector, sim: QuickBooksSimulator, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams, "CDC_CAP", 3)
    since = clock.now() - timedelta(days=20)
    got = ids(qb, "customers", since=since)
    paths = [r["path"].rsplit("/", 1)[-1] for r in list(sim.requests)[-3:]]
    assert "cdc" in [r["path"].rsplit("/", 1)[-1] for r in sim.requests] and paths[-1] == "query"
    assert len(got) == len([t for t in sim.data.changed["Customer"].values() if t >= since.timestamp()]) > 3


def test_merged_customers_are_left_out_of_incremental_reads(
    qb: QuickBooksConnector, sim: QuickBooksSimulator, clock: FakeClock
) -> None:
    sim.merge_customer("4")
    got = ids(qb, "customers", since=clock.now() - timedelta(minutes=5))
    assert "4" not in got


def test_every_request_carries_minorversion_and_accept_json(
    qb: QuickBooksConnector, sim: QuickBooksSimulator, clock: FakeClock
) -> None:
    for stream in ("customers", "invoice_recipients", "invoice_emails"):
        list(qb.stream(stream).read())
        list(qb.stream(stream).read(since=clock.now() - timedelta(days=2)))
    qb.get("Customer", "2")
    api = [r for r in sim.requests if r["path"].startswith("/v3/")]
    assert api and all(r["params"].get("minorversion") == "75" for r in api)
    assert all(r["accept"] == "application/json" for r in sim.requests)


def test_without_accept_json_quickbooks_answers_xml(
    qb: QuickBooksConnector, sim: QuickBooksSimulator
) -> None:
    import httpx

    qb.check()
    token = qb.tokens.access_token()
    base = qb.settings.base_url
    answer = httpx.get(
        f"{base}/v3/company/{sim.realm_id}/customer/1", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.headers["content-type"].startswith("application/xml")
    assert answer.text.startswith("<?xml") and "<Customer>" in answer.text


def test_budget_exhaustion_answers_429_and_is_waited_out(
    make_connector: object, clock: FakeClock, sim: QuickBooksSimulator
) -> None:
    qb: QuickBooksConnector = make_connector()  # type: ignore[operator]
    sim.budget = 3
    assert len(ids(qb, "customers")) == sim.count("customers")
    assert sim.throttled >= 1
    assert any(s >= 1 for s in clock.sleeps)


def test_invoice_emails_cover_to_cc_and_bcc(qb: QuickBooksConnector, sim: QuickBooksSimulator) -> None:
    invoice = sim.add_invoice(
        "3",
        "ap@client.example.com",
        cc="boss@client.example.com, cfo@client.example.com",
        bcc="books@msp.example.com",
    )
    records = [r for p in qb.stream("invoice_emails").read() for r in p.records if r["InvoiceId"] == invoice]
    assert sorted((r["Field"], r["Address"]) for r in records) == [
        ("BillEmail", "ap@client.example.com"),
        ("BillEmailBcc", "books@msp.example.com"),
        ("BillEmailCc", "boss@client.example.com"),
        ("BillEmailCc", "cfo@client.example.com"),
    ]
    assert {r["EmailStatus"] for r in records} == {"EmailSent"}
