"""`hub sync rmm-alerts` killed at random moments, many times, still opens exactly one ticket per problem.

Before each round the N-central simulator changes: new problems appear, some that already
have a ticket clear, some cleared ones return (within the reopen window, so they keep their ticket). Each
round starts the sync in its own process and SIGKILLs it once a random number of
further tickets or notes reached Autotask (so the kill lands mid-write), or at once
during start-up. The seed is fixed, so a failure reproduces. After the last kill, two
runs complete; then every problem ever raised has exactly one ticket, auto-resolved if
and only if the problem is cleared now.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from connectors.autotask.sim_data import SCHEMAS
from hub.sandbox import SandboxSet
from tests.jobs.helpers import add_company, autotask_sim, sync

pytestmark = [
    pytest.mark.slow,
    pytest.mark.sandboxes(autotask={"size": 2, "seed": 4}, ncentral={"size": 24, "seed": 6, "alerts": 0}),
]

ROUNDS = 10
AUTO_RESOLVED = next(c for c, label in SCHEMAS["Tickets"].picklists["status"].items() if label == "Auto-Resolved")
SERVICES = (("Disk Space", "C:"), ("Disk Space", "D:"), ("CPU", ""), ("Memory", ""), ("Windows Service", "Spooler"))


def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hub.cli", "sync", "rmm-alerts", "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def test_random_kills_open_exactly_one_ticket_per_problem(
    sandboxes: SandboxSet, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, nc = autotask_sim(sandboxes), sandboxes.control("ncentral")
    for customer in nc.customer_ids:
        add_company(sim, nc.org_units[customer]["orgUnitName"])
    assert sync(capsys, "rmm-devices")[0] == 0
    env = dict(os.environ)
    rng = random.Random(20261122)
    problems = [(d, s, c) for d in nc.device_ids for s, c in SERVICES]
    rng.shuffle(problems)
    raised: dict[str, str] = {}  # dedup key -> task id
    active: set[str] = set()

    def writes() -> int:
        return len(sim.tables["Tickets"].records) + len(sim.tables["TicketNotes"].records)

    kills = []
    for round_ in range(ROUNDS):
        for device, service, condition in problems[round_ * 8 : round_ * 8 + 8]:
            k = f"ncentral|{device}|{service.lower()}|{(condition or 'default').lower()}"
            raised[k] = nc.raise_alert(device, service, condition, "Failed")
            active.add(k)
        # only problems the hub has seen clear (one cleared unseen was never a ticket's problem)
        seen = {r["externalID"] for r in sim.tables["Tickets"].records.values()} & active
        for k in rng.sample(sorted(seen), min(3, len(seen))):
            nc.clear_alert(raised[k])
            active.discard(k)
        for k in rng.sample(sorted(set(raised) - active), min(1, len(set(raised) - active))):
            device, service, condition = k.split("|")[1:]
            nc.raise_alert(int(device), service, "" if condition == "default" else condition, "Failed")
            active.add(k)
        proc = start(env)
        if round_ % 4 == 3:
            time.sleep(rng.uniform(0.0, 0.5))
        else:
            target, deadline = writes() + rng.randint(1, 6), time.monotonic() + 60
            while writes() < target and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills.append(writes())
        proc.communicate(timeout=30)
    assert len(set(kills)) >= ROUNDS // 2, f"tickets and notes at each kill: {kills}"

    for _ in range(2):
        final = start(env)
        out, err = final.communicate(timeout=120)
        assert final.returncode == 0, out.decode() + err.decode()[-3000:]

    tickets = [r for r in sim.tables["Tickets"].records.values() if r.get("externalID")]
    per_problem = Counter(r["externalID"] for r in tickets)
    assert set(per_problem) == set(raised), "a problem has no ticket"
    assert max(per_problem.values()) == 1, f"a problem has two tickets: {per_problem.most_common(3)}"
    resolved = {r["externalID"] for r in tickets if r["status"] == AUTO_RESOLVED}
    assert resolved == set(raised) - active
