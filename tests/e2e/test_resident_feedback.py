"""End to end: a resident presses the alarm button and sees the alarm get somewhere.

A real hub (``trygg.runtime.running_hub``: store, MQTT ingest, routing, HTTP API,
config sync) on a private Mosquitto, a real gateway with its own local Mosquitto,
and an emulated Zigbee2MQTT bridge. The button (an Aqara mini switch, no light of
its own) shows its feedback on the colour lamp by the bed:

1. press -> the lamp's ``zigbee2mqtt/lamp-1/set`` gets the ``received`` payload
   within 1 s of the press; no local fallback alarm sounds;
2. staff say "on my way" with an ETA through the API -> ``help_coming`` (with it),
   on site -> ``help_arrived``, resolve -> ``closed``;
3. the hub unreachable (its broker gone, or no hub behind the broker): the gateway
   shows ``received`` locally
   (``source: gateway``) when ``fallback.after_s`` passes, and the fallback alarm sounds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from argon2 import PasswordHasher
from paho.mqtt.enums import CallbackAPIVersion

from devices import catalogue
from devices.events import KINDS
from devices.reading import Reading
from gateway.config import BrokerConfig, DeviceConfig, FallbackConfig, FeedbackConfig, GatewayConfig
from gateway.service import Gateway
from hub.auth import hash_password
from hub.consent.records import BasisAction, BasisChange
from hub.settings import HubSettings
from hub.store.base import Account, Device, PlacementRecord, Resident, Role, Site, Unit
from hub.store.sqlite import SqliteStore
from rules.consent import NO_BASIS_KINDS, BasisKind, LegalBasis, basis_to_json
from simulators.emulate.z2m import Z2mBridge
from trygg.runtime import running_hub

from conftest import free_port

# The gateway tests' private broker. Test folders join sys.path as they are collected,
# and e2e comes before integration.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from gwhelpers import PrivateMosquitto

pytestmark = [pytest.mark.mqtt, pytest.mark.e2e]
SITE, GW = "fb-site", "gw-1"
LAMP_SET = "zigbee2mqtt/lamp-1/set"
NOTICES, FALLBACK = "home/feedback", "home/fallback"
PASSWORD = "korrekt hest batteri"
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PRESS = Reading("alarm.button", {"press": "single"})


def lamp(state: str) -> dict[str, Any]:
    return dict(catalogue.lookup("9290022166").feedback[state])


def basis() -> LegalBasis:
    return LegalBasis(id="b-r1", resident_id="r1", measure="all",
                      kinds=frozenset(KINDS - set(NO_BASIS_KINDS)), basis=BasisKind.CONSENT,
                      decided_by="test", reference="TEST-1",
                      valid_from=datetime(2000, 1, 1, tzinfo=UTC), valid_to=None,
                      review_at=None)  # fmt: skip


def seed(store: SqliteStore) -> None:
    store.upsert_site(Site(SITE, "Solsiden"))
    store.upsert_unit(Unit("u1", SITE, "Unit 1"))
    store.upsert_resident(Resident("r1", SITE, "u1", "Test Person"))
    b = basis()
    store.save_basis(b, BasisChange(b.id, datetime(2000, 1, 1, tzinfo=UTC), "test",
                                    BasisAction.RECORD))  # fmt: skip
    store.upsert_device(Device("btn-1", SITE, GW, "WXKG11LM"))
    store.place(PlacementRecord("btn-1", "u1", "H0101", resident_id="r1"))
    store.upsert_device(Device("lamp-1", SITE, GW, "9290022166"))
    store.place(PlacementRecord("lamp-1", "u1", "H0101"))
    store.upsert_account(Account("lisa", "Lisa", Role.LEADER,
                                 hash_password(PASSWORD, hasher=FAST), SITE, ("u1",)))  # fmt: skip


class Watch:
    """Every message on the local broker's feedback topics, with its arrival time."""

    def __init__(self, port: int) -> None:
        self.got: list[tuple[float, str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        ready = threading.Event()
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_connect = lambda c, *a: c.subscribe(
            [(LAMP_SET, 1), (NOTICES, 1), (FALLBACK, 1)])
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert ready.wait(10), "watcher did not subscribe"

    def _on_message(self, c: Any, u: Any, m: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.got.append((time.monotonic(), m.topic, json.loads(m.payload)))

    def on(self, topic: str) -> list[tuple[float, dict[str, Any]]]:
        with self.lock:
            return [(t, body) for t, top, body in self.got if top == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout} s")
        await asyncio.sleep(0.02)


def gateway_config(tmp_path: Path, uplink_port: int, local_port: int, after_s: float,
                   **extra: Any) -> GatewayConfig:  # fmt: skip
    return GatewayConfig(
        site=SITE, gateway=GW, data_dir=tmp_path / "gw",
        uplink=BrokerConfig(port=uplink_port, client_id="gw-fb-up"),
        local=BrokerConfig(port=local_port, client_id="gw-fb-local"),
        heartbeat_s=3600, device_heartbeat_s=10**6,
        fallback=FallbackConfig(after_s=after_s, mqtt_topic=FALLBACK),
        feedback=FeedbackConfig(devices={"btn-1": "lamp-1"}, mqtt_topic=NOTICES),
        **extra)  # fmt: skip


@pytest.mark.timeout(120)
async def test_press_received_help_coming_arrived_closed(tmp_path: Path) -> None:
    uplink, local = PrivateMosquitto(tmp_path / "up"), PrivateMosquitto(tmp_path / "local")
    uplink.start()
    local.start()
    settings = HubSettings(data_dir=tmp_path / "hub", http_port=free_port(),
                           mqtt_port=uplink.port, mqtt_client_id="hub-fb",
                           mqtt_session_expiry_s=5, demo=True)  # fmt: skip
    settings.data_dir.mkdir()
    store = SqliteStore(settings.db_path)
    store.migrate()
    seed(store)
    gw = Gateway(gateway_config(tmp_path, uplink.port, local.port, after_s=10))
    watch = Watch(local.port)
    bridge = Z2mBridge("127.0.0.1", local.port)
    stop = asyncio.Event()
    try:
        async with running_hub(settings, store, stop) as run:
            gw.start()
            await until(lambda: run.hub.broker_connected and gw.uplink.connected.is_set()
                        and gw.local is not None and gw.local.connected.is_set(), 15, "links")
            await until(lambda: "lamp-1" in gw.pipeline.by_id
                        and gw.pipeline.by_id["btn-1"].resident_id == "r1", 15, "config sync")

            pressed = time.monotonic()
            bridge.send("btn-1", "WXKG11LM", PRESS)
            await until(lambda: bool(watch.on(LAMP_SET)), 5, "received on the lamp")
            arrived, first = watch.on(LAMP_SET)[0]
            assert first == lamp("received")
            assert arrived - pressed < 1.0, f"received after {arrived - pressed:.3f} s"

            base = f"http://127.0.0.1:{settings.http_port}/api/v1"
            async with httpx.AsyncClient(base_url=base) as api:
                r = await api.post("/auth/token", data={"username": "lisa", "password": PASSWORD})
                assert r.status_code == 200, r.text
                auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
                [alert] = run.hub.open_alerts()
                steps: list[tuple[str, dict[str, Any], str]] = [
                    (f"/alerts/{alert.id}/on-my-way", {"expected_minutes": 5}, "help_coming"),
                    (f"/alerts/{alert.id}/on-site", {}, "help_arrived"),
                    (f"/alerts/{alert.id}/resolve", {"outcome": "assisted"}, "closed"),
                ]
                for n, (path, body, state) in enumerate(steps, start=2):
                    r = await api.post(path, json=body or None, headers=auth)
                    assert r.status_code == 200, r.text
                    await until(lambda n=n: len(watch.on(LAMP_SET)) >= n, 5, state)
                    assert watch.on(LAMP_SET)[n - 1][1] == lamp(state)
            await asyncio.sleep(0.5)  # nothing more may come
            sets = [body for _, body in watch.on(LAMP_SET)]
            assert sets == [lamp(s) for s in ("received", "help_coming", "help_arrived",
                                                "closed")]  # fmt: skip
            notices = [body for _, body in watch.on(NOTICES)]
            assert [(b["state"], b["source"], b["expected_minutes"]) for b in notices] == [
                ("received", "hub", None), ("help_coming", "hub", 5),
                ("help_arrived", "hub", None), ("closed", "hub", None)]  # fmt: skip
            assert {b["alert_id"] for b in notices} == {alert.id}
            assert watch.on(FALLBACK) == [] and gw.fallback.sounded == 0
            registry = run.hub.metrics.registry
            for state in ("received", "help_coming", "help_arrived", "closed"):
                assert registry.get_sample_value("trygg_feedback_sent_total",
                                                 {"state": state}) == 1  # fmt: skip
            stored = await run.hub.run_store(store.get_alert, alert.id)
            assert stored is not None and stored.state == "resolved"
    finally:
        gw.stop()
        bridge.close()
        watch.close()
        store.close()
        uplink.stop()
        local.stop()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("cut", ["broker down", "hub stopped"])
async def test_hub_unreachable_the_gateway_shows_received_and_sounds_the_fallback(
    tmp_path: Path, cut: str
) -> None:
    local = PrivateMosquitto(tmp_path / "local")
    local.start()
    # "broker down": nobody listens on the uplink port. "hub stopped": the broker takes
    # the press (PUBACK) but no hub is there to answer.
    uplink = PrivateMosquitto(tmp_path / "up") if cut == "hub stopped" else None
    if uplink is not None:
        uplink.start()
    cfg = gateway_config(
        tmp_path, uplink.port if uplink else free_port(), local.port, after_s=1.0,
        devices=[DeviceConfig(id="btn-1", protocol="z2m", model="WXKG11LM",
                              friendly_name="btn-1", resident_id="r1"),
                 DeviceConfig(id="lamp-1", protocol="z2m", model="9290022166",
                              friendly_name="lamp-1")],
        bases=[basis_to_json(basis())])  # fmt: skip
    gw = Gateway(cfg)
    watch = Watch(local.port)
    bridge = Z2mBridge("127.0.0.1", local.port)
    try:
        gw.start()
        await until(lambda: gw.local is not None and gw.local.connected.is_set(), 15, "local")
        if uplink is not None:
            await until(gw.uplink.connected.is_set, 15, "uplink")
        pressed = time.monotonic()
        bridge.send("btn-1", "WXKG11LM", PRESS)
        await until(lambda: bool(watch.on(FALLBACK)) and bool(watch.on(LAMP_SET)), 10,
                    "local received and fallback alarm")  # fmt: skip
        shown_at, shown = watch.on(LAMP_SET)[0]
        assert shown == lamp("received")
        assert 1.0 <= shown_at - pressed < 5.0  # not before the hub had its chance
        [(_, notice)] = watch.on(NOTICES)
        assert notice["state"] == "received" and notice["source"] == "gateway"
        assert notice["alert_id"] is None and notice["device"] == "btn-1"
        [(_, alarm)] = watch.on(FALLBACK)
        assert alarm["alarm"] == "alarm.button" and alarm["reason"] == "hub_unconfirmed"
        assert gw.fallback.sounded == 1
        if uplink is None:
            assert gw.outbox.count == 1  # the press still waits to reach the hub
        else:
            await until(lambda: gw.outbox.count == 0, 10, "the broker has the press")
    finally:
        gw.stop()
        bridge.close()
        watch.close()
        local.stop()
        if uplink is not None:
            uplink.stop()
