"""End to end through Mosquitto: a resident presses the alarm button by mistake and
presses again 10 s later. The alert is marked cancelled by the resident, the handheld
gets one update saying so, the escalation stops, and staff still accept it from the
handheld and resolve it as a false alarm. A second press 45 s after the first is no
cancel: it joins the alert and the escalation goes on."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as wall
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import pytest
import uuid6

from devices.events import make_event
from hub.alerts import AlertState, Command, Outcome
from hub.channels.mqtt import MqttHandheldChannel, Receipt, notify_topic, receipts_topic
from hub.channels.router import Router
from hub.mqtt import BrokerSettings, MqttAlertPublisher, run_ingest
from hub.routing.policy import Chain, Policy, Step, Target
from hub.routing.roster import Shift
from hub.service import Hub
from hub.store.base import Device, PlacementRecord, Site, Unit
from hub.store.sqlite import SqliteStore
from rules.decisions import Priority

pytestmark = [pytest.mark.mqtt, pytest.mark.e2e]
OSLO = ZoneInfo("Europe/Oslo")
PRESS_AT = datetime(2024, 11, 23, 23, 40, tzinfo=OSLO)
# Fast enough to see within the test that a quiet alert stays quiet.
FAST = Chain(
    steps=(Step(Target.PRIMARY, timedelta(seconds=1)), Step(Target.UNIT, timedelta(seconds=3))),
    renotify=timedelta(seconds=2),
)


def night_clock() -> Callable[[], datetime]:
    started = time.monotonic()
    return lambda: PRESS_AT + timedelta(seconds=time.monotonic() - started)


def seed(store: SqliteStore, site: str) -> None:
    store.upsert_site(Site(id=site, name="Testheim"))
    store.upsert_unit(Unit(id="unit-a", site=site, name="A"))
    store.upsert_device(Device(id="dev-btn", site=site, gateway="gw-1", type="alarm_button"))
    store.place(PlacementRecord(device="dev-btn", unit="unit-a", apartment="Leil. 2"))
    for name, primary in (("kari", ("Leil. 2",)), ("ola", ())):
        store.save_shift(
            Shift(f"n-{name}", name, site, ("unit-a",), wall(22), wall(7), primary_for=primary)
        )


@dataclass
class World:
    hub: Hub
    store: SqliteStore
    site: str
    handheld: aiomqtt.Client
    seq: int = 0

    async def press(self, after_s: float) -> None:
        self.seq += 1
        event = make_event(
            id=str(uuid6.uuid7()),
            site=self.site,
            gateway="gw-1",
            device="dev-btn",
            kind="alarm.button",
            ts=PRESS_AT + timedelta(seconds=after_s),
            seq=self.seq,
            data={"press": "single"},
        )
        topic = f"trygg/v1/{self.site}/gw-1/events"
        await self.handheld.publish(topic, event.model_dump_json(), qos=1)

    async def messages(self, seconds: float) -> list[tuple[str, str, str | None, dict[str, Any]]]:
        """What the handhelds got within ``seconds``: (staff, type, reason, alert)."""
        seen: list[tuple[str, str, str | None, dict[str, Any]]] = []
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(seconds):
                async for msg in self.handheld.messages:
                    body = json.loads(bytes(msg.payload))  # type: ignore[arg-type]
                    staff = str(msg.topic).split("/")[4]
                    seen.append((staff, body["type"], body["reason"], body["alert"]))
        return seen


@asynccontextmanager
async def world(mosquitto: tuple[str, int], site: str, tmp_path: Path) -> AsyncIterator[World]:
    host, port = mosquitto
    store = SqliteStore(tmp_path / "t.db")
    store.migrate()
    seed(store, site)
    clock = night_clock()
    hub = Hub(store, clock=clock, resident_cancel_window_s=30.0)
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
        for _ in range(400):
            if hub.broker_connected:
                break
            await asyncio.sleep(0.025)
        async with aiomqtt.Client(host, port, identifier=f"hh-{uuid.uuid4().hex[:8]}") as hh:
            await hh.subscribe(notify_topic(site, "+"), qos=1)
            yield World(hub, store, site, hh)
            await hub.drain()
            await router.drain()
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await hub.stop()  # the test reads the store afterwards and closes it


async def open_alert(hub: Hub, seconds: float = 10.0) -> Any:
    async with asyncio.timeout(seconds):
        while not hub.open_alerts():
            await asyncio.sleep(0.02)
    (alert,) = hub.open_alerts()
    return alert


async def test_a_mistaken_press_cancelled_in_the_window_goes_quiet_and_staff_close_it(
    mosquitto: tuple[str, int], unique_site: str, tmp_path: Path
) -> None:
    async with world(mosquitto, unique_site, tmp_path) as w:
        await w.press(0)
        alert = await open_alert(w.hub)
        await w.press(10)  # "oops": the second press, 10 s later by the button's clock
        seen = await w.messages(6.0)  # well past the primary's 1 s and the 2 s re-notify
        marked = w.hub.open_alerts()[0]
        assert marked.id == alert.id and marked.cancelled_by_resident
        assert (marked.priority, marked.priority_before_cancel) == (Priority.MEDIUM, Priority.HIGH)
        told = [(staff, kind, reason) for staff, kind, reason, _ in seen]
        assert told == [("kari", "notify", "first"), ("kari", "notify", "cancelled_by_resident")]
        assert seen[-1][3]["cancelled_by_resident"] is True
        assert seen[-1][3]["priority"] == "medium"
        # Kari still looks in: she accepts from the handheld, then resolves it.
        receipt = {"alert_id": alert.id, "status": "accept"}
        await w.handheld.publish(receipts_topic(w.site, "kari"), json.dumps(receipt), qos=1)
        async with asyncio.timeout(10):
            while w.hub.open_alerts()[0].state is not AlertState.ACCEPTED:
                await asyncio.sleep(0.02)
        done = await w.hub.command(
            alert.id, Command.RESOLVE, "kari", outcome=Outcome.FALSE_ALARM, note="feiltrykk"
        )
        assert done.state is AlertState.RESOLVED and done.cancelled_by_resident
    stored = w.store.get_alert(alert.id)
    assert stored is not None and stored.cancelled_by_resident and stored.outcome == "false_alarm"
    assert len(stored.event_ids) == 2
    history = [(t.to_state, t.actor) for t in w.store.transitions(alert.id)]
    assert history == [
        (AlertState.RAISED, "system"),
        (AlertState.NOTIFIED, "system"),
        (AlertState.NOTIFIED, "device:dev-btn"),
        (AlertState.ACCEPTED, "kari"),
        (AlertState.RESOLVED, "kari"),
    ]
    w.store.close()


async def test_a_second_press_after_the_window_is_not_a_cancel(
    mosquitto: tuple[str, int], unique_site: str, tmp_path: Path
) -> None:
    async with world(mosquitto, unique_site, tmp_path) as w:
        await w.press(0)
        alert = await open_alert(w.hub)
        await w.press(45)
        seen = await w.messages(5.0)
        (joined,) = w.hub.open_alerts()
        assert joined.id == alert.id and not joined.cancelled_by_resident
        assert len(joined.event_ids) == 2 and joined.priority is Priority.HIGH
        told = [(staff, reason) for staff, kind, reason, _ in seen if kind == "notify"]
        assert told[0] == ("kari", "first")
        assert ("ola", "escalated") in told  # the chain went on
        assert all(reason != "cancelled_by_resident" for _, reason in told)
    w.store.close()
