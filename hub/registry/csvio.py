"""Devices as CSV, pure: parse and check an import, write an export (same columns).

Columns (header row first, any order; ``id``, ``model`` and ``site`` are required,
the others may be left out): ``id,serial,model,firmware,site,gateway,unit,apartment,
room,state,tags,notes``. ``state`` defaults to ``in_stock``; ``tags`` are separated
by spaces. A device that is ``installed`` or ``in_service`` needs a unit and a
gateway; one in stock, in repair or retired has neither. Whom a device serves is
not in the file: that is a placement the consent registry must allow (the actions).

:func:`check` reports EVERY bad row as :class:`Problem` (line, column, reason) and
returns the changes only when there is none, so an import writes all rows or nothing.
A row for a device already registered updates it (serial, model, firmware, location,
tags, notes) but cannot change its state (that is the life cycle's, with its checks).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from devices.lifecycle import DeviceState, Location
from devices.tags import TagError, normalise_tags
from hub.registry.ports import DeviceChange
from hub.registry.records import GATEWAY_ID, NO_GATEWAY, DeviceHistory, DeviceInfo
from hub.store.base import Device, DeviceView, PlacementRecord

COLUMNS = ("id", "serial", "model", "firmware", "site", "gateway", "unit", "apartment", "room",
           "state", "tags", "notes")  # fmt: skip
REQUIRED = ("id", "model", "site")
MAX_ROWS = 10_000
MAX_CELL = 500
DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    column: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Known:
    """What the rows are checked against: the registry as it is now."""

    sites: frozenset[str]
    units: Mapping[str, str]  # unit id -> its site
    devices: Mapping[str, DeviceView]
    known_model: Callable[[str], bool]
    scope: frozenset[str] | None = None  # the sites the importer may write; None: all


@dataclass(frozen=True, slots=True)
class Checked:
    rows: int
    changes: list[DeviceChange]
    problems: list[Problem]


class _Row:
    """One CSV row being checked: cell access and the row's problems."""

    def __init__(self, line: int, cells: dict[str, str]) -> None:
        self.line = line
        self.cells = cells
        self.problems: list[Problem] = []

    def get(self, column: str) -> str | None:
        value = self.cells.get(column, "").strip()
        return value or None

    def bad(self, column: str | None, reason: str) -> None:
        self.problems.append(Problem(self.line, column, reason))


def _header(reader: Iterable[list[str]], problems: list[Problem]) -> list[str] | None:
    try:
        header = next(iter(reader))
    except StopIteration:
        problems.append(Problem(1, None, "empty file: the first line must name the columns"))
        return None
    names = [h.strip().lower() for h in header]
    for name in names:
        if name not in COLUMNS:
            problems.append(Problem(1, name, f"unknown column; known: {','.join(COLUMNS)}"))
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(Problem(1, name, "column named twice"))
    for name in REQUIRED:
        if name not in names:
            problems.append(Problem(1, name, "missing required column"))
    return None if problems else names


def check(text: str, known: Known, actor: str, at: datetime) -> Checked:
    """Every row checked; the changes to write when every row is good, else none."""
    problems: list[Problem] = []
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    names = _header(reader, problems)
    if names is None:
        return Checked(0, [], problems)
    changes: list[DeviceChange] = []
    first_line: dict[str, int] = {}
    count = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(reader.line_num, None, f"malformed CSV: {exc}"))
            break  # the reader cannot find the next row reliably after this
        if not any(c.strip() for c in cells):
            continue  # a blank line
        count += 1
        if count > MAX_ROWS:
            problems.append(Problem(reader.line_num, None, f"more than {MAX_ROWS} rows"))
            break
        row = _Row(reader.line_num, dict(zip(names, cells, strict=False)))
        if len(cells) != len(names):
            row.bad(None, f"{len(cells)} fields, the header has {len(names)}")
        else:
            change = _check_row(row, known, actor, at, first_line)
            if change is not None and not row.problems:
                changes.append(change)
        problems.extend(row.problems)
    return Checked(count, [] if problems else changes, problems)


def _check_row(
    row: _Row, known: Known, actor: str, at: datetime, first_line: dict[str, int]
) -> DeviceChange | None:
    for column, value in row.cells.items():
        if len(value) > MAX_CELL:
            row.bad(column, f"longer than {MAX_CELL} characters")
    device_id = row.get("id")
    if device_id is None or DEVICE_ID.fullmatch(device_id) is None:
        row.bad("id", "a device id: 1-128 of letters, digits, '_', '.', ':' or '-'")
    elif device_id in first_line:
        row.bad("id", f"duplicate id {device_id}: also on line {first_line[device_id]}")
    else:
        first_line[device_id] = row.line
    model = row.get("model")
    if model is None or not known.known_model(model):
        row.bad("model", f"unknown model {model!r}: not in the device catalogue")
    site = row.get("site")
    if site is None or site not in known.sites:
        row.bad("site", f"unknown site {site!r}")
    elif known.scope is not None and site not in known.scope:
        row.bad("site", f"site {site} is outside your scope")
    state = _state(row)
    old = known.devices.get(device_id) if device_id is not None else None
    where = _location(row, known, site, state, old)
    tags = _tags(row)
    if row.problems or device_id is None or model is None or site is None or state is None:
        return None
    return _change(row, old, device_id, model, site, state, where, tags, actor, at)


