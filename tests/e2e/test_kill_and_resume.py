"""A sync killed at random moments, many times, resumes with no duplicate and no loss.

Each round starts `hub sync psa-to-docs` in its own process and SIGKILLs it once a
random number of further records has reached IT Glue (so the kill lands mid-write
however fast or loaded the machine is), or, in some rounds, at once during start-up.
The seed is fixed, so a failure reproduces. After the last kill, one run completes.
IT Glue must then hold exactly one organization per active Autotask company and one
contact per active contact of those companies.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from hub.sandbox import SandboxSet

pytestmark = [
    pytest.mark.slow,
    # 10 records a page: dozens of checkpoints for the kills to land between
    pytest.mark.sandboxes(autotask={"size": 40, "seed": 5, "page_size": 10}, itglue={"size": 0, "seed": 1}),
]

ROUNDS = 12


def start_sync(env: dict[str, str], stderr: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "sync", "psa-to-docs", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=stderr,
    )  # fmt: skip


def test_random_kills_leave_no_duplicate_and_no_gap(sandboxes: SandboxSet, tmp_path: Path) -> None:
    env = {**os.environ, "HUB_STATE_URL": f"sqlite:///{tmp_path / 'state.sqlite'}"}
    rng = random.Random(20261122)
    itglue = sandboxes.sandboxes["itglue"].control

    def written() -> int:
        return int(itglue.count("organizations") + itglue.count("contacts"))

    progress = []
    for round_ in range(ROUNDS):
        proc = start_sync(env)
        if round_ % 4 == 3:
            time.sleep(rng.uniform(0.0, 0.5))  # during start-up, before or while taking the lock
        else:
            target, deadline = written() + rng.randint(1, 12), time.monotonic() + 60
            while written() < target and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            progress.append(written())
        proc.wait(30)
    # the kills landed while records were being written, at many different points
    assert len(set(progress)) >= ROUNDS // 2, f"records in IT Glue at each kill: {progress}"

    final = start_sync(env, stderr=subprocess.PIPE)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, out.decode() + err.decode()[-3000:]

    sim = sandboxes.sandboxes["autotask"].extra["simulator"]
    companies = {r["id"]: r for r in sim.tables["Companies"].records.values() if r.get("isActive")}
    contacts = [
        r for r in sim.tables["Contacts"].records.values() if r.get("isActive") and r["companyID"] in companies
    ]
    orgs = Counter(o["attributes"]["name"] for o in itglue.records("organizations"))
    assert {name for name, n in orgs.items() if n > 1} == set(), "an organization was created twice"
    assert set(orgs) == {c["companyName"].strip() for c in companies.values()}, "an organization is missing"
    people = Counter(
        (p["attributes"]["first-name"], p["attributes"]["last-name"], p["attributes"]["organization-id"])
        for p in itglue.records("contacts")
    )
    assert sum(people.values()) == len(contacts), f"{sum(people.values())} contacts for {len(contacts)} in the PSA"
    assert max(people.values()) == 1, "a contact was created twice"
