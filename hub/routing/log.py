"""What the routing shell records for each alert: every notify, escalation,
delivery, receipt, reject and withdraw, with its time and actor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RoutingKind(StrEnum):
    NOTIFY = "notify"  # a message handed to a channel for a recipient
    DELIVERED = "delivered"  # the channel has it (broker PUBACK, HTTP 2xx)
    RECEIPT = "receipt"  # the handheld says delivered/read
    FAILED = "failed"  # the channel stayed down after its retries
    ESCALATED = "escalated"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    TOLD = "told"  # a later accept lost and was told who has the alert
    NOBODY_ON_DUTY = "nobody_on_duty"
    ON_MY_WAY = "on_my_way"
    RESUMED = "resumed"  # a restarted hub carries on the escalation from this log
    RELATIVE_ANSWER = "relative_answer"  # a relative's reply: detail "handling" or "cannot"


@dataclass(frozen=True, slots=True)
class RoutingRecord:
    alert_id: str
    at: datetime
    kind: RoutingKind
    actor: str  # "system" or the staff member
    recipient: str | None = None
    channel: str | None = None
    step: int | None = None
    detail: str | None = None
