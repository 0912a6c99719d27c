"""Benchmarks of scale-out (issue 21), run by hand, never in CI:

    make bench-scale                       # all three, results in bench/scale-results.json
    scripts/with-postgres.sh scripts/with-redis.sh .venv/bin/python bench/scale.py intake

* ``intake``: `hub serve` in Celery mode on PostgreSQL and Redis, sent signed Autotask
  callouts at a fixed rate (default 500 a second for 60 s, after 5 s of warm-up) by a load
  generator in its own process. Latency is taken from the time each request was due, so a
  server that falls behind is charged for the queue it causes (no coordinated omission).
  Lost: requests not answered 200, and answered events missing from the events table.
  No worker runs: what is measured is the intake (verify, store in group commits, send
  the ids to the queue, answer).
* ``workers``: N stored events processed by 1, 2 and 4 `hub worker --queues events`
  processes (2 threads each): the time from the first message sent to the last event done.
* ``split``: `hub sync psa-to-docs` in one process against the same job in parts
  (``--part i/k``) in k processes at once, all drawing from one IT Glue budget in Redis:
  once with the budget lifted (the hub's own cost), once at a budget that is the limit
  (the parts must keep to it: every IT Glue request's arrival is recorded and the busiest
  window of the vendor's length counted).

Needs HUB_TEST_POSTGRES_URL and HUB_TEST_REDIS_URL (the scripts start throwaway servers).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from hub.plugins import HubPlugins  # noqa: E402
from hub.sandbox import SandboxSet  # noqa: E402
from tests.scale.cluster import SECRET_KEY, Cluster, redis_database, sign_autotask, ticket_callout  # noqa: E402

LIFTED = 10**9


def load_average() -> str:
    """The 1, 5 and 15 minute load averages now."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@contextmanager
def database() -> Iterator[str]:
    """A fresh PostgreSQL database on the throwaway server, dropped afterwards."""
    from sqlalchemy import create_engine, text

    base = os.environ["HUB_TEST_POSTGRES_URL"]
    name = f"hub_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def cluster(sandboxes: SandboxSet, folder: Path, **extra: str) -> Iterator[Cluster]:
    """Processes on a fresh database and Redis database, pointed at ``sandboxes``."""
    with database() as state_url:
        redis = redis_database(os.environ["HUB_TEST_REDIS_URL"])
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env.update(sandboxes.env)
        env.update({
            "HUB_STATE_URL": state_url, "HUB_SECRET_KEY": SECRET_KEY, "HUB_DISPATCH": "celery",
            "HUB_CELERY_BROKER_URL": redis, "HUB_BUDGET_URL": redis, "HUB_CONSOLE__ENABLED": "false",
            "HUB_DOCUMENTS_ROOT": str(folder), **extra,
        })  # fmt: skip
        logs = folder / f"logs-{uuid.uuid4().hex[:6]}"
        logs.mkdir()
        found = Cluster(logs, env)
        found.store().close()  # the schema, before any process races to make it
        try:
            yield found
        finally:
            found.stop()


def simulators(**options: dict[str, Any]) -> SandboxSet:
    classes = HubPlugins().connector_classes()
    return SandboxSet({name: classes[name] for name in options}, options)


# -- webhook intake ------------------------------------------------------------------


#: keep-alive connections of the load generator (a delivery waits for a free one)
CONNECTIONS = 64


