"""DocuSign eSignature connector: terms and conditions, envelope status, signed PDFs."""

from .connector import DocuSignConnector

__all__ = ["DocuSignConnector"]
