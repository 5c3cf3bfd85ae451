"""The routing part of the store port (roster, shift log, routing log) on PostgreSQL.

The twin of :class:`hub.store.routing_stores.SqliteRoutingMixin`, as a mixin of
:class:`hub.store.postgres.PostgresStore`; tables from migration 0002.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from typing import Any

from psycopg.types.json import Jsonb

from hub.routing.log import RoutingKind, RoutingRecord
from hub.routing.roster import Shift, ShiftLog
from hub.store.common import utc

_SHIFT_COLUMNS = "id, staff, site, units, start_local, end_local, tz, primary_for"


def _hhmm(t: time) -> str:
    return t.strftime("%H:%M")


class PostgresRoutingMixin:
    _write: Any
    _read: Any

    def save_shift(self, shift: Shift) -> None:
        row = (shift.id, shift.staff, shift.site, Jsonb(list(shift.units)), _hhmm(shift.start),
               _hhmm(shift.end), shift.tz, Jsonb(list(shift.primary_for)))  # fmt: skip
        updates = ", ".join(f"{c} = excluded.{c}" for c in _SHIFT_COLUMNS.split(", ")[1:])
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO shifts ({_SHIFT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                f" ON CONFLICT (id) DO UPDATE SET {updates}",
                row,
            )

    def delete_shift(self, shift_id: str) -> bool:
        with self._write() as conn:
            cur = conn.execute("DELETE FROM shifts WHERE id = %s", (shift_id,))
            return bool(cur.rowcount > 0)

    def list_shifts(self, site: str | None = None) -> list[Shift]:
        query = f"SELECT {_SHIFT_COLUMNS} FROM shifts"
        where, params = (" WHERE site = %s", (site,)) if site else ("", ())
        rows = self._read(query + where + ' ORDER BY id COLLATE "C"', params)
        return [
            Shift(r[0], r[1], r[2], tuple(r[3]), time.fromisoformat(r[4]),
                  time.fromisoformat(r[5]), r[6], tuple(r[7]))
            for r in rows
        ]  # fmt: skip

    def log_shift(self, entry: ShiftLog) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO shift_log (staff, site, on_duty, at, units)"
                " VALUES (%s, %s, %s, %s, %s)",
                (entry.staff, entry.site, entry.on, utc(entry.at), Jsonb(list(entry.units))),
            )

    def shift_logs(self, since: datetime) -> list[ShiftLog]:
        rows = self._read(
            "SELECT staff, site, on_duty, at, units FROM shift_log WHERE at >= %s ORDER BY at, id",
            (utc(since),),
        )
        return [ShiftLog(r[0], r[1], bool(r[2]), utc(r[3]), tuple(r[4])) for r in rows]

    def append_routing(self, records: Sequence[RoutingRecord]) -> None:
        if not records:
            return
        rows = [
            (r.alert_id, utc(r.at), str(r.kind), r.actor, r.recipient, r.channel, r.step, r.detail)
            for r in records
        ]
        with self._write() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO alert_routing (alert_id, at, kind, actor, recipient, channel, step,"
                " detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )

    def routing_log(self, alert_id: str) -> list[RoutingRecord]:
        rows = self._read(
            "SELECT alert_id, at, kind, actor, recipient, channel, step, detail"
            " FROM alert_routing WHERE alert_id = %s ORDER BY id",
            (alert_id,),
        )
        return [
            RoutingRecord(r[0], utc(r[1]), RoutingKind(r[2]), r[3], r[4], r[5], r[6], r[7])
            for r in rows
        ]
