"""Serial devices over a real pty pair and over socket://: framing survives a real line."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from devices import nmea
from devices.reading import Reading
from gateway.config import BrokerConfig, DeviceConfig, GatewayConfig
from gateway.service import Gateway
from simulators.emulate.serialdev import SerialDevice

from gwhelpers import Collector, wait_for

pytestmark = [pytest.mark.serial, pytest.mark.mqtt]


def test_nmea_and_stove_guard_over_pty_one_byte_at_a_time_with_noise(
        mosquitto: tuple[str, int], unique_site: str, tmp_path: Path) -> None:
    gps, stove = SerialDevice(), SerialDevice()
    cfg = GatewayConfig(
        site=unique_site, gateway="gw-1", data_dir=tmp_path, local=None,
        uplink=BrokerConfig(port=mosquitto[1], client_id=f"{unique_site}-up"),
        devices=[DeviceConfig(id="gps-1", protocol="nmea", serial_url=gps.port),
                 DeviceConfig(id="stove-1", protocol="stoveguard", serial_url=stove.port)])
    collector = Collector("127.0.0.1", mosquitto[1], f"trygg/v1/{unique_site}/gw-1/events")
    gw = Gateway(cfg)
    gw.start()
    try:
        assert gw.uplink.wait_connected(10)
        wait_for(lambda: all(s.connected.is_set() for s in gw.serial), 10, "serial open")
        from datetime import UTC, datetime
        at = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)
        gps.write(b"\x00\xffnoise-before-the-first-sentence")  # a receiver powering up
        gps.write(nmea.encode_rmc(59.91, 10.75, 1.2, at), chunk=1)
        gps.write(b"$GPGGA,garbled*00\r\n")  # bad checksum: counted, not sent
        gps.write(nmea.encode_gga(59.92, 10.76, 1.0, at), chunk=3)
        stove.stove(Reading("stove.on", {"power_w": 1500.0}), chunk=1)
        stove.write(b"$TSG,CUT")  # a partial line, completed in the next write
        stove.write(b"OFF,temperature,320*" + b"%02X" % _xor(b"TSG,CUTOFF,temperature,320")
                    + b"\r\n")
        wait_for(lambda: len(collector.payloads("/events")) >= 4, 10, "serial events")
        got = [(e["device"], e["kind"]) for e in collector.payloads("/events")]
        assert sorted(got) == sorted([("gps-1", "gps.position"), ("gps-1", "gps.position"),
                                      ("stove-1", "stove.on"), ("stove-1", "stove.cutoff")])
        rmc = next(e for e in collector.payloads("/events") if e.get("data", {}).get("speed_mps"))
        assert rmc["ts"].startswith("2026-11-23T02:30:00")
        assert gw.pipeline.rejected["bad_checksum"] == 1
    finally:
        gw.stop()
        collector.close()
        gps.close()
        stove.close()


def _xor(body: bytes) -> int:
    value = 0
    for b in body:
        value ^= b
    return value


def test_stove_guard_over_socket_url(mosquitto: tuple[str, int], unique_site: str,
                                     tmp_path: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    cfg = GatewayConfig(
        site=unique_site, gateway="gw-1", data_dir=tmp_path, local=None,
        uplink=BrokerConfig(port=mosquitto[1], client_id=f"{unique_site}-up"),
        devices=[DeviceConfig(id="stove-1", protocol="stoveguard",
                              serial_url=f"socket://127.0.0.1:{port}")])
    collector = Collector("127.0.0.1", mosquitto[1], f"trygg/v1/{unique_site}/gw-1/events")
    gw = Gateway(cfg)
    conns: list[socket.socket] = []
    threading.Thread(target=lambda: conns.append(server.accept()[0]), daemon=True).start()
    gw.start()
    try:
        wait_for(lambda: bool(conns), 10, "gateway connected to the socket")
        from devices import stoveguard
        conns[0].sendall(stoveguard.encode(Reading("stove.cutoff", {"reason": "absence"})).encode())
        wait_for(lambda: bool(collector.payloads("/events")), 10, "event")
        [event] = collector.payloads("/events")
        assert (event["kind"], event["data"]["reason"]) == ("stove.cutoff", "absence")
    finally:
        gw.stop()
        collector.close()
        for c in conns:
            c.close()
        server.close()
