"""Devices: the canonical event model and the device vocabulary (pure, no I/O)."""
