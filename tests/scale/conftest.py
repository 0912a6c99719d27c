"""The scale-out suite's cluster: simulators, a PostgreSQL database and a Redis database of
its own, and the environment `hub serve` and `hub worker` run with (``make test`` runs it;
``pytest -m scale`` selects it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hub.plugins import HubPlugins
from hub.sandbox import SandboxSet
from tests.scale.cluster import SECRET_KEY, Cluster, redis_database


@pytest.fixture
def sandboxes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxSet]:
    """Simulators for a test of this process (its ``sandboxes`` marker), the hub pointed at them."""
    marker = request.node.get_closest_marker("sandboxes")
    options: dict[str, dict] = marker.kwargs if marker else {}
    classes = HubPlugins().connector_classes()
    with SandboxSet({name: classes[name] for name in options}, options) as found:
        for key, value in found.env.items():
            monkeypatch.setenv(key, value)
        yield found


@pytest.fixture
def simulators(request: pytest.FixtureRequest) -> Iterator[SandboxSet]:
    """The simulators named by the test's ``sandboxes`` marker (Autotask and IT Glue by default)."""
    marker = request.node.get_closest_marker("sandboxes")
    options: dict[str, dict] = marker.kwargs if marker else {"autotask": {"size": 5}, "itglue": {"size": 0}}
    classes = HubPlugins().connector_classes()
    with SandboxSet({name: classes[name] for name in options}, options) as sandboxes:
        yield sandboxes


@pytest.fixture
def hub_yaml(tmp_path: Path) -> Path:
    """The cluster's hub.yaml (a test writes what it needs into it before starting processes)."""
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump({}))
    return path


@pytest.fixture
def cluster(
    tmp_path: Path, postgres_url: str, redis_url: str, simulators: SandboxSet, hub_yaml: Path
) -> Iterator[Cluster]:
    redis = redis_database(redis_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(simulators.env)
    env.update({
        "HUB_STATE_URL": postgres_url,
        "HUB_SECRET_KEY": SECRET_KEY,
        "HUB_DISPATCH": "celery",
        "HUB_CELERY_BROKER_URL": redis,
        "HUB_BUDGET_URL": redis,
        "HUB_CONFIG_FILE": str(hub_yaml),
        "HUB_DOCUMENTS_ROOT": str(tmp_path / "client-folders"),
        "HUB_LOG_LEVEL": "INFO",
        "HUB_CONSOLE__ENABLED": "false",
    })  # fmt: skip
    folder = tmp_path / "logs"
    folder.mkdir()
    found = Cluster(folder, env)
    try:
        yield found
    finally:
        found.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A failed test of the suite shows the processes' logs."""
    outcome = yield
    report = outcome.get_result()
    found = item.funcargs.get("cluster") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(found, Cluster):
        report.sections.append(("processes", found.logs()))
