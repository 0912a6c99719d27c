"""pytest plugin of msp-hub, registered under the ``pytest11`` entry point.

It is loaded in every pytest run of an environment where msp-hub is installed, so it
stays small: a marker and a fake clock. The contract suite itself lives in
:mod:`hub.testing.contract` and is pulled in by subclassing ``ConnectorContract``.
"""

from __future__ import annotations

import pytest

from hub.clock import FakeClock


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "contract: the msp-hub connector contract suite")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    from hub.testing.contract import ConnectorContract

    for item in items:
        cls = getattr(item, "cls", None)
        if cls is not None and issubclass(cls, ConnectorContract):
            item.add_marker(pytest.mark.contract)


@pytest.fixture
def hub_fake_clock() -> FakeClock:
    """A clock that moves only when slept on: retries and rate limits without real waiting."""
    return FakeClock()
