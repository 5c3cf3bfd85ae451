"""What a rule decides. The hub turns decisions into alerts; rules never act."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Category(StrEnum):
    RESIDENT = "resident"
    COLLEAGUE = "colleague"
    TECHNICAL = "technical"


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 is the most urgent; sort alerts by (rank, raised_at)."""
        return _RANK[self]


_RANK = {Priority.CRITICAL: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}


class Raise(BaseModel):
    """Raise an alert for the event that was evaluated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    category: Category
    priority: Priority
    message: str
    # Colleague alarms are never merged into an open alert: each press is its own.
    merge_open: bool = True


Decision = Raise
