"""The DocuSign connector held to the msp-hub connector contract suite (against its simulator)."""

from __future__ import annotations

from typing import Any

from connectors.docusign import DocuSignConnector
from hub.testing import ConnectorContract


def _envelope(connector: Any, control: Any) -> dict[str, Any]:
    """A terms envelope from the configured template, sent to one signer."""
    return {
        "templateId": connector.settings.tc_template_id,
        "status": "sent",
        "emailSubject": "Contract suite terms",
        "templateRoles": [{"roleName": "Client", "name": "Suite Signer", "email": "signer@example.com"}],
    }


class TestDocuSignContract(ConnectorContract):
    connector = DocuSignConnector
    # listStatusChanges answers 100 envelopes a page: 250 make three pages
    sandbox_options = {"size": 250, "seed": 4}
    create_samples = {"envelopes": _envelope}
    update_samples = {"envelopes": {"emailSubject": "Contract suite terms (renamed)"}}
    # DocuSign stamps these on every change
    volatile_fields = {"statusChangedDateTime", "lastModifiedDateTime"}
    fault_stream = "envelopes"
