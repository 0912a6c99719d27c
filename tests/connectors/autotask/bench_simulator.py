"""Timing check of the simulator at benchmark size (not collected by pytest).

    .venv/bin/python tests/connectors/autotask/bench_simulator.py [size]

Seeds ``size`` companies (default 100,000; three contacts each), then times an
incremental read through the connector over real loopback HTTP: the first page, a
full read of a narrow change window, and a resumed read deep in the id range.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

from connectors.autotask import AutotaskConnector, AutotaskSettings
from hub.sandbox import ServedApp
from hub.sdk import ConnectorContext


def main(size: int) -> None:
    started = time.perf_counter()
    sandbox = AutotaskConnector.sandbox(size=size, hourly_budget=1_000_000)
    seeded = time.perf_counter() - started
    control = sandbox.control
    print(f"seeded {size} companies, {control.count('Contacts')} contacts in {seeded:.1f}s")
    with ServedApp(sandbox.app) as served:
        connector = AutotaskConnector(AutotaskSettings(**sandbox.settings(served.url)), ConnectorContext())
        contacts = connector.stream("Contacts")
        t = time.perf_counter()
        first = next(iter(contacts.read()))
        print(f"first page of all contacts ({len(first.records)}): {time.perf_counter() - t:.3f}s")
        for n in range(50):
            control.touch("Contacts", str(29683500 + n * 997))
        t = time.perf_counter()
        changed = sum(len(p.records) for p in contacts.read(since=datetime(2026, 1, 1, tzinfo=UTC)))
        print(f"incremental read of {changed} changed contacts: {time.perf_counter() - t:.3f}s")
        t = time.perf_counter()
        pages = 0
        for _ in contacts.read(resume={"after_id": 29683500 + 3 * size - 2_000}):
            pages += 1
        print(f"resumed read near the end ({pages} pages): {time.perf_counter() - t:.3f}s")
        t = time.perf_counter()
        total = sum(len(p.records) for p in contacts.read())
        print(
            f"full read of {total} contacts: {time.perf_counter() - t:.1f}s, {connector.api_calls} API calls"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
