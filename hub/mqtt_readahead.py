"""A paho client that reads the socket in large chunks and keeps reading while it can.

paho-mqtt 2.x reads one message with three or four ``recv`` calls (the command
byte, each byte of the remaining length, then the rest) and handles one packet
per ``select`` round when nothing of its own is in flight, so a hub that only
receives pays about five system calls and a thread switch per event. Profiling
``trygg bench ingest --store postgres`` showed paho's network thread as the
largest CPU user in the hub process, most of it in ``select`` and ``recv``.

:class:`ReadAheadClient` changes two things and nothing else:

- ``_sock_recv`` serves paho's small reads from a buffer filled by one
  ``recv`` of up to :data:`READ_AHEAD` bytes; a new socket (reconnect) starts
  with an empty buffer.
- ``loop_read`` handles packets until the buffer and the socket are both
  empty, or after :data:`YIELD_AFTER` packets once the buffer is (paho's
  would stop after one and wait in ``select`` even with bytes in the
  buffer), writing queued packets (PUBACKs) every
  :data:`WRITE_EVERY` packets so acknowledgements never wait for a quiet
  moment.

Backpressure is unchanged: ``on_message`` still blocks on the hub's full
inbox, and then nothing more is read. ``_sock_recv`` is a private paho method;
:func:`supported` checks it exists (the adapter falls back to the plain client
otherwise) and the MQTT integration tests run through this class.
"""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

READ_AHEAD = 64 * 1024
WRITE_EVERY = 256
YIELD_AFTER = 10_000  # packets; then back to paho's loop (keepalive, stop) once the buffer is empty


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
