"""Compare the alerts a scenario expects with the alerts a hub raised. Pure: no I/O, no clock.

A raised alert matches an expected one when the category, the priority and the
device are equal, the resident is equal where both name one, and the alert's
time in the scenario is within ``within_s`` of the expected time. The rule id is
reported (``rule_ok``) but does not have to match: the rule pack may name its
rules differently from the scenario's author. Each raised alert matches at most
one expected alert and the other way round; among candidates the nearest in time
wins, expected alerts are taken in time order.

The scenario time of a raised alert (:func:`scenario_time`): the planned time of
the event behind it when the alert came at once (an event rule), otherwise the
hub's ``raised_at`` carried over to the scenario's clock from the last event
played before it (a timer rule: "stove on for 20 minutes").
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from simulators.scenario import ExpectedAlert, Scenario

__all__ = [
    "Due",
    "Match",
    "PlayLog",
    "RaisedAlert",
    "Report",
    "due_alerts",
    "match_alerts",
    "scenario_time",
]

# An event rule raises its alert within this much real time of the event's arrival.
PROMPT_S = 2.0


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    """What verify needs from a hub's alert (the API's ``AlertOut``)."""

    id: str
    device: str
    category: str
    priority: str
    rule: str
    kind: str
    resident_id: str | None
    at: datetime  # the scenario's clock, in UTC (compare and subtract in UTC across DST)


@dataclass(frozen=True, slots=True)
class Due:
    """An expected alert and the instant it is due (UTC)."""

    expected: ExpectedAlert
    at: datetime


@dataclass(frozen=True, slots=True)
class Match:
    due: Due
    raised: RaisedAlert

    @property
    def delta_s(self) -> float:
        return (self.raised.at - self.due.at).total_seconds()

    @property
    def rule_ok(self) -> bool:
        return self.due.expected.rule is None or self.due.expected.rule == self.raised.rule


@dataclass(frozen=True, slots=True)
class Report:
    matched: list[Match] = field(default_factory=list)
    missing: list[Due] = field(default_factory=list)
    unexpected: list[RaisedAlert] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected

    @property
    def rule_mismatches(self) -> list[Match]:
        return [m for m in self.matched if not m.rule_ok]


def due_alerts(scenario: Scenario, night_of: date) -> list[Due]:
    """The scenario's expected alerts with their instants, in time order."""
    due = [
        Due(a, scenario.expected_time(night_of, a).astimezone(UTC))
        for a in scenario.expected_alerts
    ]
    return sorted(due, key=lambda d: d.at)


def _fits(due: Due, raised: RaisedAlert) -> bool:
    e = due.expected
    if (e.category, e.priority, e.device) != (raised.category, raised.priority, raised.device):
        return False
    known = e.resident is not None and raised.resident_id is not None
    if known and e.resident != raised.resident_id:
        return False
    return abs((raised.at - due.at).total_seconds()) <= e.within_s


def match_alerts(due: Sequence[Due], raised: Iterable[RaisedAlert]) -> Report:
    """Pair expected and raised alerts (see the module docstring)."""
    left = sorted(raised, key=lambda r: (r.at, r.id))
    report = Report()
    for d in sorted(due, key=lambda d: d.at):
        candidates = [r for r in left if _fits(d, r)]
        if not candidates:
            report.missing.append(d)
            continue
        best = min(candidates, key=lambda r: (abs((r.at - d.at).total_seconds()), r.id))
        left.remove(best)
        report.matched.append(Match(d, best))
    report.unexpected.extend(left)
    return report


class PlayLog:
    """What was played: event id -> planned time, and the real time each was sent.

    ``record`` is called once per event after the broker acknowledged it (or the
    in-process hub took it), in the order played.
    """

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.planned: dict[str, datetime] = {}
        self._sent_real: list[datetime] = []
        self._sent_planned: list[datetime] = []
        self.sent_real: dict[str, datetime] = {}

    def record(self, event_id: str, planned_at: datetime, sent_at: datetime) -> None:
        planned_at = planned_at.astimezone(UTC)
        self.planned[event_id] = planned_at
        self.sent_real[event_id] = sent_at
        self._sent_real.append(sent_at)
        self._sent_planned.append(planned_at)

    def carry_over(self, real: datetime) -> datetime | None:
        """The scenario time of real instant ``real``: from the last event sent before it,
        plus the real time since, times the speed (at an infinite speed: no time)."""
        i = bisect.bisect_right(self._sent_real, real) - 1
        if i < 0:
            return None
        after = (real - self._sent_real[i]).total_seconds()
        scale = 0.0 if math.isinf(self.speed) or self.speed == 0 else self.speed
        return self._sent_planned[i] + timedelta(seconds=after * scale)


def scenario_time(log: PlayLog, event_ids: Sequence[str], raised_at: datetime) -> datetime | None:
    """The scenario time of an alert (see the module docstring); None if it is not ours."""
    ours = [e for e in event_ids if e in log.planned]
    if ours:
        first = min(ours, key=lambda e: log.planned[e])
        if (raised_at - log.sent_real[first]).total_seconds() <= PROMPT_S:
            return log.planned[first]
    elif event_ids:
        return None  # an alert about events of another run
    return log.carry_over(raised_at)


def raised_from_api(alert: Mapping[str, object], log: PlayLog) -> RaisedAlert | None:
    """A raised alert from the API's JSON (``AlertOut``); None when none of its events
    were played by this run and it was not raised during the run."""
    raised_at = datetime.fromisoformat(str(alert["raised_at"]))
    ids = [str(i) for i in alert.get("event_ids", []) or []]  # type: ignore[attr-defined]
    at = scenario_time(log, ids, raised_at)
    if at is None:
        return None
    return RaisedAlert(
        id=str(alert["id"]),
        device=str(alert["device"]),
        category=str(alert["category"]),
        priority=str(alert["priority"]),
        rule=str(alert["rule"]),
        kind=str(alert["kind"]),
        resident_id=None if alert.get("resident_id") is None else str(alert["resident_id"]),
        at=at.astimezone(UTC),
    )
