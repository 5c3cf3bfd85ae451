"""The first fixed rules: one event kind, one alert.

A small pure module with the engine's signature, ``evaluate(state, event,
now) -> (state, decisions)``, so the rule engine can replace it without the
hub changing. These rules hold no state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from devices.events import EventBase
from devices.registry import Placement
from rules.decisions import Category, Decision, Priority, Raise

State = dict[str, Any]


def _where(placement: Placement | None, event: EventBase) -> str:
    if placement is None:
        return f"unregistered device {event.device}"
    return placement.apartment or placement.room or placement.unit or placement.site


def _alarm_button(e: EventBase, p: Placement | None) -> Decision | None:
    return Raise(
        rule="first.alarm_button",
        category=Category.RESIDENT,
        priority=Priority.HIGH,
        message=f"Alarm button pressed: {_where(p, e)}",
    )


def _fall(e: EventBase, p: Placement | None) -> Decision | None:
    return Raise(
        rule="first.fall",
        category=Category.RESIDENT,
        priority=Priority.CRITICAL,
        message=f"Fall detected: {_where(p, e)}",
    )


def _staff_alarm(e: EventBase, p: Placement | None) -> Decision | None:
    location = e.data.location or _where(p, e)
    return Raise(
        rule="first.staff_alarm",
        category=Category.COLLEAGUE,
        priority=Priority.CRITICAL,
        message=f"Colleague needs help: {location}",
        merge_open=False,
    )


def _smoke(e: EventBase, p: Placement | None) -> Decision | None:
    if e.data.test:
        # The detector's test button: the service wants to know it works, nobody is sent.
        return Raise(
            rule="first.smoke_test",
            category=Category.TECHNICAL,
            priority=Priority.LOW,
            message=f"Smoke detector self-test: {_where(p, e)}",
        )
    return Raise(
        rule="first.smoke",
        category=Category.RESIDENT,
        priority=Priority.CRITICAL,
        message=f"Smoke detected: {_where(p, e)}",
    )


def _battery_low(e: EventBase, p: Placement | None) -> Decision | None:
    level = f" ({e.data.battery_pct} %)" if e.data.battery_pct is not None else ""
    return Raise(
        rule="first.battery_low",
        category=Category.TECHNICAL,
        priority=Priority.LOW,
        message=f"Battery low on {e.device}{level}: {_where(p, e)}",
    )


RULES: dict[str, Callable[[EventBase, Placement | None], Decision | None]] = {
    "alarm.button": _alarm_button,
    "fall.detected": _fall,
    "staff.alarm": _staff_alarm,
    "smoke.detected": _smoke,
    "device.battery_low": _battery_low,
}


def evaluate(
    state: State, event: EventBase, now: datetime, placement: Placement | None = None
) -> tuple[State, list[Decision]]:
    rule = RULES.get(event.kind)
    if rule is None:
        return state, []
    decision = rule(event, placement)
    return state, [] if decision is None else [decision]
