"""Real processes for the scale-out suite: `hub serve` and `hub worker` on one PostgreSQL
store and one Redis (broker and shared budgets), against simulators served by the test.

Each process is started with `python -m hub.cli ...`, its log in a file of the test's
folder (printed when a test fails), and stopped (or killed, by its own pid) by the test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from hub.sandbox import free_port
from hub.state.store import StateStore

SECRET_KEY = "scale-suite-master-key-0123456789abcdef"


def redis_database(base_url: str) -> str:
    """A Redis database of its own (the throwaway server has 64), emptied: the broker's
    queues and the budgets of one test never meet another's."""
    import redis

    client = redis.Redis.from_url(base_url)
    number = int(client.incr("hub-test:next-db")) % 63 + 1
    url = f"{base_url.rsplit('/', 1)[0]}/{number}"
    redis.Redis.from_url(url).flushdb()
    return url


def sign_autotask(body: bytes, secret: str) -> str:
    return "sha1=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha1).digest()).decode()


def ticket_callout(guid: str, ticket: int, sequence: int) -> bytes:
    """An Autotask ticket update callout, shaped like tests/vendor-specs/autotask/examples/webhook_ticket_update."""
    return json.dumps({
        "Action": "Update", "Guid": guid, "EntityType": "Ticket", "Id": ticket,
        "Fields": {"status": 5, "title": "Printer offline", "companyID": 174},
        "EventTime": "2026-01-15T14:03:22.000Z", "SequenceNumber": sequence, "PersonID": 29682885,
    }).encode()  # fmt: skip


@dataclass
class Cluster:
    """The processes of one test and what they share."""

    folder: Path
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def state_url(self) -> str:
        return self.env["HUB_STATE_URL"]

    def store(self) -> StateStore:
        return StateStore.open(self.state_url, key=lambda: hashlib.sha256(SECRET_KEY.encode()).digest())

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "ab")  # closed here: the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", *args], env={**self.env, **(env or {})}, stdout=log, stderr=log,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        self.procs[name] = proc
        return proc

    def serve(self, name: str = "serve", env: dict[str, str] | None = None) -> str:
        port = self.ports.get(name) or free_port()
        self.ports[name] = port
        self.start(name, "serve", "--port", str(port), env=env)
        return f"http://127.0.0.1:{port}"

    def worker(self, name: str, *args: str, env: dict[str, str] | None = None) -> str:
        port = self.ports.get(name) or free_port()
        self.ports[name] = port
        self.start(name, "worker", "--concurrency", "2", "--metrics-port", str(port), *args, env=env)
        return f"http://127.0.0.1:{port}"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def kill(self, name: str) -> None:
        """SIGKILL the process and everything it started: no clean-up runs."""
        proc = self.procs.pop(name)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(30)

    def stop(self) -> None:
        for proc in list(self.procs.values()):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name in list(self.procs):
            proc = self.procs[name]
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill(name)

    def logs(self) -> str:
        return "\n".join(
            f"== {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in sorted(self.folder.glob("*.log"))
        )

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        wait_for(lambda: _ready(self.url(name)), timeout, f"{name} ready", self)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(check: Callable[[], Any], timeout: float, what: str, cluster: Cluster | None = None) -> Any:
    """Poll ``check`` until it returns something true; fail with the processes' logs."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n" + (cluster.logs() if cluster else ""))
        time.sleep(0.1)


def scrape(url: str, series: str) -> float:
    """The sum of one Prometheus series' samples at ``url``/metrics (0 if absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=10).text):
        for sample in family.samples:
            if sample.name == series:
                total += sample.value
    return total
