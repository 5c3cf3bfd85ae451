"""Rules: from events to decisions (pure, no I/O, no clock)."""
