"""The routing part of the store, against the in-memory fake, SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from hub.routing.log import RoutingKind, RoutingRecord
from hub.routing.roster import Shift, ShiftLog
from hub.store.base import Store
from hub.store.memory import MemoryStore
from hub.store.postgres import PostgresStore
from hub.store.sqlite import SqliteStore

from pgtools import pg_schema

T0 = datetime(2024, 11, 23, 1, 13, tzinfo=UTC)
OSLO = timezone(timedelta(hours=1))


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgres":
        with pg_schema(request.getfixturevalue("postgres_dsn")) as (dsn, schema):
            pg = PostgresStore(dsn, schema=schema)
            pg.migrate()
            yield pg
            pg.close()
        return
    backend: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "t.db")
    backend.migrate()
    yield backend
    backend.close()


def test_shifts_round_trip_replace_and_delete(store: Store) -> None:
    night = Shift(
        "n1", "kari", "site-1", ("unit-A", "unit-B"), time(22), time(7, 30), primary_for=("H0102",)
    )
    other = Shift("n2", "ola", "site-2", ("unit-C",), time(22), time(7))
    store.save_shift(other)
    store.save_shift(night)
    assert store.list_shifts() == [night, other]
    assert store.list_shifts("site-1") == [night]
    moved = Shift("n1", "kari", "site-1", ("unit-A",), time(21), time(6))
    store.save_shift(moved)
    assert store.list_shifts("site-1") == [moved]
    assert store.delete_shift("n1") is True
    assert store.delete_shift("n1") is False
    assert store.list_shifts() == [other]


def test_shift_log_since_oldest_first_in_utc(store: Store) -> None:
    on = ShiftLog("kari", "site-1", True, T0.astimezone(OSLO), ("unit-A",))
    off = ShiftLog("kari", "site-1", False, T0 + timedelta(hours=1))
    store.log_shift(off)
    store.log_shift(on)
    logs = store.shift_logs(T0)
    assert [(e.on, e.at) for e in logs] == [(True, T0), (False, T0 + timedelta(hours=1))]
    assert logs[0].at.tzinfo == UTC and logs[0].units == ("unit-A",)
    assert store.shift_logs(T0 + timedelta(minutes=1)) == [logs[1]]


def test_routing_log_keeps_order_per_alert(store: Store) -> None:
    a = RoutingRecord("a1", T0, RoutingKind.NOTIFY, "system", "kari", "mqtt", 0, "first")
    b = RoutingRecord("a2", T0, RoutingKind.NOTIFY, "system", "ola", "mqtt", 0, "first")
    c = RoutingRecord(
        "a1", T0 + timedelta(seconds=60), RoutingKind.ESCALATED, "system", step=1, detail="timeout"
    )
    store.append_routing([a, b])
    store.append_routing([c])
    store.append_routing([])
    assert store.routing_log("a1") == [a, c]
    assert store.routing_log("nope") == []


def test_a_gap_alert_and_its_routing_log_read_back_for_a_restart(store: Store) -> None:
    """What a restarted router reads: the gap alert (no events, no person) and the
    routing log its escalation is restored from, on every backend."""
    from hub.routing import coverage, engine, policy, restore

    alert, record = coverage.gap_alert(("site-1", "unit-A"), "gap-1", T0)
    store.save_alert(alert, record)
    back = store.get_alert("gap-1")
    assert back == alert and coverage.gap_of(back) == ("site-1", "unit-A")
    esc, effects = engine.start(alert, policy.NOBODY_CHAIN, engine.Context({}), T0)
    records = [r for e in effects if (r := restore.record_of(alert.id, e, T0)) is not None]
    store.append_routing(records)
    assert restore.restore(back, policy.NOBODY_CHAIN, store.routing_log("gap-1")) == esc
