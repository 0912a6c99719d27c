"""Serving vendor simulators (ASGI apps) on loopback, for ``hub demo``, tests and benchmarks.

Each built-in connector ships a simulator of its vendor's API. :func:`serve_app` runs
one under uvicorn in a background thread on a free loopback port, so the connector
talks real HTTP to it exactly as it would to the vendor.

Every simulator served here sits behind a :class:`FaultInjector`, which imitates what
real vendors do to writes besides refusing them: apply a write and answer it only after
the client gave up, apply it and drop the connection, apply it and have a gateway answer
502 (Autotask, IT Glue and QuickBooks all sit behind load balancers that do).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import uvicorn

from hub.errors import ConfigError

__all__ = [
    "FaultInjector",
    "InjectedFailure",
    "Sandbox",
    "SandboxSet",
    "ServedApp",
    "SimulatorControl",
    "SpecAnswer",
    "free_port",
    "port_in_use",
    "serve_app",
    "settings_env",
    "spec_findings",
    "start_afresh",
]

_Message = MutableMapping[str, Any]
_Send = Callable[[_Message], Awaitable[None]]
_Receive = Callable[[], Awaitable[_Message]]


@dataclass
class _Fault:
    kind: str
    method: str
    path: re.Pattern[str]
    times: int
    delay: float


class FaultInjector:
    """ASGI middleware around a simulator: writes that are applied but whose answer is lost.

    ``after_write(kind, method=..., path=..., times=...)`` arms a fault for the next
    ``times`` requests whose method and path (a regular expression searched in the URL
    path) match. The simulator handles the request in full (the write is applied), then:

    * ``late``: the answer is sent only after ``delay`` seconds (past the client's timeout);
    * ``drop``: the status line and headers are sent, then the connection is closed
      before the body;
    * ``502``: the answer is replaced by a gateway's ``502 Bad Gateway``.

    ``injected`` lists (kind, method, path) of every fault that fired.
    """

    KINDS = ("late", "drop", "502")

    def __init__(self, app: Any) -> None:
        self.app = app
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self.injected: list[tuple[str, str, str]] = []

    def after_write(
        self, kind: str, *, method: str = "POST", path: str = ".*", times: int = 1, delay: float = 5.0
    ) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown fault {kind!r}; faults: {', '.join(self.KINDS)}")
        with self._lock:
            self._faults.append(_Fault(kind, method.upper(), re.compile(path), times, delay))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.method == method and fault.path.search(path):
                    fault.times -= 1
                    self.injected.append((fault.kind, method, path))
                    return fault
        return None

    async def __call__(self, scope: _Message, receive: _Receive, send: _Send) -> None:
        fault = self._take(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if fault is None:
            await self.app(scope, receive, send)
            return
        answer: list[_Message] = []

        async def keep(message: _Message) -> None:
            answer.append(message)

        await self.app(scope, receive, keep)  # the simulator applies the write in full
        if fault.kind == "502":
            body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            await send({"type": "http.response.start", "status": 502,
                        "headers": [(b"content-type", b"text/html"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        if fault.kind == "late":
            await asyncio.sleep(fault.delay)
            for message in answer:
                await send(message)
            return
        # drop: the head goes out, then the connection closes without the body (uvicorn closes
        # it when the app returns an incomplete response)
        await send(answer[0])


class _IncompleteAnswers(logging.Filter):
    """uvicorn logs each dropped answer as an error: expected here, so not shown."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_IncompleteAnswers())


class SimulatorControl(Protocol):
    """What every simulator's control handle offers, for the contract suite and the demo.

    Simulators add vendor-specific controls on top (sign an envelope, raise an alert).
    """

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``count`` API requests with ``status`` in the vendor's error shape
        (with ``Retry-After`` when given), after any failures still queued; 401 means a
        bad-credentials answer."""
        ...

    def touch(self, stream: str, record_id: str | None = None) -> str:
        """Change one record of ``stream`` now (its change timestamp moves); returns its id."""
        ...

    def count(self, stream: str) -> int:
        """How many records ``stream`` holds."""
        ...

    def sample_webhook(self) -> tuple[dict[str, str], bytes]:
        """A validly signed webhook request (headers, raw body); connectors with webhooks only."""
        ...


@dataclass(frozen=True)
class InjectedFailure:
    """One answer queued by :meth:`SimulatorControl.fail_next`: the status to answer the next
    API request with, and its ``Retry-After`` seconds if any."""

    status: int
    retry_after: float | None


@dataclass(frozen=True)
class SpecAnswer:
    """A simulator's answer in the shape openapi-core's response protocol reads, so a
    simulator built on a vendor's OpenAPI spec can check what it answers against it too."""

    data: bytes
    status_code: int
    content_type: str
    headers: dict[str, str]


def spec_findings(errors: Iterable[Exception]) -> str:
    """openapi-core's findings about a request or an answer in one line: the schema
    messages, not the whole value (a simulator's refusal says what the spec disallows)."""
    found: list[str] = []
    for error in errors:
        cause = error.__cause__ or error
        details = getattr(cause, "schema_errors", None)
        found += [str(getattr(d, "message", d)) for d in details] if details else [str(cause)]
    return "; ".join(found)


@dataclass
class Sandbox:
    """A connector's simulator: the ASGI app, its control handle, and the settings to use it.

    ``app`` may be None when ``router`` (a ``respx.MockRouter``) answers instead.

    ``settings(base_url)`` returns the connector setting overrides (field -> value) that
    point the connector at the simulator served at ``base_url``.
    """

    app: Any
    settings: Callable[[str], dict[str, Any]]
    control: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: instead of an app served on loopback, a respx router answering in-process
    #: (for connectors tested against mocked HTTP); the contract suite then also
    #: checks that every mocked route was called
    router: Any = None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """Whether another process listens on (or holds) ``host:port``.

    Bound as uvicorn binds (``SO_REUSEADDR``), so the connections a killed server leaves in
    TIME_WAIT do not count: a ``hub serve`` restarted after a crash takes its port at once.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


#: marks a folder whose state store a sandbox run made (and the next one may replace)
SANDBOX_MARKER = ".msp-hub-sandbox"


def start_afresh(folder: Path) -> Path:
    """``folder``, with the state store of an earlier sandbox run in it removed.

    Each run serves new simulators (new data, maybe new ports): an old store's cursors,
    crosswalk and cached vendor addresses would point at what is gone (the next sync
    read nothing, a workflow called a dead port). A store no sandbox made is never
    touched: that is a ConfigError, so a mistyped ``--dir`` cannot wipe a real one.
    """
    folder = folder.expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / SANDBOX_MARKER
    store = folder / "state.sqlite"
    if store.exists() and not marker.exists():
        raise ConfigError(f"--dir {folder}: it holds a state store that no demo or sandbox made; choose another folder")
    for name in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm"):
        (folder / name).unlink(missing_ok=True)
    marker.write_text("a hub demo or hub sandbox folder: its state store is replaced at every run\n")
    return folder


class ServedApp:
    """An app being served; ``url`` has no trailing slash. Use as a context manager."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        # log_config None: uvicorn's lines go through the hub's logging (hub.logging), not a set-up of its own
        config = uvicorn.Config(
            app, host=host, port=self.port, log_level="warning", access_log=False, lifespan="off", log_config=None
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"sandbox:{self.port}", daemon=True)

    def start(self, timeout: float = 10.0) -> ServedApp:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"simulator did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ServedApp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_app(app: Any, host: str = "127.0.0.1", port: int | None = None) -> ServedApp:
    """Start serving ``app`` on loopback and return the running :class:`ServedApp`."""
    return ServedApp(app, host, port).start()


def settings_env(connector: str, values: dict[str, Any]) -> dict[str, str]:
    """Connector setting overrides as ``HUB_<CONNECTOR>__<FIELD>`` environment variables."""
    env = {}
    for field_name, value in values.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        elif hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"HUB_{connector.upper()}__{field_name.upper()}"] = str(value)
    return env


