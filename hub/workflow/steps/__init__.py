"""The step kinds of a workflow, one module each: the kind's schema and its handler.

The registry that names them is :mod:`hub.workflow.kinds`.
"""
