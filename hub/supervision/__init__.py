"""Supervision: notice at once when a device or gateway stops reporting (issue 8)."""
