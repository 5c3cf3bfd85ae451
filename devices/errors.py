"""Errors of the devices package.

TryggError                      (devices.errors; the root every package shares)
 ├── EventRejected              a payload that is not a valid canonical event
 └── FeedbackInvalid            a command that is not the feedback contract (devices.feedback)
"""

from __future__ import annotations


class TryggError(Exception):
    """Root of every error Trygg raises on purpose."""


class EventRejected(TryggError):
    """A payload is not a valid event. ``reason`` is a short metric label."""

    REASONS = frozenset(
        {
            "oversized",
            "malformed",
            "unknown_kind",
            "missing_field",
            "unknown_field",
            "bad_timestamp",
            "bad_value",
            "bad_topic",
        }
    )

    def __init__(self, reason: str, detail: str) -> None:
        assert reason in self.REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
