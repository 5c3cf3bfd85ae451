"""The SQLite schema migrations: applied in order, once, atomically, never downgraded.

A hub that meets a database written by a newer Trygg must refuse to touch it
rather than guess; a migration that fails half-way must leave the old schema.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hub.errors import SchemaTooNew, StoreError
from hub.store import sqlite as sqlite_store
from hub.store.common import Migration, latest_version, migrations
from hub.store.sqlite import SqliteStore

EXPECTED_TABLES = {
    "schema_version",
    "sites",
    "units",
    "residents",
    "devices",
    "placements",
    "staff",
    "events",
    "alerts",
    "alert_events",
    "alert_transitions",
}
EXPECTED_INDEXES = {"events_site_ts", "events_device_ts", "events_kind", "alert_events_event"}


def schema(path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    conn.close()
    return rows


def versions(path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
    conn.close()
    return rows


def migrated(path: Path) -> int:
    store = SqliteStore(path)
    try:
        return store.migrate()
    finally:
        store.close()


def test_migration_files_are_numbered_from_one_without_gaps() -> None:
    known = migrations()
    assert [m.version for m in known] == list(range(1, len(known) + 1))
    assert known[0].name == "initial"
    assert all(m.sql.strip() for m in known)


def test_all_migrations_build_the_schema_on_an_empty_file(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    assert migrated(db) == latest_version()
    names = {name for _, name, _ in schema(db)}
    assert names >= EXPECTED_TABLES | EXPECTED_INDEXES
    assert versions(db) == [(m.version, m.name) for m in migrations()]


def test_running_migrate_again_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    migrated(db)
    before, applied = schema(db), versions(db)
    assert migrated(db) == latest_version()
    assert (schema(db), versions(db)) == (before, applied)


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    migrated(db)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (?, 'future', 0)",
            (latest_version() + 1,),
        )
    conn.close()
    before = schema(db)
    with pytest.raises(SchemaTooNew, match="upgrade Trygg"):
        migrated(db)
    assert schema(db) == before


def test_a_failing_migration_leaves_the_previous_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "hub.db"
    migrated(db)
    before, applied = schema(db), versions(db)
    broken = Migration(latest_version() + 1, "broken", "CREATE TABLE half (x);\nNOT SQL AT ALL;\n")
    monkeypatch.setattr(sqlite_store, "migrations", lambda: (*migrations(), broken))
    with pytest.raises(StoreError):
        migrated(db)
    assert (schema(db), versions(db)) == (before, applied)


def test_the_connection_runs_wal_with_foreign_keys(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "nested" / "hub.db")
    try:
        store.migrate()
        conn = store._conn
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    finally:
        store.close()


def test_an_in_memory_database_migrates() -> None:
    store = SqliteStore(":memory:")
    try:
        assert store.migrate() == latest_version()
        assert store.migrate() == latest_version()
    finally:
        store.close()


def test_a_file_that_cannot_be_opened_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open"):
        SqliteStore(tmp_path)  # a directory
