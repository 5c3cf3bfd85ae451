"""Resident and guardian accounts bound to residents, and one resident's alarms: one suite
for every store backend (memory fake, SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from storekit import BACKENDS, migrated_store

from hub.alerts import AlertState, Transition
from hub.errors import StoreError
from hub.store.base import Account, Resident, Role, Site, Store, Unit
from rules.decisions import Category

from builders import alert

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with migrated_store(request, tmp_path) as backend:
        backend.upsert_site(Site("site-1", "Solsiden"))
        backend.upsert_unit(Unit("unit-A", "site-1", "A"))
        for rid, name in (("res-A", "Ingrid"), ("res-B", "Magnus"), ("res-C", "Sigrid")):
            backend.upsert_resident(Resident(rid, "site-1", "unit-A", name))
        for username, role in (("ingrid", Role.RESIDENT), ("verge", Role.GUARDIAN)):
            backend.upsert_account(Account(username, username.title(), role, "hash"))
        yield backend


def test_bind_and_read_back_sorted(store: Store) -> None:
    assert store.account_residents("ingrid") == ()
    store.bind_account_residents("ingrid", ["res-A"])
    store.bind_account_residents("verge", ["res-C", "res-A"])
    assert store.account_residents("ingrid") == ("res-A",)
    assert store.account_residents("verge") == ("res-A", "res-C")
    assert store.account_residents("nobody") == ()


def test_binding_again_replaces_the_set(store: Store) -> None:
    store.bind_account_residents("verge", ["res-A", "res-C"])
    store.bind_account_residents("verge", ["res-B"])
    assert store.account_residents("verge") == ("res-B",)
    store.bind_account_residents("verge", [])
    assert store.account_residents("verge") == ()


@pytest.mark.parametrize(
    ("username", "residents"),
    [("ghost", ["res-A"]), ("verge", ["res-A", "no-such-resident"]), ("verge", ["res-A", "res-A"])],
)
def test_a_refused_binding_changes_nothing(
    store: Store, username: str, residents: list[str]
) -> None:
    store.bind_account_residents("verge", ["res-C"])
    with pytest.raises(StoreError):
        store.bind_account_residents(username, residents)
    assert store.account_residents("verge") == ("res-C",)


def _save(store: Store, alert_id: str, resident: str | None, minutes: int, **kw: object) -> None:
    at = T0 + timedelta(minutes=minutes)
    a = alert(id=alert_id, resident_id=resident, raised_at=at, updated_at=at, event_ts=at,
              event_ids=(f"ev-{alert_id}",), **kw)  # fmt: skip
    first = Transition(alert_id=alert_id, from_state=None, to_state=AlertState.RAISED, at=at,
                       actor="system")  # fmt: skip
    store.save_alert(a, first)


def test_resident_alerts_are_one_residents_since_newest_first(store: Store) -> None:
    _save(store, "a-old", "res-A", -1)
    _save(store, "a-1", "res-A", 0)
    _save(store, "a-2", "res-A", 10, category=Category.TECHNICAL)
    _save(store, "b-1", "res-B", 5)
    _save(store, "none", None, 6)
    _save(store, "a-3", "res-A", 20)
    found = store.resident_alerts("res-A", T0, 100)
    assert [a.id for a in found] == ["a-3", "a-2", "a-1"]
    assert found[0].raised_at == T0 + timedelta(minutes=20)
    assert found[0].raised_at.tzinfo is not None
    assert [a.id for a in store.resident_alerts("res-A", T0, 2)] == ["a-3", "a-2"]
    assert [a.id for a in store.resident_alerts("res-B", T0, 100)] == ["b-1"]
    assert store.resident_alerts("res-C", T0, 100) == []
    assert store.resident_alerts("res-A", T0, 0) == []
