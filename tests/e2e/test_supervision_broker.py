"""End to end through Mosquitto: a real gateway publishes its retained status, then
stops; the hub's supervision notices within the window, raises a technical alert, and
the tekniker on duty and (it is 02:13, the gateway carries a resident's alarm button)
the unit's nattevakt get it on their handhelds. The gateway comes back: the alert is
cancelled with the outage recorded, and both get a withdraw."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from datetime import time as wall
from pathlib import Path
from zoneinfo import ZoneInfo

import aiomqtt
import pytest
from argon2 import PasswordHasher

from gateway.config import BrokerConfig, DeviceConfig, GatewayConfig
from gateway.service import Gateway
from hub.alerts import AlertState
from hub.auth import hash_password
from hub.channels.mqtt import MqttHandheldChannel, notify_topic
from hub.channels.router import Router
from hub.routing.roster import Shift
from hub.service import Hub
from hub.store.base import Account, Device, PlacementRecord, Resident, Role, Site, Unit
from hub.store.sqlite import SqliteStore
from hub.supervision.feed import StatusFeed, run_supervision
from hub.supervision.policy import Windows
from hub.supervision.shell import RULE, SupervisionService

pytestmark = [pytest.mark.mqtt, pytest.mark.e2e]
OSLO = ZoneInfo("Europe/Oslo")
START = datetime(2024, 11, 23, 2, 13, tzinfo=OSLO)
WINDOW = timedelta(seconds=2)  # the gateway's window, shortened for the test (90 s in use)
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def night_clock() -> Callable[[], datetime]:
    started = time.monotonic()
    return lambda: START + timedelta(seconds=time.monotonic() - started)


def seed(store: SqliteStore, site: str) -> None:
    store.upsert_site(Site(id=site, name="Testheim"))
    store.upsert_unit(Unit(id="unit-a", site=site, name="A"))
    store.upsert_resident(Resident("res-1", site, "unit-a", "Test Resident", "Leil. 1"))
    store.upsert_device(Device(id="sos-1", site=site, gateway="gw-1", type="HS1EB/HS1EB-E"))
    store.place(PlacementRecord("sos-1", "unit-a", "Leil. 1", resident_id="res-1"))
    for name, role in (("kari", Role.NATTEVAKT), ("per", Role.TEKNIKER)):
        pw = hash_password("x" * 12, hasher=FAST)
        store.upsert_account(Account(name, name, role, pw, site, ("unit-a",)))
    store.save_shift(Shift("n-kari", "kari", site, ("unit-a",), wall(22), wall(7)))
    store.save_shift(Shift("d-per", "per", site, ("unit-a",), wall(0), wall(0)))


def gateway(site: str, port: int, tmp: Path) -> Gateway:
    cfg = GatewayConfig.model_validate(dict(
        site=site, gateway="gw-1", data_dir=tmp / "gw",
        uplink=BrokerConfig(port=port, client_id=f"{site}-up"),
        local=BrokerConfig(port=port, client_id=f"{site}-local"),
        z2m_base=f"z2m-{site}", owntracks_base=f"ot-{site}", heartbeat_s=0.5,
        devices=[DeviceConfig(id="sos-1", protocol="z2m", friendly_name="sos",
                              model="HS1EB/HS1EB-E")],
    ))
    return Gateway(cfg)


async def test_a_gateway_that_stops_reaches_the_tekniker_and_the_nattevakt(
    mosquitto: tuple[str, int], unique_site: str, tmp_path: Path
) -> None:
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
    service = SupervisionService(hub, router=router, clock=clock,
                                 windows=Windows({"gateway": WINDOW}))
    feed = StatusFeed(service, asyncio.get_running_loop(), host=host, port=port,
                      client_id=f"status-{site}")
    tasks = [
        asyncio.create_task(channel.run(stop)),
        asyncio.create_task(router.run(stop)),
        asyncio.create_task(run_supervision(service, feed, stop)),
    ]
    gw = gateway(site, port, tmp_path)
    seen: list[tuple[str, str, str | None]] = []
    try:
        await asyncio.wait_for(channel.connected.wait(), 10)
        async with aiomqtt.Client(host, port, identifier=f"hh-{uuid.uuid4().hex[:8]}") as hh:
            await hh.subscribe(notify_topic(site, "+"), qos=1)
            gw.start()
            assert await asyncio.to_thread(gw.uplink.wait_connected, 10)
            await asyncio.sleep(1.5)  # statuses flow; nothing is raised
            assert [a for a in hub.open_alerts() if a.rule == RULE] == []
            await asyncio.to_thread(gw.stop)
            stopped = clock()
            async with asyncio.timeout(WINDOW.total_seconds() + 10):
                async for msg in hh.messages:
                    body = json.loads(bytes(msg.payload))  # type: ignore[arg-type]
                    seen.append((str(msg.topic).split("/")[4], body["type"], body["reason"]))
                    if len([s for s in seen if s[1] == "notify"]) == 2:
                        break
            alerted = clock()
            [alert] = [a for a in hub.open_alerts() if a.rule == RULE]
            assert (alert.kind, alert.device, alert.site) == ("gateway.offline", "gw-1", site)
            assert alerted - stopped <= WINDOW + timedelta(seconds=5)
            assert sorted(s[0] for s in seen) == ["kari", "per"]
            assert body["alert"]["category"] == "technical"
            assert body["alert"]["priority"] == "high"
            assert "res-1" not in json.dumps(body)  # no resident id on the wire
            # The gateway comes back: the outage closes and both are told.
            gw = gateway(site, port, tmp_path)
            gw.start()
            async with asyncio.timeout(15):
                async for msg in hh.messages:
                    body = json.loads(bytes(msg.payload))  # type: ignore[arg-type]
                    seen.append((str(msg.topic).split("/")[4], body["type"], body["by"]))
                    if len([s for s in seen if s[1] == "withdraw"]) == 2:
                        break
        await hub.drain()
        await router.drain()
    finally:
        await asyncio.to_thread(gw.stop)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await hub.stop()
    closed = store.get_alert(alert.id)
    assert closed is not None and closed.state is AlertState.CANCELLED
    note = store.transitions(alert.id)[-1].note
    assert note is not None and note.startswith("recovered: outage")
    assert sorted(s[0] for s in seen if s[1] == "withdraw") == ["kari", "per"]
