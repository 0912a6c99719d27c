"""The ``hub`` command line (also installed as ``msp-hub``).

Exit codes are a contract: 0 success, 1 partial failure (some records
dead-lettered, a check that failed for a transient reason), 2 usage or
configuration error with a one-line reason on stderr. Logs go to stderr so that
``--json`` output on stdout stays machine-readable: under ``--json`` stdout always
holds exactly one JSON document, also when the command fails or is refused.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from typing import Any

import typer
from typer.rich_utils import rich_format_error

from hub.cli import common
from hub.cli.common import app, emit_json, fail_line
from hub.errors import FailureType, HubError
from hub.state.store import JobLocked

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


def _hide_flag_types(command: Any) -> None:
    """No ``<bool>`` after a flag in the help (Typer's rich help shows one for every option,
    though a flag takes no value)."""
    ctx = command.context_class(command, info_name=command.name)
    for param in [*command.params, command.get_help_option(ctx)]:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _hide_flag_types(sub)


def _command() -> Any:
    command = typer.main.get_command(app)
    _hide_flag_types(command)
    return command


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    wants_json = "--json" in args
    common.state.emitted = False
    try:
        result: Any = _command().main(args=args, prog_name="hub", standalone_mode=False)
        code = result if isinstance(result, int) else 0
        if code:  # a command that stopped without its JSON (Typer turns Ctrl-C into exit 130)
            _json_failure(wants_json, "interrupted" if code == 130 else "failed: see stderr", code,
                          "interrupted" if code == 130 else "error")  # fmt: skip
        return code
    except typer.TyperException as exc:  # usage errors: the usage line and the message, exit 2
        rich_format_error(exc)  # type: ignore[arg-type]
        _json_failure(wants_json, exc.format_message(), exc.exit_code)
        return exc.exit_code
    except typer.Abort:
        print("hub: aborted", file=sys.stderr)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except HubError as exc:
        code = 2 if exc.failure_type is FailureType.config else 1
        line = fail_line(exc)
        print(f"hub: {line}", file=sys.stderr)
        _json_failure(wants_json, line, code, "refused" if isinstance(exc, JobLocked) else "error")
        return code
    except KeyboardInterrupt:
        print("hub: interrupted", file=sys.stderr)
        _json_failure(wants_json, "interrupted", 130, "interrupted")
        return 130
    except Exception as exc:  # last resort: one line, scrubbed, never a secret
        line = fail_line(exc)
        if common.debugging():
            traceback.print_exc(file=sys.stderr)
            print(f"hub: internal error: {line}", file=sys.stderr)
        else:
            print(f"hub: internal error: {line} (rerun with --log-level DEBUG for details)", file=sys.stderr)
        _json_failure(wants_json, f"internal error: {line}", 1)
        return 1
    finally:
        common_close()


def _json_failure(wanted: bool, line: str, code: int, status: str = "error") -> None:
    """Under ``--json``, a failed command still prints its one JSON object."""
    if wanted and not common.state.emitted:
        emit_json({"status": status, "error": line, "exit_code": code})


def common_close() -> None:
    from hub.cli import common

    common.close_hub()

