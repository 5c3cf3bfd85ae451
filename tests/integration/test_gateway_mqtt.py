"""The gateway against a real Mosquitto: Zigbee2MQTT in, events out, status, fallback, sync."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.reading import Reading
from gateway.config import BrokerConfig, DeviceConfig, FallbackConfig, GatewayConfig
from gateway.service import Gateway
from hub.gateway_config import GatewaySync, build_config
from hub.store.base import Device, DeviceView, PlacementRecord
from rules.consent import basis_from_json
from simulators.emulate.z2m import Z2mBridge

from gwhelpers import Collector, wait_for

pytestmark = pytest.mark.mqtt


def config(site: str, port: int, tmp: Path, **over: object) -> GatewayConfig:
    values: dict[str, object] = dict(
        site=site, gateway="gw-1", data_dir=tmp / "gw",
        uplink=BrokerConfig(port=port, client_id=f"{site}-up"),
        local=BrokerConfig(port=port, client_id=f"{site}-local"),
        z2m_base=f"z2m-{site}", owntracks_base=f"ot-{site}", heartbeat_s=0.5,
        devices=[
            DeviceConfig(id="door-1", protocol="z2m", friendly_name="front", model="MCCGQ11LM"),
            DeviceConfig(id="leak-1", protocol="z2m", friendly_name="bath", model="SJCGQ11LM"),
            DeviceConfig(id="sos-1", protocol="z2m", friendly_name="sos", model="HS1EB/HS1EB-E"),
        ],
        fallback=FallbackConfig(after_s=1.0, mqtt_topic=f"siren-{site}/set"),
    )
    values.update(over)
    return GatewayConfig.model_validate(values)


@pytest.fixture
def gateway_env(mosquitto: tuple[str, int], unique_site: str, tmp_path: Path
                ) -> Iterator[tuple[GatewayConfig, Collector, Z2mBridge]]:
    cfg = config(unique_site, mosquitto[1], tmp_path)
    collector = Collector("127.0.0.1", mosquitto[1], f"trygg/v1/{unique_site}/#",
                          f"siren-{unique_site}/#")
    bridge = Z2mBridge("127.0.0.1", mosquitto[1], base=cfg.z2m_base)
    yield cfg, collector, bridge
    bridge.close()
    collector.close()


def test_zigbee_to_uplink_with_health_and_local_fallback(gateway_env: tuple[
        GatewayConfig, Collector, Z2mBridge]) -> None:
    cfg, collector, bridge = gateway_env
    gw = Gateway(cfg)
    gw.start()
    try:
        assert gw.uplink.wait_connected(10)
        wait_for(lambda: gw.local is not None and gw.local.connected.is_set(), 10, "local")
        bridge.send("front", "MCCGQ11LM", Reading("door.opened", {"door": "entrance"}),
                    {"battery": 87, "linkquality": 144})
        bridge.send("bath", "SJCGQ11LM", Reading("water.leak"), {"battery": 60})
        bridge.send("sos", "HS1EB/HS1EB-E", Reading("alarm.button", {"press": "single"}))
        bridge.availability("bath", online=False)
        wait_for(lambda: len(collector.payloads("/events")) >= 3, 10, "events")
        events = collector.payloads("/events")
        assert [(e["device"], e["kind"]) for e in events[:3]] == [
            ("door-1", "door.opened"), ("leak-1", "water.leak"), ("sos-1", "alarm.button")]
        assert [e["seq"] for e in events[:3]] == [0, 1, 2]
        # The hub confirms the leak (its alert names the event); the button is never
        # confirmed, so it sounds locally after 1 s, once.
        leak = events[1]
        collector.client.publish(cfg.alerts_topic, json.dumps({"event_ids": [leak["id"]]}), qos=1)
        wait_for(lambda: bool(collector.payloads("/set")), 10, "local siren")
        siren = collector.payloads("/set")
        assert [(s["alarm"], s["event_id"]) for s in siren] == [("alarm.button", events[2]["id"])]
        wait_for(lambda: gw.fallback.confirmed == 1, 5, "confirmation")
        # The retained status carries each device's health.
        def health() -> dict[str, object]:
            statuses = collector.payloads("/status")
            return statuses[-1]["devices"] if statuses else {}
        wait_for(lambda: health().get("leak-1", {}).get("online") is False,  # type: ignore[attr-defined]
                 10, "availability")
        door = health()["door-1"]
        assert door["battery_pct"] == 87 and door["link_quality"] == 144  # type: ignore[index]
        assert door["last_seen"] is not None  # type: ignore[index]
    finally:
        gw.stop()
    statuses = collector.payloads("/status")
    assert statuses[-1]["online"] is False  # a clean stop says so; a crash leaves the will


def test_config_sync_is_cached_and_used_after_a_restart_without_the_hub(
        mosquitto: tuple[str, int], unique_site: str, tmp_path: Path) -> None:
    port = mosquitto[1]
    basis = {"id": "b1", "resident_id": "r-7", "measure": "exit_door", "kinds": ["door.opened"],
             "basis": "consent", "decided_by": "r-7", "reference": "ref",
             "valid_from": "2026-01-01T00:00:00+00:00", "valid_to": None, "review_at": None}
    views = [DeviceView(Device("door-9", unique_site, "gw-1", "MCCGQ11LM"),
                        PlacementRecord("door-9", "u1", resident_id="r-7")),
             DeviceView(Device("door-x", unique_site, "gw-2", "MCCGQ11LM"), None)]
    hub_cfg = build_config(unique_site, "gw-1", views, [basis_from_json(basis)],
                           datetime.now(UTC))
    assert [d["id"] for d in hub_cfg["devices"]] == ["door-9"]
    sync = GatewaySync("127.0.0.1", port, client_id=f"{unique_site}-sync")
    sync.start()
    collector = Collector("127.0.0.1", port, f"trygg/v1/{unique_site}/#")
    cfg = config(unique_site, port, tmp_path, devices=[])
    try:
        wait_for(lambda: sync.client.is_connected(), 10, "sync connected")
        sync.publish_config(unique_site, "gw-1", hub_cfg)
        gw = Gateway(cfg)
        gw.start()
        try:
            wait_for(lambda: "door-9" in gw.pipeline.by_id, 10, "config applied")
            wait_for(lambda: gw.skew.offset_ms is not None, 10, "clock skew measured")
            assert abs(gw.skew.offset_ms or 0) < 1000  # same machine, same clock
        finally:
            gw.stop()
        # Restart with the hub's broker gone: the cached config still knows the door
        # and the resident's basis.
        offline = config(unique_site, port, tmp_path, devices=[],
                         uplink=BrokerConfig(port=1, client_id="nobody"))
        again = Gateway(offline)
        assert "door-9" in again.pipeline.by_id
        assert again.pipeline.by_id["door-9"].resident_id == "r-7"
        assert again.pipeline.bases
        again.outbox.close()
    finally:
        collector.close()
        sync.client.publish(f"trygg/v1/{unique_site}/gw-1/config", b"", qos=1, retain=True)
        sync.stop()
