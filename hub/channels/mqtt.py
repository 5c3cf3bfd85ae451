"""MQTT to staff handhelds: ``trygg/v1/{site}/staff/{staff_id}/notify`` (QoS 1),
receipts back on ``trygg/v1/{site}/staff/{staff_id}/receipts``.

One aiomqtt connection of its own (the hub's ingest link is tuned for a
firehose of events; notifications must not queue behind it), reconnected
with backoff. A publish counts as delivered when the broker acknowledges it
(PUBACK); the handheld's own ``delivered``/``read`` receipts are recorded.
The broker's ACL must let each handheld read only its own notify topic and
write only its own receipts topic (see ``deploy/mosquitto``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import aiomqtt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.channels.base import ChannelDown, Message, with_retries

log = logging.getLogger("trygg.channels.mqtt")

RECEIPTS = "trygg/v1/+/staff/+/receipts"


def notify_topic(site: str, staff_id: str) -> str:
    return f"trygg/v1/{site}/staff/{staff_id}/notify"


def receipts_topic(site: str, staff_id: str) -> str:
    return f"trygg/v1/{site}/staff/{staff_id}/receipts"


class ReceiptIn(BaseModel):
    """What a handheld sends back. ``accept``/``reject``/``on_my_way`` are the
    handheld's buttons; ``delivered``/``read`` are receipts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: str = Field(min_length=1, max_length=64)
    status: Literal["delivered", "read", "accept", "reject", "on_my_way"]


@dataclass(frozen=True, slots=True)
class Receipt:
    site: str
    staff_id: str
    alert_id: str
    status: str


def parse_receipt(topic: str, payload: bytes) -> Receipt | None:
    parts = topic.split("/")
    if len(parts) != 6 or parts[:2] != ["trygg", "v1"] or parts[3:6:2] != ["staff", "receipts"]:
        return None
    try:
        body = ReceiptIn.model_validate_json(payload)
    except ValidationError:
        return None
    return Receipt(parts[2], parts[4], body.alert_id, body.status)


class MqttHandheldChannel:
    name = "mqtt"

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        on_receipt: Callable[[Receipt], None],
        *,
        username: str | None = None,
        password: str | None = None,
        attempts: int = 3,
        first_delay: float = 0.5,
        publish_timeout: float = 5.0,
    ) -> None:
        self._params = {
            "hostname": host,
            "port": port,
            "identifier": client_id,
            "username": username,
            "password": password,
            # A notification is one small packet: send it now, not after Nagle's ~40 ms.
            "socket_options": ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        }
        self._on_receipt = on_receipt
        self._attempts = attempts
        self._first_delay = first_delay
        self._timeout = publish_timeout
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()

    async def deliver(self, message: Message) -> None:
        payload = json.dumps(message.body(), separators=(",", ":")).encode()
        topic = notify_topic(message.site, message.recipient)

        async def publish() -> None:
            client = self._client
            if client is None:
                raise ChannelDown("not connected to the broker")
            await client.publish(topic, payload, qos=1, timeout=self._timeout)

        await with_retries(publish, "mqtt", self._attempts, self._first_delay)

    async def run(self, stop: asyncio.Event, backoff_max: float = 10.0) -> None:
        """Stay connected and read receipts until ``stop`` is set."""
        delay = 0.2
        while not stop.is_set():
            try:
                async with aiomqtt.Client(**self._params) as client:  # type: ignore[arg-type]
                    await client.subscribe(RECEIPTS, qos=1)
                    self._client = client
                    self.connected.set()
                    delay = 0.2
                    await self._read(client, stop)
            except aiomqtt.MqttError as exc:
                log.warning("handheld channel lost the broker: %s; retrying in %.1f s", exc, delay)
            finally:
                self._client = None
                self.connected.clear()
            if not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, backoff_max)

    async def _read(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        reader = asyncio.ensure_future(self._messages(client))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, stopper):
                task.cancel()
            await asyncio.gather(reader, stopper, return_exceptions=True)
        if reader.done() and not reader.cancelled():
            error = reader.exception()
            if error is not None:
                raise error

    async def _messages(self, client: aiomqtt.Client) -> None:
        async for msg in client.messages:
            receipt = parse_receipt(str(msg.topic), bytes(msg.payload))
            if receipt is None:
                log.warning("bad receipt ignored", extra={"topic": str(msg.topic)})
                continue
            try:
                self._on_receipt(receipt)
            except Exception:
                log.exception("receipt handler failed", extra={"alert_id": receipt.alert_id})
