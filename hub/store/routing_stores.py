"""The routing part of the store port (roster, shift log, routing log) for the
SQLite backend and the in-memory fake, as mixins of the backends' classes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, time
from typing import Any

from hub.routing.log import RoutingKind, RoutingRecord
from hub.routing.roster import Shift, ShiftLog
from hub.store.common import from_micros, to_micros, utc


def _hhmm(t: time) -> str:
    return t.strftime("%H:%M")


class SqliteRoutingMixin:
    _write: Any
    _read: Any

    def save_shift(self, shift: Shift) -> None:
        row = (
            shift.id,
            shift.staff,
            shift.site,
            json.dumps(list(shift.units)),
            _hhmm(shift.start),
            _hhmm(shift.end),
            shift.tz,
            json.dumps(list(shift.primary_for)),
        )
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO shifts (id, staff, site, units, start_local, end_local,"
                " tz, primary_for) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def delete_shift(self, shift_id: str) -> bool:
        with self._write() as conn:
            cur: sqlite3.Cursor = conn.execute("DELETE FROM shifts WHERE id = ?", (shift_id,))
            return cur.rowcount > 0

    def list_shifts(self, site: str | None = None) -> list[Shift]:
        sql = "SELECT id, staff, site, units, start_local, end_local, tz, primary_for FROM shifts"
        rows = self._read(
            sql + (" WHERE site = ?" if site else "") + " ORDER BY id", (site,) if site else ()
        )
        return [
            Shift(
                r[0],
                r[1],
                r[2],
                tuple(json.loads(r[3])),
                time.fromisoformat(r[4]),
                time.fromisoformat(r[5]),
                r[6],
                tuple(json.loads(r[7])),
            )
            for r in rows
        ]

    def log_shift(self, entry: ShiftLog) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO shift_log (staff, site, on_duty, at, units) VALUES (?, ?, ?, ?, ?)",
                (
                    entry.staff,
                    entry.site,
                    int(entry.on),
                    to_micros(entry.at),
                    json.dumps(list(entry.units)),
                ),
            )

    def shift_logs(self, since: datetime) -> list[ShiftLog]:
        rows = self._read(
            "SELECT staff, site, on_duty, at, units FROM shift_log WHERE at >= ? ORDER BY at, id",
            (to_micros(since),),
        )
        return [
            ShiftLog(r[0], r[1], bool(r[2]), from_micros(r[3]), tuple(json.loads(r[4])))
            for r in rows
        ]

    def append_routing(self, records: Sequence[RoutingRecord]) -> None:
        if not records:
            return
        rows = [
            (
                r.alert_id,
                to_micros(r.at),
                str(r.kind),
                r.actor,
                r.recipient,
                r.channel,
                r.step,
                r.detail,
            )
            for r in records
        ]
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO alert_routing (alert_id, at, kind, actor, recipient, channel, step,"
                " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def routing_log(self, alert_id: str) -> list[RoutingRecord]:
        rows = self._read(
            "SELECT alert_id, at, kind, actor, recipient, channel, step, detail"
            " FROM alert_routing WHERE alert_id = ? ORDER BY id",
            (alert_id,),
        )
        return [
            RoutingRecord(r[0], from_micros(r[1]), RoutingKind(r[2]), r[3], r[4], r[5], r[6], r[7])
            for r in rows
        ]


class MemoryRoutingMixin:
    """Lazily created tables, so the fake's ``__init__`` (a shared file) stays as it is."""

    def _routing_tables(self) -> tuple[dict[str, Shift], list[ShiftLog], list[RoutingRecord]]:
        tables: tuple[dict[str, Shift], list[ShiftLog], list[RoutingRecord]] | None
        tables = getattr(self, "_routing", None)
        if tables is None:
            tables = ({}, [], [])
            self._routing = tables
        return tables

    def save_shift(self, shift: Shift) -> None:
        self._routing_tables()[0][shift.id] = shift

    def delete_shift(self, shift_id: str) -> bool:
        return self._routing_tables()[0].pop(shift_id, None) is not None

    def list_shifts(self, site: str | None = None) -> list[Shift]:
        shifts = self._routing_tables()[0]
        return [shifts[k] for k in sorted(shifts) if site is None or shifts[k].site == site]

    def log_shift(self, entry: ShiftLog) -> None:
        stored = ShiftLog(entry.staff, entry.site, entry.on, utc(entry.at), entry.units)
        self._routing_tables()[1].append(stored)

    def shift_logs(self, since: datetime) -> list[ShiftLog]:
        logs = [e for e in self._routing_tables()[1] if e.at >= since]
        return _stable_by_time(logs)

    def append_routing(self, records: Sequence[RoutingRecord]) -> None:
        for r in records:
            utc(r.at)
        self._routing_tables()[2].extend(records)

    def routing_log(self, alert_id: str) -> list[RoutingRecord]:
        return [r for r in self._routing_tables()[2] if r.alert_id == alert_id]


def _stable_by_time(logs: list[ShiftLog]) -> list[ShiftLog]:
    return sorted(logs, key=lambda e: e.at)
