"""After a basis change the hub republishes only the gateways that serve the resident,
with the bases as they are now (a withdrawal included)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hub.consent.republish import publisher_for
from hub.store.base import Device, PlacementRecord, Resident, Site, Unit
from hub.store.memory import MemoryStore

from builders import basis_change, covering_basis

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


class RecordingSync:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Mapping[str, Any]]] = []

    def publish_config(self, site: str, gateway: str, config: Mapping[str, Any]) -> None:
        self.sent.append((site, gateway, config))


def test_only_the_residents_gateways_get_the_new_bases() -> None:
    store = MemoryStore()
    store.upsert_site(Site("site-1", "S"))
    store.upsert_unit(Unit("unit-A", "site-1", "A"))
    for rid in ("res-1", "res-2"):
        store.upsert_resident(Resident(rid, "site-1", "unit-A", rid))
    for dev, gw, rid in (("d1", "gw-1", "res-1"), ("d2", "gw-1", None), ("d3", "gw-2", "res-2")):
        store.upsert_device(Device(dev, "site-1", gw, "door_contact"))
        store.place(PlacementRecord(dev, "unit-A", resident_id=rid))
    basis = covering_basis("res-1")
    store.save_basis(basis, basis_change(basis))
    sync = RecordingSync()
    publish = publisher_for(sync, store, lambda: NOW)  # type: ignore[arg-type]

    assert publish("res-1") == 1
    ((site, gateway, config),) = sync.sent
    assert (site, gateway) == ("site-1", "gw-1")
    assert {d["id"] for d in config["devices"]} == {"d1", "d2"}
    assert [b["id"] for b in config["bases"]] == [basis.id]

    withdrawn = dataclasses.replace(basis, withdrawn_at=NOW)
    store.save_basis(withdrawn, basis_change(withdrawn))
    assert publish("res-1") == 1
    assert sync.sent[-1][2]["bases"][0]["withdrawn_at"] == NOW.isoformat()

    assert publish("res-9") == 0  # no devices: nothing to tell any gateway
    assert len(sync.sent) == 2
