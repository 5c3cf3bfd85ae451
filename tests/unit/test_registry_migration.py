"""Migration 0005 on a database written by the version before: the devices there stay
in service with their placements (so supervision keeps watching them), and the new
CHECKs refuse a state the life cycle does not know. SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from devices.lifecycle import DeviceState
from hub.errors import StoreError
from hub.registry.records import DeviceInfo
from hub.store import sqlite as sqlite_store
from hub.store.base import PlacementRecord, Store
from hub.store.common import latest_version, migrations
from hub.store.postgres import MIGRATIONS_PACKAGE, PostgresStore
from hub.store.sqlite import SqliteStore

from pgtools import pg_schema

SEED = [
    "INSERT INTO sites (id, name) VALUES ('site-1', 'Solsiden')",
    "INSERT INTO units (id, site, name) VALUES ('unit-A', 'site-1', 'A')",
    "INSERT INTO devices (id, site, gateway, type) VALUES ('btn-1', 'site-1', 'gw-1', 'alarm_button')",
    "INSERT INTO placements (device, unit, room) VALUES ('btn-1', 'unit-A', 'soverom')",
]
BAD_STATE = "UPDATE devices SET state = 'lost' WHERE id = 'btn-1'"


def _sqlite_at_4(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                 " applied_at INTEGER NOT NULL)")  # fmt: skip
    for migration in migrations()[:4]:
        sqlite_store._apply(conn, migration)
    for statement in SEED:
        conn.execute(statement)
    conn.execute("COMMIT")
    conn.close()


def _postgres_at_4(dsn: str, schema: str) -> None:
    with psycopg.connect(dsn, autocommit=False) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.execute("CREATE TABLE schema_version (version integer PRIMARY KEY, name text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())")  # fmt: skip
        for migration in migrations(MIGRATIONS_PACKAGE)[:4]:
            conn.execute(migration.sql.encode())
            conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)",
                         (migration.version, migration.name))  # fmt: skip
        for statement in SEED:
            conn.execute(statement.encode())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def upgraded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, str]]:
    if request.param == "sqlite":
        _sqlite_at_4(tmp_path / "t.db")
        store: Store = SqliteStore(tmp_path / "t.db")
        assert store.migrate() == latest_version()  # 0005 and every later one
        yield store, "sqlite"
        store.close()
        return
    with pg_schema(request.getfixturevalue("postgres_dsn")) as (dsn, schema):
        _postgres_at_4(dsn, schema)
        store = PostgresStore(dsn, schema=schema)
        assert store.migrate() == latest_version()  # 0005 and every later one
        yield store, "postgres"
        store.close()


def test_devices_from_before_stay_in_service_with_their_placement(
    upgraded: tuple[Store, str],
) -> None:
    store, _ = upgraded
    [view] = store.list_devices()
    assert view.info == DeviceInfo(DeviceState.IN_SERVICE)
    assert view.placement == PlacementRecord("btn-1", "unit-A", None, "soverom")
    assert store.device_history("btn-1") == [] and store.list_gateways() == []


def test_the_state_column_refuses_an_unknown_state(
    upgraded: tuple[Store, str], tmp_path: Path
) -> None:
    store, kind = upgraded
    if kind == "sqlite":
        with sqlite3.connect(tmp_path / "t.db") as conn, pytest.raises(sqlite3.IntegrityError):
            conn.execute(BAD_STATE)
    else:
        assert isinstance(store, PostgresStore)
        with pytest.raises(StoreError, match="devices_state_check"), store._write() as conn:
            conn.execute(BAD_STATE)
