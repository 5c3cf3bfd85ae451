"""How Trygg's values become SQLite rows and back, and the SQL that moves them.

Kept apart from :mod:`hub.store.sqlite` (connection, transactions, migrations)
so each stays readable. Column lists are derived from the dataclasses and
models in :mod:`hub.store.base` and :mod:`hub.alerts`, so a field added there
and in a migration needs no third edit here. Datetimes become integer
microseconds since the epoch (UTC); enums become their string values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from enum import Enum
from typing import Any

from devices.events import EventBase, event_from_dict
from hub.alerts import Alert, Transition
from hub.store.base import (
    Account,
    AlertFilter,
    Device,
    DeviceView,
    EventFilter,
    PlacementRecord,
    Resident,
    Role,
    Site,
    StoredEvent,
    Unit,
)
from hub.store.common import ALERT_TIMES, EPOCH, MICROSECOND, from_micros, to_micros
from hub.store.registry_rows import device_info

Row = tuple[Any, ...]


def columns_of(cls: Any) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def upsert_sql(table: str, columns: Sequence[str], key: str) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


def select_sql(table: str, columns: Sequence[str], tail: str = "") -> str:
    return f"SELECT {', '.join(columns)} FROM {table}{tail}"


def in_list(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


def where(clauses: list[str]) -> str:
    return f" WHERE {' AND '.join(clauses)}" if clauses else ""


# --- events -----------------------------------------------------------------------

EVENT_COLUMNS = "position, id, site, gateway, device, kind, ts, seq, data, received_at"
SELECT_EVENTS = f"SELECT {EVENT_COLUMNS} FROM events{{where}} ORDER BY position DESC LIMIT ?"
SELECT_EVENTS_BY_ID = f"SELECT {EVENT_COLUMNS} FROM events WHERE {{in_ids}}"
INSERT_EVENT = (
    "INSERT OR IGNORE INTO events (id, site, gateway, device, kind, ts, seq, data, received_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# One statement per batch over only the rows it added (position > the old maximum).
# NOT INDEXED: otherwise the planner serves the GROUP BY from events_device_ts and
# walks the whole table instead of the batch's rowid range.
TOUCH_DEVICES = (
    "UPDATE devices SET last_seen = max(coalesce(devices.last_seen, 0), batch.seen)"
    " FROM (SELECT device, max(received_at) AS seen FROM events NOT INDEXED WHERE position > ?"
    " GROUP BY device) AS batch WHERE devices.id = batch.device"
)


def event_rows(events: Sequence[tuple[EventBase, datetime]]) -> list[Row]:
    received_us: dict[datetime, int] = {}  # a batch usually shares one received_at
    rows = []
    for event, received in events:
        seen = received_us.get(received)
        if seen is None:
            seen = received_us[received] = to_micros(received)
        # EventBase.ts is an AwareDatetime, so skip utc()'s naive check: this loop is hot.
        ts = (event.ts - EPOCH) // MICROSECOND
        rows.append(
            (event.id, event.site, event.gateway, event.device, event.kind, ts, event.seq,
             event.data.model_dump_json(), seen)
        )  # fmt: skip
    return rows


def stored_event(row: Row) -> StoredEvent:
    position, event_id, site, gateway, device, kind, ts, seq, data, received = row
    event = event_from_dict(
        {"id": event_id, "site": site, "gateway": gateway, "device": device, "kind": kind,
         "ts": from_micros(ts), "seq": seq, "data": json.loads(data)}
    )  # fmt: skip
    return StoredEvent(position, event, from_micros(received))


def event_where(flt: EventFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    equal = {"site": flt.site, "gateway": flt.gateway, "device": flt.device, "kind": flt.kind}
    for column, value in equal.items():
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if flt.since is not None:
        clauses.append("ts >= ?")
        params.append(to_micros(flt.since))
    if flt.until is not None:
        clauses.append("ts < ?")
        params.append(to_micros(flt.until))
    if flt.units is not None:
        in_units, unit_params = in_list("unit", flt.units)
        clauses.append(f"device IN (SELECT device FROM placements WHERE {in_units})")
        params.extend(unit_params)
    if flt.cursor is not None:
        clauses.append("position < ?")
        params.append(flt.cursor)
    return where(clauses), params


# --- alerts -----------------------------------------------------------------------

ALERT_COLUMNS = tuple(Alert.model_fields)
TRANSITION_COLUMNS = tuple(Transition.model_fields)
UPSERT_ALERT = upsert_sql("alerts", ALERT_COLUMNS, "id")
LINK_EVENT = "INSERT OR IGNORE INTO alert_events (alert_id, event_id) VALUES (?, ?)"
INSERT_TRANSITION = (
    f"INSERT INTO alert_transitions ({', '.join(TRANSITION_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(TRANSITION_COLUMNS))})"
)
SELECT_ALERT = select_sql("alerts", ALERT_COLUMNS, " WHERE id = ?")
# rowid breaks ties in insertion order, as the in-memory fake does.
SELECT_ALERTS = select_sql(
    "alerts", ALERT_COLUMNS, "{where} ORDER BY raised_at DESC, rowid DESC LIMIT ?"
)
SELECT_TRANSITIONS = select_sql(
    "alert_transitions", TRANSITION_COLUMNS, " WHERE alert_id = ? ORDER BY id"
)
# The first alert the event raised or joined (one event can raise under two rules).
SELECT_ALERT_FOR_EVENT = (
    "SELECT alert_id FROM alert_events WHERE event_id = ? ORDER BY rowid LIMIT 1"
)


def model_row(values: dict[str, Any], columns: Sequence[str], times: Sequence[str]) -> Row:
    for name in times:
        values[name] = to_micros(values[name])
    return tuple(_plain(values[c]) for c in columns)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def alert_row(alert: Alert) -> Row:
    values = dict(alert)
    values["event_ids"] = json.dumps(list(alert.event_ids))
    return model_row(values, ALERT_COLUMNS, ALERT_TIMES)


def alert_from_row(row: Row) -> Alert:
    values = dict(zip(ALERT_COLUMNS, row, strict=True))
    for name in ALERT_TIMES:
        values[name] = from_micros(values[name])
    values["event_ids"] = tuple(json.loads(values["event_ids"]))
    return Alert.model_validate(values)


def transition_row(record: Transition) -> Row:
    return model_row(dict(record), TRANSITION_COLUMNS, ("at",))


def transition_from_row(row: Row) -> Transition:
    values = dict(zip(TRANSITION_COLUMNS, row, strict=True))
    values["at"] = from_micros(values["at"])
    return Transition.model_validate(values)


def alert_where(flt: AlertFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    scopes = {"state": flt.states, "category": flt.category, "unit": flt.units}
    for column, values in scopes.items():
        if values is not None:
            clause, more = in_list(column, [str(v) for v in values])
            clauses.append(clause)
            params.extend(more)
    if flt.site is not None:
        clauses.append("site = ?")
        params.append(flt.site)
    return where(clauses), params


# --- registry and accounts ----------------------------------------------------------

UPSERT_SITE = upsert_sql("sites", columns_of(Site), "id")
UPSERT_UNIT = upsert_sql("units", columns_of(Unit), "id")
UPSERT_RESIDENT = upsert_sql("residents", columns_of(Resident), "id")
UPSERT_PLACEMENT = upsert_sql("placements", columns_of(PlacementRecord), "device")
UPSERT_ACCOUNT = upsert_sql("staff", columns_of(Account), "username")
# A device registered after its first events starts with their last_seen.
UPSERT_DEVICE = (
    "INSERT INTO devices (id, site, gateway, type, serial, last_seen) VALUES (?, ?, ?, ?, ?,"
    " (SELECT max(received_at) FROM events WHERE device = ?)) ON CONFLICT (id) DO UPDATE SET"
    " site = excluded.site, gateway = excluded.gateway, type = excluded.type,"
    " serial = excluded.serial"
)
SELECT_DEVICES = (
    "SELECT d.id, d.site, d.gateway, d.type, d.serial, d.last_seen, p.device, p.unit,"
    " p.apartment, p.room, p.resident_id, p.tags, d.state, d.firmware, d.notes, d.installed_at,"
    " d.last_service_at, d.service_due_at FROM devices AS d LEFT JOIN placements AS p"
    " ON p.device = d.id{where} ORDER BY d.id"
)
SELECT_RESIDENT = select_sql("residents", columns_of(Resident), " WHERE id = ?")
SELECT_ACCOUNT = select_sql("staff", columns_of(Account), " WHERE username = ?")
SELECT_ACCOUNTS = select_sql("staff", columns_of(Account), " ORDER BY username")


def device_view(row: Row) -> DeviceView:
    device = Device(*row[:5])
    placement: PlacementRecord | None = None
    if row[6] is not None:  # LEFT JOIN: no placements row
        placed, unit, apartment, room, resident_id = row[6:11]
        tags = tuple(json.loads(row[11]))
        placement = PlacementRecord(placed, unit, apartment, room, resident_id, tags)
    last_seen = from_micros(row[5]) if row[5] is not None else None
    return DeviceView(device, placement, last_seen, device_info(row[12:18], from_micros))


def placement_row(placement: PlacementRecord) -> Row:
    values = {c: getattr(placement, c) for c in columns_of(PlacementRecord)}
    values["tags"] = json.dumps(list(placement.tags), separators=(",", ":"))
    return tuple(values.values())


def account_row(account: Account) -> Row:
    values = {f: getattr(account, f) for f in columns_of(Account)}
    values["units"] = json.dumps(list(account.units))
    return model_row(values, columns_of(Account), ())


def account_from_row(row: Row) -> Account:
    username, display_name, role, password_hash, site, units = row
    scope = tuple(json.loads(units))
    return Account(username, display_name, Role(role), password_hash, site, scope)
