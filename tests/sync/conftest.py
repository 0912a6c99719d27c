"""Every sync test claims its CPU among its own lock files.

A pinned run claims its CPU with a lock file in the temporary folder, shared by every
process of the machine (hub/sync/affinity.py). Other test runs on the same machine (CI
jobs side by side, developers on one box) hold such claims too, and with every CPU
claimed a run is not pinned: the pinning tests then failed now and then in the full
suite while passing alone. Here each test's claims live in its own folder, so what
other processes do cannot change what a test sees.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_cpu_claims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.sync import affinity

    claims = tmp_path / "cpu-claims"
    claims.mkdir()
    monkeypatch.setattr(affinity, "_lock_dir", lambda: claims)
