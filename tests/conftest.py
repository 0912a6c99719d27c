"""Fixtures shared by every test: an isolated environment and state store per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from hub.clock import FakeClock

# Property tests check behaviour, not speed: on a loaded 2-core CI machine a slow draw
# or a slow example must not fail the suite.
settings.register_profile("hub", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hub")


#: the test run's own variables, read once here: they are no settings of the hub, which
#: refuses unknown HUB_* variables, so every test runs without them in its environment
POSTGRES_URL = os.environ.get("HUB_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL")
VENDOR_SPECS = os.environ.get("HUB_VENDOR_SPECS")


def vendor_specs() -> Path:
    """The vendors' published specs and example payloads the contract tests are built on:
    ``HUB_VENDOR_SPECS`` if set, else the copy kept with the tests (``tests/vendor-specs``,
    taken from the project's research bundle with each vendor's SOURCE.txt), so a fresh
    clone anywhere runs them."""
    if VENDOR_SPECS:
        return Path(VENDOR_SPECS)
    return Path(__file__).resolve().parent / "vendor-specs"


@pytest.fixture(scope="session")
def _empty_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty hub.yaml (outside every test's own folder, which some tests list)."""
    path = tmp_path_factory.mktemp("config") / "hub.yaml"
    path.touch()
    return path


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _empty_config: Path) -> None:
    """No HUB_* variable of the developer's shell, no hub.yaml of theirs (an empty one: a
    HUB_CONFIG_FILE that does not exist is an error), a private store."""
    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HUB_STATE_URL", f"sqlite:///{tmp_path / 'state.sqlite'}")
    monkeypatch.setenv("HUB_CONFIG_FILE", str(_empty_config))
    monkeypatch.setenv("HUB_DOCUMENTS_ROOT", str(tmp_path / "client-folders"))


@pytest.fixture(autouse=True)
def _fresh_cli_state() -> Iterator[None]:
    """No test sees the hub or settings a previous test's command left loaded (a test that
    calls a CLI helper directly, outside a command, would otherwise hand its plugins on)."""
    yield
    from hub.cli.common import close_hub

    close_hub()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _postgres_database(base_url: str) -> Iterator[str]:
    """A fresh database on the throwaway server, dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"hub_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A state store URL on SQLite, and on PostgreSQL when HUB_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    base = POSTGRES_URL
    if not base:
        pytest.skip("HUB_TEST_POSTGRES_URL is not set (make test starts a throwaway PostgreSQL)")
    yield from _postgres_database(base)


@pytest.fixture
def redis_url() -> str:
    """The throwaway Redis server of ``make test`` (scripts/with-redis.sh)."""
    if not REDIS_URL:
        pytest.skip("HUB_TEST_REDIS_URL is not set (make test starts a throwaway Redis)")
    return REDIS_URL


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the throwaway PostgreSQL server, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip("HUB_TEST_POSTGRES_URL is not set (make test starts a throwaway PostgreSQL)")
    yield from _postgres_database(POSTGRES_URL)
