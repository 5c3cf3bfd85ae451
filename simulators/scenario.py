"""Scenarios: scripted nights (or days, or a week) at one site, as data.

A scenario file (YAML) names the site, its units, gateways, residents, staff
and devices; a ``timeline`` of scripted events at local wall-clock times (on
``day`` N of a multi-day scenario); ``routines`` of steps repeated on several
days, each day shifted as a whole by a seeded amount; ``background`` rules that generate ordinary traffic (bed, door, motion,
heartbeats) from the scenario's ``seed``; and the alerts the hub is expected
to raise. Everything is checked when the file is loaded: an unknown kind or
device, a bad time or ``data`` that does not fit its kind fails with
``file:line: path: reason`` (:class:`ScenarioError`).

:meth:`Scenario.plan` turns the scenario into the concrete events of its
``days`` nights, sorted by time. It is a pure function of the scenario and the date:
the same seed gives the same list.

Time
----
Times in the file are wall-clock times in ``timezone``. ``start`` is on the
evening of ``night_of``; a time earlier than ``start`` belongs to the next
morning (the night crosses midnight when ``end <= start``). Offsets are real
elapsed seconds, computed in UTC, so 22:00-07:00 lasts 10 h on the night the
clocks go back and 8 h on the night they go forward. Background rules run
on elapsed time: the repeated hour in October gets its heartbeats too.

A wall-clock time that happens twice (02:00-02:59 when the clocks go back)
means its first occurrence, still on summer time (``fold=0``). A time that
does not exist (02:00-02:59 when the clocks go forward) is read with the
offset in force before the gap and so moves forward by the gap: 02:30 is
played at 03:30 summer time. This is what ``zoneinfo`` does with
``fold=0`` and what iCalendar (RFC 5545) prescribes; a script never loses
an event to a clock change. ``fold: 1`` on a timeline entry or an expected
alert picks the second occurrence of a repeated time instead.

Loading and its error reports live in :mod:`simulators.scenario_yaml`, the
cross-reference checks in :mod:`simulators.scenario_checks`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from devices.events import Ident
from devices.localtime import TimeWindow, parse_time_of_day, wall_clock
from devices.registry import Placement
from simulators.scenario_checks import ALL_DEVICES, DAY_S, check
from simulators.scenario_yaml import (
    Problem,
    ProblemList,
    ScenarioError,
    read_yaml,
    validation_problems,
)

__all__ = [
    "ALL_DEVICES",
    "ExpectedAlert",
    "PlannedEvent",
    "Problem",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "parse_scenario",
    "scenario_names",
]

_DAY_S = DAY_S

# --- field types ----------------------------------------------------------------


def _parse_time(value: Any) -> time:
    return parse_time_of_day(value)


def _parse_window(value: Any) -> Any:
    if isinstance(value, str):
        window = TimeWindow.parse(value)
        return (window.start, window.end)
    return value


def _parse_range(value: Any) -> Any:
    if isinstance(value, int | float):
        return (value, value)
    return value


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


WallTime = Annotated[time, BeforeValidator(_parse_time)]
Window = Annotated[tuple[WallTime, WallTime], BeforeValidator(_parse_window)]
Seconds = Annotated[float, Field(ge=0, le=_DAY_S)]
_Source = Literal["timeline", "background"]
Category = Literal["resident", "colleague", "technical"]
Priority = Literal["critical", "high", "medium", "low"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the file's sections --------------------------------------------------------


class Site(_Frozen):
    id: Ident
    name: str


class Unit(_Frozen):
    id: Ident
    name: str


class Gateway(_Frozen):
    id: Ident
    unit: Ident


class Resident(_Frozen):
    id: Ident
    name: str
    unit: Ident
    apartment: str


class Staff(_Frozen):
    username: Ident
    display_name: str
    role: Ident
    units: list[Ident] = []


class Device(_Frozen):
    id: Ident
    type: Ident
    gateway: Ident
    unit: Ident
    apartment: str | None = None
    room: str | None = None
    resident: Ident | None = None


class TimelineEntry(_Frozen):
    at: WallTime
    # Which night (or day) of a multi-day scenario, from 0.
    day: Annotated[int, Field(ge=0)] = 0
    # 1: the second occurrence of a wall-clock time the clocks repeat (October night).
    fold: Literal[0, 1] = 0
    device: Ident
    kind: str
    data: dict[str, Any] = {}
    note: str | None = None


class Step(_Frozen):
    """One event of a routine, ``after_s`` real seconds after the routine starts."""

    after_s: Annotated[float, Field(ge=0, le=_DAY_S)]
    device: Ident
    kind: str
    data: dict[str, Any] = {}
    note: str | None = None


class Routine(_Frozen):
    """Steps repeated on several days (a walk to dinner), moved as a whole by chance.

    Each day the routine starts at ``at`` plus ``uniform(-shift_s, +shift_s)``
    drawn from the scenario's seed, the routine's index and the day, so the
    same seed gives the same week. ``days`` lists the days it happens on
    (default: every day of the scenario).
    """

    name: Annotated[str, Field(min_length=1)]
    at: WallTime
    days: list[Annotated[int, Field(ge=0)]] | None = None
    shift_s: Annotated[float, Field(ge=0, le=6 * 3600)] = 0.0
    steps: Annotated[list[Step], Field(min_length=1)]


class Pair(_Frozen):
    """The event that follows a background event (bed.enter after bed.exit)."""

    kind: str
    # Seconds after the first event: a number, or [min, max] drawn uniformly.
    after_s: Annotated[tuple[Seconds, Seconds], BeforeValidator(_parse_range)]
    data: dict[str, Any] = {}

    @field_validator("after_s")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if value[0] > value[1]:
            raise ValueError(f"min {value[0]} is greater than max {value[1]}")
        return value


class Background(_Frozen):
    """Ordinary traffic: ``kind`` on each device about every ``every`` minutes.

    Intervals are ``every * uniform(1 - jitter, 1 + jitter)`` (mean ``every``);
    the first one falls at a random point of the first interval, so devices
    on the same rule do not all report at once. ``device`` is an id, a list
    of ids, or ``"*"`` for every device of the scenario.
    """

    device: Annotated[list[str], BeforeValidator(_as_list), Field(min_length=1)]
    kind: str
    every: Annotated[float, Field(gt=0, le=24 * 60)]
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.0
    between: Window | None = None
    pair_with: Pair | None = None
    data: dict[str, Any] = {}


class ExpectedAlert(_Frozen):
    """An alert the hub should raise: when (``day``, ``at``, give or take ``within_s``),
    for which device, and what it is. ``rule`` names the rule id expected to raise
    it (reported, not required to match); ``kind`` is the kind of the event behind it."""

    at: WallTime
    day: Annotated[int, Field(ge=0)] = 0
    fold: Literal[0, 1] = 0
    device: Ident
    kind: str | None = None
    category: Category
    priority: Priority
    rule: str | None = None
    resident: Ident | None = None
    within_s: Annotated[float, Field(gt=0, le=_DAY_S)] = 120.0
    note: str | None = None


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    """One event of a planned night: when, from where, what."""

    offset_s: float
    at: datetime
    site: str
    gateway: str
    device: str
    kind: str
    data: Mapping[str, Any]
    source: _Source
    note: str | None = None


# --- the scenario ---------------------------------------------------------------


class Scenario(_Frozen):
    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    timezone: str = "Europe/Oslo"
    start: WallTime = time(22, 0)
    end: WallTime = time(7, 0)
    # Nights (or days) in a row: ``start`` on day 0 to ``end`` on the last one.
    days: Annotated[int, Field(ge=1, le=62)] = 1
    # A fixed first night (the October clock change); default: the night it is played.
    night_of: date | None = None
    seed: int
    site: Site
    units: list[Unit]
    gateways: list[Gateway]
    residents: list[Resident] = []
    staff: list[Staff] = []
    devices: list[Device]
    timeline: list[TimelineEntry] = []
    routines: list[Routine] = []
    background: list[Background] = []
    expected_alerts: list[ExpectedAlert] = []
    # The `overrides:` of a rule file (resident -> rule -> params) this scenario's hub
    # needs on top of the default pack (e.g. the GPS geofence switched on for one
    # resident); checked against the rules when an in-process run loads them.
    rule_overrides: dict[str, dict[str, dict[str, Any]]] = {}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        problems = list(check(self))
        if problems:
            raise ProblemList(problems)
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local_time(self, night_of: date, at: time, day: int = 0, fold: int = 0) -> datetime:
        """The aware local datetime of wall-clock ``at`` in night ``day`` (from 0) of the
        scenario that starts on the evening of ``night_of``. ``fold=1`` picks the second
        occurrence of a repeated wall-clock time; elsewhere it changes nothing."""
        first = night_of + timedelta(days=day)
        when = first if at >= self.start else first + timedelta(days=1)
        instant = wall_clock(when, at, self.zone)  # see the module docstring
        if fold:
            second = datetime.combine(when, at.replace(fold=1), tzinfo=self.zone).astimezone(UTC)
            instant = max(instant, second)  # in a gap fold=1 reads earlier: keep fold=0 there
        return instant.astimezone(self.zone)

    def window(self, night_of: date) -> tuple[datetime, datetime]:
        """Start and end of the scenario as aware local datetimes (subtract in UTC).

        ``end`` is on the last day; when ``end <= start`` it is the next morning,
        so ``start == end`` (e.g. 00:00-00:00) means whole days.
        """
        last = night_of + timedelta(days=self.days - 1)
        end_day = last if self.end > self.start else last + timedelta(days=1)
        end = wall_clock(end_day, self.end, self.zone).astimezone(self.zone)
        return self.local_time(night_of, self.start), end

    def expected_time(self, night_of: date, alert: ExpectedAlert) -> datetime:
        """When an expected alert is due, as an aware local datetime."""
        return self.local_time(night_of, alert.at, alert.day, alert.fold)

    def plan(self, night_of: date) -> list[PlannedEvent]:
        """Every event of the night (timeline and background), sorted by time.

        Deterministic: background traffic comes from ``random.Random`` seeded
        with the scenario's seed, the rule's index and the device, so editing
        one rule does not reshuffle the others.
        """
        start, end = self.window(night_of)
        origin = start.astimezone(UTC)
        length = _offset(origin, end)
        raw: list[tuple[float, str, str, Mapping[str, Any], _Source, str | None]] = [
            (
                _offset(origin, self.local_time(night_of, e.at, e.day, e.fold)),
                e.device,
                e.kind,
                e.data,
                "timeline",
                e.note,
            )
            for e in self.timeline
        ]
        for index, routine in enumerate(self.routines):
            for day in routine.days if routine.days is not None else range(self.days):
                rng = random.Random(f"{self.seed}:routine:{index}:{day}")
                begin = _offset(origin, self.local_time(night_of, routine.at, day))
                begin += round(rng.uniform(-routine.shift_s, routine.shift_s), 3)
                raw += [
                    (round(begin + st.after_s, 3), st.device, st.kind, st.data, "timeline", st.note)
                    for st in routine.steps
                ]
        for index, rule in enumerate(self.background):
            for day, (lo, hi) in enumerate(self._spans(night_of, origin, rule, length)):
                for device in self._rule_devices(rule):
                    # Day 0 keeps the seed string of one-night scenarios: same nights as before.
                    suffix = f":{day}" if day else ""
                    rng = random.Random(f"{self.seed}:{index}:{device}{suffix}")
                    raw += [
                        (offset, device, kind, data, "background", None)
                        for offset, kind, data in _generate(rng, rule, lo, hi)
                    ]
        gateway = {d.id: d.gateway for d in self.devices}
        planned = [
            PlannedEvent(
                offset_s=offset,
                at=(origin + timedelta(seconds=offset)).astimezone(self.zone),
                site=self.site.id,
                gateway=gateway[device],
                device=device,
                kind=kind,
                data=dict(data),
                source=source,
                note=note,
            )
            for offset, device, kind, data, source, note in raw
        ]
        # Stable: at the same instant, timeline entries come before background traffic.
        return sorted(planned, key=lambda p: p.offset_s)

    def _spans(
        self, night_of: date, origin: datetime, rule: Background, length: float
    ) -> list[tuple[float, float]]:
        """The stretches (offsets) a background rule runs in: whole scenario, or its
        ``between`` window on each day, cut to the scenario."""
        if rule.between is None:
            return [(0.0, length)]
        spans = []
        for day in range(self.days):
            lo = _offset(origin, self.local_time(night_of, rule.between[0], day))
            hi = _offset(origin, self.local_time(night_of, rule.between[1], day))
            if hi <= lo:  # a window over the scenario's day boundary ends the day after
                hi = _offset(origin, self.local_time(night_of, rule.between[1], day + 1))
            spans.append((max(lo, 0.0), min(hi, length)))
        return spans

    def placements(self) -> list[Placement]:
        """The device registry this scenario implies (device -> unit, apartment, resident)."""
        return [
            Placement(
                device=d.id,
                device_type=d.type,
                site=self.site.id,
                gateway=d.gateway,
                unit=d.unit,
                apartment=d.apartment,
                room=d.room,
                resident_id=d.resident,
            )
            for d in self.devices
        ]

    def _rule_devices(self, rule: Background) -> list[str]:
        if ALL_DEVICES in rule.device:
            return [d.id for d in self.devices]
        return list(rule.device)


def _generate(
    rng: random.Random, rule: Background, lo: float, hi: float
) -> Iterator[tuple[float, str, Mapping[str, Any]]]:
    every = rule.every * 60
    t = lo + rng.uniform(0, every)
    while t < hi:
        after = rng.uniform(*rule.pair_with.after_s) if rule.pair_with else None
        if after is not None and t + after >= hi:
            return  # a pair never straddles the window's end: no bed.exit without bed.enter
        yield round(t, 3), rule.kind, rule.data
        if rule.pair_with is not None and after is not None:
            yield round(t + after, 3), rule.pair_with.kind, rule.pair_with.data
        step = max(every * rng.uniform(1 - rule.jitter, 1 + rule.jitter), 1.0)
        # Never start the next pair before this one has ended.
        t += max(step, (after or 0.0) + 1.0)


def _offset(origin_utc: datetime, at: datetime) -> float:
    return round((at.astimezone(UTC) - origin_utc).total_seconds(), 3)


# --- loading ----------------------------------------------------------------------


def parse_scenario(text: str, source: str = "<string>") -> Scenario:
    """Validate scenario YAML; errors name ``source``, the line and the reason."""
    doc = read_yaml(text, source)
    try:
        return Scenario.model_validate(doc["raw"])
    except ValidationError as exc:
        raise ScenarioError(source, validation_problems(exc, doc["root"])) from exc


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a shipped scenario by name (``"night-unit"``) or a scenario file by path."""
    path = Path(name_or_path)
    if isinstance(name_or_path, Path) or path.suffix in (".yaml", ".yml") or len(path.parts) > 1:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(str(path), [Problem(None, "", f"cannot read: {exc}")]) from exc
        return parse_scenario(text, str(path))
    resource = resources.files("simulators.scenarios") / f"{name_or_path}.yaml"
    if not resource.is_file():
        shipped = ", ".join(scenario_names()) or "none"
        reason = f"no scenario named {str(name_or_path)!r} (shipped: {shipped})"
        raise ScenarioError(str(name_or_path), [Problem(None, "", reason)])
    return parse_scenario(resource.read_text(encoding="utf-8"), str(resource))


def scenario_names() -> list[str]:
    """Names of the scenarios shipped in ``simulators/scenarios``."""
    folder = resources.files("simulators.scenarios")
    return sorted(
        p.name.removesuffix(".yaml")
        for p in folder.iterdir()
        if p.is_file() and p.name.endswith(".yaml")
    )
