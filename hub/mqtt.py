"""The hub's MQTT adapter: subscribe to every gateway's events, publish alert changes.

The session is persistent and messages are acknowledged by hand, after the
store has committed them (``Hub`` calls the ack), so the broker keeps and
redelivers anything the hub had not stored when it died or lost the
connection. With MQTT 5 the hub announces a large Receive Maximum: the broker
then keeps that many unacknowledged messages in flight, which is what lets the
store commit in batches (MQTT 3.1.1 brokers such as Mosquitto allow only
``max_inflight_messages``, 20 by default, and amqtt speaks only 3.1.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import aiomqtt
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.alerts import Alert
from hub.service import Hub

log = logging.getLogger("trygg.hub.mqtt")

EVENTS_TOPIC = "trygg/v1/+/+/events"
RECEIVE_MAXIMUM = 10_000
SESSION_EXPIRY_S = 7 * 24 * 3600


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
    # How long the broker keeps the hub's session (and queues its events) while
    # the hub is away. MQTT 5 only; 3.1.1 sessions last until the broker drops them.
    session_expiry_s: int = SESSION_EXPIRY_S
    tls: bool = False
    backoff_max_s: float = 30.0


class MqttAlertPublisher:
    """Publishes alert changes to ``trygg/v1/{site}/alerts`` (QoS 1).

    While the broker is away the newest state of each alert is kept and sent
    on reconnect; an older state is never sent after a newer one.
    """

    channel = "mqtt"

    def __init__(self, on_delivered: Callable[[Alert], object] | None = None) -> None:
        self._client: aiomqtt.Client | None = None
        self._waiting: dict[str, Alert] = {}
        # Told about alerts that waited for the broker and have now been delivered.
        self._on_delivered = on_delivered

    async def send(self, alert: Alert) -> bool:
        """True once the broker has acknowledged the message (QoS 1 PUBACK)."""
        client = self._client
        if client is None:
            self._waiting[alert.id] = alert
            return False
        try:
            await client.publish(alerts_topic(alert.site), alert_message(alert), qos=1)
        except aiomqtt.MqttError:
            self._waiting[alert.id] = alert
            return False
        return True

    async def attach(self, client: aiomqtt.Client | None) -> None:
        self._client = client
        if client is None:
            return
        waiting, self._waiting = self._waiting, {}
        for alert in waiting.values():
            if await self.send(alert) and self._on_delivered is not None:
                self._on_delivered(alert)


def _client(settings: BrokerSettings) -> aiomqtt.Client:
    common = {
        "hostname": settings.host,
        "port": settings.port,
        "username": settings.username,
        "password": settings.password,
        "identifier": settings.client_id,
        "tls_params": aiomqtt.TLSParameters() if settings.tls else None,
    }
    if settings.protocol == 5:
        props = Properties(PacketTypes.CONNECT)
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        props.SessionExpiryInterval = settings.session_expiry_s
        return aiomqtt.Client(
            **common,  # type: ignore[arg-type]
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=props,
        )
    return aiomqtt.Client(
        **common,  # type: ignore[arg-type]
        protocol=aiomqtt.ProtocolVersion.V311,
        clean_session=False,
    )


async def run_ingest(
    hub: Hub,
    settings: BrokerSettings,
    publisher: MqttAlertPublisher,
    stop: asyncio.Event,
) -> None:
    """Consume events until ``stop`` is set, reconnecting with backoff."""
    delay = 0.5
    while not stop.is_set():
        try:
            await _session(hub, settings, publisher, stop)
            delay = 0.5
        except aiomqtt.MqttError as exc:
            hub.broker_connected = False
            hub.metrics.broker_connected.set(0)
            hub.metrics.broker_reconnects.inc()
            await publisher.attach(None)
            log.warning("broker connection lost (%s); retrying in %.1f s", exc, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, settings.backoff_max_s)


async def _session(
    hub: Hub, settings: BrokerSettings, publisher: MqttAlertPublisher, stop: asyncio.Event
) -> None:
    async with _client(settings) as client:
        paho = client._client  # aiomqtt has no manual-ack API; paho has (manual_ack_set, ack)
        paho.manual_ack_set(True)
        await client.subscribe(EVENTS_TOPIC, qos=1)
        hub.broker_connected = True
        hub.metrics.broker_connected.set(1)
        await publisher.attach(client)
        log.info("connected to broker %s:%s", settings.host, settings.port)
        consumer = asyncio.create_task(_consume(hub, client))
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait({consumer, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if consumer in done:
                consumer.result()  # re-raise MqttError to reconnect
            else:
                # Commit what we hold so its acks reach the broker before we leave.
                await hub.drain()
        finally:
            for task in (consumer, stopper):
                task.cancel()
            await publisher.attach(None)
            hub.broker_connected = False
            hub.metrics.broker_connected.set(0)


async def _consume(hub: Hub, client: aiomqtt.Client) -> None:
    paho = client._client
    handle = hub.handle_message
    async for message in client.messages:
        payload = message.payload
        if not isinstance(payload, bytes | bytearray):
            payload = str(payload).encode()
        ack = _acker(paho, message.mid, message.qos) if message.qos > 0 else None
        handle(bytes(payload), message.topic.value, ack)


def _acker(paho: mqtt.Client, mid: int, qos: int) -> Callable[[], None]:
    # A message id belongs to one connection (each session has its own client):
    # once it is gone the broker redelivers, and there is nothing to ack.
    def ack() -> None:
        if paho.is_connected():
            paho.ack(mid, qos)

    return ack
