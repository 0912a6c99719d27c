"""The hub's own plugin: built-in sync jobs, workflow definitions and mapping files.

Registered through the same ``msp_hub`` entry-point group as every connector.
"""

from __future__ import annotations

from pathlib import Path

from hub.hookspecs import hookimpl

WORKFLOWS_DIR = Path(__file__).parent / "workflows"


@hookimpl
def hub_workflow_dirs() -> list[Path]:
    return [WORKFLOWS_DIR] if WORKFLOWS_DIR.is_dir() else []
