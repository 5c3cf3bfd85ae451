"""The relatives registry (``hub.relatives.ports.RelativeStore``) for the in-memory fake,
SQLite and PostgreSQL, as mixins of the backends' classes; table from migration 0006."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from hub.errors import StoreError
from hub.relatives.model import Relative
from hub.store.common import to_micros, utc

_COLUMNS = "resident_id, id, display_name, relation, phone, address, language, notify"
_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in [*_COLUMNS.split(", ")[2:], "updated_at"])


def _row(r: Relative) -> tuple[Any, ...]:
    return (r.resident_id, r.id, r.display_name, r.relation, r.phone, r.address, r.language)


def _from_row(row: tuple[Any, ...]) -> Relative:
    resident_id, rid, name, relation, phone, address, language, notify = row
    return Relative(resident_id, rid, name, relation, phone, address, language, bool(notify))


def _select(resident_id: str | None, mark: str) -> tuple[str, tuple[Any, ...]]:
    where = f" WHERE resident_id = {mark}" if resident_id is not None else ""
    params = (resident_id,) if resident_id is not None else ()
    return f"SELECT {_COLUMNS} FROM relatives{where} ORDER BY resident_id, id", params


class MemoryRelativesMixin:
    _residents: dict[str, Any]

    @property
    def _relatives(self) -> dict[tuple[str, str], Relative]:
        table: dict[tuple[str, str], Relative] = self.__dict__.setdefault("_relatives_table", {})
        return table

    def save_relative(self, relative: Relative, at: datetime) -> None:
        if relative.resident_id not in self._residents:
            raise StoreError(f"no resident {relative.resident_id}")
        self._relatives[(relative.resident_id, relative.id)] = relative

    def delete_relative(self, resident_id: str, relative_id: str) -> bool:
        return self._relatives.pop((resident_id, relative_id), None) is not None

    def list_relatives(self, resident_id: str | None = None) -> list[Relative]:
        return [
            r
            for key, r in sorted(self._relatives.items())
            if resident_id is None or key[0] == resident_id
        ]


class SqliteRelativesMixin:
    _write: Any
    _read: Any

    def save_relative(self, relative: Relative, at: datetime) -> None:
        # The backend's _write turns a refused row (no such resident) into StoreError.
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO relatives ({_COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?,"
                f" ?, ?) ON CONFLICT (resident_id, id) DO UPDATE SET {_UPDATES}",
                (*_row(relative), int(relative.notify), to_micros(at)),
            )

    def delete_relative(self, resident_id: str, relative_id: str) -> bool:
        with self._write() as conn:
            cur: sqlite3.Cursor = conn.execute(
                "DELETE FROM relatives WHERE resident_id = ? AND id = ?", (resident_id, relative_id)
            )
            return cur.rowcount > 0

    def list_relatives(self, resident_id: str | None = None) -> list[Relative]:
        query, params = _select(resident_id, "?")
        return [_from_row(r) for r in self._read(query, params)]


class PostgresRelativesMixin:
    _write: Any
    _read: Any

    def save_relative(self, relative: Relative, at: datetime) -> None:
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO relatives ({_COLUMNS}, updated_at) VALUES (%s, %s, %s, %s, %s,"
                f" %s, %s, %s, %s) ON CONFLICT (resident_id, id) DO UPDATE SET {_UPDATES}",
                (*_row(relative), relative.notify, utc(at)),
            )

    def delete_relative(self, resident_id: str, relative_id: str) -> bool:
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM relatives WHERE resident_id = %s AND id = %s",
                (resident_id, relative_id),
            )
            return bool(cur.rowcount)

    def list_relatives(self, resident_id: str | None = None) -> list[Relative]:
        query, params = _select(resident_id, "%s")
        return [_from_row(r) for r in self._read(query, params)]
