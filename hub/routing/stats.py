"""Alert statistics: time to notify, accept, on-site and resolve; false-alarm
rates per rule, device, resident and shift. Pure: alerts, their transitions
and the shifts in; numbers out."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median

from hub.alerts import Alert, AlertState, Outcome, Transition
from hub.routing.roster import Shift

MILESTONES = {
    "notify": AlertState.NOTIFIED,
    "accept": AlertState.ACCEPTED,
    "on_site": AlertState.ON_SITE,
    "resolve": AlertState.RESOLVED,
}


@dataclass(frozen=True, slots=True)
class Durations:
    count: int
    median_s: float | None
    p90_s: float | None
    max_s: float | None


@dataclass(frozen=True, slots=True)
class Rate:
    resolved: int
    false_alarms: int

    @property
    def false_alarm_rate(self) -> float | None:
        return self.false_alarms / self.resolved if self.resolved else None


@dataclass(frozen=True, slots=True)
class Stats:
    alerts: int
    open: int
    times: dict[str, Durations]
    false_alarms: dict[str, dict[str, Rate]] = field(default_factory=dict)


def _durations(values: list[float]) -> Durations:
    if not values:
        return Durations(0, None, None, None)
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return Durations(len(ordered), median(ordered), p90, ordered[-1])


def _first_at(transitions: Sequence[Transition], state: AlertState) -> datetime | None:
    times = [t.at for t in transitions if t.to_state is state]
    return min(times) if times else None


def shift_of(shifts: Sequence[Shift], alert: Alert) -> str:
    """The name of the shift pattern the alert fell in (its hours), or "none"."""
    for shift in shifts:
        if (
            shift.site == alert.site
            and (alert.unit in shift.units)
            and shift.covers(alert.raised_at)
        ):
            return f"{shift.start:%H:%M}-{shift.end:%H:%M}"
    return "none"


def compute(
    alerts: Sequence[Alert],
    transitions: Mapping[str, Sequence[Transition]],
    shifts: Sequence[Shift],
) -> Stats:
    times: dict[str, list[float]] = {k: [] for k in MILESTONES}
    for alert in alerts:
        records = transitions.get(alert.id, ())
        for name, state in MILESTONES.items():
            at = _first_at(records, state)
            if at is not None:
                times[name].append(max(0.0, (at - alert.raised_at).total_seconds()))
    keys: dict[str, Callable[[Alert], str | None]] = {
        "rule": lambda a: a.rule,
        "device": lambda a: a.device,
        "resident": lambda a: a.resident_id,
        "shift": lambda a: shift_of(shifts, a),
    }
    rates: dict[str, dict[str, Rate]] = {}
    resolved = [a for a in alerts if a.state is AlertState.RESOLVED]
    for dimension, key in keys.items():
        counts: dict[str, list[int]] = {}
        for alert in resolved:
            k = key(alert)
            if k is None:
                continue
            c = counts.setdefault(k, [0, 0])
            c[0] += 1
            c[1] += alert.outcome is Outcome.FALSE_ALARM
        rates[dimension] = {k: Rate(v[0], v[1]) for k, v in sorted(counts.items())}
    return Stats(
        alerts=len(alerts),
        open=sum(a.is_open for a in alerts),
        times={k: _durations(v) for k, v in times.items()},
        false_alarms=rates,
    )
