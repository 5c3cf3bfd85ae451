"""The hub's read-ahead paho client against the real Mosquitto: a queued backlog of
small and large messages (larger than the read-ahead buffer) arrives whole, in
order, once each; after a reconnect on a fresh socket new messages flow."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.mqtt_readahead import READ_AHEAD, ReadAheadClient, supported
from trygg.bench import find_mosquitto, private_mosquitto

from conftest import IN_CI

pytestmark = [pytest.mark.mqtt, pytest.mark.timeout(60)]


def _client(cls: type[mqtt.Client], client_id: str) -> tuple[mqtt.Client, Properties]:
    c = cls(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
            manual_ack=True)  # fmt: skip
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 300
    return c, props


def _wait(flag: threading.Event, what: str) -> None:
    assert flag.wait(15), f"timed out waiting for {what}"


def test_readahead_is_available_in_this_paho() -> None:
    assert supported()


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A Mosquitto of the test's own: no queue limits (the shared one keeps 1000)."""
    if find_mosquitto() is None:
        if IN_CI:
            pytest.fail("mosquitto is not installed (CI must provide it; see .ci/run)")
        pytest.skip("mosquitto is not installed")
    with private_mosquitto(tmp_path) as where:
        yield where


def test_a_backlog_arrives_whole_in_order_across_buffer_edges(
    private_broker: tuple[str, int], unique_site: str
) -> None:
    host, port = private_broker
    topic = f"trygg/v1/{unique_site}/gw/events"
    client_id = f"ra-{uuid.uuid4().hex[:8]}"
    # Sizes that straddle the read-ahead buffer: many small, some bigger than it.
    sizes = [10 + (n * 37) % 400 for n in range(3000)]
    sizes[100] = READ_AHEAD + 5000
    sizes[2000] = 3 * READ_AHEAD
    payloads = [f"{n:06d}".encode() + bytes([65 + n % 26]) * size for n, size in enumerate(sizes)]

    # A persistent session that is subscribed, then away while the backlog is published.
    sub, props = _client(mqtt.Client, client_id)
    subscribed = threading.Event()
    sub.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    sub.on_subscribe = lambda *_: subscribed.set()
    sub.connect(host, port, clean_start=True, properties=props)
    sub.loop_start()
    _wait(subscribed, "SUBACK")
    sub.disconnect()
    sub.loop_stop()

    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{client_id}-pub")
    pub.connect(host, port)
    pub.loop_start()
    infos = [pub.publish(topic, p, qos=1) for p in payloads]
    for info in infos:
        info.wait_for_publish(15)
    pub.disconnect()
    pub.loop_stop()

    got: list[bytes] = []
    done = threading.Event()
    reader, props = _client(ReadAheadClient, client_id)

    def on_message(c: mqtt.Client, _: object, m: mqtt.MQTTMessage) -> None:
        got.append(m.payload)
        c.ack(m.mid, m.qos)
        if len(got) == len(payloads):
            done.set()

    connects = [threading.Event(), threading.Event()]
    reader.on_message = on_message
    reader.on_connect = lambda *_: connects[0 if not connects[0].is_set() else 1].set()
    reader.connect(host, port, clean_start=False, properties=props)
    reader.loop_start()
    try:
        _wait(done, f"{len(payloads)} messages (got {len(got)})")
        time.sleep(0.3)  # nothing more may come (no duplicates, nothing invented)
        assert len(got) == len(payloads)
        assert got == payloads

        # A fresh socket: the session is empty (all acked) and new messages flow.
        after = threading.Event()
        reader.on_message = lambda c, _, m: (c.ack(m.mid, m.qos), after.set())
        reader.reconnect()
        _wait(connects[1], "the reconnect")
        late = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{client_id}-late")
        late.connect(host, port)
        late.loop_start()
        late.publish(topic, b"after", qos=1).wait_for_publish(10)
        late.disconnect()
        late.loop_stop()
        _wait(after, "a message after reconnecting")
    finally:
        reader.disconnect()
        reader.loop_stop()
