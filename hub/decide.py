"""What the hub does with a validated event's decisions: raise a new alert or
add the event to one already open. Pure: open alerts, ids and ``now`` come in.

An alert of a rule that may cancel it (``Raise.hold``) is *held*: kept from every
channel until the rule releases it. The rule can cancel it only while it is held,
so a cancelled alert has never reached staff, and an alert staff have seen is
never withdrawn by a rule (the clearing event is only added to it).

A re-sent event never raises twice (the caller drops duplicates by id first);
a second press while an alert for the same rule and device is still open is
added to that alert instead of waking a second person, unless the resident
cancelled that alert (``hub.resident_cancel``): then it is a new alert. Colleague
alarms are never merged: every press is its own alert.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from devices.events import EventBase
from devices.registry import Placement
from hub.alerts import (
    SYSTEM,
    Alert,
    AlertState,
    Command,
    Outcome,
    Transition,
    attach_event,
    raise_alert,
    transition,
)
from rules.decisions import Cancel, Decision, Raise, Release, Resolve

OpenKey = tuple[str, str]  # (rule, device)


@dataclass(frozen=True, slots=True)
class Raised:
    alert: Alert
    transition: Transition


@dataclass(frozen=True, slots=True)
class Attached:
    alert: Alert
    event_id: str


@dataclass(frozen=True, slots=True)
class Changed:
    """A rule cancelled or resolved an open alert."""

    alert: Alert
    transition: Transition


@dataclass(frozen=True, slots=True)
class Held:
    """A new alert kept from staff until its rule releases it (or cancels it)."""

    alert: Alert
    transition: Transition


@dataclass(frozen=True, slots=True)
class Released:
    """A held alert's hold is over: store it and show it to staff now."""

    alert: Alert
    transition: Transition


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """A held alert the rule cancelled: stored as raised then cancelled, never shown."""

    alert: Alert
    held: Alert
    raised: Transition
    cancelled: Transition


Effect = Raised | Attached | Changed | Held | Released | Withdrawn
RULE_RESOLVABLE = (AlertState.ACCEPTED, AlertState.ON_SITE)


def open_key(alert: Alert) -> OpenKey:
    return (alert.rule, alert.device)


def apply(
    decisions: Sequence[Decision],
    event: EventBase,
    placement: Placement | None,
    open_alerts: Mapping[OpenKey, Alert],
    new_id: Callable[[], str],
    now: datetime,
    placement_of: Callable[[str], Placement | None] = lambda _device: None,
    held: Mapping[OpenKey, Held] | None = None,
) -> list[Effect]:
    """``held``: the alerts kept from staff, by (rule, device); the caller applies the
    effects (a Held effect adds to it, Released and Withdrawn remove from it)."""
    held = held or {}
    effects: list[Effect] = []
    for decision in decisions:
        if isinstance(decision, Raise):
            source = decision.event or event
            where = placement if decision.event is None else placement_of(source.device)
            key = (decision.rule, source.device)
            current = open_alerts.get(key) if decision.merge_open else None
            # A press after the resident cancelled is a new call for help, not a join.
            if current is not None and current.is_open and not current.cancelled_by_resident:
                effects.append(Attached(attach_event(current, source, now), source.id))
                continue
            waiting = held.get(key) if decision.merge_open else None
            if waiting is not None:
                joined = attach_event(waiting.alert, source, now)
                effects.append(Held(joined, waiting.transition))
                continue
            alert, record = raise_alert(decision, source, where, new_id(), now)
            effects.append(Held(alert, record) if decision.hold else Raised(alert, record))
        elif isinstance(decision, Release):
            waiting = held.get((decision.rule, decision.device))
            if waiting is not None:
                effects.append(Released(waiting.alert, waiting.transition))
        elif isinstance(decision, Cancel) and (decision.rule, decision.device) in held:
            waiting = held[(decision.rule, decision.device)]
            alert = attach_event(waiting.alert, event, now)
            cancelled, record = transition(
                alert, Command.CANCEL, SYSTEM, now, note=f"rule {decision.rule}: {decision.reason}"
            )
            effects.append(Withdrawn(cancelled, waiting.alert, waiting.transition, record))
        elif isinstance(decision, Cancel | Resolve):
            current = open_alerts.get((decision.rule, decision.device))
            if current is None or not current.is_open:
                continue
            changed = _close(decision, current, now)
            if changed is not None:
                effects.append(Changed(*changed))
            else:
                effects.append(Attached(attach_event(current, event, now), event.id))
    return effects


def _close(decision: Cancel | Resolve, alert: Alert, now: datetime) -> tuple[Alert, Transition] | None:
    note = f"rule {decision.rule}: {decision.reason}"
    if isinstance(decision, Cancel):
        # Not held: it has been dispatched, someone may have seen it or be on the way.
        return None
    if alert.state not in RULE_RESOLVABLE:
        return None
    return transition(
        alert, Command.RESOLVE, SYSTEM, now, outcome=Outcome.NO_ACTION_NEEDED, note=note
    )
