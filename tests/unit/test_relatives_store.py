"""The relatives registry: one suite for every store backend (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from storekit import BACKENDS, migrated_store

from hub.errors import StoreError
from hub.relatives.model import Relative
from hub.store.base import Resident, Site, Store, Unit

T0 = datetime(2026, 11, 1, tzinfo=UTC)
DAUGHTER = Relative("res-1", "kari-datter", "Kari", "datter", phone="+4791234567")
SON = Relative("res-1", "ola-sonn", "Ola", "sønn", address="sms:ola", language="en", notify=False)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with migrated_store(request, tmp_path) as backend:
        backend.upsert_site(Site("site-1", "Solsiden"))
        backend.upsert_unit(Unit("unit-A", "site-1", "A"))
        for rid in ("res-1", "res-2"):
            backend.upsert_resident(Resident(rid, "site-1", "unit-A", "Johs"))
        yield backend


def test_saved_relatives_read_back_equal_in_id_order(store: Store) -> None:
    store.save_relative(SON, T0)
    store.save_relative(DAUGHTER, T0)
    assert store.list_relatives("res-1") == [DAUGHTER, SON]
    assert store.list_relatives("res-2") == []
    assert store.list_relatives() == [DAUGHTER, SON]


def test_saving_again_replaces_every_field(store: Store) -> None:
    store.save_relative(DAUGHTER, T0)
    changed = dataclasses.replace(
        DAUGHTER, display_name="Kari B.", relation="barn", phone=None, address="app:kari",
        language="en", notify=False,
    )  # fmt: skip
    store.save_relative(changed, T0)
    assert store.list_relatives("res-1") == [changed]


def test_the_same_relative_id_under_two_residents_is_two_relatives(store: Store) -> None:
    other = dataclasses.replace(DAUGHTER, resident_id="res-2")
    store.save_relative(DAUGHTER, T0)
    store.save_relative(other, T0)
    assert store.list_relatives() == [DAUGHTER, other]
    assert store.delete_relative("res-2", DAUGHTER.id) is True
    assert store.list_relatives() == [DAUGHTER]


def test_delete_says_whether_there_was_one(store: Store) -> None:
    store.save_relative(DAUGHTER, T0)
    assert store.delete_relative("res-1", "kari-datter") is True
    assert store.delete_relative("res-1", "kari-datter") is False
    assert store.list_relatives() == []


def test_a_relative_of_no_resident_is_refused(store: Store) -> None:
    with pytest.raises(StoreError):
        store.save_relative(dataclasses.replace(DAUGHTER, resident_id="nobody"), T0)
    assert store.list_relatives() == []
