"""The hub's answer to a dying battery and a silent gateway (issue 9's fault generators
``battery_dies`` and ``gateway_silent``), played live through the machine's Mosquitto
into a real hub (MQTT ingest, SQLite, the router with the handheld channel, device
supervision with short windows). It is 02:13 in Oslo on the hub's clock.

- battery dies: the first low report raises the rule pack's ``battery_low`` technical
  alert, on the tekniker's list and never on the nattevakt's; after
  ``BATTERY_LOW_READINGS`` consecutive low reports the attention list shows it; then
  silence: an offline alert within the window + 5 s, told to the tekniker and (a
  resident's fall sensor, at night) the unit's nattevakt; a sign of life cancels it.
- gateway goes silent: offline within the window + 5 s, both told (it carries a
  resident's exit door); its devices raise nothing of their own; back: cancelled, both
  get a withdraw.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import httpx
import pytest
from argon2 import PasswordHasher

from devices.events import KINDS, make_event
from hub.alerts import Alert, AlertState
from hub.api import create_app
from hub.auth import TokenIssuer, hash_password
from hub.channels.mqtt import MqttHandheldChannel, notify_topic
from hub.channels.router import Router
from hub.consent.records import BasisAction, BasisChange
from hub.mqtt import BrokerSettings, MqttAlertPublisher, run_ingest
from hub.routing.roster import Shift
from hub.service import Hub
from hub.store.base import Account, Device, PlacementRecord, Resident, Role, Site, Unit
from hub.store.sqlite import SqliteStore
from hub.supervision.feed import StatusFeed, run_supervision
from hub.supervision.policy import BATTERY_LOW_READINGS, Windows
from hub.supervision.shell import RULE, SupervisionService
from rules.consent import NO_BASIS_KINDS, BasisKind, LegalBasis
from simulators.faults import battery_dies, gateway_silent
from simulators.scenario import PlannedEvent

pytestmark = [pytest.mark.mqtt]
OSLO = ZoneInfo("Europe/Oslo")
START = datetime(2024, 11, 23, 2, 13, tzinfo=OSLO)
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
GATEWAY_WINDOW = timedelta(seconds=3)  # 90 s in use
DEVICE_WINDOW = timedelta(seconds=4)  # hours in use
BEAT_S = 0.5
WINDOWS = Windows({"gateway": GATEWAY_WINDOW, "fall_sensor": DEVICE_WINDOW,
                   "door_contact": DEVICE_WINDOW, "smoke_detector": DEVICE_WINDOW})
# gw-a: a resident's fall sensor and the kitchen smoke detector; gw-b: the exit door.
DEVICES = (("fall-1", "gw-a", "fall_sensor", "res-1"), ("smoke-1", "gw-a", "smoke_detector", None),
           ("door-1", "gw-b", "door_contact", "res-1"))  # fmt: skip


def night_clock() -> Callable[[], datetime]:
    started = time.monotonic()
    return lambda: START + timedelta(seconds=time.monotonic() - started)


def seed(store: SqliteStore, site: str) -> None:
    store.upsert_site(Site(id=site, name="Testheim"))
    store.upsert_unit(Unit(id="unit-a", site=site, name="A"))
    store.upsert_resident(Resident("res-1", site, "unit-a", "Test Resident", "Leil. 1"))
    for dev, gw, kind, resident in DEVICES:
        store.upsert_device(Device(id=dev, site=site, gateway=gw, type=kind))
        store.place(PlacementRecord(dev, "unit-a", "Leil. 1", resident_id=resident))
    since = datetime(2000, 1, 1, tzinfo=UTC)
    basis = LegalBasis("basis-res-1", "res-1", "all", frozenset(KINDS - set(NO_BASIS_KINDS)),
                       BasisKind.CONSENT, "test", "TEST-1", since, None, None)
    store.save_basis(basis, BasisChange(basis.id, since, "test", BasisAction.RECORD))
    for name, role in (("kari", Role.NATTEVAKT), ("per", Role.TEKNIKER)):
        pw = hash_password("x" * 12, hasher=FAST)
        store.upsert_account(Account(name, name, role, pw, site, ("unit-a",)))
    store.save_shift(Shift("n-kari", "kari", site, ("unit-a",), wall(22), wall(7)))
    store.save_shift(Shift("d-per", "per", site, ("unit-a",), wall(0), wall(0)))


def heartbeats(site: str, seconds: float) -> list[PlannedEvent]:
    """Every device reports every ``BEAT_S`` for ``seconds`` (offsets from the start)."""
    out = []
    for n in range(int(seconds / BEAT_S)):
        offset = n * BEAT_S
        for dev, gw, _, _ in DEVICES:
            out.append(PlannedEvent(offset, START + timedelta(seconds=offset), site, gw, dev,
                                    "device.heartbeat", {"battery_pct": 80}, "background"))
    return out


@dataclass
class Env:
    site: str
    hub: Hub
    store: SqliteStore
    service: SupervisionService
    clock: Callable[[], datetime]
    host: str
    port: int
    api: httpx.AsyncClient
    tokens: dict[str, str]
    handheld: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    seqs: dict[str, int] = field(default_factory=dict)

    async def publish(self, client: aiomqtt.Client, p: PlannedEvent) -> None:
        self.seqs[p.gateway] = self.seqs.get(p.gateway, 0) + 1
        ev = make_event(id=str(uuid.uuid4()), site=self.site, gateway=p.gateway, device=p.device,
                        kind=p.kind, ts=self.clock(), seq=self.seqs[p.gateway], data=dict(p.data))
        await client.publish(f"trygg/v1/{self.site}/{p.gateway}/events", ev.to_json(), qos=1)

    async def play(self, plan: list[PlannedEvent]) -> None:
        """Publish ``plan`` live: each event at its offset from now, stamped by the clock."""
        began = time.monotonic()
        async with aiomqtt.Client(self.host, self.port,
                                  identifier=f"gw-{self.site}-{uuid.uuid4().hex[:6]}") as client:
            for p in sorted(plan, key=lambda p: p.offset_s):
                await asyncio.sleep(max(0.0, began + p.offset_s - time.monotonic()))
                await self.publish(client, p)

    async def alerts(self, user: str, **params: Any) -> list[dict[str, Any]]:
        r = await self.api.get("/api/v1/alerts", params=params,
                               headers={"Authorization": f"Bearer {self.tokens[user]}"})
        assert r.status_code == 200, r.text
        body: list[dict[str, Any]] = r.json()
        return body

    async def attention(self) -> list[dict[str, Any]]:
        r = await self.api.get("/api/v1/devices/attention",
                               headers={"Authorization": f"Bearer {self.tokens['per']}"})
        assert r.status_code == 200, r.text
        body: list[dict[str, Any]] = r.json()
        return body

    def offline(self, device: str) -> Alert | None:
        return next((a for a in self.hub.open_alerts() if a.rule == RULE and a.device == device),
                    None)

    def told(self, kind: str, alert_id: str) -> list[str]:
        return sorted(who for who, body in self.handheld
                      if body["type"] == kind and body["alert"]["id"] == alert_id)


async def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if asyncio.iscoroutine(found):
            found = await found
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


@pytest.fixture
async def env(mosquitto: tuple[str, int], unique_site: str,
              tmp_path: Path) -> AsyncIterator[Env]:
    host, port = mosquitto
    site = unique_site
    store = SqliteStore(tmp_path / "t.db")
    store.migrate()
    seed(store, site)
    clock = night_clock()
    hub = Hub(store, clock=clock)
    await hub.start()
    stop = asyncio.Event()
    channel = MqttHandheldChannel(host, port, f"notify-{site}", lambda r: None)
    router = Router(hub, [channel], clock=clock)
    await router.start()
    hub.add_notifier(router)
    publisher = MqttAlertPublisher(on_delivered=lambda alert: hub.delivered(alert, "mqtt"))
    hub.add_notifier(publisher)
    service = SupervisionService(hub, router=router, clock=clock, windows=WINDOWS)
    feed = StatusFeed(service, asyncio.get_running_loop(), host=host, port=port,
                      client_id=f"status-{site}")
    broker = BrokerSettings(host=host, port=port, client_id=f"hub-{site}", session_expiry_s=5)
    tasks = [
        asyncio.create_task(channel.run(stop)),
        asyncio.create_task(router.run(stop)),
        asyncio.create_task(run_ingest(hub, broker, publisher, stop)),
    ]
    tokens = TokenIssuer(ttl=timedelta(hours=2))
    issued = {a.username: tokens.issue(a, clock())[0] for a in store.list_accounts()}
    app = create_app(hub, tokens, clock)
    app.state.supervision = service
    e: Env | None = None
    try:
        await asyncio.wait_for(channel.connected.wait(), 10)
        await until(lambda: hub.broker_connected, 10, "the hub's ingest connects")
        async with (
            aiomqtt.Client(host, port, identifier=f"hh-{uuid.uuid4().hex[:8]}") as hh,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                              base_url="http://trygg") as api,
        ):
            await hh.subscribe(notify_topic(site, "+"), qos=1)
            e = Env(site, hub, store, service, clock, host, port, api, issued)

            async def listen() -> None:
                async for msg in hh.messages:
                    body = json.loads(bytes(msg.payload))  # type: ignore[arg-type]
                    e.handheld.append((str(msg.topic).split("/")[4], body))

            tasks.append(asyncio.create_task(listen()))
            # Supervision starts with the devices' first reports on the way.
            tasks.append(asyncio.create_task(run_supervision(service, feed, stop)))
            yield e
            await hub.drain()
            await router.drain()
    finally:
        stop.set()
        for t in tasks[3:]:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await hub.stop()
        store.close()


async def test_a_battery_that_dies_is_reported_then_offline_then_recovered(env: Env) -> None:
    plan = battery_dies(heartbeats(env.site, 14), "fall-1", at=START + timedelta(seconds=1),
                        reports=BATTERY_LOW_READINGS, every_s=0.5)
    player = asyncio.create_task(env.play(plan))
    try:
        # The first low report: the rule pack's technical alert, for the tekniker only.
        battery = await until(lambda: [a for a in env.hub.open_alerts()
                                       if a.rule == "battery_low" and a.device == "fall-1"],
                              15, "a battery_low alert")  # fmt: skip
        assert battery[0].category == "technical"
        assert battery[0].id in [a["id"] for a in await env.alerts("per")]
        assert battery[0].id not in [a["id"] for a in await env.alerts("kari")]
        # After the N-th consecutive low report, the attention list shows it.
        listed = await until(env.attention, 10, "fall-1 on the attention list")
        fall = next(i for i in listed if i["key"] == "fall-1")
        assert [r["reason"] for r in fall["reasons"]] == ["battery_low"]
        assert fall["rank"] == "critical_battery_low" and fall["critical"] is True
        # Then silence: offline within its window + 5 s of the last report.
        last = START + timedelta(seconds=1 + 0.5 * (BATTERY_LOW_READINGS - 1))
        offline = await until(lambda: env.offline("fall-1"), 15, "fall-1 offline")
        assert offline.raised_at - last <= DEVICE_WINDOW + timedelta(seconds=5)
        assert (offline.kind, offline.priority) == ("device.offline", "high")
        await until(lambda: env.told("notify", offline.id) == ["kari", "per"], 10,
                    "the tekniker and the nattevakt told")
        listed = await env.attention()
        assert listed[0]["key"] == "fall-1" and listed[0]["rank"] == "critical_offline"
        assert sorted(r["reason"] for r in listed[0]["reasons"]) == ["battery_low", "offline"]
        # The others keep reporting: nothing else is offline.
        assert [a.device for a in env.hub.open_alerts() if a.rule == RULE] == ["fall-1"]
        # A new battery, a sign of life: the outage closes and both get a withdraw.
        async with aiomqtt.Client(env.host, env.port, identifier=f"fix-{env.site}") as client:
            await env.publish(client, PlannedEvent(0, START, env.site, "gw-a", "fall-1",
                                                   "device.heartbeat", {"battery_pct": 100},
                                                   "background"))  # fmt: skip
        await until(lambda: env.told("withdraw", offline.id) == ["kari", "per"], 10,
                    "both withdrawn")
        closed = await env.hub.run_store(env.store.get_alert, offline.id)
        assert closed is not None and closed.state is AlertState.CANCELLED
        assert "fall-1" not in [i["key"] for i in await env.attention()]
    finally:
        player.cancel()


async def test_a_gateway_that_goes_silent_is_offline_within_its_window(env: Env) -> None:
    silent_at = START + timedelta(seconds=2)
    plan = gateway_silent(heartbeats(env.site, 14), "gw-b", at=silent_at)
    last_b = max(p.offset_s for p in plan if p.gateway == "gw-b")
    player = asyncio.create_task(env.play(plan))
    try:
        offline = await until(lambda: env.offline("gw-b"), 15, "gw-b offline")
        assert offline.raised_at - (START + timedelta(seconds=last_b)) <= (
            GATEWAY_WINDOW + timedelta(seconds=5))
        assert (offline.kind, offline.priority, offline.category) == (
            "gateway.offline", "high", "technical")
        await until(lambda: env.told("notify", offline.id) == ["kari", "per"], 10,
                    "the tekniker and (its exit door, at night) the nattevakt told")
        listed = await env.attention()
        assert listed[0]["key"] == f"gw:{env.site}/gw-b"
        assert listed[0]["rank"] == "critical_offline" and listed[0]["units"] == ["unit-a"]
        # The door behind it goes quiet too, but the gateway's alert covers it.
        await asyncio.sleep(DEVICE_WINDOW.total_seconds() + 0.5)
        assert [a.device for a in env.hub.open_alerts() if a.rule == RULE] == ["gw-b"]
        door = next(i for i in await env.attention() if i["key"] == "door-1")
        assert door["behind_offline_gateway"] is True
        # The gateway is back: cancelled with the outage recorded, both withdrawn.
        async with aiomqtt.Client(env.host, env.port, identifier=f"back-{env.site}") as client:
            await env.publish(client, PlannedEvent(0, START, env.site, "gw-b", "door-1",
                                                   "device.heartbeat", {"battery_pct": 80},
                                                   "background"))  # fmt: skip
        await until(lambda: env.told("withdraw", offline.id) == ["kari", "per"], 10,
                    "both withdrawn")
        closed = await env.hub.run_store(env.store.get_alert, offline.id)
        assert closed is not None and closed.state is AlertState.CANCELLED
        note = (await env.hub.run_store(env.store.transitions, offline.id))[-1].note
        assert note is not None and note.startswith("recovered: outage")
        assert env.offline("door-1") is None
    finally:
        player.cancel()
