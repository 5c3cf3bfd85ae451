"""Scenarios: a scripted night at one site, as data.

A scenario file (YAML) names the site, its units, gateways, residents, staff
and devices; a ``timeline`` of scripted events at local wall-clock times;
``background`` rules that generate ordinary traffic (bed, door, motion,
heartbeats) from the scenario's ``seed``; and the alerts the hub is expected
to raise. Everything is checked when the file is loaded: an unknown kind or
device, a bad time or ``data`` that does not fit its kind fails with
``file:line: path: reason`` (:class:`ScenarioError`).

:meth:`Scenario.plan` turns the scenario into the concrete events of one
night, sorted by time. It is a pure function of the scenario and the date:
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
an event to a clock change.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from devices.events import DATA_MODELS, KINDS, Ident
from devices.localtime import TimeWindow, parse_time_of_day, wall_clock
from devices.registry import Placement
from simulators import SimulatorError

ALL_DEVICES = "*"
_DAY_S = 24 * 3600
Path_ = tuple[str | int, ...]  # a place in the document: ("timeline", 3, "kind")


# --- errors ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a scenario: where (line, path) and why."""

    line: int | None
    path: str
    reason: str


class ScenarioError(SimulatorError):
    """A scenario that does not load. ``str()`` is one ``file:line: path: reason`` per problem."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(_format(source, p) for p in problems))


def _format(source: str, p: Problem) -> str:
    where = f"{source}:{p.line}" if p.line is not None else source
    return f"{where}: {p.path}: {p.reason}" if p.path else f"{where}: {p.reason}"


class _Problems(ValueError):
    """Raised inside validation; carries structured paths out through pydantic."""

    def __init__(self, problems: list[tuple[Path_, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{_dotted(p)}: {r}" for p, r in problems))


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


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
    device: Ident
    kind: str
    data: dict[str, Any] = {}
    note: str | None = None


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
    at: WallTime
    device: Ident
    kind: str
    category: Category
    priority: Priority


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
    seed: int
    site: Site
    units: list[Unit]
    gateways: list[Gateway]
    residents: list[Resident] = []
    staff: list[Staff] = []
    devices: list[Device]
    timeline: list[TimelineEntry] = []
    background: list[Background] = []
    expected_alerts: list[ExpectedAlert] = []

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
        problems = list(_check(self))
        if problems:
            raise _Problems(problems)
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local_time(self, night_of: date, at: time) -> datetime:
        """The aware local datetime of wall-clock ``at`` in the night starting on ``night_of``."""
        day = night_of if at >= self.start else night_of + timedelta(days=1)
        return wall_clock(day, at, self.zone).astimezone(self.zone)  # see the module docstring

    def window(self, night_of: date) -> tuple[datetime, datetime]:
        """Start and end of the night as aware local datetimes (subtract in UTC)."""
        return self.local_time(night_of, self.start), self.local_time(night_of, self.end)

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
                _offset(origin, self.local_time(night_of, e.at)),
                e.device,
                e.kind,
                e.data,
                "timeline",
                e.note,
            )
            for e in self.timeline
        ]
        for index, rule in enumerate(self.background):
            lo, hi = (
                (0.0, length)
                if rule.between is None
                else (
                    _offset(origin, self.local_time(night_of, rule.between[0])),
                    _offset(origin, self.local_time(night_of, rule.between[1])),
                )
            )
            for device in self._rule_devices(rule):
                rng = random.Random(f"{self.seed}:{index}:{device}")
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


def _naive_s(at: time) -> int:
    return at.hour * 3600 + at.minute * 60 + at.second


def _night_order(start: time, at: time) -> int:
    """Wall-clock seconds from ``start`` to ``at``, going forward over midnight."""
    return (_naive_s(at) - _naive_s(start)) % _DAY_S


# --- cross-reference checks -------------------------------------------------------


def _check(s: Scenario) -> Iterator[tuple[Path_, str]]:
    yield from _unique(s)
    units = {u.id for u in s.units}
    gateways = {g.id for g in s.gateways}
    residents = {r.id for r in s.residents}
    devices = {d.id for d in s.devices}
    for i, g in enumerate(s.gateways):
        yield from _known(("gateways", i, "unit"), g.unit, units, "unit")
    for i, r in enumerate(s.residents):
        yield from _known(("residents", i, "unit"), r.unit, units, "unit")
    for i, st in enumerate(s.staff):
        for j, unit in enumerate(st.units):
            yield from _known(("staff", i, "units", j), unit, units, "unit")
    for i, d in enumerate(s.devices):
        yield from _known(("devices", i, "gateway"), d.gateway, gateways, "gateway")
        yield from _known(("devices", i, "unit"), d.unit, units, "unit")
        if d.resident is not None:
            yield from _known(("devices", i, "resident"), d.resident, residents, "resident")
    for i, e in enumerate(s.timeline):
        yield from _event_ref(("timeline", i), e.device, e.kind, e.data, devices)
        yield from _in_night(s, ("timeline", i, "at"), e.at)
    for i, b in enumerate(s.background):
        yield from _background(s, i, b, devices)
    for i, a in enumerate(s.expected_alerts):
        yield from _event_ref(("expected_alerts", i), a.device, a.kind, None, devices)
        yield from _in_night(s, ("expected_alerts", i, "at"), a.at)


def _background(
    s: Scenario, i: int, b: Background, devices: set[str]
) -> Iterator[tuple[Path_, str]]:
    path: Path_ = ("background", i)
    for j, device in enumerate(b.device):
        if device != ALL_DEVICES:
            yield from _known((*path, "device", j), device, devices, "device")
    yield from _event_ref(path, None, b.kind, b.data, devices)
    if b.pair_with is not None:
        yield from _event_ref(
            (*path, "pair_with"), None, b.pair_with.kind, b.pair_with.data, devices
        )
    if b.between is not None:
        first, last = b.between
        yield from _in_night(s, (*path, "between"), first)
        yield from _in_night(s, (*path, "between"), last)
        if _night_order(s.start, first) >= _night_order(s.start, last):
            yield (*path, "between"), f"window {first:%H:%M}-{last:%H:%M} ends before it starts"


def _event_ref(
    path: Path_, device: str | None, kind: str, data: dict[str, Any] | None, devices: set[str]
) -> Iterator[tuple[Path_, str]]:
    if device is not None:
        yield from _known((*path, "device"), device, devices, "device")
    if kind not in KINDS:
        yield (*path, "kind"), f"unknown kind {kind!r}"
        return
    if data is None:
        return
    try:
        DATA_MODELS[kind].model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        yield (*path, "data", *first["loc"]), f"{first['msg']} for kind {kind!r}"


def _known(path: Path_, value: str, known: set[str], what: str) -> Iterator[tuple[Path_, str]]:
    if value not in known:
        yield path, f"unknown {what} {value!r}"


def _in_night(s: Scenario, path: Path_, at: time) -> Iterator[tuple[Path_, str]]:
    length = _night_order(s.start, s.end) or _DAY_S
    if _night_order(s.start, at) > length:
        yield path, f"{at:%H:%M:%S} is outside the night {s.start:%H:%M}-{s.end:%H:%M}"


def _unique(s: Scenario) -> Iterator[tuple[Path_, str]]:
    sections: dict[str, list[str]] = {
        "units": [u.id for u in s.units],
        "gateways": [g.id for g in s.gateways],
        "residents": [r.id for r in s.residents],
        "staff": [st.username for st in s.staff],
        "devices": [d.id for d in s.devices],
    }
    for section, ids in sections.items():
        seen: set[str] = set()
        for i, ident in enumerate(ids):
            if ident in seen:
                yield (section, i), f"duplicate id {ident!r}"
            seen.add(ident)


# --- loading ----------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1 base-60 numbers: ``at: 23:40`` stays the string '23:40'."""


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def parse_scenario(text: str, source: str = "<string>") -> Scenario:
    """Validate scenario YAML; errors name ``source``, the line and the reason."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        raw = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ScenarioError(source, [Problem(line, "", f"not valid YAML: {exc}")]) from exc
    finally:
        loader.dispose()
    if not isinstance(raw, dict) or root is None:
        raise ScenarioError(source, [Problem(1, "", "a scenario is a YAML mapping")])
    duplicates = [Problem(line, path, "duplicate key") for path, line in _duplicate_keys(root)]
    if duplicates:
        raise ScenarioError(source, duplicates)
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(source, _problems(exc, root)) from exc


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


def _problems(exc: ValidationError, root: yaml.Node) -> list[Problem]:
    out: list[Problem] = []
    for error in exc.errors(include_url=False):
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, _Problems):
            out += [Problem(_line(root, p), _dotted(p), r) for p, r in cause.problems]
            continue
        path = tuple(error["loc"])
        reason = error["msg"].removeprefix("Value error, ")
        if error["type"] not in ("missing", "extra_forbidden"):
            reason = f"{reason} (got {_short(error.get('input'))})"
        out.append(Problem(_line(root, path), _dotted(path), reason))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _line(root: yaml.Node, path: Path_) -> int:
    """1-based line of the node at ``path``, or of the deepest ancestor found."""
    node = root
    for part in path:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if 0 <= part < len(node.value) else None
        else:
            child = None
        if child is not None:
            node = child
        # A part that is not in the document (a union tag, a missing key) is skipped.
    return int(node.start_mark.line) + 1


def _duplicate_keys(node: yaml.Node, path: Path_ = ()) -> Iterator[tuple[str, int]]:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if key.value in seen:
                yield _dotted((*path, key.value)), key.start_mark.line + 1
            seen.add(key.value)
            yield from _duplicate_keys(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*path, i))
