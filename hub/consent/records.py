"""What the basis registry keeps besides the bases themselves: who did what, and notices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class BasisAction(StrEnum):
    RECORD = "record"  # a new basis
    REVIEW = "review"  # reviewed, still needed; next review date set
    RENEW = "renew"  # valid_to moved on
    APPROVE = "approve"  # the Statsforvalter's approval recorded (kapittel 9)
    WITHDRAW = "withdraw"  # consent withdrawn or decision lifted; takes effect at once
    RELATIVES = "relatives"  # who of the resident's relatives may be told (notify_relatives)


@dataclass(frozen=True, slots=True)
class BasisChange:
    """One change to a basis: who, what, when, why. The history is append-only."""

    basis_id: str
    at: datetime
    actor: str
    action: BasisAction
    note: str | None = None


class NoticeKind(StrEnum):
    EXPIRY = "expiry"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class Notice:
    """A basis is about to expire or be due for review; goes to ``role`` once per due date."""

    basis_id: str
    kind: NoticeKind
    due_at: datetime
    role: str
    site: str | None
    created_at: datetime
    acknowledged_by: str | None = None