def _state(row: _Row) -> DeviceState | None:
    value = row.get("state") or DeviceState.IN_STOCK.value
    try:
        return DeviceState(value)
    except ValueError:
        row.bad("state", f"bad state {value!r}; one of {', '.join(DeviceState)}")
        return None


def _location(
    row: _Row, known: Known, site: str | None, state: DeviceState | None, old: DeviceView | None
) -> Location | None:
    unit, gateway = row.get("unit"), row.get("gateway")
    if unit is not None and unit not in known.units:
        row.bad("unit", f"unknown unit {unit!r}")
    elif unit is not None and site is not None and known.units[unit] != site:
        row.bad("unit", f"unit {unit} is on site {known.units[unit]}, not {site}")
    if gateway is not None and GATEWAY_ID.fullmatch(gateway) is None:
        row.bad("gateway", f"gateway id {gateway!r} cannot be a broker user or topic level")
    if unit is None:
        for column in ("apartment", "room"):
            if row.get(column) is not None:
                row.bad(column, f"a {column} needs a unit")
    if state is not None and state.supervised:
        # A device registered before the registry may be in service on no unit; it may stay so.
        unplaced = old is not None and (old.placement is None or old.placement.unit is None)
        for column, value in (("unit", unit), ("gateway", gateway)):
            if value is None and not (column == "unit" and unplaced):
                row.bad(column, f"a device {state} needs a {column}")
    elif state is not None:
        for column, value in (("unit", unit), ("gateway", gateway)):
            if value is not None:
                row.bad(column, f"a device {state} has no {column} (it is not installed)")
    if unit is None or site is None:
        return None
    return Location(site, unit, row.get("apartment"), row.get("room"))


def _tags(row: _Row) -> tuple[str, ...]:
    try:
        return normalise_tags((row.get("tags") or "").split())
    except TagError as exc:
        row.bad("tags", str(exc))
        return ()


def _change(
    row: _Row, old: DeviceView | None, device_id: str, model: str, site: str,
    state: DeviceState, where: Location | None, tags: tuple[str, ...], actor: str, at: datetime,
) -> DeviceChange | None:  # fmt: skip
    resident = old.placement.resident_id if old and old.placement else None
    if old is not None:
        if old.device.site != site:
            row.bad("site", f"device {device_id} belongs to site {old.device.site}")
        if old.info.state is not state:
            row.bad("state", f"device {device_id} is {old.info.state}: change its state"
                             " with its actions, not by import")  # fmt: skip
        if resident is not None and (old.device.site, old.placement and old.placement.unit) != (
            site, where.unit if where else None
        ):
            row.bad("unit", f"device {device_id} serves a resident: move it with its actions")
        if row.problems:
            return None
    info = DeviceInfo(state, row.get("firmware"), row.get("notes"))
    if old is not None:
        info = DeviceInfo(state, row.get("firmware"), row.get("notes"), old.info.installed_at,
                          old.info.last_service_at, old.info.service_due_at)  # fmt: skip
    elif state.supervised:
        info = DeviceInfo(state, row.get("firmware"), row.get("notes"), installed_at=at)
    placement = None
    if where is not None:
        placement = PlacementRecord(device_id, where.unit, where.apartment, where.room,
                                    resident, tags)  # fmt: skip
    device = Device(device_id, site, row.get("gateway") or NO_GATEWAY, model, row.get("serial"))
    history = DeviceHistory(device_id, at, actor, "import", old.info.state if old else None,
                            state, f"imported by {actor}", where)  # fmt: skip
    return DeviceChange(device, info, placement, history)


def export(views: Iterable[DeviceView]) -> str:
    """The devices as CSV with :data:`COLUMNS`, by id; :func:`check` reads it back."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for v in sorted(views, key=lambda v: v.device.id):
        d, p, i = v.device, v.placement, v.info
        unit = p.unit if p else None
        writer.writerow([
            d.id, d.serial or "", d.type, i.firmware or "", d.site, d.gateway,
            unit or "", (p.apartment if p and unit else None) or "",
            (p.room if p and unit else None) or "", i.state.value,
            " ".join(p.tags) if p and unit else "", i.notes or "",
        ])  # fmt: skip
    return out.getvalue()
