"""The Acronis Cyber Protect Cloud connector (Account Management and Advanced Automation)."""

from .connector import AcronisConnector

__all__ = ["AcronisConnector"]
