"""What the hub does with a validated event's decisions: raise a new alert or
add the event to one already open. Pure: open alerts, ids and ``now`` come in.

A re-sent event never raises twice (the caller drops duplicates by id first);
a second press while an alert for the same rule and device is still open is
added to that alert instead of waking a second person. Colleague alarms are
never merged: every press is its own alert.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from devices.events import EventBase
from devices.registry import Placement
from hub.alerts import Alert, Transition, attach_event, raise_alert
from rules.decisions import Decision

OpenKey = tuple[str, str]  # (rule, device)


@dataclass(frozen=True, slots=True)
class Raised:
    alert: Alert
    transition: Transition


@dataclass(frozen=True, slots=True)
class Attached:
    alert: Alert
    event_id: str


Effect = Raised | Attached


def open_key(alert: Alert) -> OpenKey:
    return (alert.rule, alert.device)


def apply(
    decisions: Sequence[Decision],
    event: EventBase,
    placement: Placement | None,
    open_alerts: Mapping[OpenKey, Alert],
    new_id: Callable[[], str],
    now: datetime,
) -> list[Effect]:
    effects: list[Effect] = []
    for decision in decisions:
        current = open_alerts.get((decision.rule, event.device)) if decision.merge_open else None
        if current is not None and current.is_open:
            effects.append(Attached(attach_event(current, event, now), event.id))
            continue
        alert, record = raise_alert(decision, event, placement, new_id(), now)
        effects.append(Raised(alert, record))
    return effects
