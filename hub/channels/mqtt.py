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
SHIFTS = "trygg/v1/+/staff/+/shift"  # log on/off from the handheld


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


def shift_state_topic(site: str, staff_id: str) -> str:
    """Where the hub answers a log on/off: the handheld's duty state, retained."""
    return f"trygg/v1/{site}/staff/{staff_id}/shift/state"


class ShiftIn(BaseModel):
    """A handheld logging on (to ``units``, default: all of the account's) or off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["logon", "logoff"]
    units: list[str] | None = Field(default=None, max_length=32)


@dataclass(frozen=True, slots=True)
class ShiftRequest:
    site: str
    staff_id: str
    on: bool
    units: tuple[str, ...] | None


def parse_shift(topic: str, payload: bytes) -> ShiftRequest | None:
    parts = topic.split("/")
    if len(parts) != 6 or parts[:2] != ["trygg", "v1"] or parts[3:6:2] != ["staff", "shift"]:
        return None
    try:
        body = ShiftIn.model_validate_json(payload)
    except ValidationError:
        return None
    units = tuple(body.units) if body.units is not None else None
    return ShiftRequest(parts[2], parts[4], body.action == "logon", units)


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
        on_shift: Callable[[ShiftRequest], None] | None = None,
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
        self._on_shift = on_shift
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
                    if self._on_shift is not None:
                        await client.subscribe(SHIFTS, qos=1)
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

    async def publish_state(self, site: str, staff_id: str, body: dict[str, object]) -> None:
        """The handheld's duty state after a log on/off (retained: it sees it on reconnect)."""
        payload = json.dumps(body, separators=(",", ":")).encode()
        topic = shift_state_topic(site, staff_id)

        async def publish() -> None:
            client = self._client
            if client is None:
                raise ChannelDown("not connected to the broker")
            await client.publish(topic, payload, qos=1, retain=True, timeout=self._timeout)

        await with_retries(publish, "mqtt", self._attempts, self._first_delay)

    async def _messages(self, client: aiomqtt.Client) -> None:
        async for msg in client.messages:
            if self._on_shift is not None and str(msg.topic).endswith("/shift"):
                self._shift(str(msg.topic), bytes(msg.payload))
                continue
            receipt = parse_receipt(str(msg.topic), bytes(msg.payload))
            if receipt is None:
                log.warning("bad receipt ignored", extra={"topic": str(msg.topic)})
                continue
            try:
                self._on_receipt(receipt)
            except Exception:
                log.exception("receipt handler failed", extra={"alert_id": receipt.alert_id})

    def _shift(self, topic: str, payload: bytes) -> None:
        request = parse_shift(topic, payload)
        if request is None or self._on_shift is None:
            log.warning("bad shift message ignored", extra={"topic": topic})
            return
        try:
            self._on_shift(request)
        except Exception:
            log.exception("shift handler failed", extra={"topic": topic})
