"""The gateway's status payload is a contract with the hub's supervision (docs/gateway.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.config import BrokerConfig, DeviceConfig, GatewayConfig
from gateway.inputs import Item
from gateway.service import STATUS_SCHEMA, Gateway

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

# key -> the types its value may have (None: may be null). The hub side relies on these.
TOP = {"schema": (int,), "online": (bool,), "ts": (str,), "site": (str,), "gateway": (str,),
       "software": (dict,), "heartbeat_s": (float, int), "started_at": (str,),
       "config_version": (int, type(None)), "next_seq": (int,), "accepted": (int,),
       "outbox": (dict,), "dropped": (dict,), "rejected": (dict,),
       "redelivered_skipped": (int,), "consent_dropped": (dict,), "unknown": (list,),
       "clock": (dict,), "fallback": (dict,), "uplink": (dict,), "devices": (dict,),
       "feedback": (dict,)}
DEVICE = {"last_seen": (str, type(None)), "battery_pct": (int, type(None)),
          "battery_low": (bool, type(None)), "link_quality": (int, type(None)),
          "online": (bool, type(None))}
CLOCK = {"skew_ms": (float, int, type(None)), "rtt_ms": (float, int, type(None)),
         "measured_at": (str, type(None))}


def _typed(value: dict[str, object], spec: dict[str, tuple[type, ...]]) -> None:
    assert set(value) == set(spec), set(value) ^ set(spec)
    for key, types in spec.items():
        assert isinstance(value[key], types), (key, value[key])


def test_status_carries_what_supervision_needs(tmp_path: Path) -> None:
    clock = [NOW]
    gw = Gateway(GatewayConfig(
        site="s1", gateway="gw-1", data_dir=tmp_path, local=None,
        uplink=BrokerConfig(port=1), heartbeat_s=30,
        devices=[DeviceConfig(id="door-1", protocol="z2m", friendly_name="kari-front",
                              model="SNZB-04"),
                 DeviceConfig(id="door-2", protocol="z2m", friendly_name="ola-back",
                              model="MCCGQ11LM")]), clock=lambda: clock[0])
    try:
        clock[0] = NOW + timedelta(minutes=5)
        gw.process([Item("z2m", "kari-front", json.dumps(
            {"contact": True, "battery": 12, "battery_low": True, "linkquality": 87}).encode()),
            Item("z2m_availability", "ola-back", b'{"state":"offline"}')])
        status = json.loads(gw.status())
        _typed(status, TOP)
        assert status["schema"] == STATUS_SCHEMA == 1
        assert status["online"] is True and status["heartbeat_s"] == 30
        assert status["software"]["name"] == "trygg-gateway" and status["software"]["version"]
        assert status["started_at"] == NOW.isoformat()
        _typed(status["clock"], CLOCK)
        for device in status["devices"].values():
            _typed(device, DEVICE)
        front, back = status["devices"]["door-1"], status["devices"]["door-2"]
        assert front == {"last_seen": (NOW + timedelta(minutes=5)).isoformat(),
                         "battery_pct": 12, "battery_low": True, "link_quality": 87,
                         "online": None}
        assert back["online"] is False and back["last_seen"] is None
        assert json.loads(gw.status(False))["online"] is False  # the will and a clean stop
        # No personal data: friendly names never appear, only device ids.
        assert "kari" not in gw.status().decode() and "ola" not in gw.status().decode()
    finally:
        gw.outbox.close()


def test_the_hubs_supervision_reads_this_status(tmp_path: Path) -> None:
    from hub.supervision.status import parse_status

    gw = Gateway(GatewayConfig(
        site="s1", gateway="gw-1", data_dir=tmp_path, local=None, uplink=BrokerConfig(port=1),
        devices=[DeviceConfig(id="door-1", protocol="z2m", friendly_name="f", model="SNZB-04")]),
        clock=lambda: NOW)
    try:
        gw.process([Item("z2m", "f", b'{"contact": true, "battery": 40}')])
        read = parse_status(gw.status(), "trygg/v1/s1/gw-1/status")
        assert read.online is True and read.ts == NOW
        assert read.devices["door-1"].battery_pct == 40
        assert read.devices["door-1"].last_seen == NOW
        assert parse_status(gw.status(False), "trygg/v1/s1/gw-1/status").online is False
    finally:
        gw.outbox.close()
