"""Kill any one process, nothing lost and nothing done twice: a worker mid-sync, `hub serve`
mid-event, the scheduling `hub serve` mid-tick (SIGKILL: no clean-up runs)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter

import httpx
import pytest
import yaml
from sqlalchemy import select

from hub.clock import utcnow
from hub.events.store import EventStore
from hub.state import tables as t
from hub.state.dispatch import OPEN, Dispatch
from tests.scale.cluster import Cluster, scrape, sign_autotask, ticket_callout, wait_for

pytestmark = [pytest.mark.scale, pytest.mark.postgres, pytest.mark.redis]


PACE = {"HUB_ITGLUE__RATE_LIMIT_REQUESTS": "20", "HUB_ITGLUE__RATE_LIMIT_SECONDS": "2"}


@pytest.mark.sandboxes(autotask={"size": 40, "seed": 5, "page_size": 5}, itglue={"size": 0, "seed": 1})
def test_a_worker_killed_mid_sync_leaves_the_rest_to_another_worker(cluster: Cluster, simulators) -> None:
    """The sync is paced by its IT Glue budget (10 requests a second), so it is killed with
    part of its writes done; the scheduler's sweep hands its ledger row to the other
    worker, which resumes from the checkpoints and finds the writes whose answer was lost."""
    cluster.env.update(PACE)
    cluster.serve()
    for name in ("worker-a", "worker-b"):
        cluster.worker(name, "--queues", "syncs")
    for name in ("serve", "worker-a", "worker-b"):
        cluster.wait_ready(name)
    store = cluster.store()
    itglue = simulators.sandboxes["itglue"].control

    def written() -> int:
        return int(itglue.count("organizations") + itglue.count("contacts"))

    with store.transaction() as conn:  # a unit of work, as a schedule's slot leaves it
        row = store.work.add(conn, key="test:psa-to-docs", task="sync", args={"job": "psa-to-docs"}, queue="syncs",
                             now=utcnow())  # fmt: skip
    assert row is not None
    wait_for(lambda: written() >= 25, 60, "the sync under way", cluster)
    holder = wait_for(lambda: store.leases.held("sync:psa-to-docs"), 10, "the sync's lease", cluster)
    with store.engine.connect() as conn:
        pid = conn.execute(select(t.locks.c.pid).where(t.locks.c.name == holder[0])).scalar_one()
    victim = next(name for name, proc in cluster.procs.items() if proc.pid == pid)
    cluster.kill(victim)
    at_kill = written()

    def finished() -> Dispatch | None:
        found = store.work.get(row)
        return found if found is not None and found.status not in OPEN else None

    done = wait_for(finished, 90, "the sync resumed and finished", cluster)
    assert (done.status, done.attempts) == ("done", 2), done
    runs = store.recent_runs("psa-to-docs")
    assert sorted(r["status"] for r in runs) == ["killed", "ok"], runs
    assert written() > at_kill, "the second worker wrote nothing: the sync had finished before the kill"

    sim = simulators.sandboxes["autotask"].extra["simulator"]
    companies = {r["id"]: r for r in sim.tables["Companies"].records.values() if r.get("isActive")}
    contacts = [r for r in sim.tables["Contacts"].records.values() if r.get("isActive") and r["companyID"] in companies]
    orgs = Counter(o["attributes"]["name"] for o in itglue.records("organizations"))
    assert {n for n, k in orgs.items() if k > 1} == set(), "an organization was created twice"
    assert set(orgs) == {c["companyName"].strip() for c in companies.values()}, "an organization is missing"
    people = Counter(
        (p["attributes"]["first-name"], p["attributes"]["last-name"], p["attributes"]["organization-id"])
        for p in itglue.records("contacts")
    )
    assert sum(people.values()) == len(contacts) and max(people.values()) == 1, "a contact is missing or twice"


def test_serve_killed_mid_event_loses_and_repeats_nothing(cluster: Cluster) -> None:
    serve = cluster.serve()
    workers = [cluster.worker("worker-a", "--queues", "events"), cluster.worker("worker-b", "--queues", "events")]
    for name in ("serve", "worker-a", "worker-b"):
        cluster.wait_ready(name)
    secret = cluster.env["HUB_AUTOTASK__WEBHOOK_SECRET"]
    guid = str(uuid.uuid4())
    bodies = [ticket_callout(guid, 5000 + i, i) for i in range(300)]
    accepted = [False] * len(bodies)
    stop = threading.Event()

    def vendor(indexes: list[int]) -> None:
        """Delivers each callout until it is answered 200, as Autotask retries a failed delivery."""
        with httpx.Client(base_url=serve, timeout=5) as client:
            for i in indexes:
                while not accepted[i] and not stop.is_set():
                    body = bodies[i]
                    try:
                        answer = client.post("/webhooks/autotask", content=body, headers={
                            "content-type": "application/json", "X-Hook-Signature": sign_autotask(body, secret)})
                        accepted[i] = answer.status_code == 200
                    except httpx.HTTPError:
                        time.sleep(0.05)  # the receiver is down: try again

    senders = [threading.Thread(target=vendor, args=(list(range(n, 300, 6)),)) for n in range(6)]
    for sender in senders:
        sender.start()
    wait_for(lambda: sum(accepted) >= 100, 60, "a third of the events accepted", cluster)
    cluster.kill("serve")  # mid-burst: some requests were stored and not answered
    cluster.serve()  # on the same port: the vendor's retries reach it
    deadline = time.monotonic() + 120
    for sender in senders:
        sender.join(max(0.0, deadline - time.monotonic()))
    stop.set()
    assert all(accepted), f"{accepted.count(False)} events never accepted\n{cluster.logs()}"

    events = EventStore(cluster.store())
    wait_for(lambda: events.counts() == {"done": 300}, 90, "300 events done", cluster)
    assert {e.attempts for e in events.recent(1000)} == {1}, "an event was processed twice"
    assert sum(scrape(u, "hub_webhook_events_total") for u in workers) == 300


def test_the_scheduler_killed_mid_tick_fires_each_slot_once(cluster: Cluster, hub_yaml) -> None:
    rounds = 4
    hub_yaml.write_text(yaml.safe_dump({"schedules": [
        {"name": f"round-{i}", "cron": "0 0 1 1 *", "task": "events.retry"} for i in range(rounds)]}))  # fmt: skip
    store = cluster.store()
    state = store.kv("schedules")
    names = ["serve-a", "serve-b"]
    for name in names:
        cluster.serve(name)
    cluster.worker("worker", "--queues", "events")
    for name in (*names, "worker"):
        cluster.wait_ready(name)
    rng = random.Random(20261203)
    for i in range(rounds):
        leader = wait_for(lambda: next((n for n in names if n in cluster.procs
                                        and scrape(cluster.url(n), "hub_scheduler_leader") == 1), None),
                          30, "a leader", cluster)  # fmt: skip
        state.set(f"round-{i}", "2020-01-01T00:00:00+00:00")  # due at the leader's next tick (within 5 s)
        time.sleep(rng.uniform(0.0, 5.0))
        cluster.kill(leader)  # before, during or after its tick
        cluster.serve(leader)  # back, standing by
        cluster.wait_ready(leader)
    for i in range(rounds):
        rows = wait_for(lambda i=i: [r for r in store.work.rows(f"schedule:round-{i}:") if r["status"] == "done"],
                        60, f"round-{i} ran", cluster)  # fmt: skip
        assert len(store.work.rows(f"schedule:round-{i}:")) == 1 and rows[0]["attempts"] == 1, rows
