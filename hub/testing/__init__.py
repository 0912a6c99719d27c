"""Test kit for connector authors: the connector contract suite and its helpers.

``from hub.testing import ConnectorContract`` and subclass it (see
``docs/connector-guide.md``). The pytest plugin (``hub.testing.plugin``, registered under
``pytest11``) adds the ``hub_fake_clock`` fixture and the ``contract`` marker.
"""

from __future__ import annotations

from hub.testing.contract import ConnectorContract, ContractHarness

__all__ = ["ConnectorContract", "ContractHarness"]
