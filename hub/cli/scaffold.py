"""``hub new-connector NAME [--dir D]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import app, stdout
from hub.scaffold import scaffold


def new_connector(
    name: Annotated[str, typer.Argument(help="connector name: a lower-case identifier, e.g. halopsa")],
    directory: Annotated[Path, typer.Option("--dir", help="where to create the package")] = Path("."),
) -> None:
    """Scaffold a third-party connector package with its contract tests."""
    target = scaffold(name, directory)
    stdout.print(f"created {target}", markup=False, highlight=False)
    stdout.print(f"next: cd {target} && pip install -e '.[test]' && pytest", markup=False, highlight=False)


def register() -> None:
    app.command("new-connector")(new_connector)
