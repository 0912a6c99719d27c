"""The workflow engine: the MSP's written procedures as data, run durably step by step.

See ``docs/workflows.md`` for the file format and :mod:`hub.workflow.engine` for how
runs are advanced, resumed and made idempotent.
"""

from hub.workflow.definition import WorkflowDefinition
from hub.workflow.engine import WorkflowEngine
from hub.workflow.library import WorkflowLibrary
from hub.workflow.runs import RunStatus, StepStatus

__all__ = ["RunStatus", "StepStatus", "WorkflowDefinition", "WorkflowEngine", "WorkflowLibrary"]
