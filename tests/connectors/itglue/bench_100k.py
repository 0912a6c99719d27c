"""Timing script (not a test): the IT Glue simulator seeded with 100,000 organizations.

Run: .venv/bin/python tests/connectors/itglue/bench_100k.py
Measures seeding, a full read of every stream at page[size]=1000 over loopback HTTP,
and an incremental read after one change.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import structlog

from connectors.itglue import ITGlueConnector, ITGlueSettings
from hub.sandbox import ServedApp
from hub.sdk import ConnectorContext, FakeClock


def main(size: int = 100_000) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    started = time.perf_counter()
    sandbox = ITGlueConnector.sandbox(size=size, seed=1)
    print(
        f"seeded {size:,} organizations (+ contacts, site summaries) in {time.perf_counter() - started:.1f}s"
    )
    with ServedApp(sandbox.app) as served:
        connector = ITGlueConnector(
            ITGlueSettings(**sandbox.settings(served.url)), ConnectorContext(clock=FakeClock())
        )
        for stream in connector.streams():
            t0 = time.perf_counter()
            records = [r for page in stream.read() for r in page.records]
            newest = max(stream.cursor_value(r) for r in records)
            print(f"{stream.name}: {len(records):,} records in {time.perf_counter() - t0:.1f}s")
            sandbox.control.touch(stream.name)
            t0 = time.perf_counter()
            changed = [
                r
                for page in stream.read(since=newest + timedelta(milliseconds=1))
                for r in page.records
            ]
            print(f"  incremental: {len(changed)} changed in {time.perf_counter() - t0:.3f}s")
        print(f"requests: {connector.api_calls}")


if __name__ == "__main__":
    main()
