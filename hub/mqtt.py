"""The hub's MQTT adapter: take every gateway's events, publish alert changes.

paho-mqtt directly, in its own network thread, for three things the hub
needs and aiomqtt (used by the simulators and tests) does not give:

- **Manual acknowledgement.** The session is persistent and a message is
  acknowledged only after the store has committed it (``Hub`` calls the ack),
  so the broker redelivers whatever the hub had not stored when it died.
- **Backpressure.** Messages pass to the event loop through a bounded inbox,
  and the loop takes from it only while fewer than ``PENDING_MAX`` handled
  events wait for the store. When the hub or its database falls behind, the
  network thread blocks on the full inbox, stops reading the socket, TCP
  pushes back and the broker keeps the rest.
  (A Receive Maximum is announced too, but Mosquitto 2.0.11 sends a new
  window after every PUBACK, so it does not bound the hub's memory.)
- **Reconnection** with backoff (``reconnect_delay_set``), resubscribing on
  every connect; acks from an earlier connection are never sent on a later one.

The loop thread is woken once per burst, not once per message, and paho reads
the socket in large chunks (:mod:`hub.mqtt_readahead`).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hub.alerts import Alert
from hub.mqtt_readahead import ReadAheadClient
from hub.mqtt_readahead import supported as readahead_supported
from hub.service import Hub

log = logging.getLogger("trygg.hub.mqtt")

EVENTS_TOPIC = "trygg/v1/+/+/events"
RECEIVE_MAXIMUM = 10_000
SESSION_EXPIRY_S = 7 * 24 * 3600
INBOX = 5_000  # messages read from the broker and not yet handled
DRAIN_SLICE = 1_000  # messages handled per turn of the event loop
PENDING_MAX = 10_000  # handled events waiting for the store; beyond this the inbox waits
PENDING_POLL_S = 0.005
KEEPALIVE_S = 30


def alerts_topic(site: str) -> str:
    return f"trygg/v1/{site}/alerts"


def alert_message(alert: Alert) -> bytes:
    """The alert as handhelds see it: where and what, never who (no resident id)."""
    return alert.model_dump_json(exclude={"resident_id"}).encode()


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    client_id: str = "trygg-hub"
    protocol: int = 5  # 5, or 4 for MQTT 3.1.1 (the embedded amqtt broker)
    tls: bool = False
    ca_file: str | None = None  # a private CA (deploy/mosquitto/make-certs.sh); None: system CAs
    # How long the broker keeps the hub's session (and queues its events) while
    # the hub is away. MQTT 5 only; 3.1.1 sessions last until the broker drops them.
    session_expiry_s: int = SESSION_EXPIRY_S
    backoff_max_s: float = 30.0


Item = tuple[bytes, str, int, int, int]  # payload, topic, mid, qos, connection


class _Link:
    """One paho client and the hand-over between its thread and the event loop."""

    def __init__(self, hub: Hub, settings: BrokerSettings, loop: asyncio.AbstractEventLoop) -> None:
        self.hub = hub
        self.settings = settings
        self.loop = loop
        self.connection = 0  # bumped on every connect, by the network thread
        self.on_connected: Callable[[bool], None] = lambda up: None
        self._inbox: queue.Queue[Item] = queue.Queue(INBOX)
        self._drain_scheduled = False
        self._closing = False
        self._published: dict[int, asyncio.Future[bool]] = {}
        self.client = self._client()

    def _client(self) -> mqtt.Client:
        s = self.settings
        v5 = s.protocol == 5
        make = ReadAheadClient if readahead_supported() else mqtt.Client
        client = make(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
        )
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        if s.tls:
            client.tls_set(ca_certs=s.ca_file, cert_reqs=ssl.CERT_REQUIRED)
        client.max_queued_messages_set(0)  # alert messages wait for the broker, never dropped
        client.reconnect_delay_set(min_delay=1, max_delay=max(1, int(s.backoff_max_s)))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    def start(self) -> None:
        props = None
        if self.settings.protocol == 5:
            props = Properties(PacketTypes.CONNECT)
            props.ReceiveMaximum = RECEIVE_MAXIMUM
            props.SessionExpiryInterval = self.settings.session_expiry_s
        self.client.connect_async(
            self.settings.host,
            self.settings.port,
            keepalive=KEEPALIVE_S,
            clean_start=False if self.settings.protocol == 5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=props,
        )
        self.client.loop_start()

    def stop(self) -> None:
        # What is still in the inbox was never acked: the broker redelivers it.
        self._closing = True
        self.client.disconnect()
        self.client.loop_stop()
        for future in self._published.values():
            future.cancel()

    # --- network thread ---------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _: Any, __: Any, rc: ReasonCode, ___: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the connection: %s", rc)
            return
        self.connection += 1
        client.subscribe(EVENTS_TOPIC, qos=1)
        self.loop.call_soon_threadsafe(self.on_connected, True)

    def _on_disconnect(
        self, client: mqtt.Client, _: Any, __: Any, rc: ReasonCode, ___: Any
    ) -> None:
        self.loop.call_soon_threadsafe(self.on_connected, False)

    def _on_message(self, client: mqtt.Client, _: Any, message: mqtt.MQTTMessage) -> None:
        # Blocks while the inbox is full: that is the backpressure.
        item = (message.payload, message.topic, message.mid, message.qos, self.connection)
        while True:
            try:
                self._inbox.put(item, timeout=0.2)
                break
            except queue.Full:
                if self._closing:
                    return  # not acked: the broker keeps it
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self.loop.call_soon_threadsafe(self._drain)

    def _on_publish(self, client: mqtt.Client, _: Any, mid: int, rc: ReasonCode, __: Any) -> None:
        self.loop.call_soon_threadsafe(self._published_ok, mid, not rc.is_failure)

    # --- event loop ---------------------------------------------------------------------

    def _drain(self) -> None:
        self._drain_scheduled = False
        room = PENDING_MAX - self.hub.queued_events
        if room <= 0:
            # The store is behind: handled events wait for it in memory. Take no more;
            # the inbox fills, the network thread blocks and the broker keeps the rest.
            self._drain_scheduled = True
            self.loop.call_later(PENDING_POLL_S, self._drain)
            return
        handle = self.hub.handle_message
        inbox = self._inbox
        for _ in range(min(DRAIN_SLICE, room)):
            try:
                payload, topic, mid, qos, connection = inbox.get_nowait()
            except queue.Empty:
                return
            handle(payload, topic, self._acker(mid, qos, connection) if qos else None)
        if not inbox.empty() and not self._drain_scheduled:
            # Let the API and the store's callbacks run between slices.
            self._drain_scheduled = True
            self.loop.call_soon(self._drain)

    def _acker(self, mid: int, qos: int, connection: int) -> Callable[[], None]:
        def ack() -> None:
            # A message id belongs to one connection; after a reconnect the broker
            # redelivers the message instead, and this id may mean another one.
            if connection == self.connection and self.client.is_connected():
                self.client.ack(mid, qos)

        return ack

    def publish(self, topic: str, payload: bytes) -> asyncio.Future[bool]:
        """QoS 1; the future is True once the broker has acknowledged it."""
        info = self.client.publish(topic, payload, qos=1)
        future: asyncio.Future[bool] = self.loop.create_future()
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            future.set_result(False)
        else:
            # Not connected: paho keeps it and sends it on reconnect.
            self._published[info.mid] = future
        return future

    def _published_ok(self, mid: int, ok: bool) -> None:
        future = self._published.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(ok)


class MqttAlertPublisher:
    """Publishes alert changes to ``trygg/v1/{site}/alerts`` (QoS 1).

    Before the first connection the newest state of each alert is kept and
    sent when the link comes; after that paho keeps unsent messages itself.
    """

    channel = "mqtt"

    def __init__(self, on_delivered: Callable[[Alert], object] | None = None) -> None:
        self._link: _Link | None = None
        self._waiting: dict[str, Alert] = {}
        # Told about alerts that waited for the link and have now been delivered.
        self._on_delivered = on_delivered

    async def send(self, alert: Alert) -> bool:
        """True once the broker has acknowledged the message (QoS 1 PUBACK)."""
        link = self._link
        if link is None:
            self._waiting[alert.id] = alert
            return False
        return await link.publish(alerts_topic(alert.site), alert_message(alert))

    def publish(self, topic: str, payload: bytes) -> asyncio.Future[bool]:
        """Another hub message on the same link (QoS 1, e.g. resident feedback), handed
        to paho now; the future is True once the broker acknowledged it, False at once
        while there is no link yet."""
        link = self._link
        if link is None:
            refused: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            refused.set_result(False)
            return refused
        return link.publish(topic, payload)

    async def attach(self, link: _Link | None) -> None:
        self._link = link
        if link is None:
            return
        waiting, self._waiting = self._waiting, {}
        for alert in waiting.values():
            if await self.send(alert) and self._on_delivered is not None:
                self._on_delivered(alert)


async def run_ingest(
    hub: Hub,
    settings: BrokerSettings,
    publisher: MqttAlertPublisher,
    stop: asyncio.Event,
) -> None:
    """Consume events until ``stop`` is set; paho reconnects with backoff."""
    link = _Link(hub, settings, asyncio.get_running_loop())

    def connected(up: bool) -> None:
        if up == hub.broker_connected:
            return
        hub.broker_connected = up
        hub.metrics.broker_connected.set(1 if up else 0)
        if up:
            log.info("connected to broker %s:%s", settings.host, settings.port)
        else:
            hub.metrics.broker_reconnects.inc()
            log.warning("broker connection lost; reconnecting")

    link.on_connected = connected
    link.start()
    await publisher.attach(link)
    try:
        await stop.wait()
        # Commit what we hold so its acks reach the broker before we leave.
        try:
            await hub.drain()
        except TimeoutError:
            log.error("stopping with events not stored; the broker keeps them")
    finally:
        await publisher.attach(None)
        link.stop()
        hub.broker_connected = False
        hub.metrics.broker_connected.set(0)
