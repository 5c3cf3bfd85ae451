"""The alert life cycle as a pure state machine.

``raised -> notified -> accepted -> on_site -> resolved``, and ``cancelled``
before anyone has taken the alert (modelled on IHE PCD Alert Communication
Management). :func:`transition` takes an alert, a command, who gave it and
``now``; it returns the new alert and the transition record, or raises
:class:`IllegalTransition`. No I/O and no clock here.

``cancelled_by_resident`` is a mark, not a state (:func:`mark_cancelled_by_resident`,
decided in ``hub.resident_cancel``): the alert stays open and staff close it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from devices.events import EventBase
from devices.registry import Placement
from hub.errors import IllegalTransition
from rules.decisions import Category, Priority, Raise


class AlertState(StrEnum):
    RAISED = "raised"
    NOTIFIED = "notified"
    ACCEPTED = "accepted"
    ON_SITE = "on_site"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        return self not in (AlertState.RESOLVED, AlertState.CANCELLED)


class Command(StrEnum):
    NOTIFY = "notify"
    ACCEPT = "accept"
    ON_SITE = "on_site"
    RESOLVE = "resolve"
    CANCEL = "cancel"


class Outcome(StrEnum):
    ASSISTED = "assisted"
    FALSE_ALARM = "false_alarm"
    DEVICE_FAULT = "device_fault"
    NO_ACTION_NEEDED = "no_action_needed"
    OTHER = "other"


S, C = AlertState, Command
# (state, command) -> new state. Anything missing is illegal.
TRANSITIONS: dict[tuple[AlertState, Command], AlertState] = {
    (S.RAISED, C.NOTIFY): S.NOTIFIED,
    (S.RAISED, C.ACCEPT): S.ACCEPTED,
    (S.NOTIFIED, C.ACCEPT): S.ACCEPTED,
    # Presence at the door can come before anyone pressed accept.
    (S.RAISED, C.ON_SITE): S.ON_SITE,
    (S.NOTIFIED, C.ON_SITE): S.ON_SITE,
    (S.ACCEPTED, C.ON_SITE): S.ON_SITE,
    # Only someone who took the alert may close it with an outcome.
    (S.ACCEPTED, C.RESOLVE): S.RESOLVED,
    (S.ON_SITE, C.RESOLVE): S.RESOLVED,
    # Cancelling is for alerts nobody has taken yet (condition cleared, mistake).
    (S.RAISED, C.CANCEL): S.CANCELLED,
    (S.NOTIFIED, C.CANCEL): S.CANCELLED,
}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Transition(_Frozen):
    alert_id: str
    from_state: AlertState | None
    to_state: AlertState
    at: datetime
    actor: str
    outcome: Outcome | None = None
    note: str | None = None


class Alert(_Frozen):
    id: str
    site: str
    unit: str | None
    apartment: str | None
    resident_id: str | None
    device: str
    kind: str
    category: Category
    priority: Priority
    rule: str
    message: str
    state: AlertState
    raised_at: datetime
    updated_at: datetime
    # Time of the first event behind the alert: the start of the latency clock.
    event_ts: datetime
    event_ids: tuple[str, ...]
    accepted_by: str | None = None
    outcome: Outcome | None = None
    note: str | None = None
    # A mark, not a state: the resident cancelled (second press, cancel key). The alert
    # stays open at ``priority`` (lowered or equal); staff still close it.
    cancelled_by_resident_at: datetime | None = None
    priority_before_cancel: Priority | None = None

    @property
    def is_open(self) -> bool:
        return self.state.is_open

    @property
    def cancelled_by_resident(self) -> bool:
        return self.cancelled_by_resident_at is not None


SYSTEM = "system"


def raise_alert(
    decision: Raise,
    event: EventBase,
    placement: Placement | None,
    alert_id: str,
    now: datetime,
) -> tuple[Alert, Transition]:
    alert = Alert(
        id=alert_id,
        site=event.site,
        unit=placement.unit if placement else None,
        apartment=placement.apartment if placement else None,
        resident_id=placement.resident_id if placement else None,
        device=event.device,
        kind=event.kind,
        category=decision.category,
        priority=decision.priority,
        rule=decision.rule,
        message=decision.message,
        state=AlertState.RAISED,
        raised_at=now,
        updated_at=now,
        event_ts=event.ts,
        event_ids=(event.id,),
    )
    record = Transition(
        alert_id=alert_id, from_state=None, to_state=AlertState.RAISED, at=now, actor=SYSTEM
    )
    return alert, record


def transition(
    alert: Alert,
    command: Command,
    actor: str,
    now: datetime,
    *,
    outcome: Outcome | None = None,
    note: str | None = None,
) -> tuple[Alert, Transition]:
    target = TRANSITIONS.get((alert.state, command))
    if target is None:
        raise IllegalTransition(alert.id, alert.state, command, alert.accepted_by)
    if command is Command.RESOLVE and outcome is None:
        raise ValueError("resolving an alert needs an outcome")
    changes: dict[str, object] = {"state": target, "updated_at": now}
    if command is Command.ACCEPT or (command is Command.ON_SITE and alert.accepted_by is None):
        # Arriving without pressing accept still means this person took the alert.
        changes["accepted_by"] = actor
    if command is Command.RESOLVE:
        changes["outcome"] = outcome
        changes["note"] = note
    record = Transition(
        alert_id=alert.id,
        from_state=alert.state,
        to_state=target,
        at=now,
        actor=actor,
        outcome=outcome if command is Command.RESOLVE else None,
        note=note,
    )
    return alert.model_copy(update=changes), record


CANCELLED_BY_RESIDENT = "cancelled_by_resident"


def mark_cancelled_by_resident(
    alert: Alert, event: EventBase, priority: Priority, now: datetime, why: str
) -> tuple[Alert, Transition]:
    """The resident cancelled ``alert`` with ``event``: marked, never closed, and its
    priority never raised. The record keeps the state (from = to) and names the device."""
    if not alert.is_open or alert.cancelled_by_resident:
        raise ValueError(f"alert {alert.id} cannot be cancelled by the resident now")
    lowered = priority if priority.rank >= alert.priority.rank else alert.priority
    changed = attach_event(alert, event, now).model_copy(
        update={
            "cancelled_by_resident_at": now,
            "priority_before_cancel": alert.priority,
            "priority": lowered,
            "updated_at": now,
        }
    )
    record = Transition(
        alert_id=alert.id,
        from_state=alert.state,
        to_state=alert.state,
        at=now,
        actor=f"device:{event.device}",
        note=f"{CANCELLED_BY_RESIDENT} ({why}); priority {alert.priority} -> {lowered}",
    )
    return changed, record


def attach_event(alert: Alert, event: EventBase, now: datetime) -> Alert:
    """Another event for the same open alert (a second press): recorded, not re-raised."""
    if event.id in alert.event_ids:
        return alert
    return alert.model_copy(update={"event_ids": (*alert.event_ids, event.id), "updated_at": now})
