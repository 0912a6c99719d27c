"""``hub lifecycle run``: the co-managed help desk's ticket rules, once, now.

The same rules ``hub serve`` runs on ``lifecycle.cron`` when ``lifecycle.enabled`` is
on; here they run once whatever that setting says (a person asked for it), and
``--dry-run`` shows what they would change without changing or recording anything.
Exit 0 when every change was made (or none was due), 1 when a ticket could not be
updated (the next run retries it), 2 for a configuration error.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.markup import escape

from hub.cli import common
from hub.cli.common import app, emit_json, stdout
from hub.errors import ConfigError
from hub.events.lifecycle import Change, LifecycleFailed
from hub.events.runtime import build_lifecycle

lifecycle_app = typer.Typer(help="The co-managed help desk's ticket rules.", no_args_is_help=True)


def run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")] = False,
    json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Run the ticket lifecycle rules once and show what they changed (or would change)."""
    hub = common.get_hub()
    rules = build_lifecycle(hub, always=True, dry_run=dry_run)
    if rules is None:
        raise ConfigError("the ticket lifecycle rules could not be built")
    failed: str | None = None
    try:
        changes: list[Change] = rules.run()
    except LifecycleFailed as exc:
        changes, failed = exc.changes, str(exc)
    summary = {
        "dry_run": dry_run,
        "psa": rules.port.system,
        "changed": len(changes),
        "changes": [asdict(c) for c in changes],
        "error": failed,
    }
    if json:
        emit_json(summary)
    else:
        verb = "would change" if dry_run else "changed"
        stdout.print(f"{len(changes)} ticket(s) {verb} in {rules.port.system}", highlight=False)
        for c in changes:
            stdout.print(f"  ticket {escape(c.ticket_id)}: {escape(c.before)} -> {escape(c.after)} ({c.rule})",
                         highlight=False)  # fmt: skip
        if failed:
            stdout.print(f"not done: {escape(failed)}; the next run retries them", highlight=False)
    if failed:
        raise typer.Exit(1)


def register() -> None:
    lifecycle_app.command("run")(run)
    app.add_typer(lifecycle_app, name="lifecycle")
