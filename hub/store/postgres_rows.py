"""How Trygg's values become PostgreSQL rows and back, and the SQL that moves them.

The PostgreSQL twin of :mod:`hub.store.sqlite_rows`: the same tables and
columns, with ``%s`` placeholders, timestamptz instead of integer microseconds
and jsonb instead of JSON text. Column lists come from the same dataclasses and
models, so a field added there and in both migration series needs no edit here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from psycopg.types.json import Jsonb

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
from hub.store.common import utc
from hub.store.registry_rows import device_info
from hub.store.sqlite_rows import columns_of

Row = tuple[Any, ...]


def upsert_sql(table: str, columns: Sequence[str], key: str) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        f" ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


def select_sql(table: str, columns: Sequence[str], tail: str = "") -> str:
    return f"SELECT {', '.join(columns)} FROM {table}{tail}"


def where(clauses: list[str]) -> str:
    return f" WHERE {' AND '.join(clauses)}" if clauses else ""


# --- events -----------------------------------------------------------------------

EVENT_COLUMNS = "position, id, site, gateway, device, kind, ts, seq, data, received_at"
SELECT_EVENTS = f"SELECT {EVENT_COLUMNS} FROM events{{where}} ORDER BY position DESC LIMIT %s"
SELECT_EVENTS_BY_ID = f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ANY(%s)"

# A batch is COPYed into this session's temporary table, then moved in one
# statement: its ids go into event_ids (migration 0009), and the rows whose id
# went in there (not stored before) go into events, numbered in arrival order
# so positions skip no numbers; the devices heard from get their last_seen in
# the same statement. The primary key of event_ids is the duplicate check: one
# index probe per event whatever events holds, and two writers racing on an id
# are serialised by it. A batch holds each id once (event_rows keeps the first
# copy): a second copy would pass the join below twice.
CREATE_INCOMING = (
    'CREATE TEMPORARY TABLE IF NOT EXISTS incoming (ord int NOT NULL, id text COLLATE "C"'
    " NOT NULL, site text NOT NULL, gateway text NOT NULL, device text NOT NULL,"
    " kind text NOT NULL, ts timestamptz NOT NULL, seq bigint NOT NULL, data jsonb NOT NULL,"
    " received_at timestamptz NOT NULL) ON COMMIT DELETE ROWS"
)
COPY_INCOMING = (
    "COPY incoming (ord, id, site, gateway, device, kind, ts, seq, data, received_at) FROM STDIN"
)
MOVE_INCOMING = """
WITH fresh AS (
    INSERT INTO event_ids (id, ts)
    SELECT id, ts FROM incoming
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), numbered AS (
    SELECT nextval('events_position_seq') AS position, f.*
    FROM (SELECT i.* FROM incoming AS i JOIN fresh USING (id) ORDER BY i.ord) AS f
), added AS (
    INSERT INTO events (position, id, site, gateway, device, kind, ts, seq, data, received_at)
    SELECT position, id, site, gateway, device, kind, ts, seq, data, received_at FROM numbered
    RETURNING device, received_at
), touched AS (
    UPDATE devices AS d SET last_seen = greatest(d.last_seen, b.seen)
    FROM (SELECT device, max(received_at) AS seen FROM added GROUP BY device) AS b
    WHERE d.id = b.device
)
SELECT count(*) FROM added
"""


def event_rows(events: Sequence[tuple[EventBase, datetime]]) -> list[Row]:
    """COPY rows for ``incoming``: the first copy of each id, ``ord`` in arrival order."""
    checked: dict[datetime, datetime] = {}  # a batch usually shares one received_at
    taken: set[str] = set()
    rows: list[Row] = []
    for event, received in events:
        if event.id in taken:
            continue
        taken.add(event.id)
        seen = checked.get(received)
        if seen is None:
            seen = checked[received] = utc(received)
        rows.append(
            (len(rows), event.id, event.site, event.gateway, event.device, event.kind, event.ts,
             event.seq, event.data.model_dump_json(), seen)
        )  # fmt: skip
    return rows


def stored_event(row: Row) -> StoredEvent:
    position, event_id, site, gateway, device, kind, ts, seq, data, received = row
    event = event_from_dict(
        {"id": event_id, "site": site, "gateway": gateway, "device": device, "kind": kind,
         "ts": utc(ts), "seq": seq, "data": data}
    )  # fmt: skip
    return StoredEvent(position, event, utc(received))


def event_where(flt: EventFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    equal = {"site": flt.site, "gateway": flt.gateway, "device": flt.device, "kind": flt.kind}
    for column, value in equal.items():
        if value is not None:
            clauses.append(f"{column} = %s")
            params.append(value)
    if flt.since is not None:
        clauses.append("ts >= %s")
        params.append(utc(flt.since))
    if flt.until is not None:
        clauses.append("ts < %s")
        params.append(utc(flt.until))
    if flt.units is not None:
        clauses.append("device IN (SELECT device FROM placements WHERE unit = ANY(%s))")
        params.append(list(flt.units))
    if flt.cursor is not None:
        clauses.append("position < %s")
        params.append(flt.cursor)
    return where(clauses), params


# --- alerts -----------------------------------------------------------------------

ALERT_COLUMNS = tuple(Alert.model_fields)
TRANSITION_COLUMNS = tuple(Transition.model_fields)
UPSERT_ALERT = upsert_sql("alerts", ALERT_COLUMNS, "id")
LINK_EVENT = "INSERT INTO alert_events (alert_id, event_id) VALUES (%s, %s) ON CONFLICT DO NOTHING"
INSERT_TRANSITION = (
    f"INSERT INTO alert_transitions ({', '.join(TRANSITION_COLUMNS)})"
    f" VALUES ({', '.join(['%s'] * len(TRANSITION_COLUMNS))})"
)
SELECT_ALERT = select_sql("alerts", ALERT_COLUMNS, " WHERE id = %s")
SELECT_ALERTS = select_sql(
    "alerts", ALERT_COLUMNS, "{where} ORDER BY raised_at DESC, saved DESC LIMIT %s"
)
SELECT_TRANSITIONS = select_sql(
    "alert_transitions", TRANSITION_COLUMNS, " WHERE alert_id = %s ORDER BY id"
)
SELECT_ALERT_FOR_EVENT = (
    "SELECT alert_id FROM alert_events WHERE event_id = %s ORDER BY linked LIMIT 1"
)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def alert_row(alert: Alert) -> Row:
    values = dict(alert)
    values["event_ids"] = Jsonb(list(alert.event_ids))
    return tuple(_plain(values[c]) for c in ALERT_COLUMNS)


def alert_from_row(row: Row) -> Alert:
    values = dict(zip(ALERT_COLUMNS, row, strict=True))
    for name in ("raised_at", "updated_at", "event_ts"):
        values[name] = utc(values[name])
    if values["cancelled_by_resident_at"] is not None:
        values["cancelled_by_resident_at"] = utc(values["cancelled_by_resident_at"])
    values["event_ids"] = tuple(values["event_ids"])
    return Alert.model_validate(values)


def transition_row(record: Transition) -> Row:
    values = dict(record)
    return tuple(_plain(values[c]) for c in TRANSITION_COLUMNS)


def transition_from_row(row: Row) -> Transition:
    values = dict(zip(TRANSITION_COLUMNS, row, strict=True))
    values["at"] = utc(values["at"])
    return Transition.model_validate(values)


def alert_where(flt: AlertFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    scopes = {"state": flt.states, "category": flt.category, "unit": flt.units}
    for column, values in scopes.items():
        if values is not None:
            clauses.append(f"{column} = ANY(%s)")
            params.append([str(v) for v in values])
    if flt.site is not None:
        clauses.append("site = %s")
        params.append(flt.site)
    return where(clauses), params


# --- registry and accounts ----------------------------------------------------------

UPSERT_SITE = upsert_sql("sites", columns_of(Site), "id")
UPSERT_UNIT = upsert_sql("units", columns_of(Unit), "id")
UPSERT_RESIDENT = upsert_sql("residents", columns_of(Resident), "id")
UPSERT_PLACEMENT = upsert_sql("placements", columns_of(PlacementRecord), "device")
UPSERT_ACCOUNT = upsert_sql("staff", columns_of(Account), "username")
UPSERT_DEVICE = (
    "INSERT INTO devices (id, site, gateway, type, serial, last_seen) VALUES (%s, %s, %s, %s, %s,"
    " (SELECT max(received_at) FROM events WHERE device = %s)) ON CONFLICT (id) DO UPDATE SET"
    " site = excluded.site, gateway = excluded.gateway, type = excluded.type,"
    " serial = excluded.serial"
)
SELECT_DEVICES = (
    "SELECT d.id, d.site, d.gateway, d.type, d.serial, d.last_seen, p.device, p.unit,"
    " p.apartment, p.room, p.resident_id, p.tags, d.state, d.firmware, d.notes, d.installed_at,"
    " d.last_service_at, d.service_due_at FROM devices AS d LEFT JOIN placements AS p"
    ' ON p.device = d.id{where} ORDER BY d.id COLLATE "C"'
)
SELECT_RESIDENT = select_sql("residents", columns_of(Resident), " WHERE id = %s")
SELECT_ACCOUNT = select_sql("staff", columns_of(Account), " WHERE username = %s")
SELECT_ACCOUNTS = select_sql("staff", columns_of(Account), ' ORDER BY username COLLATE "C"')


def device_view(row: Row) -> DeviceView:
    device = Device(*row[:5])
    placement: PlacementRecord | None = None
    if row[6] is not None:  # LEFT JOIN: no placements row
        placed, unit, apartment, room, resident_id = row[6:11]
        tags = tuple(row[11])
        placement = PlacementRecord(placed, unit, apartment, room, resident_id, tags)
    last_seen = utc(row[5]) if row[5] is not None else None
    return DeviceView(device, placement, last_seen, device_info(row[12:18], utc))


def placement_row(placement: PlacementRecord) -> Row:
    values = {c: getattr(placement, c) for c in columns_of(PlacementRecord)}
    values["tags"] = list(placement.tags)
    return tuple(values.values())


def account_row(account: Account) -> Row:
    return (account.username, account.display_name, account.role.value, account.password_hash,
            account.site, Jsonb(list(account.units)))  # fmt: skip


def account_from_row(row: Row) -> Account:
    username, display_name, role, password_hash, site, units = row
    return Account(username, display_name, Role(role), password_hash, site, tuple(units))
