"""Which feedback a resident's own device gets for an alert change. Pure: no I/O, no clock.

An alert change maps to one feedback state (:func:`target`):

| alert                                   | feedback       |
|-----------------------------------------|----------------|
| raised, notified                        | ``received``   |
| accepted                                | ``help_coming``|
| on_site                                 | ``help_arrived``|
| open, cancelled by the resident         | ``cancelled``  |
| resolved, or cancelled by the system    | ``closed``     |

:class:`Ledger` remembers the last state sent per alert and answers what to send
now: forward only, each state at most once, and ``received`` always first (an
alert first seen already accepted gets ``received`` and then ``help_coming``).
Only alerts raised from a resident's own device get feedback (:func:`eligible`):
category ``resident``, a resident-facing kind, and a placement with a resident
and a gateway. Staff alarms and technical alerts go to no resident device.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from devices.feedback import (
    RESIDENT_KINDS,
    FeedbackCommand,
    FeedbackState,
    commands_topic,
    is_after,
    utc,
)
from devices.registry import Placement
from hub.alerts import Alert, AlertState
from rules.decisions import Category

F = FeedbackState
_BY_STATE: dict[AlertState, FeedbackState] = {
    AlertState.RAISED: F.RECEIVED,
    AlertState.NOTIFIED: F.RECEIVED,
    AlertState.ACCEPTED: F.HELP_COMING,
    AlertState.ON_SITE: F.HELP_ARRIVED,
    AlertState.RESOLVED: F.CLOSED,
    # The system cancels an alert whose condition cleared before anyone was sent.
    AlertState.CANCELLED: F.CLOSED,
}
LEDGER_MAX = 50_000  # alerts whose feedback is remembered; the oldest are forgotten first


def eligible(alert: Alert, placement: Placement | None) -> bool:
    """Does this alert go to the resident's own device?"""
    return (
        alert.category is Category.RESIDENT
        and alert.kind in RESIDENT_KINDS
        and placement is not None
        and placement.device == alert.device
        and placement.site == alert.site
        and placement.resident_id is not None
    )


def cancelled_by_resident(alert: Alert) -> bool:
    """The resident called the alarm off (the alert stays open for staff to judge).

    The flag comes with the resident-cancel work; an alert without it was not cancelled.
    """
    return getattr(alert, "cancelled_by_resident", None) is True


def target(alert: Alert) -> FeedbackState:
    state = _BY_STATE[alert.state]
    if alert.is_open and cancelled_by_resident(alert):
        return F.CANCELLED
    return state


def plan(sent: FeedbackState | None, alert: Alert) -> tuple[FeedbackState, ...]:
    """The states to send now, given the last one sent for this alert (None: none yet)."""
    goal = target(alert)
    if not is_after(goal, sent):
        return ()
    if sent is None and goal is not F.RECEIVED:
        return (F.RECEIVED, goal)
    return (goal,)


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    command: FeedbackCommand


def command(
    alert: Alert,
    state: FeedbackState,
    placement: Placement,
    command_id: str,
    at: datetime,
    expected_minutes: int | None = None,
) -> Outgoing:
    """The message for the gateway the source device is placed on. No name, no resident id."""
    body = FeedbackCommand(
        id=command_id,
        alert_id=alert.id,
        device=alert.device,
        event_ids=alert.event_ids,
        state=state,
        at=utc(at),
        expected_minutes=expected_minutes if state is F.HELP_COMING else None,
    )
    return Outgoing(commands_topic(placement.site, placement.gateway), body)


class Ledger:
    """The last feedback state sent per alert, bounded."""

    def __init__(self, limit: int = LEDGER_MAX) -> None:
        self._sent: OrderedDict[str, FeedbackState] = OrderedDict()
        self._limit = limit

    def advance(self, alert: Alert) -> tuple[FeedbackState, ...]:
        """What to send for this change, recorded as sent (QoS 1 carries it from here)."""
        states = plan(self._sent.get(alert.id), alert)
        if states:
            self._sent[alert.id] = states[-1]
            self._sent.move_to_end(alert.id)
            while len(self._sent) > self._limit:
                self._sent.popitem(last=False)
        return states

    def sent(self, alert_id: str) -> FeedbackState | None:
        return self._sent.get(alert_id)

    def __len__(self) -> int:
        return len(self._sent)
