"""PostgreSQL migrations and the events table's layout in time, against the machine's PostgreSQL.

Both migration series (SQLite and PostgreSQL) carry the same numbers and names;
the plain-PostgreSQL path (monthly partitions, retention by dropping them) is
tested for real; the TimescaleDB path only where the extension is installed.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import uuid6
from psycopg import sql

from devices.events import make_event
from hub.errors import SchemaTooNew, StoreError
from hub.store.common import MIGRATIONS_PACKAGE, latest_version, migrations
from hub.store.postgres import MIGRATIONS_PACKAGE as PG_MIGRATIONS
from hub.store.postgres import PostgresStore
from hub.store.postgres_layout import (
    AHEAD,
    add_months,
    expired_partitions,
    month_start,
    partition_name,
    wanted_partitions,
)

from pgtools import pg_schema

NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
YEAR = timedelta(days=365)


def test_both_series_have_the_same_numbers_and_names() -> None:
    sqlite_series = [(m.version, m.name) for m in migrations(MIGRATIONS_PACKAGE)]
    postgres_series = [(m.version, m.name) for m in migrations(PG_MIGRATIONS)]
    assert sqlite_series == postgres_series


# --- the calendar, pure ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (datetime(2026, 1, 1, tzinfo=UTC), 1, datetime(2026, 2, 1, tzinfo=UTC)),
        (datetime(2026, 12, 1, tzinfo=UTC), 1, datetime(2027, 1, 1, tzinfo=UTC)),
        (datetime(2026, 1, 1, tzinfo=UTC), -1, datetime(2025, 12, 1, tzinfo=UTC)),
        (datetime(2026, 3, 1, tzinfo=UTC), -27, datetime(2023, 12, 1, tzinfo=UTC)),
    ],
)
def test_add_months(start: datetime, months: int, expected: datetime) -> None:
    assert add_months(start, months) == expected


def test_month_start_is_in_utc() -> None:
    oslo_new_year = datetime(2027, 1, 1, 0, 30, tzinfo=UTC) + timedelta(hours=-1)
    assert month_start(oslo_new_year) == datetime(2026, 12, 1, tzinfo=UTC)


def test_wanted_partitions_cover_retention_and_months_ahead() -> None:
    months = wanted_partitions(NOW, YEAR)
    assert months[0] == datetime(2025, 11, 1, tzinfo=UTC)
    assert months[-1] == add_months(datetime(2026, 11, 1, tzinfo=UTC), AHEAD)
    assert all(add_months(a, 1) == b for a, b in itertools.pairwise(months))


def test_only_wholly_expired_partitions_are_dropped() -> None:
    names = ["events_2025_10", "events_2025_11", "events_2026_11", "events_default", "x"]
    # cutoff 2025-11-23: October 2025 ended before it, November 2025 did not.
    assert expired_partitions(names, NOW, YEAR) == ["events_2025_10"]


# --- against PostgreSQL ------------------------------------------------------------------

pg = pytest.mark.postgres


@pytest.fixture
def schema(postgres_dsn: str) -> Iterator[tuple[str, str]]:
    with pg_schema(postgres_dsn) as where:
        yield where


def _conn(dsn: str, schema: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(dsn, autocommit=True, options=f"-c search_path={schema}")


def _partitions(dsn: str, schema: str) -> set[str]:
    with _conn(dsn, schema) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'"
            " AND p.relnamespace = %s::regnamespace",
            (schema,),
        ).fetchall()
    return {str(r[0]) for r in rows}


def _event(ts: datetime) -> tuple[object, datetime]:
    return (
        make_event(id=str(uuid6.uuid7()), site="s", gateway="g", device="d",
                   kind="door.opened", ts=ts, seq=1),
        ts,
    )  # fmt: skip


@pg
def test_migrate_builds_the_schema_once_and_records_versions(schema: tuple[str, str]) -> None:
    dsn, name = schema
    store = PostgresStore(dsn, schema=name)
    try:
        assert store.migrate() == latest_version(PG_MIGRATIONS)
        assert store.migrate() == latest_version(PG_MIGRATIONS)
        assert store.layout is not None and store.layout.path == "partitions"
    finally:
        store.close()
    with _conn(dsn, name) as conn:
        applied = conn.execute("SELECT version, name FROM schema_version ORDER BY 1").fetchall()
    assert applied == [(m.version, m.name) for m in migrations(PG_MIGRATIONS)]
    now = month_start(datetime.now(UTC))
    assert partition_name(now) in _partitions(dsn, name)
    assert partition_name(add_months(now, AHEAD)) in _partitions(dsn, name)


@pg
def test_a_newer_schema_is_refused(schema: tuple[str, str]) -> None:
    dsn, name = schema
    store = PostgresStore(dsn, schema=name)
    try:
        store.migrate()
        with _conn(dsn, name) as conn:
            conn.execute(
                "INSERT INTO schema_version (version, name) VALUES (%s, 'future')",
                (latest_version(PG_MIGRATIONS) + 1,),
            )
        with pytest.raises(SchemaTooNew, match="upgrade Trygg"):
            store.migrate()
    finally:
        store.close()


@pg
def test_retention_drops_old_months_and_keeps_the_rest(schema: tuple[str, str]) -> None:
    dsn, name = schema
    store = PostgresStore(dsn, schema=name, retention=YEAR)
    try:
        store.migrate()
        now = datetime.now(UTC)
        old = now - YEAR - timedelta(days=62)  # before the oldest partition: lands in default
        recent = now - timedelta(days=40)
        future = now + timedelta(days=31 * (AHEAD + 3))  # beyond partitions made ahead
        assert store.append_events([_event(old), _event(recent), _event(future)]) == 3
        with _conn(dsn, name) as conn:
            in_default = conn.execute("SELECT count(*) FROM events_default").fetchone()
        assert in_default == (2,)
        # A year and three months later the retention cutoff is now + 90 days: the
        # partition for `future` is made (taking its row out of the default
        # partition), `recent`'s month is dropped whole, `old` is deleted from default.
        layout = store.maintain(now + YEAR + timedelta(days=90))
        assert partition_name(month_start(future)) in layout.created
        assert partition_name(month_start(recent)) in layout.dropped
        assert [s.event.ts for s in store.list_events(_all())] == [future]
        with _conn(dsn, name) as conn:
            assert conn.execute("SELECT count(*) FROM events_default").fetchone() == (0,)
    finally:
        store.close()


def _all() -> object:
    from hub.store.base import EventFilter

    return EventFilter(limit=100)


@pg
def test_timescaledb_path_when_the_extension_is_present(schema: tuple[str, str]) -> None:
    dsn, name = schema
    with psycopg.connect(dsn) as conn:
        available = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
    if available is None:
        pytest.skip("the TimescaleDB extension is not installed on this PostgreSQL")
    store = PostgresStore(dsn, schema=name)
    try:
        store.migrate()
        assert store.layout is not None and store.layout.path == "timescaledb"
        with _conn(dsn, name) as conn:
            jobs = conn.execute(
                "SELECT proc_name FROM timescaledb_information.jobs WHERE hypertable_schema = %s",
                (name,),
            ).fetchall()
            caggs = conn.execute(
                "SELECT view_name FROM timescaledb_information.continuous_aggregates"
                " WHERE view_schema = %s",
                (name,),
            ).fetchall()
        procs = {str(r[0]) for r in jobs}
        assert {"policy_retention", "policy_compression"} <= procs
        assert ("alert_stats_hourly",) in caggs
        assert store.append_events([_event(datetime.now(UTC))]) == 1
    finally:
        store.close()


@pg
def test_a_database_that_cannot_be_reached_is_a_store_error() -> None:
    from conftest import free_port

    with pytest.raises(StoreError, match="cannot connect"):
        PostgresStore(f"postgresql://nobody:secret@127.0.0.1:{free_port()}/x", wait_s=1)


@pg
@pytest.mark.e2e
def test_trygg_db_upgrade_on_postgres(schema: tuple[str, str]) -> None:
    dsn, name = schema
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYGG_")}
    env |= {"TRYGG_DATABASE_URL": dsn, "TRYGG_DATABASE_SCHEMA": name}
    run = [sys.executable, "-m", "trygg", "db", "upgrade"]
    for _ in range(2):
        result = subprocess.run(run, capture_output=True, text=True, timeout=60, env=env)
        assert result.returncode == 0, result.stderr
        assert f"schema version {latest_version(PG_MIGRATIONS)}" in result.stdout
    with _conn(dsn, name) as conn:
        conn.execute(
            sql.SQL("INSERT INTO schema_version (version, name) VALUES ({}, 'future')").format(
                sql.Literal(latest_version(PG_MIGRATIONS) + 1)
            )
        )
    result = subprocess.run(run, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode != 0
    assert "upgrade Trygg" in result.stdout + result.stderr


@pg
def test_alert_statistics_count_transitions_per_hour_and_unit(schema: tuple[str, str]) -> None:
    from hub.alerts import Command, raise_alert, transition
    from rules.decisions import Category, Priority, Raise

    dsn, name = schema
    store = PostgresStore(dsn, schema=name)
    try:
        store.migrate()
        event, at = _event(NOW)
        decision = Raise(rule="r", category=Category.RESIDENT, priority=Priority.HIGH,
                         message="m")  # fmt: skip
        alert, raised = raise_alert(decision, event, None, "a-1", at)  # type: ignore[arg-type]
        store.save_alert(alert, raised)
        accepted, record = transition(alert, Command.ACCEPT, "kari", at)
        store.save_alert(accepted, record)
        with _conn(dsn, name) as conn:
            rows = conn.execute(
                "SELECT hour, site, category, to_state, alerts FROM alert_stats_hourly"
                " ORDER BY to_state"
            ).fetchall()
    finally:
        store.close()
    hour = NOW.replace(minute=0)
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        (hour, "s", "resident", "accepted", 1),
        (hour, "s", "resident", "raised", 1),
    ]


@pg
def test_the_audit_log_refuses_edits_on_postgres(schema: tuple[str, str]) -> None:
    from hub.audit import AuditEntry

    dsn, name = schema
    store = PostgresStore(dsn, schema=name)
    try:
        store.migrate()
        store.append_audit([AuditEntry(NOW, "kari", "nattevakt", "read", "res-1", "alert-1", "x")])
    finally:
        store.close()
    for statement in ("UPDATE audit_log SET actor = 'ola'", "DELETE FROM audit_log",
                      "TRUNCATE audit_log"):  # fmt: skip
        with _conn(dsn, name) as conn, pytest.raises(psycopg.errors.RaiseException):
            conn.execute(statement)

