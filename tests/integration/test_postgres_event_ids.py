"""PostgreSQL's duplicate check on ingest: ``event_ids`` (migration 0009), against the real database.

The events table is partitioned by month, so its key is (ts, id). These tests
show that an id is refused by ``event_ids`` whatever month its copy claims,
that a batch moves in one statement with the ids it holds, that the retention
prunes ``event_ids`` with the events and no further, and that the migration
fills ``event_ids`` from the events a database already holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import uuid6

from devices.events import EventBase, make_event
from hub.errors import StoreError
from hub.store.base import EventFilter
from hub.store.common import migrations
from hub.store.postgres import MIGRATIONS_PACKAGE as PG_MIGRATIONS
from hub.store.postgres import PostgresStore
from hub.store.postgres_layout import month_start, partition_name

from pgtools import pg_schema

pytestmark = pytest.mark.postgres

YEAR = timedelta(days=365)
Conn = psycopg.Connection[tuple[object, ...]]


@pytest.fixture
def schema(postgres_dsn: str) -> Iterator[tuple[str, str]]:
    with pg_schema(postgres_dsn) as where:
        yield where


def _conn(dsn: str, schema: str) -> Conn:
    return psycopg.connect(dsn, autocommit=True, options=f"-c search_path={schema}")


def _event(ts: datetime, seq: int = 1) -> EventBase:
    return make_event(id=str(uuid6.uuid7()), site="s", gateway="g", device="d",
                      kind="door.opened", ts=ts, seq=seq)  # fmt: skip


def _where(conn: Conn, event_id: str) -> list[str]:
    """The partitions that hold a row with this id."""
    rows = conn.execute(
        "SELECT tableoid::regclass::text FROM events WHERE id = %s ORDER BY 1", (event_id,)
    ).fetchall()
    return [str(r[0]) for r in rows]


def _ids(conn: Conn) -> set[str]:
    return {str(r[0]) for r in conn.execute("SELECT id FROM event_ids").fetchall()}


def test_a_copy_in_another_months_partition_is_refused_by_event_ids(
    schema: tuple[str, str],
) -> None:
    dsn, name = schema
    now = datetime.now(UTC)
    store = PostgresStore(dsn, schema=name)
    try:
        store.migrate()
        first = _event(month_start(now) - timedelta(days=10))  # last month's partition
        copy = first.model_copy(update={"ts": now})  # this month's: the key (ts, id) is new
        other = _event(now, seq=2)
        assert store.append_events([(first, now)]) == 1
        assert store.append_events([(copy, now), (other, now), (other, now)]) == 1
        assert store.append_events([(copy, now)]) == 0
        with _conn(dsn, name) as conn:
            assert _where(conn, first.id) == [partition_name(month_start(first.ts))]
            assert _where(conn, other.id) == [partition_name(month_start(now))]
            assert _ids(conn) == {first.id, other.id}
            ts = conn.execute("SELECT ts FROM event_ids WHERE id = %s", (first.id,)).fetchone()
        assert ts == (first.ts,)
        assert [s.event.ts for s in store.list_events(EventFilter()) if s.event.id == first.id] == [
            first.ts
        ]
    finally:
        store.close()


def test_a_failed_batch_leaves_neither_events_nor_ids(schema: tuple[str, str]) -> None:
    dsn, name = schema
    now = datetime.now(UTC)
    store = PostgresStore(dsn, schema=name)
    try:
        store.migrate()
        kept = _event(now)
        assert store.append_events([(kept, now)]) == 1
        with _conn(dsn, name) as conn:  # make the events insert fail after event_ids took the ids
            conn.execute("ALTER TABLE events ADD CONSTRAINT no_seq_7 CHECK (seq <> 7)")
        lost = [_event(now, seq=6), _event(now, seq=7)]
        with pytest.raises(StoreError, match="no_seq_7"):
            store.append_events([(e, now) for e in lost])
        with _conn(dsn, name) as conn:
            assert _ids(conn) == {kept.id}
            conn.execute("ALTER TABLE events DROP CONSTRAINT no_seq_7")
        # Retried, the batch goes in whole: no id was taken by the failed attempt.
        assert store.append_events([(e, now) for e in lost]) == 2
    finally:
        store.close()


def test_retention_prunes_event_ids_with_the_events_and_no_further(
    schema: tuple[str, str],
) -> None:
    dsn, name = schema
    now = datetime.now(UTC)
    later = now + YEAR + timedelta(days=90)
    cutoff = later - YEAR
    assert month_start(cutoff) < cutoff
    store = PostgresStore(dsn, schema=name, retention=YEAR)
    try:
        store.migrate()
        gone = _event(now - timedelta(days=40))  # its month's partition is dropped
        straddling = _event(cutoff - (cutoff - month_start(cutoff)) / 2)  # older than the
        # cutoff, in the month the cutoff falls in: that partition stays, so does its row
        purged = _event(cutoff + timedelta(days=3), seq=2)  # deleted early, younger than cutoff
        kept = _event(cutoff + timedelta(days=5), seq=3)
        events = [gone, straddling, purged, kept]
        assert store.append_events([(e, now) for e in events]) == 4
        with _conn(dsn, name) as conn:
            conn.execute("DELETE FROM events WHERE id = %s", (purged.id,))  # a stricter basis
        layout = store.maintain(later)
        assert partition_name(month_start(gone.ts)) in layout.dropped
        assert layout.pruned_ids == 1
        with _conn(dsn, name) as conn:
            assert _ids(conn) == {straddling.id, purged.id, kept.id}
        # What event_ids still holds is still refused; what it let go is stored anew.
        assert store.append_events([(purged, later), (straddling, later)]) == 0
        assert store.append_events([(gone, later)]) == 1
    finally:
        store.close()


def test_the_migration_fills_event_ids_from_the_stored_events(schema: tuple[str, str]) -> None:
    dsn, name = schema
    now = datetime.now(UTC)
    store = PostgresStore(dsn, schema=name)
    try:
        store.migrate()
        events = [_event(now - timedelta(days=d), seq=d) for d in (0, 35, 70)]
        assert store.append_events([(e, now) for e in events]) == 3
        [migration] = [m for m in migrations(PG_MIGRATIONS) if m.name == "event_ids"]
        with _conn(dsn, name) as conn:  # the database as it was before the migration
            conn.execute("DROP TABLE event_ids")
            conn.execute(migration.sql.encode())
            assert _ids(conn) == {e.id for e in events}
        assert store.append_events([(events[1], now)]) == 0
    finally:
        store.close()
