"""Replay a recorded event log through rule files on a simulated clock.

Deterministic: events are taken in time order (ties keep file order), the clock
is the event time, and timers due between two events fire before the second.
Alerts are raised, joined and cancelled exactly as the hub's pure core does it
(:mod:`hub.decide`), with no channel. An alert its rule may cancel is ``held``
first (the hub keeps it from staff), then ``raised`` when the hold ends, or
``cancelled`` if the condition cleared during the hold.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from devices.errors import EventRejected
from devices.events import EventBase, parse_event
from devices.registry import MemoryRegistry, Placement
from hub import decide
from hub.alerts import Alert
from rules.decisions import Decision, Raise, Release
from rules.engine import Engine
from rules.model import RulePack


@dataclass(frozen=True, slots=True)
class Line:
    """One thing the rules did: ``held``, ``raised``, ``joined``, ``cancelled``, ``resolved``."""

    at: datetime
    what: str
    alert: Alert

    def __str__(self) -> str:
        a = self.alert
        return (
            f"{self.at.isoformat()}  {self.what:<9}  {a.priority:<8}  {a.category:<9}  "
            f"{a.rule:<24}  {a.device:<20}  {a.message}"
        )


@dataclass(frozen=True, slots=True)
class BadLine:
    number: int
    reason: str


def read_events(lines: Iterable[str]) -> tuple[list[EventBase], list[BadLine]]:
    events, bad = [], []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            events.append(parse_event(text))
        except EventRejected as exc:
            bad.append(BadLine(number, f"{exc.reason}: {exc.detail}"))
    return events, bad


def replay(
    events: Sequence[EventBase],
    pack: RulePack,
    placements: Iterable[Placement],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Line]:
    """What the rules would have done with ``events`` (only those in ``[start, end)``).

    Timers run up to ``end`` when given, otherwise up to the last event.
    """
    registry = MemoryRegistry({p.device: p for p in placements})
    chosen = sorted(
        (e for e in events if (start is None or e.ts >= start) and (end is None or e.ts < end)),
        key=lambda e: e.ts,
    )
    engine = Engine(pack)
    state = engine.initial_state()
    open_by_key: dict[decide.OpenKey, Alert] = {}
    held: dict[decide.OpenKey, decide.Held] = {}
    counter = itertools.count(1)
    out: list[Line] = []

    def new_id() -> str:
        return f"replay-{next(counter):06d}"

    def apply(decisions: list[Decision], event: EventBase, now: datetime) -> None:
        for effect in decide.apply(
            decisions, event, registry.placement(event.device), open_by_key, new_id, now,
            registry.placement, held,
        ):  # fmt: skip
            alert = effect.alert
            key = decide.open_key(alert)
            if isinstance(effect, decide.Held):
                if key not in held:
                    out.append(Line(now, "held", alert))
                held[key] = effect
                continue
            held.pop(key, None)
            if alert.is_open:
                open_by_key[key] = alert
            else:
                open_by_key.pop(key, None)
            what = (
                "raised"
                if isinstance(effect, decide.Raised | decide.Released)
                else "joined"
                if isinstance(effect, decide.Attached)
                else str(alert.state)
            )
            out.append(Line(now, what, alert))

    def fire(until: datetime) -> None:
        nonlocal state
        while (wake := engine.next_wake(state)) is not None and wake <= until:
            state, decisions = engine.tick(state, wake)
            for d in decisions:
                if isinstance(d, Raise) and d.event is not None:
                    apply([d], d.event, wake)
                elif isinstance(d, Release) and (h := held.pop((d.rule, d.device), None)):
                    open_by_key[decide.open_key(h.alert)] = h.alert
                    out.append(Line(wake, "raised", h.alert))

    for event in chosen:
        fire(event.ts)
        state, decisions = engine.evaluate(state, event, event.ts, registry.placement(event.device))
        if decisions:
            apply(decisions, event, event.ts)
    last = end if end is not None else (chosen[-1].ts if chosen else None)
    if last is not None:
        fire(last)
    return out
