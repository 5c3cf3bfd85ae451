"""The read-ahead client's PUBLISH decoding gives what paho's own gives, packet for packet.

Both clients are handed the same incoming PUBLISH (fixed-header byte and the
rest) and the message each passes to ``on_message`` is compared field by field;
only ``properties`` differs, and only where the packet carried none: None
instead of an empty ``Properties``. Packets with properties, other QoS levels
and MQTT 3.1.1 take paho's path in both.
"""

from __future__ import annotations

import struct
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.mqtt_readahead import ReadAheadClient


def _publish(topic: bytes, mid: int, payload: bytes, qos: int, props: bytes, v5: bool,
             dup: bool = False, retain: bool = False) -> tuple[int, bytes]:  # fmt: skip
    command = 0x30 | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    body = struct.pack("!H", len(topic)) + topic
    if qos:
        body += struct.pack("!H", mid)
    if v5:
        body += props
    return command, body + payload


def _received(cls: type[mqtt.Client], command: int, packet: bytes, v5: bool,
              manual_ack: bool = True) -> tuple[Any, list[mqtt.MQTTMessage]]:  # fmt: skip
    client = cls(CallbackAPIVersion.VERSION2, client_id="decode",
                 protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311, manual_ack=manual_ack)  # fmt: skip
    got: list[mqtt.MQTTMessage] = []
    client.on_message = lambda _c, _u, message: got.append(message)
    client._in_packet["command"] = command
    client._in_packet["packet"] = bytearray(packet)
    rc = client._handle_publish()
    return rc, got


def _fields(message: mqtt.MQTTMessage) -> tuple[Any, ...]:
    return (message.topic, message.mid, message.qos, message.dup, message.retain,
            message.payload, type(message.payload))  # fmt: skip


@given(
    topic=st.text(min_size=1, max_size=60).map(str.encode),
    mid=st.integers(1, 65535),
    payload=st.binary(max_size=600),
    dup=st.booleans(),
    retain=st.booleans(),
)
def test_a_v5_publish_without_properties_decodes_as_paho_decodes_it(
    topic: bytes, mid: int, payload: bytes, dup: bool, retain: bool
) -> None:
    command, packet = _publish(topic, mid, payload, 1, b"\x00", True, dup, retain)
    ours_rc, [ours] = _received(ReadAheadClient, command, packet, True)
    paho_rc, [theirs] = _received(mqtt.Client, command, packet, True)
    assert ours_rc == paho_rc == mqtt.MQTT_ERR_SUCCESS
    assert _fields(ours) == _fields(theirs)
    assert ours.properties is None
    assert theirs.properties is not None and not theirs.properties.json()


def _with_properties() -> bytes:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ContentType = "application/json"
    props.UserProperty = ("k", "v")
    packed: bytes = props.pack()  # type: ignore[no-untyped-call]
    return packed


@pytest.mark.parametrize(
    ("qos", "props", "v5"),
    [
        (1, "with", True),  # properties: paho decodes them
        (0, "none", True),
        (2, "none", True),
        (1, "none", False),  # MQTT 3.1.1
        (0, "none", False),
    ],
)
def test_everything_else_takes_paho_s_path(qos: int, props: str, v5: bool) -> None:
    packed = _with_properties() if props == "with" else b"\x00"
    command, packet = _publish(b"trygg/v1/s/g/events", 7, b'{"x":1}', qos, packed, v5)
    ours_rc, ours = _received(ReadAheadClient, command, packet, v5)
    paho_rc, theirs = _received(mqtt.Client, command, packet, v5)
    assert ours_rc == paho_rc
    assert [_fields(m) for m in ours] == [_fields(m) for m in theirs]
    if props == "with":
        assert ours[0].properties is not None
        assert ours[0].properties.ContentType == "application/json"


def test_without_manual_ack_the_puback_is_queued() -> None:
    command, packet = _publish(b"trygg/v1/s/g/events", 9, b"{}", 1, b"\x00", True)
    client = ReadAheadClient(CallbackAPIVersion.VERSION2, client_id="decode", protocol=mqtt.MQTTv5)
    client.on_message = lambda *_: None
    client._in_packet["command"] = command
    client._in_packet["packet"] = bytearray(packet)
    client._handle_publish()
    assert client.want_write()
    assert client._out_packet[-1]["packet"][:1] == b"\x40"  # PUBACK


def test_a_short_packet_is_refused_as_paho_refuses_it() -> None:
    command, packet = 0x32, b"\x00\x05abc"
    with pytest.raises(Exception) as ours:
        _received(ReadAheadClient, command, packet, True)
    with pytest.raises(Exception) as theirs:
        _received(mqtt.Client, command, packet, True)
    assert type(ours.value) is type(theirs.value)
