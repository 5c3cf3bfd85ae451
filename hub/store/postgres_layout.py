"""How the events table is laid out in time, and keeping it so: TimescaleDB or monthly partitions.

Migration 0001 (``hub/migrations/postgres``) makes ``events`` a TimescaleDB
hypertable when the extension is available, else a table range-partitioned by
month on ``ts`` with a default partition. :func:`maintain` runs at every start
(and daily from the hub) and applies the retention:

- TimescaleDB: the retention policy is (re)set to the configured interval;
  compression and the continuous aggregate were set up by the migration.
- Plain PostgreSQL: partitions for this month and ``AHEAD`` months are created
  ahead of time; partitions wholly older than the retention are dropped (a
  whole month at a time, no row-by-row DELETE); rows in the default partition
  older than the retention are deleted. A partition made for rows that already
  sit in the default partition takes them over first.

Both: ``event_ids`` (migration 0009, the ingest path's duplicate check) loses
the ids older than the retention whose events are gone. An id whose row is
still in ``events`` (a partition straddling the cutoff, a chunk TimescaleDB has
not dropped yet) stays, so a redelivered copy of it is still refused; an id
whose row an earlier, stricter retention deleted stays until the cutoff, so a
redelivered copy does not bring the deleted event back.

The calendar arithmetic (:func:`month_start`, :func:`months_between`,
:func:`partition_name`) is pure and tested without a database.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

log = logging.getLogger("trygg.store")

AHEAD = 3  # months of partitions made ahead of time
_PARTITION = re.compile(r"^events_(\d{4})_(\d{2})$")


@dataclass(frozen=True, slots=True)
class Layout:
    timescale: bool
    created: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    pruned_ids: int = 0

    @property
    def path(self) -> str:
        return "timescaledb" if self.timescale else "partitions"


def month_start(when: datetime) -> datetime:
    when = when.astimezone(UTC)
    return datetime(when.year, when.month, 1, tzinfo=UTC)


def add_months(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(start: datetime) -> str:
    return f"events_{start.year:04d}_{start.month:02d}"


def partition_start(name: str) -> datetime | None:
    match = _PARTITION.match(name)
    return datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC) if match else None


def wanted_partitions(now: datetime, retention: timedelta) -> list[datetime]:
    """Month starts that must exist: from the oldest month still retained to AHEAD months on."""
    first = month_start(now - retention)
    last = add_months(month_start(now), AHEAD)
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


def expired_partitions(names: list[str], now: datetime, retention: timedelta) -> list[str]:
    """Partitions whose whole month ended before ``now - retention``."""
    cutoff = now - retention
    expired = []
    for name in names:
        start = partition_start(name)
        if start is not None and add_months(start, 1) <= cutoff:
            expired.append(name)
    return sorted(expired)


def has_timescale(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables"
        " WHERE hypertable_name = 'events' AND hypertable_schema = current_schema())"
        if _extension(conn)
        else "SELECT false"
    ).fetchone()
    return bool(row and row[0])


def _extension(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return row is not None


def maintain(
    conn: psycopg.Connection[tuple[object, ...]], now: datetime, retention: timedelta
) -> Layout:
    """Apply the retention and make partitions ahead; the caller commits."""
    if has_timescale(conn):
        conn.execute("SELECT remove_retention_policy('events', if_exists => true)")
        conn.execute("SELECT add_retention_policy('events', %s::interval)", (retention,))
        return Layout(timescale=True, pruned_ids=prune_event_ids(conn, now - retention))
    existing = _partitions(conn)
    created = []
    for start in wanted_partitions(now, retention):
        name = partition_name(start)
        if name not in existing:
            _create_partition(conn, name, start, add_months(start, 1))
            created.append(name)
    dropped = expired_partitions(list(existing), now, retention)
    for name in dropped:
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
    conn.execute("DELETE FROM events_default WHERE ts < %s", (now - retention,))
    pruned = prune_event_ids(conn, now - retention)
    return Layout(
        timescale=False, created=tuple(created), dropped=tuple(dropped), pruned_ids=pruned
    )


def prune_event_ids(conn: psycopg.Connection[tuple[object, ...]], before: datetime) -> int:
    """Forget the ids of events older than ``before`` that ``events`` no longer holds.

    The probe into ``events`` gives the partition key (ts) with the id, so it
    reads one partition's primary key, not every partition.
    """
    return conn.execute(
        "DELETE FROM event_ids AS k WHERE k.ts < %s"
        " AND NOT EXISTS (SELECT 1 FROM events AS e WHERE e.ts = k.ts AND e.id = k.id)",
        (before,),
    ).rowcount


def _partitions(conn: psycopg.Connection[tuple[object, ...]]) -> set[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid"
        " JOIN pg_class AS p ON p.oid = i.inhparent"
        " WHERE p.relname = 'events' AND p.relnamespace = current_schema()::regnamespace"
    ).fetchall()
    return {str(r[0]) for r in rows}


def _create_partition(
    conn: psycopg.Connection[tuple[object, ...]], name: str, start: datetime, end: datetime
) -> None:
    """Create ``name`` for [start, end), taking over rows the default partition holds."""
    table = sql.Identifier(name)
    conn.execute(
        sql.SQL("CREATE TABLE {} (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)").format(
            table
        )
    )
    conn.execute(
        sql.SQL(
            "WITH moved AS (DELETE FROM events_default WHERE ts >= %s AND ts < %s RETURNING *)"
            " INSERT INTO {} SELECT * FROM moved"
        ).format(table),
        (start, end),
    )
    conn.execute(
        # DDL takes no bound parameters: the bounds are literals quoted by psycopg.
        sql.SQL("ALTER TABLE events ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
            table, sql.Literal(start.isoformat()), sql.Literal(end.isoformat())
        )
    )
