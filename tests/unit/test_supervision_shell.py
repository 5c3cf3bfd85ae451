"""Supervision over a real Hub on SQLite with the real Router and fake channels;
time is a settable clock and the test calls ``tick`` where the timer would."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher

from devices.events import make_event
from hub.alerts import AlertState
from hub.auth import hash_password
from hub.channels.base import Message, MessageKind
from hub.channels.router import Router
from hub.routing.log import RoutingKind
from hub.routing.roster import Shift
from hub.service import Hub
from hub.store.base import Account, AlertFilter, Device, PlacementRecord, Resident, Role, Site, Unit
from hub.store.sqlite import SqliteStore
from hub.supervision.feed import StatusFeed
from hub.supervision.policy import Windows
from hub.supervision.shell import RULE, SupervisionService
from hub.supervision.status import parse_status
from rules.decisions import Category, Priority

from builders import event_id

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
SITE, GW, GW2 = "site-1", "gw-1", "gw-2"
NIGHT = datetime(2024, 11, 23, 2, 30, tzinfo=UTC)  # 03:30 Oslo
DAY = datetime(2024, 11, 23, 11, 0, tzinfo=UTC)  # 12:00 Oslo
SHIFTS = [
    Shift("n-kari", "kari", SITE, ("unit-A",), time(22), time(7)),
    Shift("n-ola", "ola", SITE, ("unit-B",), time(22), time(7)),
    Shift("d-per", "per", SITE, ("unit-A", "unit-B"), time(0), time(0)),  # all day
]


def seed(store: SqliteStore) -> None:
    store.upsert_site(Site(SITE, "Testheim"))
    for unit in ("unit-A", "unit-B"):
        store.upsert_unit(Unit(unit, SITE, unit))
    store.upsert_resident(Resident("res-1", SITE, "unit-A", "Test Resident", "H1"))
    for dev, gw, unit, apt, kind, resident in (
        ("button-1", GW, "unit-A", "H1", "WXKG11LM", "res-1"),
        ("smoke-1", GW, "unit-A", "H1", "smoke_detector", None),
        ("smoke-2", GW2, "unit-B", None, "smoke_detector", None),
    ):
        store.upsert_device(Device(dev, SITE, gw, kind))
        store.place(PlacementRecord(dev, unit, apt, resident_id=resident))
    for name, role, units in (
        ("kari", Role.NATTEVAKT, ("unit-A",)),
        ("ola", Role.NATTEVAKT, ("unit-B",)),
        ("per", Role.TEKNIKER, ()),
    ):
        pw = hash_password("x" * 12, hasher=FAST)
        store.upsert_account(Account(name, name, role, pw, SITE, units))
    for shift in SHIFTS:
        store.save_shift(shift)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeChannel:
    name: str
    sent: list[Message] = field(default_factory=list)

    async def deliver(self, message: Message) -> None:
        self.sent.append(message)

    def to(self, kind: MessageKind = MessageKind.NOTIFY) -> list[str]:
        return [m.recipient for m in self.sent if m.kind is kind]


@dataclass
class Env:
    hub: Hub
    router: Router
    service: SupervisionService
    feed: StatusFeed
    store: SqliteStore
    clock: Clock
    mqtt: FakeChannel
    seq: Iterator[int]

    async def settle(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)
            await self.hub.drain()
            await self.service.drain()
            await self.router.drain()

    async def advance(self, seconds: float) -> None:
        self.clock.now += timedelta(seconds=seconds)
        self.service.tick()
        await self.settle()

    def status(self, gateway: str = GW, online: bool = True, **devices: Any) -> None:
        body = {"online": online, "site": SITE, "gateway": gateway,
                "ts": self.clock().isoformat(), "devices": devices}
        self.feed.handle(json.dumps(body).encode(), f"trygg/v1/{SITE}/{gateway}/status")

    async def heartbeat(self, device: str, gateway: str = GW, **data: Any) -> None:
        n = next(self.seq)
        ev = make_event(id=event_id(n), site=SITE, gateway=gateway, device=device,
                        kind="device.heartbeat", ts=self.clock(), seq=n, data=data)
        self.hub.handle_message(ev.model_dump_json().encode(),
                                f"trygg/v1/{SITE}/{gateway}/events")
        await self.settle()

    def told(self, kind: MessageKind = MessageKind.NOTIFY) -> list[str]:
        return sorted(self.mqtt.to(kind))


async def make_env(now: datetime, windows: Windows | None = None) -> Env:
    store = SqliteStore(":memory:")
    store.migrate()
    seed(store)
    clock = Clock(now)
    hub = Hub(store, clock=clock)
    await hub.start()
    mqtt = FakeChannel("mqtt")
    router = Router(hub, [mqtt], clock=clock)
    await router.start()
    hub.add_notifier(router)
    service = SupervisionService(hub, router=router, clock=clock, windows=windows)
    await service.start()
    feed = StatusFeed(service, asyncio.get_running_loop(), host="127.0.0.1", port=1,
                      client_id="unused")
    return Env(hub, router, service, feed, store, clock, mqtt, itertools.count(1))


@pytest.fixture
async def night() -> AsyncIterator[Env]:
    env = await make_env(NIGHT)
    yield env
    env.service.stop()
    await env.router.drain()
    await env.hub.stop()
    env.store.close()


@pytest.fixture
async def day() -> AsyncIterator[Env]:
    env = await make_env(DAY)
    yield env
    env.service.stop()
    await env.router.drain()
    await env.hub.stop()
    env.store.close()


def offline_alerts(env: Env, device: str | None = None) -> list[Any]:
    return [a for a in env.hub.open_alerts()
            if a.rule == RULE and (device is None or a.device == device)]


async def test_a_silent_gateway_at_night_tells_the_tekniker_and_the_units_night_staff(
    night: Env,
) -> None:
    night.status(GW)
    night.status(GW2)
    await night.advance(60)
    night.status(GW2)  # gw-2 keeps talking, gw-1 has stopped
    await night.advance(29)
    assert offline_alerts(night) == []
    await night.advance(1)  # 90 s after gw-1's last status
    [alert] = offline_alerts(night)
    assert (alert.kind, alert.device, alert.category) == ("gateway.offline", GW, Category.TECHNICAL)
    assert alert.priority is Priority.HIGH  # it carries a resident's alarm button
    # The tekniker on duty, and the night staff of unit-A (the button's unit) only.
    assert night.told() == ["kari", "per"]
    assert all(m.reason == "tonight's safety net has a hole" for m in night.mqtt.sent)
    assert alert.state is AlertState.NOTIFIED  # a channel has it
    stored = night.store.get_alert(alert.id)
    assert stored is not None and stored.rule == RULE


async def test_recovery_closes_the_alert_records_the_outage_and_withdraws(night: Env) -> None:
    night.status(GW)
    await night.advance(95)
    [alert] = offline_alerts(night, GW)
    await night.advance(300)
    night.status(GW)
    await night.settle()
    assert offline_alerts(night, GW) == []
    closed = night.store.get_alert(alert.id)
    assert closed is not None and closed.state is AlertState.CANCELLED
    last = night.store.transitions(alert.id)[-1]
    assert last.note is not None and "recovered: outage" in last.note and "(395 s)" in last.note
    assert night.told(MessageKind.WITHDRAW) == ["kari", "per"]  # gw-2's alert stays open
    kinds = [r.kind for r in night.store.routing_log(alert.id)]
    assert RoutingKind.NOTIFY in kinds and RoutingKind.WITHDRAWN in kinds


async def test_an_accepted_outage_is_resolved_as_a_device_fault(night: Env) -> None:
    from hub.alerts import Command

    night.status(GW)
    await night.advance(95)
    [alert] = offline_alerts(night, GW)
    await night.hub.command(alert.id, Command.ACCEPT, "per")
    night.status(GW)
    await night.settle()
    closed = night.store.get_alert(alert.id)
    assert closed is not None and closed.state is AlertState.RESOLVED
    assert closed.outcome == "device_fault"


async def test_devices_behind_an_offline_gateway_raise_nothing_of_their_own(night: Env) -> None:
    await night.advance(95)  # both gateways silent since start (plus the start grace)
    await night.advance(4 * 3600)  # smoke detectors' 3 h windows pass too
    await night.advance(9 * 3600)  # and the button's 12 h
    kinds = sorted(a.kind for a in offline_alerts(night))
    assert kinds == ["gateway.offline", "gateway.offline"]


async def test_a_silent_smoke_detector_by_day_goes_to_the_tekniker_only(day: Env) -> None:
    for _ in range(3 * 60 + 3):  # the gateways stay alive for 3 h and a bit
        day.status(GW)
        day.status(GW2, **{"smoke-2": {"last_seen": day.clock().isoformat()}})
        await day.heartbeat("button-1")
        await day.advance(60)
    [alert] = offline_alerts(day)
    assert (alert.device, alert.kind, alert.priority) == ("smoke-1", "device.offline",
                                                         Priority.MEDIUM)
    assert (alert.unit, alert.apartment) == ("unit-A", "H1")
    assert day.told() == ["per"]


async def test_a_safety_critical_device_by_day_reaches_the_night_staff_when_night_begins() -> None:
    day = await make_env(DAY, Windows({"alarm_button": timedelta(hours=4)}))
    try:
        for _ in range(4 * 60 + 1):  # 12:00 -> 16:01 Oslo, the gateways alive
            day.status(GW, **{"smoke-1": {"last_seen": day.clock().isoformat()}})
            day.status(GW2, **{"smoke-2": {"last_seen": day.clock().isoformat()}})
            await day.advance(60)
        [alert] = offline_alerts(day)
        assert alert.device == "button-1" and alert.priority is Priority.HIGH
        assert day.told() == ["per"]  # by day: the tekniker, not the night staff
        wake = day.service._next_night(day.clock())
        assert wake == datetime(2024, 11, 23, 21, 0, tzinfo=UTC)  # 22:00 Oslo: a timer
        for _ in range(6 * 60):  # -> 22:01 Oslo
            day.status(GW, **{"smoke-1": {"last_seen": day.clock().isoformat()}})
            day.status(GW2, **{"smoke-2": {"last_seen": day.clock().isoformat()}})
            await day.advance(60)
        assert day.told() == ["kari", "per"]  # the night began with the hole still open
        assert [m.recipient for m in day.mqtt.sent] == ["per", "kari"]  # kari told once
    finally:
        day.service.stop()
        await day.router.drain()
        await day.hub.stop()
        day.store.close()


async def test_a_gateways_status_speaks_only_for_its_own_devices(day: Env) -> None:
    day.status(GW2, **{"button-1": {"last_seen": day.clock().isoformat()}})
    state = day.service.supervisor.state("button-1")
    assert state is not None and state.last_seen < day.clock()
    day.feed.handle(json.dumps({"online": True, "site": SITE, "gateway": GW2}).encode(),
                    f"trygg/v1/{SITE}/{GW}/status")
    day.feed.handle(b"not json", f"trygg/v1/{SITE}/{GW}/status")
    day.feed.handle(b"", f"trygg/v1/{SITE}/{GW}/status")  # a cleared retained message
    assert day.service.metrics.status_rejected._value.get() == 2


async def test_battery_and_tamper_are_tracked_for_the_attention_list(day: Env) -> None:
    for pct in (10, 9, 8):
        await day.heartbeat("button-1", battery_pct=pct)
    state = day.service.supervisor.state("button-1")
    assert state is not None and state.battery_low


async def test_open_outages_survive_a_restart(night: Env) -> None:
    night.status(GW)
    night.status(GW2)
    await night.advance(95)
    [alert] = [a for a in offline_alerts(night) if a.device == GW] or [None]
    assert alert is not None
    again = SupervisionService(night.hub, router=night.router, clock=night.clock,
                               metrics=night.service.metrics)
    await again.start()
    assert "gw:site-1/gw-1" in again._outages
    night.hub.event_listeners.remove(night.service.on_event)
    again.on_status(parse_status(json.dumps({"online": True, "site": SITE, "gateway": GW}).encode(),
                                 f"trygg/v1/{SITE}/{GW}/status"))
    await again.drain()
    await night.settle()
    closed = night.store.get_alert(alert.id)
    assert closed is not None and closed.state is AlertState.CANCELLED  # closed after restart
    again.stop()
    open_ = night.store.list_alerts(AlertFilter(states=(AlertState.NOTIFIED,)))
    assert alert.id not in [a.id for a in open_]


async def test_offline_gauges_per_site(night: Env) -> None:
    night.status(GW)
    night.status(GW2)
    await night.advance(95)
    m = night.hub.metrics
    assert m.gateways_offline.labels(SITE)._value.get() == 2
    assert m.devices_offline.labels(SITE)._value.get() == 0
    night.status(GW)
    await night.settle()
    assert m.gateways_offline.labels(SITE)._value.get() == 1