async def _generate(url: str, secret: str, rate: float, seconds: float, warmup: float) -> dict[str, Any]:
    """Send signed callouts at ``rate`` a second; each one's latency from when it was due.

    Plain HTTP/1.1 on asyncio streams over :data:`CONNECTIONS` keep-alive connections: an
    HTTP client library costs more CPU per request than the server under test (httpx's
    pool could not keep 500 a second on this machine), and the generator shares its CPUs.
    """
    host, _, port = url.removeprefix("http://").partition(":")
    total = int(rate * (warmup + seconds))
    guid = str(uuid.uuid4())
    requests: list[bytes] = []
    for i in range(total):
        body = ticket_callout(guid, 100_000 + i, i)
        requests.append(
            f"POST /webhooks/autotask HTTP/1.1\r\nHost: {host}:{port}\r\ncontent-type: application/json\r\n"
            f"X-Hook-Signature: {sign_autotask(body, secret)}\r\ncontent-length: {len(body)}\r\n\r\n".encode()
            + body
        )
    results: list[tuple[float, float, int]] = [(0.0, 0.0, 0)] * total
    due_queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while (item := await due_queue.get()) is not None:
            i, due = item
            try:
                writer.write(requests[i])
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))  # fmt: skip
                await reader.readexactly(length)
                status = int(head.split(b" ", 2)[1])
            except (OSError, asyncio.IncompleteReadError, StopIteration, ValueError):
                status = 0
                writer.close()
                reader, writer = await asyncio.open_connection(host, int(port))
            results[i] = (due, time.perf_counter(), status)
        writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(CONNECTIONS)]
    loop_start = time.perf_counter() + 0.5
    for i in range(total):
        due = loop_start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        due_queue.put_nowait((i, due))
    for _ in workers:
        due_queue.put_nowait(None)
    await asyncio.gather(*workers)
    measured = [r for r in results if r[0] >= loop_start + warmup]
    latencies = sorted((done - due) * 1000 for due, done, _ in measured)
    q = statistics.quantiles(latencies, n=1000)
    return {
        "sent": total,
        "answered_200": sum(1 for *_, s in results if s == 200),
        "not_200": sum(1 for *_, s in results if s != 200),
        "measured": len(measured),
        "rate_achieved": round(len(measured) / (max(r[1] for r in measured) - min(r[0] for r in measured)), 1),
        "p50_ms": round(q[499], 2),
        "p90_ms": round(q[899], 2),
        "p99_ms": round(q[989], 2),
        "p999_ms": round(q[998], 2),
        "max_ms": round(latencies[-1], 2),
    }


def intake(folder: Path, rate: float, seconds: float, warmup: float) -> dict[str, Any]:
    from sqlalchemy import func, select

    from hub.state import tables as t

    with simulators(autotask={"size": 5, "seed": 1}) as sims, cluster(sims, folder) as procs:
        url = procs.serve()
        procs.wait_ready("serve")
        serve_pid = procs.procs["serve"].pid
        cpu_before = _cpu_seconds(serve_pid)
        generator = subprocess.run(
            [sys.executable, __file__, "_generate", url, procs.env["HUB_AUTOTASK__WEBHOOK_SECRET"], str(rate),
             str(seconds), str(warmup)],
            capture_output=True, timeout=seconds + warmup + 300,
        )  # fmt: skip
        if generator.returncode:
            raise SystemExit(f"load generator failed: {generator.stderr.decode()[-3000:]}")
        result: dict[str, Any] = json.loads(generator.stdout)
        result["serve_cpu_s"] = round(_cpu_seconds(serve_pid) - cpu_before, 1)
        store = procs.store()
        with store.engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(t.events)).scalar_one()
        store.close()
        result["stored"] = int(stored)
        result["lost"] = result["answered_200"] - int(stored) + result["not_200"]
    result.update({"rate": rate, "seconds": seconds, "warmup_s": warmup})
    return result


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- event processing ----------------------------------------------------------------


def workers(folder: Path, counts: list[int], events: int) -> list[dict[str, Any]]:
    import httpx
    from redis import Redis

    from hub.events.store import EventStore
    from hub.events.tasks import publisher

    out = []
    for count in counts:
        with simulators(autotask={"size": 5, "seed": 1}) as sims, cluster(sims, folder) as procs:
            url = procs.serve()
            procs.wait_ready("serve")
            secret = procs.env["HUB_AUTOTASK__WEBHOOK_SECRET"]
            guid = str(uuid.uuid4())
            with httpx.Client(base_url=url, timeout=30) as client:
                for i in range(events):
                    body = ticket_callout(guid, 200_000 + i, i)
                    signed = {"content-type": "application/json", "X-Hook-Signature": sign_autotask(body, secret)}
                    answer = client.post("/webhooks/autotask", content=body, headers=signed)
                    assert answer.status_code == 200, answer.text
            serve = procs.procs.pop("serve")
            serve.send_signal(signal.SIGTERM)
            serve.wait(60)
            broker = procs.env["HUB_CELERY_BROKER_URL"]
            Redis.from_url(broker).delete("events")  # the serve's messages: the workers are sent them below
            store = procs.store()
            stored = EventStore(store)
            ids = sorted(e.id for e in stored.recent(events + 10))
            assert len(ids) == events and stored.counts() == {"pending": events}, stored.counts()
            for n in range(count):
                procs.worker(f"worker-{n}", "--queues", "events")  # 2 threads each
            for n in range(count):
                procs.wait_ready(f"worker-{n}")
            app = publisher(broker)
            started = time.perf_counter()
            for at in range(0, len(ids), 50):
                app.send_task("hub.process_events", args=[ids[at : at + 50]], queue="events")
            while stored.counts().get("done", 0) < events:
                time.sleep(0.05)
            wall = time.perf_counter() - started
            counts_now = stored.counts()
            twice = sum(1 for e in stored.recent(events + 10) if e.attempts != 1)
            store.close()
        out.append({"workers": count, "threads_each": 2, "events": events, "wall_s": round(wall, 2),
                    "events_per_s": round(events / wall, 1), "statuses": counts_now,
                    "processed_twice": twice})  # fmt: skip
        print(json.dumps(out[-1]), file=sys.stderr, flush=True)
    return out


