"""Metrics added for production: rules time, response time per unit,
store health, offline devices and gateways; and no personal data in any label."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import uuid6

from devices.events import make_event
from hub.alerts import Command
from hub.errors import StoreError
from hub.offline import count_offline, export_offline
from hub.service import Hub
from hub.store.base import Device, DeviceView, PlacementRecord, Resident, Site, Unit
from hub.store.memory import MemoryStore

SITE, GW = "site-1", "gw-1"
TOPIC = f"trygg/v1/{SITE}/{GW}/events"
NOW = datetime(2026, 11, 24, 2, 13, tzinfo=UTC)
RESIDENT_NAME = "Johs Hansen"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def _store() -> MemoryStore:
    store = MemoryStore()
    store.upsert_site(Site(SITE, "Testheim"))
    store.upsert_unit(Unit("unit-a", SITE, "A"))
    store.upsert_resident(Resident("res-1", SITE, "unit-a", RESIDENT_NAME))
    store.upsert_device(Device("dev-1", SITE, GW, "alarm_button"))
    store.place(PlacementRecord("dev-1", "unit-a", resident_id="res-1"))
    return store


def _raw(kind: str) -> bytes:
    event = make_event(
        id=str(uuid6.uuid7()), site=SITE, gateway=GW, device="dev-1", kind=kind, ts=NOW, seq=1
    )
    return event.model_dump_json().encode()


def _value(hub: Hub, name: str, **labels: str) -> float:
    return hub.metrics.registry.get_sample_value(name, labels or None) or 0.0


async def test_stage_metrics_and_no_personal_data_in_labels() -> None:
    clock = Clock()
    hub = Hub(_store(), clock=clock)
    await hub.start()
    try:
        hub.handle_message(_raw("alarm.button"), TOPIC)
        await asyncio.sleep(0.05)
        [alert] = hub.open_alerts()
        clock.now = NOW + timedelta(seconds=42)
        await hub.command(alert.id, Command.ACCEPT, "kari")
        await hub.drain()
    finally:
        await hub.stop()
    assert _value(hub, "trygg_rules_seconds_count") == 1
    labels = {"unit": "unit-a", "category": "resident"}
    assert _value(hub, "trygg_alert_response_seconds_sum", **labels) == 42
    assert _value(hub, "trygg_store_up") == 1
    for family in hub.metrics.registry.collect():
        for sample in family.samples:
            for value in sample.labels.values():
                assert value not in (RESIDENT_NAME, "res-1", "dev-1", "kari"), sample


class FailingStore(MemoryStore):
    def append_events(self, events: object) -> int:
        raise StoreError("away")


async def test_store_up_drops_while_writes_fail() -> None:
    hub = Hub(FailingStore())
    await hub.start()
    try:
        hub.handle_message(_raw("room.motion"), TOPIC)
        await asyncio.sleep(0.2)
        assert _value(hub, "trygg_store_up") == 0
        assert _value(hub, "trygg_store_failures_total") >= 1
    finally:
        hub._pending.clear()  # nothing can be stored; let stop() return
        await hub.stop()


def _view(device: str, gateway: str, seen: timedelta | None, site: str = SITE) -> DeviceView:
    return DeviceView(
        Device(device, site, gateway, "door"), None, None if seen is None else NOW - seen
    )


@pytest.mark.parametrize(
    ("views", "devices", "gateways"),
    [
        ([], {}, {}),
        ([_view("d1", "g1", timedelta(minutes=1))], {SITE: 0}, {SITE: 0}),
        ([_view("d1", "g1", None)], {SITE: 1}, {SITE: 1}),
        (
            [_view("d1", "g1", timedelta(hours=2)), _view("d2", "g1", timedelta(minutes=5))],
            {SITE: 1},
            {SITE: 0},
        ),
        (
            [_view("d1", "g1", timedelta(hours=2)), _view("d2", "g2", timedelta(minutes=31)),
             _view("d3", "g3", timedelta(minutes=30), site="s2")],
            {SITE: 2, "s2": 0},
            {SITE: 2, "s2": 0},
        ),
    ],
    ids=["none", "fresh", "never-heard", "one-of-two", "two-sites"],
)  # fmt: skip
def test_count_offline(
    views: list[DeviceView], devices: dict[str, int], gateways: dict[str, int]
) -> None:
    assert count_offline(views, NOW) == (devices, gateways)


async def test_offline_gauges_are_exported_by_site() -> None:
    hub = Hub(_store())
    await hub.start()
    stop = asyncio.Event()
    task = asyncio.create_task(export_offline(hub, stop, lambda: NOW, every_s=0.01))
    await asyncio.sleep(0.1)
    stop.set()
    await task
    await hub.stop()
    assert _value(hub, "trygg_devices_offline", site=SITE) == 1  # never heard from
    assert _value(hub, "trygg_gateways_offline", site=SITE) == 1
