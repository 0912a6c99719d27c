"""The ``hub`` command line (also installed as ``msp-hub``).

Exit codes are a contract: 0 success, 1 partial failure (some records
dead-lettered, a check that failed for a transient reason), 2 usage or
configuration error with a one-line reason on stderr. Logs go to stderr so that
``--json`` output on stdout stays machine-readable.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from hub.cli.common import app, fail_line
from hub.errors import FailureType, HubError

__all__ = ["app", "main"]


def _register_commands() -> None:
    # Each module of this package adds its own commands through register(); adding a
    # command group is adding a module, with no central list to keep in step.
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):  # __main__ runs the CLI; it adds no commands
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register()


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the process exit code."""
    command = typer.main.get_command(app)
    try:
        # Standalone mode: Typer itself prints usage errors and exits 2; the hub's own
        # errors come out here and get their one line and exit code.
        command.main(args=argv, prog_name="hub", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except HubError as exc:
        print(f"hub: {fail_line(exc)}", file=sys.stderr)
        return 2 if exc.failure_type is FailureType.config else 1
    except KeyboardInterrupt:
        print("hub: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: one line, scrubbed, never a secret
        print(f"hub: internal error: {fail_line(exc)} (rerun with --log-level DEBUG for details)", file=sys.stderr)
        return 1
    finally:
        common_close()
    return 0


def common_close() -> None:
    from hub.cli import common

    common.close_hub()

