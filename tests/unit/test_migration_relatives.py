"""Migration 0006 (relatives): on a database that already has residents, the table comes
with its rules: a known language, some way to reach the relative, a real resident, and
a relative goes with their resident."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from hub.store.base import Resident, Site, Unit
from hub.store.common import migrations
from hub.store.postgres import PostgresStore
from hub.store.sqlite import SqliteStore

from pgtools import pg_schema

GOOD = ("res-1", "kari", "Kari", "datter", "+4791234567", None, "nb")
BAD = [
    (("res-1", "kari", "Kari", "datter", None, None, "nb"), "no way to reach her"),
    (("res-1", "kari", "Kari", "datter", "+4791234567", None, "sv"), "unknown language"),
    (("nobody", "kari", "Kari", "datter", "+4791234567", None, "nb"), "no such resident"),
]


def test_the_migration_is_in_both_series() -> None:
    for package in ("hub.migrations", "hub.migrations.postgres"):
        assert any(m.name == "relatives" for m in migrations(package))


def _seed(store: SqliteStore | PostgresStore) -> None:
    store.upsert_site(Site("site-1", "S"))
    store.upsert_unit(Unit("unit-A", "site-1", "A"))
    store.upsert_resident(Resident("res-1", "site-1", "unit-A", "Johs"))


INSERT = ("INSERT INTO relatives (resident_id, id, display_name, relation, phone, address,"
          " language, updated_at) VALUES ({})")  # fmt: skip


def test_sqlite_table_rules(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    store.migrate()
    _seed(store)
    store.close()
    with sqlite3.connect(tmp_path / "t.db") as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        query = INSERT.format(", ".join("?" * 8))
        for row, why in BAD:
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute(query, (*row, 0))
                pytest.fail(why)
        conn.execute(query, (*GOOD, 0))
        conn.execute("DELETE FROM residents WHERE id = 'res-1'")
        assert conn.execute("SELECT count(*) FROM relatives").fetchone() == (0,)
    conn.close()


@pytest.mark.postgres
def test_postgres_table_rules(postgres_dsn: str) -> None:
    with pg_schema(postgres_dsn) as (dsn, schema):
        store = PostgresStore(dsn, schema=schema)
        store.migrate()
        _seed(store)
        store.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            query = INSERT.format(", ".join(["%s"] * 7 + ["now()"]))
            for row, why in BAD:
                with pytest.raises(psycopg.errors.IntegrityError):
                    conn.execute(query, row)
                    pytest.fail(why)
            conn.execute(query, GOOD)
            conn.execute("DELETE FROM residents WHERE id = 'res-1'")
            assert conn.execute("SELECT count(*) FROM relatives").fetchone() == (0,)
