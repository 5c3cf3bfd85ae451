"""The backends of the one store suite: the in-memory fake, SQLite and the machine's
PostgreSQL (a fresh schema per test), each migrated to the latest version."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.store.base import Store
from hub.store.memory import MemoryStore
from hub.store.postgres import PostgresStore
from hub.store.sqlite import SqliteStore

from pgtools import pg_schema

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextlib.contextmanager
def migrated_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The backend ``request.param`` names, migrated; closed (and its schema dropped) after."""
    with contextlib.ExitStack() as stack:
        backend: Store
        if request.param == "postgres":
            dsn, schema = stack.enter_context(pg_schema(request.getfixturevalue("postgres_dsn")))
            backend = PostgresStore(dsn, schema=schema)
        elif request.param == "memory":
            backend = MemoryStore()
        else:
            backend = SqliteStore(tmp_path / "t.db")
        stack.callback(backend.close)
        backend.migrate()
        yield backend
