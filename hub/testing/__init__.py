"""Test kit for connector authors (the contract suite lands here)."""
