"""Serving vendor simulators (ASGI apps) on loopback, for ``hub demo``, tests and benchmarks.

Each built-in connector ships a simulator of its vendor's API. :func:`serve_app` runs
one under uvicorn in a background thread on a free loopback port, so the connector
talks real HTTP to it exactly as it would to the vendor.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import uvicorn

from hub.errors import ConfigError

__all__ = [
    "Sandbox",
    "SandboxSet",
    "ServedApp",
    "SimulatorControl",
    "free_port",
    "port_in_use",
    "serve_app",
    "settings_env",
    "start_afresh",
]


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
    """Whether another process listens on (or holds) ``host:port``."""
    with socket.socket() as sock:
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
        self.env: dict[str, str] = {}
        options = options or {}
        ports = ports or {}
        try:
            for name, cls in classes.items():
                sandbox = cls.sandbox(**options.get(name, {}))
                if sandbox is None or sandbox.app is None:
                    continue
                served = serve_app(sandbox.app, port=ports.get(name))
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
