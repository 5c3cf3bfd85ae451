"""The embedded store: one SQLite file in WAL mode, so ``trygg demo`` needs nothing installed.

WAL with ``synchronous=NORMAL`` keeps readers off the writer's back and makes a
commit cheap without risking corruption (a power cut can lose the last commits,
which the broker redelivers because the hub acks only after commit). Every
write method is one ``BEGIN IMMEDIATE`` ... ``COMMIT``; every sqlite3 error
becomes :class:`hub.errors.StoreError`, which the shell retries. The hub calls
the store from one dedicated thread, hence ``check_same_thread=False`` and no
locking here. Datetimes are stored as integer microseconds since the epoch in
UTC (:func:`hub.store.common.to_micros`): exact, sortable and small in indexes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devices.events import EventBase
from devices.registry import Placement
from hub.alerts import Alert, Transition
from hub.errors import SchemaTooNew, StoreError
from hub.store import sqlite_rows as codec
from hub.store.base import (
    Account,
    AlertFilter,
    Device,
    DeviceView,
    EventFilter,
    PlacementRecord,
    Resident,
    Site,
    StoredEvent,
    Unit,
)
from hub.store.common import Migration, migrations, placement_of, to_micros
from hub.store.consent_sqlite import SqliteConsentMixin
from hub.store.registry_sqlite import SqliteRegistryMixin
from hub.store.routing_stores import SqliteRoutingMixin
from hub.store.sqlite_rows import Row

BUSY_TIMEOUT_MS = 5000
# Bound the number of ``?`` in one IN (...) list well below SQLite's limit.
_CHUNK = 500
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    # A batch touches a leaf page per distinct device in events_device_ts: a
    # 64 MiB cache keeps those pages hot, and checkpointing every ~40 MiB of WAL
    # instead of 4 MiB writes each page back once per many batches, not per batch.
    "PRAGMA cache_size=-65536",
    "PRAGMA wal_autocheckpoint=10000",
    "PRAGMA journal_size_limit=67108864",
)


class SqliteStore(SqliteConsentMixin, SqliteRoutingMixin, SqliteRegistryMixin):
    """The :class:`hub.store.base.Store` on one SQLite file (or ``":memory:"``)."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._closed = False
        try:
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            for pragma in _PRAGMAS:
                self._conn.execute(pragma)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the store at {self._path}: {exc}") from exc

    # --- plumbing ------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE so a busy database fails at BEGIN, not mid-way."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite store {self._path}: {exc}") from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite store {self._path}: {exc}") from exc

    def migrate(self) -> int:
        known = migrations()
        with self._write() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version"
                " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
            )
            (current,) = conn.execute(
                "SELECT coalesce(max(version), 0) FROM schema_version"
            ).fetchone()
            if current > known[-1].version:
                raise SchemaTooNew(
                    f"{self._path} has schema version {current}; this Trygg knows up to"
                    f" {known[-1].version}: upgrade Trygg"
                )
            for migration in known[current:]:
                _apply(conn, migration)
        return known[-1].version

    def close(self) -> None:
        """Close once; later calls do nothing, like the in-memory fake's."""
        if self._closed:
            return
        self._closed = True
        try:
            self._conn.execute("PRAGMA optimize")  # keeps query plans good; cheap at close
        except sqlite3.Error as exc:
            raise StoreError(f"closing {self._path}: {exc}") from exc
        finally:
            self._conn.close()

    # --- events --------------------------------------------------------------------

    def append_events(self, events: Sequence[tuple[EventBase, datetime]]) -> int:
        if not events:
            return 0
        rows = codec.event_rows(events)
        with self._write() as conn:
            (newest,) = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
            before = conn.total_changes
            conn.executemany(codec.INSERT_EVENT, rows)
            added: int = conn.total_changes - before
            if added:
                conn.execute(codec.TOUCH_DEVICES, (newest,))
        return added

    def list_events(self, flt: EventFilter) -> list[StoredEvent]:
        where, params = codec.event_where(flt)
        sql = codec.SELECT_EVENTS.format(where=where)
        return [codec.stored_event(row) for row in self._read(sql, [*params, max(flt.limit, 0)])]

    def get_events(self, ids: Sequence[str]) -> list[EventBase]:
        found: dict[str, EventBase] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _CHUNK):
            in_ids, params = codec.in_list("id", unique[start : start + _CHUNK])
            for row in self._read(codec.SELECT_EVENTS_BY_ID.format(in_ids=in_ids), params):
                stored = codec.stored_event(row)
                found[stored.event.id] = stored.event
        return [found[i] for i in ids if i in found]

    # --- alerts --------------------------------------------------------------------

    def save_alert(self, alert: Alert, transition: Transition | None = None) -> None:
        row = codec.alert_row(alert)
        links = [(alert.id, event_id) for event_id in alert.event_ids]
        record = codec.transition_row(transition) if transition is not None else None
        with self._write() as conn:
            conn.execute(codec.UPSERT_ALERT, row)
            conn.executemany(codec.LINK_EVENT, links)
            if record is not None:
                conn.execute(codec.INSERT_TRANSITION, record)

    def get_alert(self, alert_id: str) -> Alert | None:
        rows = self._read(codec.SELECT_ALERT, (alert_id,))
        return codec.alert_from_row(rows[0]) if rows else None

    def list_alerts(self, flt: AlertFilter) -> list[Alert]:
        where, params = codec.alert_where(flt)
        sql = codec.SELECT_ALERTS.format(where=where)
        return [codec.alert_from_row(row) for row in self._read(sql, [*params, max(flt.limit, 0)])]

    def transitions(self, alert_id: str) -> list[Transition]:
        rows = self._read(codec.SELECT_TRANSITIONS, (alert_id,))
        return [codec.transition_from_row(row) for row in rows]

    def alert_for_event(self, event_id: str) -> str | None:
        rows = self._read(codec.SELECT_ALERT_FOR_EVENT, (event_id,))
        return str(rows[0][0]) if rows else None

    # --- registry ------------------------------------------------------------------

    def _upsert(self, sql: str, row: Row) -> None:
        with self._write() as conn:
            conn.execute(sql, row)

    def upsert_site(self, site: Site) -> None:
        self._upsert(codec.UPSERT_SITE, astuple(site))

    def upsert_unit(self, unit: Unit) -> None:
        self._upsert(codec.UPSERT_UNIT, astuple(unit))

    def upsert_resident(self, resident: Resident) -> None:
        self._upsert(codec.UPSERT_RESIDENT, astuple(resident))

    def upsert_device(self, device: Device) -> None:
        self._upsert(codec.UPSERT_DEVICE, (*astuple(device), device.id))

    def place(self, placement: PlacementRecord) -> None:
        self._upsert(codec.UPSERT_PLACEMENT, codec.placement_row(placement))

    def placements(self) -> list[Placement]:
        return [placement_of(view) for view in self.list_devices()]

    def list_devices(self, site: str | None = None) -> list[DeviceView]:
        where, params = ("", []) if site is None else (" WHERE d.site = ?", [site])
        rows = self._read(codec.SELECT_DEVICES.format(where=where), params)
        return [codec.device_view(row) for row in rows]

    def get_resident(self, resident_id: str) -> Resident | None:
        rows = self._read(codec.SELECT_RESIDENT, (resident_id,))
        return Resident(*rows[0]) if rows else None

    # --- accounts ------------------------------------------------------------------

    def upsert_account(self, account: Account) -> None:
        self._upsert(codec.UPSERT_ACCOUNT, codec.account_row(account))

    def get_account(self, username: str) -> Account | None:
        rows = self._read(codec.SELECT_ACCOUNT, (username,))
        return codec.account_from_row(rows[0]) if rows else None

    def list_accounts(self) -> list[Account]:
        return [codec.account_from_row(row) for row in self._read(codec.SELECT_ACCOUNTS)]


def _apply(conn: sqlite3.Connection, migration: Migration) -> None:
    """Run one migration's statements inside the caller's transaction.

    Not ``executescript``: it would commit first, and a failed migration must
    leave the database as it was.
    """
    statement = ""
    for line in migration.sql.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip() and not _only_comments(statement):
        raise StoreError(f"migration {migration.version} ends with an incomplete statement")
    conn.execute(
        "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
        (migration.version, migration.name, to_micros(datetime.now(UTC))),
    )


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())
