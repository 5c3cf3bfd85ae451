"""Input adapters: the local broker (Zigbee2MQTT, OwnTracks) and serial lines.

Thin: each turns bytes into an :class:`Item` on the gateway's bounded inbox
and does nothing else. The local MQTT session is persistent and acks are
manual: a message is acknowledged only after the writer has committed what
came of it to the outbox (``Item.ack``). When the inbox is full the paho
thread blocks, stops reading its socket, and the local broker holds the rest
(backpressure instead of memory growth). A serial line has no ack to give;
its bytes are framed by :class:`devices.framing.LineFramer`, which survives
one byte at a time, noise and partial lines.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
import serial
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from devices.framing import LineFramer
from gateway.config import BrokerConfig

log = logging.getLogger("trygg.gateway.inputs")

SESSION_EXPIRY_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class Item:
    source: str  # "z2m", "z2m_availability", "owntracks", "serial"
    key: str  # friendly name, OwnTracks topic, or device id
    payload: bytes
    ack: Callable[[], None] | None = None
    mid: int | None = None  # the local broker's packet id (QoS 1): see gateway/redelivery.py
    dup: bool = False  # the broker's DUP flag: it sent this message before


class LocalMqtt:
    def __init__(self, cfg: BrokerConfig, client_id: str, z2m_base: str, owntracks_base: str,
                 inbox: queue.Queue[Item]) -> None:
        self.cfg = cfg
        self.z2m = z2m_base.rstrip("/")
        self.owntracks = owntracks_base.rstrip("/")
        self.inbox = inbox
        self.connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5, manual_ack=True)
        if cfg.username:
            self.client.username_pw_set(cfg.username, cfg.secret())
        self.client.reconnect_delay_set(1, 10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.on_message = self._on_message

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s,
                                  clean_start=False, properties=props)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, c: mqtt.Client, _: Any, __: Any, rc: ReasonCode, ___: Any) -> None:
        if rc.is_failure:
            log.error("local broker refused", extra={"reason": str(rc)})
            return
        c.subscribe([(f"{self.z2m}/+", 1), (f"{self.z2m}/+/availability", 1),
                     (f"{self.owntracks}/+/+", 1)])
        self.connected.set()

    def _on_message(self, c: mqtt.Client, _: Any, m: mqtt.MQTTMessage) -> None:
        payload = bytes(m.payload)
        item = self._item(m.topic, payload)
        ack = self._acker(m.mid, m.qos)
        if item is None:
            ack()  # not ours (bridge/..., a set topic): nothing to keep
            return
        mid = m.mid if m.qos else None
        # Blocks when full (backpressure).
        self.inbox.put(Item(item[0], item[1], payload, ack, mid, bool(m.dup)))

    def _item(self, topic: str, payload: bytes) -> tuple[str, str] | None:
        parts = topic.split("/")
        if topic.startswith(self.z2m + "/"):
            rest = parts[len(self.z2m.split("/")):]
            if len(rest) == 1 and rest[0] != "bridge":
                return "z2m", rest[0]
            if len(rest) == 2 and rest[1] == "availability":
                return "z2m_availability", rest[0]
            return None
        if topic.startswith(self.owntracks + "/"):
            return "owntracks", topic
        return None

    def _acker(self, mid: int, qos: int) -> Callable[[], None]:
        def ack() -> None:
            if qos:
                self.client.ack(mid, qos)
        return ack

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1)


class SerialLine:
    """One serial device (``serial_for_url``: a tty, a pty, ``socket://``, ``rfc2217://``)."""

    def __init__(self, url: str, device_id: str, baudrate: int, inbox: queue.Queue[Item]) -> None:
        self.url = url
        self.device_id = device_id
        self.baudrate = baudrate
        self.inbox = inbox
        self.framer = LineFramer()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"serial-{device_id}", daemon=True)
        self.connected = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=0.2)
            except (serial.SerialException, OSError, ValueError) as exc:
                log.warning("serial open failed", extra={"device": self.device_id,
                                                         "error": str(exc)})
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.5
            self.connected.set()
            try:
                self._read(port)
            except (serial.SerialException, OSError) as exc:
                log.warning("serial line lost", extra={"device": self.device_id,
                                                       "error": str(exc)})
            finally:
                self.connected.clear()
                port.close()

    def _read(self, port: serial.Serial) -> None:
        while not self._stop.is_set():
            chunk = port.read(max(1, port.in_waiting or 1))
            if not chunk:
                continue
            for line in self.framer.feed(chunk):
                self.inbox.put(Item("serial", self.device_id, line.encode()))
