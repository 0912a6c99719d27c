"""`hub serve` and two `hub worker` processes on one PostgreSQL store and one Redis, against
the simulators: exactly-once work however many processes see it."""

from __future__ import annotations

import itertools
import threading
import uuid

import httpx
import pytest

from tests.scale.cluster import Cluster, scrape, sign_autotask, ticket_callout, wait_for

pytestmark = [pytest.mark.scale, pytest.mark.postgres, pytest.mark.redis]


def post_events(url: str, secret: str, bodies: list[bytes], threads: int = 8) -> list[int]:
    """POST signed callouts from several threads at once; the status of each."""
    statuses = [0] * len(bodies)

    def send(indexes: list[int]) -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            for i in indexes:
                body = bodies[i]
                answer = client.post("/webhooks/autotask", content=body, headers={
                    "content-type": "application/json", "X-Hook-Signature": sign_autotask(body, secret)})  # fmt: skip
                statuses[i] = answer.status_code

    workers = [threading.Thread(target=send, args=(list(range(n, len(bodies), threads)),)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    return statuses


def test_each_webhook_event_is_processed_once_however_many_workers_see_it(cluster: Cluster, simulators) -> None:
    serve = cluster.serve()
    workers = [cluster.worker("worker-a"), cluster.worker("worker-b")]
    cluster.wait_ready("serve")
    for name in ("worker-a", "worker-b"):
        cluster.wait_ready(name)
    secret = cluster.env["HUB_AUTOTASK__WEBHOOK_SECRET"]
    guid = str(uuid.uuid4())
    bodies = [ticket_callout(guid, 1000 + i, i) for i in range(120)]
    # every delivery twice (a vendor retrying), from eight connections at once
    assert set(post_events(serve, secret, bodies + bodies)) == {200}

    store = cluster.store()
    from hub.events.store import EventStore

    events = EventStore(store)
    wait_for(lambda: events.counts().get("done") == 120, 60, "120 events done", cluster)
    # and every stored event sent to the workers twice more, as a lost acknowledgement would
    from hub.events.tasks import publisher

    ids = [e.id for e in events.recent(500)]
    app = publisher(cluster.env["HUB_CELERY_BROKER_URL"])
    for _ in range(2):
        app.send_task("hub.process_events", args=[ids], queue="events")
    wait_for(lambda: sum(scrape(u, "hub_webhook_events_total") for u in workers) >= 120, 30, "metrics", cluster)

    assert events.counts() == {"done": 120}
    assert {e.attempts for e in events.recent(500)} == {1}, "an event was claimed twice"
    processed = sum(scrape(u, "hub_webhook_events_total") for u in workers)
    assert processed == 120, f"the workers processed {processed} events for 120 stored"
    assert scrape(serve, "hub_webhook_events_total") == 120 + 120  # 120 received, 120 duplicates


WORKFLOW = """\
name: scale-once
title: Wait for a ticket's change, then note it on the ticket once
description: the side effect two workers advancing the run at once must make once
version: 1
inputs:
  ticket: {type: integer, required: true}
vars: {}
templates: {}
steps:
  - id: changed
    title: The ticket changes
    wait:
      connector: autotask
      event: [ticket.updated]
      key: ticket_id
      value: "{{ inputs.ticket }}"
      timeout: 1d
  - id: note
    title: One note on the ticket
    write:
      connector: autotask
      entity: TicketNotes
      op: create
      record:
        ticket: "{{ inputs.ticket }}"
        title: scale-once
        body: the ticket changed
        publish: All Autotask Users
      recover: {match: [ticketID, title]}
"""


def local_hub(cluster: Cluster, monkeypatch: pytest.MonkeyPatch, **overrides: str):
    """A hub in the test's process on the cluster's store and settings (work done here stays here)."""
    from hub.app import Hub
    from hub.settings import load_settings

    for key, value in {**cluster.env, "HUB_DISPATCH": "inline", **overrides}.items():
        if key.startswith("HUB_"):
            monkeypatch.setenv(key, value)
    return Hub(load_settings())


def test_a_workflow_step_happens_once_when_two_workers_advance_the_same_run(
    cluster: Cluster, simulators, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "scale-once.yaml").write_text(WORKFLOW)
    cluster.env["HUB_WORKFLOWS_DIR"] = str(folder)
    sim = simulators.sandboxes["autotask"].extra["simulator"]
    ticket = int(min(sim.tables["Tickets"].records))
    from hub.workflow.engine import WorkflowEngine

    with local_hub(cluster, monkeypatch) as hub:
        engine = WorkflowEngine(hub)
        run_id = engine.start("scale-once", {"ticket": ticket})
        assert engine.runs.get(run_id).status.value == "waiting"

        serve = cluster.serve()
        for name in ("worker-a", "worker-b"):
            cluster.worker(name, "--queues", "events,workflows")
        for name in ("serve", "worker-a", "worker-b"):
            cluster.wait_ready(name)
        from hub.events.tasks import publisher

        app = publisher(cluster.env["HUB_CELERY_BROKER_URL"])
        body = ticket_callout(str(uuid.uuid4()), ticket, 1)
        assert post_events(serve, cluster.env["HUB_AUTOTASK__WEBHOOK_SECRET"], [body], threads=1) == [200]
        for _ in range(6):  # the same run handed to both workers' threads at once, again and again
            app.send_task("hub.advance_workflow", args=[run_id], queue="workflows")
        wait_for(lambda: engine.runs.get(run_id).status.value == "completed", 60, "the run completed", cluster)

    notes = [n for n in sim.tables["TicketNotes"].records.values()
             if str(n.get("ticketID")) == str(ticket) and n.get("title") == "scale-once"]  # fmt: skip
    assert len(notes) == 1, f"{len(notes)} notes for one step"


def test_a_sync_job_never_runs_twice_at_once_across_processes(cluster: Cluster, simulators) -> None:
    for name in ("worker-a", "worker-b"):
        cluster.worker(name, "--queues", "syncs")
    for name in ("worker-a", "worker-b"):
        cluster.wait_ready(name)
    from hub.events.tasks import publisher

    app = publisher(cluster.env["HUB_CELERY_BROKER_URL"])
    for _ in range(4):  # four runs asked for at once: both workers, both threads each
        app.send_task("hub.sync", args=["psa-to-docs"], queue="syncs")
    cli = cluster.start("cli-sync", "sync", "psa-to-docs", "--json")  # and one by hand
    cli.wait(120)
    store = cluster.store()
    wait_for(lambda: len([r for r in store.recent_runs("psa-to-docs", 50) if r["finished_at"]]) >= 1
             and not [r for r in store.recent_runs("psa-to-docs", 50) if not r["finished_at"]], 90,
             "every run finished", cluster)  # fmt: skip
    import time

    time.sleep(2)  # the last messages reach a worker, which finds the job free or held
    wait_for(lambda: not [r for r in store.recent_runs("psa-to-docs", 50) if not r["finished_at"]], 60,
             "every run finished", cluster)  # fmt: skip
    runs = sorted(store.recent_runs("psa-to-docs", 50), key=lambda r: r["started_at"])
    assert runs and all(r["status"] in ("ok", "partial") for r in runs), runs
    for before, after in itertools.pairwise(runs):
        assert after["started_at"] >= before["finished_at"], "two runs of the job overlapped"
    itglue = simulators.sandboxes["itglue"].control
    names = [o["attributes"]["name"] for o in itglue.records("organizations")]
    assert len(names) == len(set(names)), "an organization was created twice"


def test_one_scheduler_among_two_serves_fires_each_slot_once_and_hands_over(
    cluster: Cluster, hub_yaml, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    hub_yaml.write_text(yaml.safe_dump({"schedules": [
        {"name": f"round-{i}", "cron": "0 0 1 1 *", "task": "events.retry"} for i in range(3)]}))  # fmt: skip
    store = cluster.store()
    state = store.kv("schedules")
    state.set("round-0", "2020-01-01T00:00:00+00:00")  # missed while the hub was down: due once now
    urls = [cluster.serve("serve-a"), cluster.serve("serve-b")]
    cluster.worker("worker", "--queues", "events")
    for name in ("serve-a", "serve-b", "worker"):
        cluster.wait_ready(name)
    ledger = store.work

    def done(key: str) -> bool:
        rows = ledger.rows(key)
        return bool(rows) and all(r["status"] == "done" for r in rows)

    wait_for(lambda: done("schedule:round-0:"), 30, "round-0 ran", cluster)
    leaders = [scrape(u, "hub_scheduler_leader") for u in urls]
    assert sorted(leaders) == [0.0, 1.0], leaders
    # the leader dies; the other takes over and fires the next due slot, once
    cluster.kill("serve-a" if leaders[0] else "serve-b")
    survivor = urls[1] if leaders[0] else urls[0]
    state.set("round-1", "2020-01-01T00:00:00+00:00")
    wait_for(lambda: done("schedule:round-1:"), 30, "round-1 ran under the new leader", cluster)
    assert scrape(survivor, "hub_scheduler_leader") == 1.0
    for key in ("schedule:round-0:", "schedule:round-1:"):
        rows = ledger.rows(key)
        assert len(rows) == 1 and rows[0]["attempts"] == 1, rows


@pytest.mark.sandboxes(quickbooks={"size": 2})
def test_the_quickbooks_refresh_token_is_spent_by_one_process_and_never_lost(cluster: Cluster, simulators) -> None:
    import subprocess
    import sys
    import time

    script = (
        "import sys, time\n"
        "from hub.app import Hub\n"
        "from hub.settings import load_settings\n"
        "start = float(sys.argv[1])\n"
        "hub = Hub(load_settings())\n"
        "tokens = hub.connector('quickbooks').tokens\n"
        "time.sleep(max(0.0, start - time.time()))\n"
        "first = tokens.access_token()\n"
        "time.sleep(max(0.0, start + 3 - time.time()))\n"
        "print(tokens.renew(first))\n"  # the API refused the token: every process asks for another at once
    )
    start = time.time() + 6
    procs = [subprocess.Popen([sys.executable, "-c", script, str(start)], env=cluster.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]  # fmt: skip
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err.decode()[-2000:] for _, err in outs]
    sim = simulators.sandboxes["quickbooks"].control
    assert sim.refreshes == 2, "the refresh token was spent by more than one process at a time"
    assert len({out.strip() for out, _ in outs}) == 1, "the processes ended with different access tokens"
    store = cluster.store()
    stored = store.kv("connector:quickbooks").get("oauth_tokens")
    assert stored["refresh_token"] in sim._refresh_tokens, "the rotated refresh token was lost"


BUDGET, WINDOW = 25, 10.0


@pytest.mark.sandboxes(autotask={"size": 15, "seed": 3, "page_size": 5}, itglue={"size": 0, "budget": BUDGET,
                                                                              "window": WINDOW})
def test_three_workers_syncing_share_the_vendors_budget(cluster: Cluster, simulators) -> None:
    """IT Glue allows 25 requests in any 10 s here; three workers each sync a part of
    psa-to-docs into it at once, each through the budget kept in Redis."""
    import bisect

    sim = simulators.sandboxes["itglue"].extra["simulator"]
    arrivals: list[float] = []
    clock = sim.monotonic

    def counted() -> float:  # the simulator reads its clock once per request, at arrival
        now = clock()
        arrivals.append(now)
        return now

    sim.monotonic = counted
    cluster.env.update({"HUB_ITGLUE__RATE_LIMIT_REQUESTS": str(BUDGET), "HUB_ITGLUE__RATE_LIMIT_SECONDS": str(WINDOW)})
    workers = [cluster.worker(f"worker-{i}", "--queues", "syncs", "--concurrency", "1") for i in range(3)]
    for i in range(3):
        cluster.wait_ready(f"worker-{i}")
    from hub.events.tasks import publisher

    app = publisher(cluster.env["HUB_CELERY_BROKER_URL"])
    for part in ("1/3", "2/3", "3/3"):
        app.send_task("hub.sync", args=["psa-to-docs"], kwargs={"part": part}, queue="syncs")
    store = cluster.store()
    wait_for(lambda: len([r for r in store.recent_runs(None, 20) if r["finished_at"]]) == 3, 120,
             "three parts finished", cluster)  # fmt: skip
    runs = store.recent_runs(None, 20)
    assert sorted(r["job"] for r in runs) == ["psa-to-docs#1/3", "psa-to-docs#2/3", "psa-to-docs#3/3"]
    assert {r["status"] for r in runs} == {"ok"}, runs
    overlapping = [(a["job"], b["job"]) for a in runs for b in runs
                   if a["job"] < b["job"] and a["started_at"] < b["finished_at"] and b["started_at"] < a["finished_at"]]
    assert overlapping, "no two parts ran at the same time"  # fmt: skip

    ordered = sorted(arrivals)
    most = max(bisect.bisect_left(ordered, t + WINDOW) - i for i, t in enumerate(ordered))
    assert len(ordered) > BUDGET * 1.5, f"only {len(ordered)} requests: the budget was hardly the limit"
    assert most <= BUDGET, f"{most} requests reached IT Glue within {WINDOW:g} s (budget {BUDGET})"
    assert sum(scrape(u, "hub_api_rate_limited_total") for u in workers) == 0, "a worker was answered 429"
    assert ordered[-1] - ordered[0] >= WINDOW, "the requests did not wait for the window to move on"
