"""A paho client that reads the socket in large chunks and keeps reading while it can.

paho-mqtt 2.x reads one message with three or four ``recv`` calls (the command
byte, each byte of the remaining length, then the rest) and handles one packet
per ``select`` round when nothing of its own is in flight, so a hub that only
receives pays about five system calls and a thread switch per event. Profiling
``trygg bench ingest --store postgres`` showed paho's network thread as the
largest CPU user in the hub process, most of it in ``select`` and ``recv``.

:class:`ReadAheadClient` changes three things and nothing else:

- ``_sock_recv`` serves paho's small reads from a buffer filled by one
  ``recv`` of up to :data:`READ_AHEAD` bytes; a new socket (reconnect) starts
  with an empty buffer.
- ``loop_read`` handles packets until the buffer and the socket are both
  empty, or after :data:`YIELD_AFTER` packets once the buffer is (paho's
  would stop after one and wait in ``select`` even with bytes in the
  buffer), writing queued packets (PUBACKs) every
  :data:`WRITE_EVERY` packets so acknowledgements never wait for a quiet
  moment.
- ``_handle_publish`` decodes an MQTT 5 PUBLISH that carries no properties
  (what Mosquitto sends the hub: a zero property length) without building a
  paho ``Properties`` object, which alone cost more CPU than the rest of the
  decoding (about 35 of 60 µs per message on this machine under load;
  ``message.properties`` is None then, as for MQTT 3.1.1). A PUBLISH with
  properties, or any other protocol or QoS, goes through paho's own code.

Backpressure is unchanged: ``on_message`` still blocks on the hub's full
inbox, and then nothing more is read. ``_sock_recv`` is a private paho method;
:func:`supported` checks it exists (the adapter falls back to the plain client
otherwise) and the MQTT integration tests run through this class.
"""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.client import MQTTMessage
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion

READ_AHEAD = 64 * 1024
WRITE_EVERY = 256
YIELD_AFTER = 10_000  # packets; then back to paho's loop (keepalive, stop) once the buffer is empty
_LOG_PUBLISH = "Received PUBLISH (d%d, q%d, r%d, m%d), '%s', properties=%s, ...  (%d bytes)"


def supported() -> bool:
    return callable(getattr(mqtt.Client, "_sock_recv", None))


class ReadAheadClient(mqtt.Client):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ahead = b""
        self._ahead_pos = 0
        self._ahead_sock: object = None

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._ahead_sock is not self._sock:  # a new connection: nothing of the old one
            self._ahead, self._ahead_pos, self._ahead_sock = b"", 0, self._sock
        pos = self._ahead_pos
        if pos >= len(self._ahead):
            data = super()._sock_recv(max(bufsize, READ_AHEAD))  # raises BlockingIOError
            if len(data) <= bufsize:  # EOF (b"") or no more than asked: nothing to keep
                self._ahead, self._ahead_pos = b"", 0
                return data
            self._ahead, pos = data, 0
        end = pos + bufsize
        self._ahead_pos = end
        return self._ahead[pos:end]

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        handled = 0
        while True:
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                return MQTTErrorCode.MQTT_ERR_SUCCESS
            handled += 1
            if handled >= YIELD_AFTER and self._ahead_pos >= len(self._ahead):
                return MQTTErrorCode.MQTT_ERR_SUCCESS  # select sees what the socket holds
            if handled % WRITE_EVERY == 0 and self.want_write():
                rc = self.loop_write()
                if rc:
                    return rc

    def _handle_publish(self) -> MQTTErrorCode:
        command: int = self._in_packet["command"]
        packet: bytes | bytearray = self._in_packet["packet"]
        qos = (command & 0x06) >> 1
        # MQTT 5 PUBLISH, QoS 1: topic length (2), topic, packet id (2), property length.
        size = int.from_bytes(packet[:2], "big") if len(packet) >= 2 else 0
        props_at = 2 + size + 2
        if (
            self._protocol != MQTTProtocolVersion.MQTTv5
            or qos != 1
            or size == 0  # a topic alias: it comes with properties
            or len(packet) <= props_at
            or packet[props_at] != 0
        ):
            return super()._handle_publish()
        mid = int.from_bytes(packet[2 + size : props_at], "big")
        message = MQTTMessage(mid, bytes(packet[2 : 2 + size]))
        message.dup = bool(command & 0x08)
        message.qos = 1
        message.retain = bool(command & 0x01)
        message.payload = bytes(packet[props_at + 1 :])
        if self.on_log is not None or self._logger is not None:
            topic = message._topic.decode("utf-8", "backslashreplace")
            self._easy_log(mqtt.MQTT_LOG_DEBUG, _LOG_PUBLISH, message.dup, message.qos,
                           message.retain, message.mid, topic, None, len(message.payload))  # fmt: skip
        message.timestamp = mqtt.time_func()
        self._handle_on_message(message)
        if self._manual_ack:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return self._send_puback(message.mid)
