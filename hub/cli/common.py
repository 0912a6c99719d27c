"""Shared CLI plumbing: the Typer app, the lazily built :class:`hub.app.Hub`, output."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from hub import __version__
from hub.app import Hub
from hub.http import secret_values
from hub.logging import Redactor, configure_logging, redact_url
from hub.plugins import HubPlugins
from hub.settings import HubSettings, check_names, load_settings

app = typer.Typer(
    name="hub",
    help="msp-hub: keep an MSP's PSA, e-signature, accounting, RMM and documentation in step.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


class _State:
    log_json: bool | None = None
    log_level: str | None = None
    hub: Hub | None = None
    settings: HubSettings | None = None
    #: whether the command has printed its JSON object (so a failure adds none)
    emitted: bool = False


state = _State()


def settings() -> HubSettings:
    """The core settings, loaded once per command; every ``hub.yaml`` key and ``HUB_*``
    variable must be a setting of the core or of an installed connector (exit 2 naming
    the closest known one otherwise)."""
    if state.settings is None:
        loaded = load_settings()
        configure_logging(
            json=state.log_json if state.log_json is not None else loaded.log_json,
            level=state.log_level or loaded.log_level,
        )
        plugins = state.hub.plugins if state.hub is not None else HubPlugins(disabled=loaded.disable_plugins)
        check_plugin_settings(plugins)
        state.settings = loaded
    return state.settings


def check_plugin_settings(plugins: HubPlugins) -> None:
    """Unknown setting names, now that the installed connectors' settings models are known."""
    models = {name: cls.settings_model for name, cls in plugins.connector_classes().items()}
    unknown = [info.name for info in plugins.infos.values() if info.error or info.disabled]
    check_names(models, unknown)


def get_hub() -> Hub:
    if state.hub is None:
        state.hub = Hub(settings())
    return state.hub


def close_hub() -> None:
    if state.hub is not None:
        state.hub.close()
    state.hub = None
    state.settings = None
    state.emitted = False


def debugging() -> bool:
    """Whether the user asked for DEBUG logs (an internal error then shows its traceback)."""
    level = state.log_level or (state.settings.log_level if state.settings is not None else None)
    return level == "DEBUG"


def fail_line(exc: BaseException) -> str:
    """One line for the user, with the secrets of every loaded connector scrubbed."""
    redactor = Redactor()
    if state.hub is not None:
        for connector in state.hub._connectors.values():
            for secret in secret_values(connector.settings):
                redactor.add(secret)
    text = str(exc) or type(exc).__name__
    if not isinstance(exc, Exception) or type(exc).__module__.startswith("hub"):
        return redactor.text(text.splitlines()[0] if text else text)
    return redactor.text(redact_url(f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"))


def emit_json(data: Any) -> None:
    """The command's one JSON document on stdout (logs and errors go to stderr)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, sort_keys=False) + "\n")
    sys.stdout.flush()
    state.emitted = True


def _version(value: bool) -> None:
    if value:
        typer.echo(f"msp-hub {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    log_json: Annotated[bool, typer.Option("--log-json", help="Log JSON lines on stderr.")] = False,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR (default INFO).")
    ] = None,
) -> None:
    state.log_json = True if log_json else None
    state.log_level = log_level.upper() if log_level else None
    configure_logging(json=log_json, level=state.log_level or "WARNING")
