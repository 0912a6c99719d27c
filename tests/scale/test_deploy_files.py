"""The deployment files of docs/deploy.md name only settings, commands and options the hub
has, with values it accepts: a renamed option or setting breaks this test, not a deployment.
(No container or systemd runs here; the processes they start are the scale-out suite's.)"""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from hub.cli import app
from hub.events.dispatch import parse_queues
from hub.settings import HubSettings, load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines, as systemd's EnvironmentFile= and compose's env_file read them."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line.strip() and line[0] != "#")
    return {key.strip(): value.strip() for key, value in pairs}


def settings_of(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HubSettings:
    """The hub's settings under ``env`` alone (the files it names made in ``tmp_path``)."""
    import os

    for key in [k for k in os.environ if k.startswith("HUB_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    config = tmp_path / "hub.yaml"
    config.write_text("{}\n")
    (tmp_path / "client-folders").mkdir(exist_ok=True)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HUB_CONFIG_FILE", str(config))
    monkeypatch.setenv("HUB_DOCUMENTS_ROOT", str(tmp_path / "client-folders"))
    return load_settings()


def parse_command(args: list[str]) -> dict[str, Any]:
    """The options ``hub ARGS`` would run with (a usage error raises), without running it."""
    group: Any = typer.main.get_command(app)  # Typer's own click group
    ctx = group.make_context("hub", [], resilient_parsing=True)  # no help for no arguments
    command = group.get_command(ctx, args[0])
    assert command is not None, f"hub {args[0]}: no such command"
    return dict(command.make_context(args[0], list(args[1:]), parent=ctx).params)


def test_compose_runs_serve_and_two_workers_on_postgres_and_redis(tmp_path, monkeypatch) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    hubs = {name: s for name, s in services.items() if s.get("image") == "msp-hub"}
    assert {"postgres", "redis"} <= set(services)
    assert sorted(s["command"][0] for s in hubs.values()) == ["serve", "worker", "worker"]
    for name, service in hubs.items():
        env = {**env_file(DEPLOY / "systemd" / "hub.env"), **service["environment"]}
        found = settings_of(env, tmp_path, monkeypatch)
        assert found.dispatch == "celery" and found.budget_url == "redis://redis:6379/1", name
        assert found.state_url.startswith("postgresql+psycopg://") and "@postgres:5432/" in found.state_url
        assert found.celery_broker_url == "redis://redis:6379/0"
        options = parse_command(service["command"])
        if service["command"][0] == "serve":
            assert (options["host"], options["port"]) == ("0.0.0.0", 8080)
            assert "8080/readyz" in " ".join(service["healthcheck"]["test"])
        else:
            assert str(options["metrics_port"]) in " ".join(service["healthcheck"]["test"]), name
            assert parse_queues(options["queues"]) == ["events", "syncs", "workflows"]


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


@pytest.mark.parametrize("instance", ["1", "2"])
def test_the_systemd_units_run_commands_the_hub_has(instance: str, tmp_path, monkeypatch) -> None:
    shared = env_file(DEPLOY / "systemd" / "hub.env")
    found = settings_of(shared, tmp_path, monkeypatch)
    assert found.dispatch == "celery" and found.budget_url and found.state_url.startswith("postgresql")

    serve = unit(DEPLOY / "systemd" / "hub-serve.service")["Service"]
    assert serve["EnvironmentFile"] == "/etc/msp-hub/hub.env"
    assert parse_command(shlex.split(serve["ExecStart"])[1:])["port"] == 8080

    worker = unit(DEPLOY / "systemd" / "hub-worker@.service")["Service"]
    own = env_file(DEPLOY / "systemd" / f"worker-{instance}.env")
    assert not [k for k in own if k.startswith("HUB_")], "a unit's own variable must not look like a setting"
    line = worker["ExecStart"]
    for key, value in own.items():
        line = line.replace("${" + key + "}", value)
    assert "${" not in line, f"a variable the worker's environment file does not set: {line}"
    options = parse_command(shlex.split(line)[1:])
    assert parse_queues(options["queues"]) == ["events", "syncs", "workflows"]
    assert options["metrics_port"] == int(own["WORKER_METRICS_PORT"])
