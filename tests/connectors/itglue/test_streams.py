"""Every stream against the simulator over loopback HTTP: pages, cursor, resume."""

from __future__ import annotations

from datetime import timedelta

from hub.sdk import parse_timestamp

from .conftest import Sim


def _all(stream, **kwargs):
    pages = list(stream.read(**kwargs))
    return pages, [r for p in pages for r in p.records]


def test_every_stream_reads_all_records_over_several_pages(sim: Sim) -> None:
    connector = sim.make()
    for stream in connector.streams():
        pages, records = _all(stream)
        assert len(pages) > 1, stream.name
        assert len(records) == sim.control.count(stream.name)
        assert len({r["id"] for r in records}) == len(records)
        assert pages[-1].resume is None and all(p.resume for p in pages[:-1])


def test_pages_come_newest_first_and_are_not_declared_sorted(sim: Sim) -> None:
    stream = sim.make().stream("organizations")
    _, records = _all(stream)
    stamps = [stream.cursor_value(r) for r in records]
    assert stamps == sorted(stamps, reverse=True)
    assert stream.sorted_by_cursor is False


def test_incremental_read_returns_only_records_changed_since(sim: Sim) -> None:
    for name in ("organizations", "contacts", "site_summaries"):
        stream = sim.make().stream(name)
        _, records = _all(stream)
        newest = max(stream.cursor_value(r) for r in records)
        touched = sim.control.touch(name)
        pages, changed = _all(stream, since=newest + timedelta(milliseconds=1))
        assert [r["id"] for r in changed] == [touched], name
        assert len(pages) == 1  # stopped at the first older record, no further pages


def test_since_is_inclusive_and_far_future_returns_nothing(sim: Sim) -> None:
    stream = sim.make().stream("contacts")
    _, records = _all(stream)
    newest = max(records, key=lambda r: stream.cursor_value(r))
    _, again = _all(stream, since=stream.cursor_value(newest))
    assert newest["id"] in {r["id"] for r in again}
    _, none = _all(stream, since=parse_timestamp("2999-01-01T00:00:00Z"))
    assert none == []


def test_resume_continues_after_a_page(sim: Sim) -> None:
    stream = sim.make().stream("organizations")
    first = next(iter(stream.read()))
    rest = [r for p in stream.read(resume=first.resume) for r in p.records]
    ids = [r["id"] for r in first.records + rest]
    assert len(ids) == sim.control.count("organizations") == len(set(ids))


def test_site_summary_records_carry_traits_by_label(sim: Sim) -> None:
    connector = sim.make()
    _, records = _all(connector.stream("site_summaries"))
    record = records[0]
    assert record["type"] == "flexible-assets"
    assert record["attributes"]["flexible-asset-type-id"] == sim.control.site_summary_type_id
    labels = record["labels"]
    assert labels["Site Name"] == record["attributes"]["traits"]["site-name"]
    assert all(isinstance(i, str) for i in labels["Points of Contact"])


def test_site_summary_type_is_cached_in_the_state_store(sim: Sim) -> None:
    connector = sim.make()
    connector.site_summary_type()
    before = sim.control.requests
    again = sim.make()
    again.context.state = connector.context.state
    assert again.site_summary_type().id == sim.control.site_summary_type_id
    assert sim.control.requests == before
    cached = connector.context.state.get("site_summary_type:" + sim.url + ":Site Summary")
    assert {f["name_key"] for f in cached["fields"]} >= {"points-of-contact", "report-recipients"}
