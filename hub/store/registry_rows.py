"""Rows of the device registry (migration 0005), shared by the SQLite and PostgreSQL adapters.

The two differ only in how a datetime is stored (integer microseconds in SQLite,
``timestamptz`` in PostgreSQL): each passes its own ``to_db``/``from_db``, and each
passes its placeholder (``?`` or ``%s``) to the SQL builders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from devices.lifecycle import DeviceState, Location
from hub.registry.ports import DeviceChange
from hub.registry.records import DeviceHistory, DeviceInfo, GatewayRecord, GatewayState

Row = tuple[Any, ...]
FromDb = Callable[[Any], datetime]
ToDb = Callable[[datetime], Any]
INFO_TIMES = ("installed_at", "last_service_at", "service_due_at")
HISTORY_COLUMNS = (
    "device, at, actor, action, from_state, to_state, note, site, unit, apartment, room"
)
GATEWAY_COLUMNS = "site, id, state, password_hash, provisioned_at, revoked_at, notes"


def _opt(value: Any, conv: Callable[[Any], Any]) -> Any:
    return None if value is None else conv(value)


def device_info(row: Sequence[Any], from_db: FromDb) -> DeviceInfo:
    """``d.state, d.firmware, d.notes, d.installed_at, d.last_service_at, d.service_due_at``."""
    state, firmware, notes, installed, serviced, due = row
    return DeviceInfo(
        DeviceState(state), firmware, notes,
        _opt(installed, from_db), _opt(serviced, from_db), _opt(due, from_db),
    )  # fmt: skip


def upsert_device_sql(ph: str) -> str:
    marks = ", ".join([ph] * 5)
    rest = ", ".join([ph] * 6)
    return (
        "INSERT INTO devices (id, site, gateway, type, serial, last_seen, state, firmware, notes,"
        f" installed_at, last_service_at, service_due_at) VALUES ({marks},"
        f" (SELECT max(received_at) FROM events WHERE device = {ph}), {rest})"
        " ON CONFLICT (id) DO UPDATE SET site = excluded.site, gateway = excluded.gateway,"
        " type = excluded.type, serial = excluded.serial, state = excluded.state,"
        " firmware = excluded.firmware, notes = excluded.notes,"
        " installed_at = excluded.installed_at, last_service_at = excluded.last_service_at,"
        " service_due_at = excluded.service_due_at"
    )


def device_row(change: DeviceChange, to_db: ToDb) -> Row:
    d, i = change.device, change.info
    times = tuple(_opt(getattr(i, name), to_db) for name in INFO_TIMES)
    return (d.id, d.site, d.gateway, d.type, d.serial, d.id, str(i.state), i.firmware, i.notes,
            *times)  # fmt: skip


def insert_history_sql(ph: str) -> str:
    marks = ", ".join([ph] * 11)
    return f"INSERT INTO device_history ({HISTORY_COLUMNS}) VALUES ({marks})"


def history_row(h: DeviceHistory, to_db: ToDb) -> Row:
    loc = h.location
    where = (loc.site, loc.unit, loc.apartment, loc.room) if loc else (None, None, None, None)
    return (h.device, to_db(h.at), h.actor, h.action, _opt(h.from_state, str),
            _opt(h.to_state, str), h.note, *where)  # fmt: skip


def select_history_sql(ph: str) -> str:
    return f"SELECT {HISTORY_COLUMNS} FROM device_history WHERE device = {ph} ORDER BY id"


def history_from_row(row: Row, from_db: FromDb) -> DeviceHistory:
    device, at, actor, action, from_state, to_state, note, site, unit, apartment, room = row
    location = Location(site, unit, apartment, room) if site is not None else None
    return DeviceHistory(device, from_db(at), actor, action, _opt(from_state, DeviceState),
                         _opt(to_state, DeviceState), note, location)  # fmt: skip


def upsert_gateway_sql(ph: str) -> str:
    marks = ", ".join([ph] * 7)
    return (
        f"INSERT INTO gateways ({GATEWAY_COLUMNS}) VALUES ({marks}) ON CONFLICT (site, id)"
        " DO UPDATE SET state = excluded.state, password_hash = excluded.password_hash,"
        " provisioned_at = excluded.provisioned_at, revoked_at = excluded.revoked_at,"
        " notes = excluded.notes"
    )


def gateway_row(g: GatewayRecord, to_db: ToDb) -> Row:
    if g.state is GatewayState.UNREGISTERED:
        raise ValueError("an unregistered gateway is not stored: register it first")
    return (g.site, g.id, str(g.state), g.password_hash, _opt(g.provisioned_at, to_db),
            _opt(g.revoked_at, to_db), g.notes)  # fmt: skip


def select_gateways_sql(ph: str, by_site: bool, collate: str = "") -> str:
    where = f" WHERE site = {ph}" if by_site else ""
    return f"SELECT {GATEWAY_COLUMNS} FROM gateways{where} ORDER BY site{collate}, id{collate}"


def gateway_from_row(row: Row, from_db: FromDb) -> GatewayRecord:
    site, id_, state, password_hash, provisioned_at, revoked_at, notes = row
    return GatewayRecord(site, id_, GatewayState(state), password_hash,
                         _opt(provisioned_at, from_db), _opt(revoked_at, from_db), notes)  # fmt: skip