class SandboxSet:
    """Several connectors' simulators served on loopback, for the demo, tests and benchmarks.

    ``options`` maps a connector name to its ``sandbox()`` options and ``ports`` to the
    loopback port to serve it on (a free one if not given). ``env`` holds the ``HUB_*``
    variables that point every connector at its simulator.
    """

    def __init__(
        self,
        classes: dict[str, Any],
        options: dict[str, dict[str, Any]] | None = None,
        ports: dict[str, int] | None = None,
    ) -> None:
        self.sandboxes: dict[str, Sandbox] = {}
        self.served: dict[str, ServedApp] = {}
        #: each simulator's fault injector (see :class:`FaultInjector`)
        self.faults: dict[str, FaultInjector] = {}
        self.env: dict[str, str] = {}
        options = options or {}
        ports = ports or {}
        try:
            for name, cls in classes.items():
                sandbox = cls.sandbox(**options.get(name, {}))
                if sandbox is None or sandbox.app is None:
                    continue
                self.faults[name] = injector = FaultInjector(sandbox.app)
                served = serve_app(injector, port=ports.get(name))
                self.sandboxes[name] = sandbox
                self.served[name] = served
                self.env.update(settings_env(name, sandbox.settings(served.url)))
        except BaseException:
            self.stop()
            raise

    def control(self, name: str) -> Any:
        return self.sandboxes[name].control

    def url(self, name: str) -> str:
        return self.served[name].url

    def stop(self) -> None:
        for served in self.served.values():
            served.stop()
        self.served.clear()

    def __enter__(self) -> SandboxSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
