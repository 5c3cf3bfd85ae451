"""The hub drops what no legal basis allows: before rules and store, counting only the fact."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import uuid6
from prometheus_client import generate_latest

from devices.events import make_event
from devices.localtime import TimeWindow
from hub.consent.records import BasisAction, BasisChange
from hub.service import Hub
from hub.store.base import AlertFilter, Device, EventFilter, PlacementRecord, Resident, Site, Unit
from hub.store.memory import MemoryStore
from rules.consent import BasisKind, LegalBasis

SITE, GW = "site-1", "gw-1"
TOPIC = f"trygg/v1/{SITE}/{GW}/events"
# 02:00 in Oslo on a winter night.
NIGHT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NIGHT

    def __call__(self) -> datetime:
        return self.now


def door_basis(**changes: object) -> LegalBasis:
    b = LegalBasis(
        id="b-door",
        resident_id="res-1",
        measure="exit_door",
        kinds=frozenset({"door.opened", "door.closed"}),
        basis=BasisKind.DECISION_4_6A,
        decided_by="leader1",
        reference="SAK-1",
        valid_from=NIGHT - timedelta(days=10),
        valid_to=NIGHT + timedelta(days=300),
        review_at=None,
        windows=(TimeWindow.parse("22:00-07:00"),),
    )
    return dataclasses.replace(b, **changes)  # type: ignore[arg-type]


@pytest.fixture
async def env() -> AsyncIterator[tuple[Hub, MemoryStore, Clock]]:
    store = MemoryStore()
    store.upsert_site(Site(SITE, "Testheim"))
    store.upsert_unit(Unit("unit-a", SITE, "A"))
    store.upsert_resident(Resident("res-1", SITE, "unit-a", "Kari Nordmann"))
    store.upsert_resident(Resident("res-2", SITE, "unit-a", "Per Hansen"))
    for device, dtype, resident in (
        ("door-1", "door_contact", "res-1"),
        ("fall-1", "fall_sensor", "res-1"),
        ("door-2", "door_contact", "res-2"),
        ("btn-2", "alarm_button", "res-2"),
    ):
        store.upsert_device(Device(device, SITE, GW, dtype))
        store.place(PlacementRecord(device, "unit-a", resident_id=resident))
    store.save_basis(door_basis(), BasisChange("b-door", NIGHT, "leader1", BasisAction.RECORD))
    clock = Clock()
    hub = Hub(store, clock=clock)
    await hub.start()
    yield hub, store, clock
    await hub.stop()


def send(hub: Hub, device: str, kind: str, ts: datetime, acks: list[str]) -> str:
    event = make_event(
        id=str(uuid6.uuid7()), site=SITE, gateway=GW, device=device, kind=kind, ts=ts, seq=1
    )
    hub.handle_message(event.to_json().encode(), TOPIC, lambda: acks.append(event.id))
    return event.id


def dropped(hub: Hub, reason: str, kind: str) -> float:
    labels = {"reason": reason, "site": SITE, "kind": kind}
    return hub.metrics.registry.get_sample_value("trygg_consent_dropped_total", labels) or 0.0


async def test_a_gateway_that_keeps_sending_without_a_basis_stores_nothing(
    env: tuple[Hub, MemoryStore, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    hub, store, _ = env
    acks: list[str] = []
    caplog.set_level(logging.DEBUG)
    ids = [send(hub, "fall-1", "fall.detected", NIGHT, acks) for _ in range(5)]
    ids += [send(hub, "door-2", "door.opened", NIGHT, acks) for _ in range(3)]
    await hub.drain()
    assert store.list_events(EventFilter()) == []
    assert store.list_alerts(AlertFilter()) == []
    assert sorted(acks) == sorted(ids)  # acknowledged, so the broker does not redeliver
    assert dropped(hub, "no_basis", "fall.detected") == 5
    assert dropped(hub, "no_basis", "door.opened") == 3
    exposition = generate_latest(hub.metrics.registry).decode()
    for personal in ("res-1", "res-2", "Kari", "Per Hansen", "fall-1", "door-2"):
        assert personal not in caplog.text
        assert personal not in exposition


async def test_allowed_inside_the_window_dropped_outside(
    env: tuple[Hub, MemoryStore, Clock],
) -> None:
    hub, store, _ = env
    acks: list[str] = []
    inside = send(hub, "door-1", "door.opened", NIGHT, acks)  # 02:00 local
    send(hub, "door-1", "door.opened", NIGHT + timedelta(hours=10), acks)  # 12:00 local
    await hub.drain()
    assert [s.event.id for s in store.list_events(EventFilter())] == [inside]
    assert dropped(hub, "outside_window", "door.opened") == 1


async def test_needs_no_basis_and_unregistered_devices_pass(
    env: tuple[Hub, MemoryStore, Clock],
) -> None:
    hub, store, _ = env
    acks: list[str] = []
    send(hub, "btn-2", "alarm.button", NIGHT, acks)  # the resident's own call
    send(hub, "btn-2", "device.battery_low", NIGHT, acks)
    send(hub, "nobody-knows", "door.opened", NIGHT, acks)
    await hub.drain()
    assert len(store.list_events(EventFilter())) == 3
    assert len(store.list_alerts(AlertFilter())) >= 1


async def test_withdrawn_mid_night_takes_effect_at_once(
    env: tuple[Hub, MemoryStore, Clock],
) -> None:
    hub, store, clock = env
    acks: list[str] = []
    before = send(hub, "door-1", "door.opened", NIGHT, acks)
    await hub.drain()
    clock.now = NIGHT + timedelta(minutes=30)
    withdrawn = door_basis(withdrawn_at=clock.now)
    store.save_basis(withdrawn, BasisChange("b-door", clock.now, "leader1", BasisAction.WITHDRAW))
    await hub.reload_consent()
    # Sensed before the withdrawal, arriving after it (from the gateway's outbox): dropped too.
    send(hub, "door-1", "door.closed", NIGHT + timedelta(minutes=29), acks)
    send(hub, "door-1", "door.opened", NIGHT + timedelta(minutes=31), acks)
    await hub.drain()
    assert [s.event.id for s in store.list_events(EventFilter())] == [before]
    assert dropped(hub, "withdrawn", "door.closed") == 1
    assert dropped(hub, "withdrawn", "door.opened") == 1
