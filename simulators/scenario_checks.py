"""Cross-reference checks of a scenario: ids exist and are unique, times lie in the night,
days in the scenario, data fits its kind. Each problem is a (path, reason) pair."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from devices.events import DATA_MODELS, KINDS
from simulators.scenario_yaml import Path_

if TYPE_CHECKING:
    from simulators.scenario import Background, Scenario

ALL_DEVICES = "*"
DAY_S = 24 * 3600


def _naive_s(at: time) -> int:
    return at.hour * 3600 + at.minute * 60 + at.second


def _night_order(start: time, at: time) -> int:
    """Wall-clock seconds from ``start`` to ``at``, going forward over midnight."""
    return (_naive_s(at) - _naive_s(start)) % DAY_S


# --- cross-reference checks -------------------------------------------------------


def check(s: Scenario) -> Iterator[tuple[Path_, str]]:
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
        yield from _in_days(s, ("timeline", i, "day"), e.day)
    for i, routine in enumerate(s.routines):
        yield from _in_night(s, ("routines", i, "at"), routine.at)
        for j, day in enumerate(routine.days or []):
            yield from _in_days(s, ("routines", i, "days", j), day)
        for j, step in enumerate(routine.steps):
            yield from _event_ref(
                ("routines", i, "steps", j), step.device, step.kind, step.data, devices
            )
    for i, b in enumerate(s.background):
        yield from _background(s, i, b, devices)
    for i, a in enumerate(s.expected_alerts):
        path: Path_ = ("expected_alerts", i)
        yield from _known((*path, "device"), a.device, devices, "device")
        if a.kind is not None and a.kind not in KINDS:
            yield (*path, "kind"), f"unknown kind {a.kind!r}"
        if a.resident is not None:
            yield from _known((*path, "resident"), a.resident, residents, "resident")
        yield from _in_night(s, (*path, "at"), a.at)
        yield from _in_days(s, (*path, "day"), a.day)


def _in_days(s: Scenario, path: Path_, day: int) -> Iterator[tuple[Path_, str]]:
    if day >= s.days:
        yield path, f"day {day} is past the scenario's {s.days} day(s) (days count from 0)"


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
    length = _night_order(s.start, s.end) or DAY_S
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
