"""Legal bases, notices, the audit chain and retention: one suite for every store backend."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uuid6
from storekit import BACKENDS, migrated_store

from devices.events import EventBase, make_event
from hub.alerts import AlertState
from hub.audit import AuditEntry, verify
from hub.consent.records import BasisAction, BasisChange, Notice, NoticeKind
from hub.errors import StoreError
from hub.store.base import (
    Device,
    DeviceCutoff,
    PlacementRecord,
    Resident,
    RetentionCutoffs,
    Site,
    Store,
    Unit,
)
from hub.store.sqlite import SqliteStore

from builders import alert, covering_basis

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with migrated_store(request, tmp_path) as backend:
        yield from _seeded(backend)


def _seeded(backend: Store) -> Iterator[Store]:
    backend.migrate()
    backend.upsert_site(Site("site-1", "Solsiden", "Europe/Oslo"))
    backend.upsert_unit(Unit("unit-A", "site-1", "A"))
    backend.upsert_resident(Resident("res-1", "site-1", "unit-A", "Johs Hansen"))
    backend.upsert_device(Device("dev-1", "site-1", "gw-1", "gps_tracker"))
    backend.place(PlacementRecord("dev-1", "unit-A", resident_id="res-1"))
    yield backend
    backend.close()


def test_bases_round_trip_with_history(store: Store) -> None:
    b = covering_basis("res-1", "b1")
    store.save_basis(b, BasisChange("b1", T0, "leader1", BasisAction.RECORD))
    withdrawn = dataclasses.replace(b, withdrawn_at=T0 + timedelta(days=1))
    store.save_basis(
        withdrawn, BasisChange("b1", T0 + timedelta(days=1), "leader1", BasisAction.WITHDRAW, "x")
    )
    assert store.get_basis("b1") == withdrawn
    assert store.get_basis("nope") is None
    assert store.list_bases() == [withdrawn]
    assert store.list_bases("res-1") == [withdrawn]
    assert store.list_bases("res-2") == []
    assert [(c.action, c.actor, c.note) for c in store.basis_changes("b1")] == [
        (BasisAction.RECORD, "leader1", None),
        (BasisAction.WITHDRAW, "leader1", "x"),
    ]
    assert store.site_zones() == {"site-1": "Europe/Oslo"}


def test_basis_for_unknown_resident_refused(store: Store) -> None:
    b = covering_basis("res-404", "b1")
    with pytest.raises(StoreError):
        store.save_basis(b, BasisChange("b1", T0, "leader1", BasisAction.RECORD))
    assert store.list_bases() == []


def test_notices_once_per_due_date(store: Store) -> None:
    b = covering_basis("res-1", "b1")
    store.save_basis(b, BasisChange("b1", T0, "leader1", BasisAction.RECORD))
    notice = Notice("b1", NoticeKind.EXPIRY, T0 + timedelta(days=10), "leader", "site-1", T0)
    assert store.add_notice(notice) is True
    assert store.add_notice(dataclasses.replace(notice, created_at=T0 + timedelta(1))) is False
    assert store.list_notices() == [notice]
    assert store.list_notices("site-2") == []
    assert store.acknowledge_notice(notice, "leader1") is True
    assert store.acknowledge_notice(notice, "leader1") is False
    assert store.list_notices()[0].acknowledged_by == "leader1"


def test_audit_chain_appends_and_verifies(store: Store) -> None:
    assert store.audit_head() is None
    entries = [
        AuditEntry(T0 + timedelta(seconds=i), "kari", "nattevakt", "alert.read", "res-1", f"a{i}")
        for i in range(5)
    ]
    first = store.append_audit(entries[:2])
    rest = store.append_audit(entries[2:])
    assert [r.seq for r in first + rest] == [1, 2, 3, 4, 5]
    assert store.audit_head() == (5, rest[-1].hash)
    records = store.audit_records()
    assert records == first + rest
    assert verify(records, store.audit_head()) == []
    assert [r.seq for r in store.audit_records(after=3)] == [4, 5]
    assert store.audit_records(resident_id="res-2") == []


def _event(kind: str, ts: datetime, data: dict[str, object] | None = None) -> EventBase:
    return make_event(
        id=str(uuid6.uuid7()), site="site-1", gateway="gw-1", device="dev-1", kind=kind, ts=ts,
        seq=1, data=data,
    )  # fmt: skip


def test_retention(store: Store) -> None:
    gps = {"lat": 59.9, "lon": 10.7, "accuracy_m": 5.0}
    old_door = _event("door.opened", T0 - timedelta(days=40))
    held_gps = _event("gps.position", T0 - timedelta(hours=5), gps)
    loose_gps = _event("gps.position", T0 - timedelta(hours=5), gps)
    fresh_gps = _event("gps.position", T0 - timedelta(minutes=5), gps)
    fence = _event("geofence.exit", T0 - timedelta(hours=5), {"zone": "home"})
    events = [old_door, held_gps, loose_gps, fresh_gps, fence]
    store.append_events([(e, e.ts) for e in events])
    open_alert = alert(id="open", event_ids=(held_gps.id,), state=AlertState.ACCEPTED)
    old = T0 - timedelta(days=4000)
    closed_old = alert(
        id="old", state=AlertState.RESOLVED, raised_at=old, updated_at=old, event_ts=old
    )
    closed_new = alert(id="new", state=AlertState.RESOLVED)
    for a in (open_alert, closed_old, closed_new):
        store.save_alert(a)
    result = store.purge(
        RetentionCutoffs(
            events_before=T0 - timedelta(days=30),
            gps_before=T0 - timedelta(hours=1),
            alerts_before=T0 - timedelta(days=3650),
        )
    )
    assert (result.events, result.gps_positions, result.alerts) == (1, 1, 1)
    left = {e.id for e in store.get_events([e.id for e in events])}
    assert left == {held_gps.id, fresh_gps.id, fence.id}
    assert store.get_alert("old") is None
    assert store.get_alert("new") is not None and store.get_alert("open") is not None
    assert store.transitions("old") == []


def _device_event(device: str, kind: str, ts: datetime) -> EventBase:
    data = {"lat": 59.9, "lon": 10.7, "accuracy_m": 5.0} if kind == "gps.position" else None
    return make_event(id=str(uuid6.uuid7()), site="site-1", gateway="gw-1", device=device,
                      kind=kind, ts=ts, seq=1, data=data)  # fmt: skip


def test_retention_per_device_cutoffs_and_held_gps(store: Store) -> None:
    """Stricter per-basis cutoffs delete only their device's kinds; a locate request's
    devices keep their GPS positions; an open alert still holds what it holds."""
    day_old_door = _device_event("dev-1", "door.opened", T0 - timedelta(days=2))
    day_old_fall = _device_event("dev-1", "fall.detected", T0 - timedelta(days=2))
    held_by_alert = _device_event("dev-1", "door.opened", T0 - timedelta(days=3))
    other_door = _device_event("dev-2", "door.opened", T0 - timedelta(days=2))
    located = _device_event("dev-1", "gps.position", T0 - timedelta(hours=3))
    not_located = _device_event("dev-2", "gps.position", T0 - timedelta(hours=3))
    events = [day_old_door, day_old_fall, held_by_alert, other_door, located, not_located]
    store.append_events([(e, e.ts) for e in events])
    store.save_alert(alert(id="open", event_ids=(held_by_alert.id,), state=AlertState.ACCEPTED))
    result = store.purge(
        RetentionCutoffs(
            events_before=T0 - timedelta(days=30),
            gps_before=T0 - timedelta(hours=1),
            alerts_before=T0 - timedelta(days=3650),
            per_device=(DeviceCutoff("dev-1", frozenset({"door.opened"}), T0 - timedelta(days=1)),),
            gps_held=frozenset({"dev-1"}),
        )
    )
    assert (result.events, result.gps_positions) == (1, 1)
    left = {e.id for e in store.get_events([e.id for e in events])}
    assert left == {day_old_fall.id, held_by_alert.id, other_door.id, located.id}


def test_sqlite_refuses_audit_edits_and_verify_catches_file_edits(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    store.migrate()
    store.append_audit(
        [AuditEntry(T0, "kari", "nattevakt", "alert.read", "res-1", f"a{i}") for i in range(4)]
    )
    conn = sqlite3.connect(tmp_path / "t.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq = 2")
    # Someone with the file drops the trigger and edits a row: verify names it.
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = 2")
    conn.commit()
    conn.close()
    problems = verify(store.audit_records(), store.audit_head())
    assert [(p.seq, p.what) for p in problems] == [(2, "edited")]
    store.close()
