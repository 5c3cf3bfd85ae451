"""The production store: PostgreSQL through psycopg 3, with a connection pool and COPY ingest.

Why a synchronous pool and not ``AsyncConnectionPool``: the store port
(:mod:`hub.store.base`) is synchronous and the hub calls it from exactly one
store thread (``Hub.run_store``), so the event loop never waits on the
database whichever driver mode is used. Keeping the port synchronous keeps one
port, one test suite and one retry path for SQLite and PostgreSQL. The pool
(``psycopg_pool.ConnectionPool``) is there for what a pool does besides
concurrency: it checks a connection before handing it out, throws away broken
ones and reconnects in the background with backoff, so a database that went
away is picked up again without the hub restarting.

Ingest: a batch is written with ``COPY`` into a session temporary table, then
moved into ``events`` in one statement that skips ids already stored and
updates the devices' ``last_seen`` (see :mod:`hub.store.postgres_rows`). One
transaction per batch. Any psycopg or pool error becomes
:class:`hub.errors.StoreError`; the hub retries the batch with backoff and
acknowledges nothing to the broker until it commits, so a slow or absent
database slows ingest down and the broker keeps the messages. A batch whose
commit was cut off mid-way is retried and its ids are skipped if they did
land: stored exactly once.

Every session runs with ``TimeZone=UTC`` and ``search_path`` set to the
store's schema (``public`` unless given), so tests can use a schema each.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import psycopg_pool
from psycopg import sql

from devices.events import EventBase
from devices.registry import Placement
from hub.alerts import Alert, Transition
from hub.errors import SchemaTooNew, StoreError
from hub.store import postgres_rows as codec
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
from hub.store.common import migrations, placement_of
from hub.store.postgres_consent import PostgresConsentMixin
from hub.store.postgres_layout import Layout, maintain
from hub.store.postgres_routing import PostgresRoutingMixin
from hub.store.postgres_rows import Row
from hub.store.registry_postgres import PostgresRegistryMixin

log = logging.getLogger("trygg.store")

MIGRATIONS_PACKAGE = "hub.migrations.postgres"
DEFAULT_RETENTION = timedelta(days=730)
CONNECT_TIMEOUT_S = 5
GETCONN_TIMEOUT_S = 5.0
RECONNECT_TIMEOUT_S = 15.0
_LOCK_KEY = 0x7472_7967  # advisory lock: one migrator at a time

Conn = psycopg.Connection[tuple[Any, ...]]


class PostgresStore(PostgresConsentMixin, PostgresRoutingMixin, PostgresRegistryMixin):
    """The :class:`hub.store.base.Store` on a PostgreSQL database (``dsn``), in ``schema``."""

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "public",
        retention: timedelta = DEFAULT_RETENTION,
        pool_size: int = 2,
        wait_s: float = 10.0,
    ) -> None:
        self._schema = schema
        self._retention = retention
        self._closed = False
        self.layout: Layout | None = None
        options = f"-c TimeZone=UTC -c search_path={schema}"
        self._pool = psycopg_pool.ConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_size,
            kwargs={"options": options, "connect_timeout": CONNECT_TIMEOUT_S},
            configure=_configure,
            check=psycopg_pool.ConnectionPool.check_connection,
            timeout=GETCONN_TIMEOUT_S,
            # A failed reconnect gives up after this; the next checkout starts afresh
            # (psycopg_pool's backoff is uncapped, so one endless attempt would wait hours).
            reconnect_timeout=RECONNECT_TIMEOUT_S,
            name="trygg-store",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=wait_s)
        except psycopg_pool.PoolTimeout as exc:
            self._pool.close()
            raise StoreError(f"cannot connect to PostgreSQL ({_safe(dsn)}): {exc}") from exc

    # --- plumbing ------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Conn]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield conn
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise StoreError(f"postgres store: {exc}") from exc

    def _read(self, query: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._write() as conn:
            return conn.execute(query, params).fetchall()

    def migrate(self) -> int:
        known = migrations(MIGRATIONS_PACKAGE)
        with self._write() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                sql.Identifier(self._schema)))  # fmt: skip
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY,"
                " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            current = int(row[0]) if row else 0
            if current > known[-1].version:
                raise SchemaTooNew(
                    f"the database has schema version {current}; this Trygg knows up to"
                    f" {known[-1].version}: upgrade Trygg"
                )
            for migration in known[current:]:
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_version (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
            self.layout = maintain(conn, datetime.now(UTC), self._retention)
        log.info(
            "postgres store ready",
            extra={"schema_version": known[-1].version, "events_layout": self.layout.path,
                   "partitions_created": len(self.layout.created),
                   "partitions_dropped": len(self.layout.dropped)},
        )  # fmt: skip
        return known[-1].version

    def maintain(self, now: datetime | None = None) -> Layout:
        """Partitions ahead and retention; the hub calls this daily."""
        with self._write() as conn:
            self.layout = maintain(conn, now or datetime.now(UTC), self._retention)
        return self.layout

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pool.close()

    # --- events --------------------------------------------------------------------

    def append_events(self, events: Sequence[tuple[EventBase, datetime]]) -> int:
        if not events:
            return 0
        rows = codec.event_rows(events)
        with self._write() as conn:
            with conn.cursor() as cur, cur.copy(codec.COPY_INCOMING) as copy:
                for row in rows:
                    copy.write_row(row)
            result = conn.execute(codec.MOVE_INCOMING).fetchone()
        return int(result[0]) if result else 0

    def list_events(self, flt: EventFilter) -> list[StoredEvent]:
        where, params = codec.event_where(flt)
        query = codec.SELECT_EVENTS.format(where=where)
        return [codec.stored_event(r) for r in self._read(query, [*params, max(flt.limit, 0)])]

    def get_events(self, ids: Sequence[str]) -> list[EventBase]:
        rows = self._read(codec.SELECT_EVENTS_BY_ID, (list(dict.fromkeys(ids)),))
        found = {e.id: e for e in (codec.stored_event(r).event for r in rows)}
        return [found[i] for i in ids if i in found]

    # --- alerts --------------------------------------------------------------------

    def save_alert(self, alert: Alert, transition: Transition | None = None) -> None:
        row = codec.alert_row(alert)
        links = [(alert.id, event_id) for event_id in alert.event_ids]
        with self._write() as conn:
            conn.execute(codec.UPSERT_ALERT, row)
            with conn.cursor() as cur:
                cur.executemany(codec.LINK_EVENT, links)
            if transition is not None:
                conn.execute(codec.INSERT_TRANSITION, codec.transition_row(transition))

    def get_alert(self, alert_id: str) -> Alert | None:
        rows = self._read(codec.SELECT_ALERT, (alert_id,))
        return codec.alert_from_row(rows[0]) if rows else None

    def list_alerts(self, flt: AlertFilter) -> list[Alert]:
        where, params = codec.alert_where(flt)
        query = codec.SELECT_ALERTS.format(where=where)
        return [codec.alert_from_row(r) for r in self._read(query, [*params, max(flt.limit, 0)])]

    def transitions(self, alert_id: str) -> list[Transition]:
        rows = self._read(codec.SELECT_TRANSITIONS, (alert_id,))
        return [codec.transition_from_row(row) for row in rows]

    def alert_for_event(self, event_id: str) -> str | None:
        rows = self._read(codec.SELECT_ALERT_FOR_EVENT, (event_id,))
        return str(rows[0][0]) if rows else None

    # --- registry ------------------------------------------------------------------

    def _upsert(self, query: str, row: Row) -> None:
        with self._write() as conn:
            conn.execute(query, row)

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
        where, params = ("", []) if site is None else (" WHERE d.site = %s", [site])
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


def _configure(conn: Conn) -> None:
    """Each new session gets the temporary table the COPY ingest writes into."""
    conn.execute(codec.CREATE_INCOMING)
    conn.commit()


def _safe(dsn: str) -> str:
    """The DSN without its password, for error messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparseable DSN>"
    info.pop("password", None)
    return psycopg.conninfo.make_conninfo("", **info)
