"""End to end through Mosquitto: a fall at 02:13, the primary nattevakt does not
answer, the escalation reaches the second, who accepts from the handheld. Every
transition and routing step is stored with its time and actor."""

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
import uuid6

from devices.events import make_event
from hub.alerts import AlertState
from hub.channels.mqtt import MqttHandheldChannel, Receipt, notify_topic, receipts_topic
from hub.channels.router import Router
from hub.mqtt import BrokerSettings, MqttAlertPublisher, run_ingest
from hub.routing.log import RoutingKind
from hub.routing.policy import Chain, Policy, Step, Target
from hub.routing.roster import Shift
from hub.service import Hub
from hub.store.base import Device, PlacementRecord, Site, Unit
from hub.store.sqlite import SqliteStore

pytestmark = [pytest.mark.mqtt, pytest.mark.e2e]
OSLO = ZoneInfo("Europe/Oslo")
FALL_AT = datetime(2024, 11, 23, 2, 13, tzinfo=OSLO)
FAST = Chain(
    steps=(Step(Target.PRIMARY, timedelta(seconds=1)), Step(Target.UNIT, timedelta(seconds=5))),
    renotify=timedelta(seconds=30),
)


def night_clock() -> Callable[[], datetime]:
    """02:13 local when the test starts, running at real speed."""
    started = time.monotonic()
    return lambda: FALL_AT + timedelta(seconds=time.monotonic() - started)


def seed(store: SqliteStore, site: str) -> None:
    store.upsert_site(Site(id=site, name="Testheim"))
    store.upsert_unit(Unit(id="unit-a", site=site, name="A"))
    store.upsert_device(Device(id="dev-fall", site=site, gateway="gw-1", type="fall_sensor"))
    store.place(PlacementRecord(device="dev-fall", unit="unit-a", apartment="Leil. 1"))
    for name, primary in (("kari", ("Leil. 1",)), ("ola", ())):
        store.save_shift(
            Shift(f"n-{name}", name, site, ("unit-a",), wall(22), wall(7), primary_for=primary)
        )


async def test_fall_at_0213_escalates_to_the_second_who_accepts(
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

    def on_receipt(r: Receipt) -> None:
        router.receipt(r.site, r.staff_id, r.alert_id, r.status)

    channel = MqttHandheldChannel(host, port, f"notify-{site}", on_receipt)
    router = Router(hub, [channel], policies=[Policy(FAST, site=site)], clock=clock)
    await router.start()
    hub.add_notifier(router)
    publisher = MqttAlertPublisher(on_delivered=lambda a: hub.delivered(a, "mqtt"))
    hub.add_notifier(publisher)
    broker = BrokerSettings(host=host, port=port, client_id=f"hub-{site}", session_expiry_s=5)
    tasks = [
        asyncio.create_task(run_ingest(hub, broker, publisher, stop)),
        asyncio.create_task(channel.run(stop)),
        asyncio.create_task(router.run(stop)),
    ]
    try:
        await asyncio.wait_for(channel.connected.wait(), 10)
        for _ in range(200):
            if hub.broker_connected:
                break
            await asyncio.sleep(0.025)
        async with aiomqtt.Client(host, port, identifier=f"hh-{uuid.uuid4().hex[:8]}") as hh:
            await hh.subscribe(notify_topic(site, "+"), qos=1)
            event = make_event(
                id=str(uuid6.uuid7()),
                site=site,
                gateway="gw-1",
                device="dev-fall",
                kind="fall.detected",
                ts=FALL_AT,
                seq=1,
            )
            await hh.publish(f"trygg/v1/{site}/gw-1/events", event.model_dump_json(), qos=1)
            seen: list[tuple[str, str, str | None]] = []
            async with asyncio.timeout(15):
                async for msg in hh.messages:
                    staff = str(msg.topic).split("/")[4]
                    body = json.loads(bytes(msg.payload))  # type: ignore[arg-type]
                    seen.append((staff, body["type"], body["reason"]))
                    if staff == "ola" and body["type"] == "notify":
                        # Kari never answers; Ola takes it from the handheld.
                        receipt = {"alert_id": body["alert"]["id"], "status": "accept"}
                        await hh.publish(receipts_topic(site, "ola"), json.dumps(receipt), qos=1)
                    if staff == "kari" and body["type"] == "withdraw":
                        break
        assert seen[0] == ("kari", "notify", "first")
        assert ("ola", "notify", "escalated") in seen
        alert_id = body["alert"]["id"]
        await hub.drain()
        await router.drain()
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await hub.stop()
    transitions = store.transitions(alert_id)
    assert [(t.to_state, t.actor) for t in transitions] == [
        (AlertState.RAISED, "system"),
        (AlertState.NOTIFIED, "system"),
        (AlertState.ACCEPTED, "ola"),
    ]
    local = [t.at.astimezone(OSLO) for t in transitions]
    assert local[0].strftime("%H:%M") == "02:13"
    assert local[2] - local[0] >= timedelta(seconds=1)  # only after the primary's timeout
    routing = store.routing_log(alert_id)
    steps = [(r.kind, r.recipient, r.step) for r in routing if r.kind is not RoutingKind.DELIVERED]
    assert steps[0] == (RoutingKind.NOTIFY, "kari", 0)
    escalated = [r for r in routing if r.kind is RoutingKind.ESCALATED]
    assert [(r.step, r.detail, r.actor) for r in escalated] == [(1, "timeout", "system")]
    assert (RoutingKind.NOTIFY, "ola", 1) in steps
    assert (RoutingKind.WITHDRAWN, "kari", None) in steps
    assert all(r.at.tzinfo is not None for r in routing)
    assert store.get_alert(alert_id).accepted_by == "ola"  # type: ignore[union-attr]
    store.close()
