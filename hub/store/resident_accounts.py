"""Resident and guardian accounts bound to residents, and one resident's own alarms, for
the in-memory fake and SQLite (PostgreSQL: :mod:`hub.store.postgres_resident_accounts`).

Mixins of the backends' classes: the fake's tables, SQLite's ``_write``/``_read``. The
shared suite is ``tests/unit/test_resident_store.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hub.alerts import Alert
from hub.errors import StoreError
from hub.store import sqlite_rows as codec
from hub.store.common import to_micros, utc

_RESIDENT_ALERTS = " WHERE resident_id = ? AND raised_at >= ?"


class MemoryResidentAccountsMixin:
    """For :class:`hub.store.memory.MemoryStore`; refuses what SQLite's foreign keys refuse."""

    _accounts: dict[str, Any]
    _residents: dict[str, Any]
    _alerts: dict[str, Alert]
    _account_residents: dict[str, tuple[str, ...]]

    def bind_account_residents(self, username: str, residents: Sequence[str]) -> None:
        if username not in self._accounts:
            raise StoreError(f"FOREIGN KEY constraint failed: no account {username!r}")
        for resident_id in residents:
            if resident_id not in self._residents:
                raise StoreError(f"FOREIGN KEY constraint failed: no resident {resident_id!r}")
        if len(set(residents)) != len(residents):
            raise StoreError("UNIQUE constraint failed: account_residents")
        self._account_residents[username] = tuple(sorted(residents))

    def account_residents(self, username: str) -> tuple[str, ...]:
        return self._account_residents.get(username, ())

    def resident_alerts(self, resident_id: str, since: datetime, limit: int) -> list[Alert]:
        since = utc(since)
        ordered = sorted(
            enumerate(self._alerts.values()),
            key=lambda pair: (pair[1].raised_at, pair[0]),
            reverse=True,
        )
        found = [a for _, a in ordered if a.resident_id == resident_id and a.raised_at >= since]
        return found[: max(limit, 0)]


class SqliteResidentAccountsMixin:
    """For :class:`hub.store.sqlite.SqliteStore` (its ``_write``/``_read``)."""

    _write: Any
    _read: Any

    def bind_account_residents(self, username: str, residents: Sequence[str]) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM account_residents WHERE username = ?", (username,))
            conn.executemany(
                "INSERT INTO account_residents (username, resident_id) VALUES (?, ?)",
                [(username, r) for r in residents],
            )

    def account_residents(self, username: str) -> tuple[str, ...]:
        rows = self._read(
            "SELECT resident_id FROM account_residents WHERE username = ? ORDER BY resident_id",
            (username,),
        )
        return tuple(str(r[0]) for r in rows)

    def resident_alerts(self, resident_id: str, since: datetime, limit: int) -> list[Alert]:
        sql = codec.SELECT_ALERTS.format(where=_RESIDENT_ALERTS)
        rows = self._read(sql, (resident_id, to_micros(since), max(limit, 0)))
        return [codec.alert_from_row(row) for row in rows]
