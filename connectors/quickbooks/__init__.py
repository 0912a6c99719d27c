"""QuickBooks Online accounting connector: customers, their invoice recipients, invoice e-mail."""

from connectors.quickbooks.connector import QuickBooksConnector
from connectors.quickbooks.settings import QuickBooksSettings

__all__ = ["QuickBooksConnector", "QuickBooksSettings"]
