"""What a rule decides. The hub turns decisions into alerts; rules never act."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from devices.events import EventBase


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

    def lowered(self) -> Priority:
        """One step less urgent (``low`` stays ``low``)."""
        return _BY_RANK[min(self.rank + 1, len(_BY_RANK) - 1)]


_RANK = {Priority.CRITICAL: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}
_BY_RANK = sorted(_RANK, key=_RANK.__getitem__)


class Raise(BaseModel):
    """Raise an alert for the event that was evaluated (or ``event``, for a timer)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    category: Category
    priority: Priority
    message: str
    # Colleague alarms are never merged into an open alert: each press is its own.
    merge_open: bool = True
    # A timer-driven raise (no stove.off for 20 min) names the event that started it;
    # None means the event being evaluated.
    event: EventBase | None = None
    # A rule that may cancel this alert: the hub holds it back from every channel until
    # the rule sends :class:`Release` (cancel is possible only while it is held).
    hold: bool = False


@dataclass(frozen=True, slots=True)
class Release:
    """The hold of ``rule``'s alert on ``device`` is over: show it to staff now."""

    rule: str
    device: str


@dataclass(frozen=True, slots=True)
class Cancel:
    """The condition behind the alert of ``rule`` on ``device`` cleared: cancel it if it
    is still held (nobody has seen it), otherwise only record the event on it."""

    rule: str
    device: str
    reason: str


@dataclass(frozen=True, slots=True)
class Resolve:
    """Resolve the open alert of ``rule`` on ``device`` if someone has taken it."""

    rule: str
    device: str
    reason: str


@dataclass(frozen=True, slots=True)
class Suppressed:
    """The rule matched but raises nothing (staff present, cool-down, debounce): logged."""

    rule: str
    device: str
    reason: str


Decision = Raise | Release | Cancel | Resolve | Suppressed
