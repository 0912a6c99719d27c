"""The simulators of a test's ``sandboxes`` marker, served on loopback (as for the job tests)."""

from __future__ import annotations

from tests.jobs.conftest import sandboxes

__all__ = ["sandboxes"]
