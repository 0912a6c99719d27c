"""msp-hub: a plugin-based integration hub for managed IT service providers."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("msp-hub")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
