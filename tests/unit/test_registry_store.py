"""The device registry's store port (migration 0005): one suite for every backend.

Device changes carry the device's whole registry state with a history row and are
written all or nothing; devices registered the old way stay in service; gateways
keep their credential hash and state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from storekit import BACKENDS, migrated_store

from devices.lifecycle import DeviceState, Location
from hub.errors import StoreError
from hub.registry.ports import DeviceChange
from hub.registry.records import (
    NO_GATEWAY,
    DeviceHistory,
    DeviceInfo,
    GatewayRecord,
    GatewayState,
)
from hub.store.base import Device, PlacementRecord, Resident, Site, Store, Unit

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
OSLO = timezone(timedelta(hours=1))


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with migrated_store(request, tmp_path) as backend:
        backend.upsert_site(Site("site-1", "Solsiden"))
        backend.upsert_site(Site("site-2", "Bakken"))
        backend.upsert_unit(Unit("unit-A", "site-1", "A"))
        backend.upsert_resident(Resident("res-1", "site-1", "unit-A", "Johs Hansen"))
        yield backend


def registered(device: str = "btn-1", at: datetime = T0) -> DeviceChange:
    return DeviceChange(
        Device(device, "site-1", NO_GATEWAY, "alarm_button", f"SN-{device}"),
        DeviceInfo(DeviceState.IN_STOCK, firmware="1.2.0", notes="ny fra leverandør"),
        None,
        DeviceHistory(device, at, "tor", "register", None, DeviceState.IN_STOCK, "levert"),
    )


def installed(device: str = "btn-1", unit: str = "unit-A") -> DeviceChange:
    where = Location("site-1", unit, "H1", "soverom")
    return DeviceChange(
        Device(device, "site-1", "gw-1", "alarm_button", f"SN-{device}"),
        DeviceInfo(DeviceState.INSTALLED, "1.2.0", "på nattbordet",
                   installed_at=T0 + timedelta(hours=1),
                   service_due_at=T0 + timedelta(days=365)),
        PlacementRecord(device, unit, "H1", "soverom", "res-1", ("night-watch",)),
        DeviceHistory(device, T0 + timedelta(hours=1), "tor", "install", DeviceState.IN_STOCK,
                      DeviceState.INSTALLED, None, where),
    )


def view(store: Store, device: str):  # type: ignore[no-untyped-def]
    [found] = [v for v in store.list_devices() if v.device.id == device]
    return found


def test_a_registered_device_reads_back_with_its_history(store: Store) -> None:
    store.write_devices([registered()])
    v = view(store, "btn-1")
    assert v.device == Device("btn-1", "site-1", NO_GATEWAY, "alarm_button", "SN-btn-1")
    assert v.info == DeviceInfo(DeviceState.IN_STOCK, "1.2.0", "ny fra leverandør")
    assert v.placement is None
    assert store.device_history("btn-1") == [registered().history]

    store.write_devices([installed()])
    v = view(store, "btn-1")
    assert v.device.gateway == "gw-1"
    assert v.info.state is DeviceState.INSTALLED
    assert v.info.installed_at == T0 + timedelta(hours=1)
    assert v.info.service_due_at == T0 + timedelta(days=365)
    assert v.placement == PlacementRecord("btn-1", "unit-A", "H1", "soverom", "res-1",
                                          ("night-watch",))  # fmt: skip
    assert [h.action for h in store.device_history("btn-1")] == ["register", "install"]
    assert store.device_history("btn-1")[1].location == Location("site-1", "unit-A", "H1",
                                                                 "soverom")  # fmt: skip
    assert store.device_history("nope") == []
    # The rules' view follows the placement.
    [placement] = [p for p in store.placements() if p.device == "btn-1"]
    assert placement.resident_id == "res-1" and placement.gateway == "gw-1"


def test_no_placement_removes_it(store: Store) -> None:
    store.write_devices([registered(), installed()])
    back = replace(registered(), history=replace(registered().history, action="uninstall",
                                                 at=T0 + timedelta(hours=2)))  # fmt: skip
    store.write_devices([back])
    assert view(store, "btn-1").placement is None
    assert len(store.device_history("btn-1")) == 3


def test_a_batch_is_written_all_or_nothing(store: Store) -> None:
    store.write_devices([registered("btn-0")])
    good = [registered(f"btn-{n}") for n in range(1, 4)]
    bad = installed("btn-9", unit="unit-NOPE")  # a unit that does not exist
    with pytest.raises(StoreError):
        store.write_devices([*good, bad])
    assert [v.device.id for v in store.list_devices()] == ["btn-0"]
    assert store.device_history("btn-1") == []
    unknown_site = replace(registered("btn-5"), device=Device("btn-5", "nowhere", "", "x"))
    with pytest.raises(StoreError):
        store.write_devices([registered("btn-4"), unknown_site])
    assert [v.device.id for v in store.list_devices()] == ["btn-0"]


def test_times_come_back_in_utc_and_naive_ones_are_refused(store: Store) -> None:
    change = registered()
    oslo = T0.astimezone(OSLO)
    store.write_devices([replace(change, history=replace(change.history, at=oslo),
                                 info=replace(change.info, service_due_at=oslo))])  # fmt: skip
    assert store.device_history("btn-1")[0].at == T0
    assert store.device_history("btn-1")[0].at.utcoffset() == timedelta(0)
    assert view(store, "btn-1").info.service_due_at == T0
    naive = replace(change, history=replace(change.history, at=T0.replace(tzinfo=None)))
    with pytest.raises((ValueError, StoreError)):
        store.write_devices([replace(naive, device=replace(naive.device, id="btn-2"))])


def test_devices_registered_the_old_way_are_in_service_and_keep_their_state(store: Store) -> None:
    store.upsert_device(Device("door-1", "site-1", "gw-1", "door_contact"))
    assert view(store, "door-1").info == DeviceInfo()
    assert DeviceInfo().state is DeviceState.IN_SERVICE
    store.write_devices([registered()])
    store.upsert_device(Device("btn-1", "site-1", "gw-1", "alarm_button", "SN-btn-1"))
    assert view(store, "btn-1").info.state is DeviceState.IN_STOCK  # a seed does not revive it


def test_gateways_keep_credentials_state_and_notes(store: Store) -> None:
    assert store.list_gateways() == []
    gw = GatewayRecord("site-1", "gw-1", GatewayState.PROVISIONED, "$7$101$c2FsdA==$aGFzaA==",
                       T0, None, "i bodrommet")  # fmt: skip
    store.save_gateway(gw)
    store.save_gateway(GatewayRecord("site-2", "gw-a"))
    assert store.list_gateways() == [gw, GatewayRecord("site-2", "gw-a")]
    assert store.list_gateways("site-2") == [GatewayRecord("site-2", "gw-a")]
    assert gw.credentials_provisioned
    revoked = replace(gw, state=GatewayState.REVOKED, password_hash=None,
                      revoked_at=(T0 + timedelta(days=1)).astimezone(OSLO))  # fmt: skip
    store.save_gateway(revoked)
    [back] = store.list_gateways("site-1")
    assert back.state is GatewayState.REVOKED and not back.credentials_provisioned
    assert back.revoked_at == T0 + timedelta(days=1) and back.provisioned_at == T0
    with pytest.raises(StoreError):
        store.save_gateway(GatewayRecord("nowhere", "gw-x"))
    with pytest.raises(ValueError, match="unregistered"):
        store.save_gateway(GatewayRecord("site-1", "gw-z", GatewayState.UNREGISTERED))


def test_units_are_listed_with_their_site(store: Store) -> None:
    store.upsert_unit(Unit("unit-0", "site-2", "Null"))
    assert store.list_units() == [Unit("unit-0", "site-2", "Null"), Unit("unit-A", "site-1", "A")]
