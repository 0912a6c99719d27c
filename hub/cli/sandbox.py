"""``hub sandbox``: the simulators alone, to try every command against, until Ctrl-C.

Every installed connector that ships a simulator is served on loopback, seeded
deterministically (``--companies``, ``--seed``), on consecutive ports from
``--port-base`` (free ports otherwise). The ``HUB_*`` settings that point the hub at
them, and at a state store and client folders of the sandbox's own (``--dir``), are
printed and written to ``sandbox.env`` in that folder, so another terminal runs
``set -a; . DIR/sandbox.env; set +a`` and then any ``hub`` command. Connectors with
webhooks send them to ``--hub-url`` (where ``hub serve`` listens by default).
"""

from __future__ import annotations

import shlex
import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from hub.cli.common import app, emit_json, get_hub, stderr, stdout
from hub.errors import ConfigError
from hub.logging import get_logger
from hub.sandbox import SandboxSet, port_in_use, start_afresh

__all__ = ["sandbox"]

log = get_logger("hub.sandbox")

#: commands worth trying first, shown with the settings ({psa}: the PSA role's connector)
TRY = ("hub doctor", "hub check {psa}", "hub sync psa-to-docs --dry-run", "hub sync --all", "hub runs",
       "hub audit", "hub state list", "hub workflow start new-breakfix-customer --set name=...")  # fmt: skip


class _Seeded:
    """A connector's ``sandbox()`` with the common options (``size``, ``seed``, and
    ``webhook_url`` for connectors with webhooks); a simulator that takes other options
    is served with its own defaults, and the log says so."""

    def __init__(self, name: str, cls: Any) -> None:
        self.name = name
        self.cls = cls

    def sandbox(self, **options: Any) -> Any:
        try:
            return self.cls.sandbox(**options)
        except TypeError as exc:
            if "unexpected keyword argument" not in str(exc):
                raise
            log.warning("sandbox.default_options", connector=self.name, reason=str(exc))
            return self.cls.sandbox()


def _options(classes: dict[str, Any], companies: int, seed: int, hub_url: str) -> dict[str, dict[str, Any]]:
    options: dict[str, dict[str, Any]] = {}
    for name, cls in classes.items():
        options[name] = {"size": companies, "seed": seed}
        if cls.has_webhooks:
            options[name]["webhook_url"] = f"{hub_url.rstrip('/')}/webhooks/{name}"
    return options


def sandbox(
    port_base: Annotated[
        int | None, typer.Option("--port-base", min=1024, max=65000, help="Serve on this port and the next ones.")
    ] = None,
    companies: Annotated[int, typer.Option("--companies", min=0, max=100_000, help="Companies to seed.")] = 25,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated data (same seed, same data).")] = 7,
    folder: Annotated[
        Path | None, typer.Option("--dir", help="Folder for the sandbox's state store (default: a new temp folder).")
    ] = None,
    hub_url: Annotated[
        str, typer.Option("--hub-url", help="Where simulated webhooks go (hub serve's address).")
    ] = "http://127.0.0.1:8080",
    json: Annotated[bool, typer.Option("--json", help="Print the settings as one JSON object.")] = False,
) -> None:
    """Serve every connector's simulator, seeded, and print the HUB_* settings that point at them, until Ctrl-C."""
    classes = dict(sorted(get_hub().plugins.connector_classes().items()))
    options = _options(classes, companies, seed, hub_url)
    ports: dict[str, int] = {}
    if port_base is not None:
        for i, name in enumerate(classes):
            ports[name] = port_base + i
            if port_in_use("127.0.0.1", ports[name]):
                raise ConfigError(f"--port-base {port_base}: port {ports[name]} (for {name}) is in use; "
                                  "choose another base")  # fmt: skip
    base = start_afresh(folder or Path(tempfile.mkdtemp(prefix="hub-sandbox-")))
    with SandboxSet({n: _Seeded(n, c) for n, c in classes.items()}, options, ports) as served:
        env = {
            "HUB_STATE_URL": f"sqlite:///{base / 'state.sqlite'}",
            "HUB_DOCUMENTS_ROOT": str(base / "client-folders"),
            **served.env,
        }
        env_file = base / "sandbox.env"
        env_file.write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items()), encoding="utf-8")
        env_file.chmod(0o600)
        urls = {name: served.url(name) for name in served.served}
        if json:
            emit_json({"dir": str(base), "env_file": str(env_file), "simulators": urls, "env": env})
        else:
            _tell(base, env_file, urls, env, companies, seed)
        _until_interrupted()
    stderr.print("hub sandbox: simulators stopped", highlight=False)


def _tell(base: Path, env_file: Path, urls: dict[str, str], env: dict[str, str], companies: int, seed: int) -> None:
    say = stdout.print
    say(f"hub sandbox: {len(urls)} simulators seeded with {companies} companies (seed {seed}); "
        f"state store and client folders in {base}", markup=False, highlight=False)  # fmt: skip
    for name, url in urls.items():
        say(f"  {name:<12} {url}", markup=False, highlight=False)
    say(f"\nIn another terminal: set -a; . {shlex.quote(str(env_file))}; set +a   (or export these):",
        markup=False, highlight=False)  # fmt: skip
    for key, value in env.items():
        say(f"export {key}={shlex.quote(value)}", markup=False, highlight=False)
    psa = get_hub().settings.roles.psa
    say("\nthen try: " + "; ".join(t.format(psa=psa) for t in TRY), markup=False, highlight=False)
    say("Ctrl-C stops the simulators.", markup=False, highlight=False)


def _until_interrupted() -> None:
    """Block until Ctrl-C (SIGINT) or SIGTERM."""
    import signal

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def register() -> None:
    app.command("sandbox")(sandbox)