# -- psa-to-docs across workers ------------------------------------------------------


def split(folder: Path, companies: int, parts: list[int], budget: int, window: float) -> list[dict[str, Any]]:
    out = []
    for k in parts:
        options = {
            "autotask": {"size": companies, "seed": 1, "hourly_budget": LIFTED},
            "itglue": {"size": 0, "seed": 1, "budget": budget, "window": window},
        }
        with simulators(**options) as sims:
            sim = sims.sandboxes["itglue"].extra["simulator"]
            arrivals: list[float] = []
            clock = sim.monotonic

            def counted(clock: Any = clock, arrivals: list[float] = arrivals) -> float:
                now = float(clock())  # read once per request, at its arrival
                arrivals.append(now)
                return now

            sim.monotonic = counted
            extra = {"HUB_ITGLUE__RATE_LIMIT_REQUESTS": str(budget), "HUB_ITGLUE__RATE_LIMIT_SECONDS": str(window),
                     "HUB_LOG_LEVEL": "WARNING"}  # fmt: skip
            with cluster(sims, folder, **extra) as procs:
                args = [["sync", "psa-to-docs", "--json"]] if k == 1 else [
                    ["sync", "psa-to-docs", "--part", f"{i}/{k}", "--json"] for i in range(1, k + 1)]  # fmt: skip
                started = time.perf_counter()
                running = [subprocess.Popen([sys.executable, "-m", "hub.cli", *a], env=procs.env,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE) for a in args]  # fmt: skip
                summaries = []
                for proc in running:
                    stdout, stderr = proc.communicate(timeout=3600)
                    if proc.returncode not in (0, 1):
                        raise SystemExit(f"sync failed ({proc.returncode}): {stderr.decode()[-3000:]}")
                    summaries.append(json.loads(stdout))
                wall = time.perf_counter() - started
            control = sims.sandboxes["itglue"].control
            orgs = [o["attributes"]["name"] for o in control.records("organizations")]
        ordered = sorted(arrivals)
        busiest = max((bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered)), default=0)
        out.append({
            "companies": companies, "processes": k,
            "budget": f"{budget} per {window:g} s" if budget < LIFTED else "lifted",
            "wall_s": round(wall, 2), "itglue_requests": len(ordered), "busiest_window": busiest,
            "created": sum(s.get("created", 0) for s in summaries),
            "statuses": sorted(s["status"] for s in summaries),
            "organizations": len(orgs), "duplicate_organizations": len(orgs) - len(set(orgs)),
        })  # fmt: skip
        print(json.dumps(out[-1]), file=sys.stderr, flush=True)
    return out


def main() -> None:
    if sys.argv[1:2] == ["_generate"]:
        url, secret, rate, seconds, warmup = sys.argv[2:7]
        print(json.dumps(asyncio.run(_generate(url, secret, float(rate), float(seconds), float(warmup)))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="*", help="intake, workers, split (default: all three)")
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--companies", type=int, default=4000, help="split: companies when the budget is lifted")
    parser.add_argument("--out", type=Path, default=HERE / "scale-results.json")
    args = parser.parse_args()
    unknown = set(args.what) - {"intake", "workers", "split"}
    if unknown:
        parser.error(f"unknown benchmark {sorted(unknown)[0]!r}; choose intake, workers or split")
    for name in ("HUB_TEST_POSTGRES_URL", "HUB_TEST_REDIS_URL"):
        if not os.environ.get(name):
            raise SystemExit(f"{name} is not set: run under scripts/with-postgres.sh scripts/with-redis.sh")
    results: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for what in args.what or ["intake", "workers", "split"]:
            began = {"load_before": load_average(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            print(f"{what} ... load {began['load_before']}", file=sys.stderr, flush=True)
            if what == "intake":
                found: Any = intake(folder, args.rate, args.seconds, warmup=5.0)
            elif what == "workers":
                found = workers(folder, [1, 2, 4], args.events)
            else:
                found = split(folder, args.companies, [1, 2, 4], LIFTED, 10.0) + split(folder, 300, [1, 3], 600, 10.0)
            results[what] = {**began, "load_after": load_average(), "results": found}
            args.out.write_text(json.dumps(results, indent=2) + "\n")
            print(json.dumps(results[what]), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
