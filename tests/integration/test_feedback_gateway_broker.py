"""A real gateway between two private Mosquittos takes the hub's feedback commands:
duplicates and stale commands are ignored, a bad one is counted, and a ``received``
alone confirms the alarm for the local fallback (no alerts-topic message needed)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devices import catalogue
from devices.events import KINDS
from devices.feedback import FeedbackCommand, FeedbackState
from devices.reading import Reading
from gateway.config import BrokerConfig, DeviceConfig, FallbackConfig, FeedbackConfig, GatewayConfig
from gateway.service import Gateway
from rules.consent import NO_BASIS_KINDS, BasisKind, LegalBasis, basis_to_json
from simulators.emulate.z2m import Z2mBridge

from gwhelpers import Collector, PrivateMosquitto, publisher, wait_for

pytestmark = pytest.mark.mqtt
SITE, GW = "fbgw", "gw-1"
COMMANDS = f"trygg/v1/{SITE}/{GW}/commands"
AT = datetime(2026, 11, 23, 2, 13, tzinfo=UTC)
F = FeedbackState
Brokers = tuple[PrivateMosquitto, PrivateMosquitto]


def siren(state: str) -> dict[str, object]:
    return dict(catalogue.lookup("HS2WD-E").feedback[state])


def command(state: FeedbackState, seconds: int, event_ids: tuple[str, ...] = ("e-0",)) -> bytes:
    return FeedbackCommand(id=f"c-{state}-{seconds}", alert_id="a-1", device="btn-1",
                           event_ids=event_ids, state=state,
                           at=AT + timedelta(seconds=seconds)).to_json()  # fmt: skip


@pytest.fixture
def brokers(tmp_path: Path) -> Iterator[Brokers]:
    up, local = PrivateMosquitto(tmp_path / "up"), PrivateMosquitto(tmp_path / "local")
    up.start()
    local.start()
    yield up, local
    up.stop()
    local.stop()


def make_gateway(tmp_path: Path, up: int, local: int, after_s: float = 30) -> Gateway:
    basis = LegalBasis(id="b1", resident_id="r1", measure="all",
                       kinds=frozenset(KINDS - set(NO_BASIS_KINDS)), basis=BasisKind.CONSENT,
                       decided_by="t", reference="T-1",
                       valid_from=datetime(2000, 1, 1, tzinfo=UTC), valid_to=None,
                       review_at=None)  # fmt: skip
    return Gateway(GatewayConfig(
        site=SITE, gateway=GW, data_dir=tmp_path / "gw",
        uplink=BrokerConfig(port=up, client_id="fbgw-up"),
        local=BrokerConfig(port=local, client_id="fbgw-local"), heartbeat_s=3600,
        devices=[DeviceConfig(id="btn-1", protocol="z2m", model="HS1EB/HS1EB-E",
                              friendly_name="btn-1", resident_id="r1"),
                 DeviceConfig(id="siren-1", protocol="z2m", model="HS2WD-E",
                              friendly_name="siren-1")],
        bases=[basis_to_json(basis)],
        fallback=FallbackConfig(after_s=after_s, mqtt_topic="home/fallback"),
        feedback=FeedbackConfig(devices={"btn-1": "siren-1"})))  # fmt: skip


def test_duplicates_stale_and_bad_commands(tmp_path: Path, brokers: Brokers) -> None:
    up, local = brokers
    gw = make_gateway(tmp_path, up.port, local.port)
    sets = Collector("127.0.0.1", local.port, "zigbee2mqtt/siren-1/set")
    hub = publisher(up.port)
    gw.start()
    try:
        wait_for(gw.uplink.connected.is_set, 15, "uplink")
        wait_for(lambda: gw.local is not None and gw.local.connected.is_set(), 15, "local")
        time.sleep(0.3)  # the uplink's subscriptions follow its CONNACK
        for body in (command(F.RECEIVED, 0), command(F.RECEIVED, 0),  # QoS 1 duplicate
                     b'{"v": 1, "type": "alert_feedback"}',  # not the contract
                     command(F.HELP_ARRIVED, 20), command(F.HELP_COMING, 10),  # late
                     command(F.CLOSED, 30), command(F.CANCELLED, 31)):  # fmt: skip
            hub.publish(COMMANDS, body, qos=1).wait_for_publish(5)
        wait_for(lambda: json.loads(gw.status())["feedback"]["ignored"] == 3, 10, "ignored")
        wait_for(lambda: len(sets.payloads("/set")) == 3, 10, "three sets")
        time.sleep(0.3)
        assert sets.payloads("/set") == [siren("received"), siren("help_arrived"),
                                         siren("closed")]  # fmt: skip
        status = json.loads(gw.status())["feedback"]
        assert status == {"ignored": 3, "rejected": 1, "done": 3, "failed": 0, "dropped": 0}
    finally:
        gw.stop()
        hub.disconnect()
        hub.loop_stop()
        sets.close()


def test_a_received_command_confirms_the_alarm_so_no_fallback_sounds(
    tmp_path: Path, brokers: Brokers
) -> None:
    up, local = brokers
    gw = make_gateway(tmp_path, up.port, local.port, after_s=1.5)
    events = Collector("127.0.0.1", up.port, f"trygg/v1/{SITE}/{GW}/events")
    alarms = Collector("127.0.0.1", local.port, "home/fallback", "zigbee2mqtt/siren-1/set")
    hub = publisher(up.port)
    bridge = Z2mBridge("127.0.0.1", local.port)
    gw.start()
    try:
        wait_for(gw.uplink.connected.is_set, 15, "uplink")
        wait_for(lambda: gw.local is not None and gw.local.connected.is_set(), 15, "local")
        time.sleep(0.3)
        bridge.send("btn-1", "HS1EB/HS1EB-E", Reading("alarm.button", {"press": "single"}))
        wait_for(lambda: bool(events.payloads("/events")), 10, "event on the uplink")
        [event] = events.payloads("/events")
        # The hub answers with feedback only (no alerts-topic message).
        hub.publish(COMMANDS, command(F.RECEIVED, 0, (event["id"],)), qos=1).wait_for_publish(5)
        wait_for(lambda: bool(alarms.payloads("/set")), 5, "received shown")
        time.sleep(2.0)  # past after_s
        assert alarms.payloads("home/fallback") == []
        assert gw.fallback.confirmed == 1 and gw.fallback.sounded == 0
    finally:
        gw.stop()
        bridge.close()
        hub.disconnect()
        hub.loop_stop()
        events.close()
        alarms.close()
