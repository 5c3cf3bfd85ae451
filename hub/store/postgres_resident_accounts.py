"""PostgreSQL: resident and guardian accounts bound to residents, and one resident's own
alarms. The twin of :class:`hub.store.resident_accounts.SqliteResidentAccountsMixin`, as a
mixin of :class:`hub.store.postgres.PostgresStore` (its ``_write``/``_read``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hub.alerts import Alert
from hub.store import postgres_rows as codec
from hub.store.common import utc

_RESIDENT_ALERTS = " WHERE resident_id = %s AND raised_at >= %s"


class PostgresResidentAccountsMixin:
    _write: Any
    _read: Any

    def bind_account_residents(self, username: str, residents: Sequence[str]) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM account_residents WHERE username = %s", (username,))
            if residents:
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO account_residents (username, resident_id) VALUES (%s, %s)",
                        [(username, r) for r in residents],
                    )

    def account_residents(self, username: str) -> tuple[str, ...]:
        rows = self._read(
            "SELECT resident_id FROM account_residents WHERE username = %s"
            ' ORDER BY resident_id COLLATE "C"',
            (username,),
        )
        return tuple(str(r[0]) for r in rows)

    def resident_alerts(self, resident_id: str, since: datetime, limit: int) -> list[Alert]:
        query = codec.SELECT_ALERTS.format(where=_RESIDENT_ALERTS)
        rows = self._read(query, (resident_id, utc(since), max(limit, 0)))
        return [codec.alert_from_row(row) for row in rows]
