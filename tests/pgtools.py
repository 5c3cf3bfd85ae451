"""PostgreSQL helpers for tests: a schema of one's own, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql


@contextmanager
def pg_schema(dsn: str) -> Iterator[tuple[str, str]]:
    """Yield (dsn, schema) for a fresh schema in ``dsn``'s database; drop it at the end."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        yield dsn, schema
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
