"""The gateways' retained status messages into supervision: a small paho client.

Its own connection (clean session, QoS 1): statuses are retained, so a
(re)connect gets every gateway's latest at once and nothing is lost by not
keeping a session. Messages cross to the event loop with
``call_soon_threadsafe``; a bad one is counted and logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.supervision.core import Supervisor
from hub.supervision.policy import Windows
from hub.supervision.shell import SupervisionService
from hub.supervision.status import STATUS_TOPIC, StatusRejected, parse_status

if TYPE_CHECKING:
    from hub.channels.router import Router
    from hub.service import Hub

log = logging.getLogger("trygg.supervision")


class SupervisionSettings(BaseSettings):
    """``TRYGG_SUPERVISION_ALARM_BUTTON_HOURS`` (4-24, default 12) and
    ``TRYGG_SUPERVISION_BATTERY_LOW_READINGS`` (default 3)."""

    model_config = SettingsConfigDict(env_prefix="TRYGG_SUPERVISION_", extra="ignore")

    alarm_button_hours: float = Field(12.0, ge=4, le=24)
    battery_low_readings: int = Field(3, ge=1, le=20)


class StatusFeed:
    def __init__(self, service: SupervisionService, loop: asyncio.AbstractEventLoop, *,
                 host: str, port: int, client_id: str, username: str | None = None,
                 password: str | None = None, tls: bool = False,
                 ca_file: str | None = None) -> None:
        self.service = service
        self.loop = loop
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(ca_certs=ca_file, cert_reqs=ssl.CERT_REQUIRED)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 30)
        self.host, self.port = host, port

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _: Any, __: Any, rc: Any, ___: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the status feed: %s", rc)
            return
        client.subscribe(STATUS_TOPIC, qos=1)

    def _on_message(self, client: mqtt.Client, _: Any, message: mqtt.MQTTMessage) -> None:
        self.loop.call_soon_threadsafe(self.handle, bytes(message.payload), message.topic)

    def handle(self, payload: bytes, topic: str) -> None:
        if not payload:
            return  # a cleared retained status
        try:
            status = parse_status(payload, topic)
        except StatusRejected as exc:
            self.service.metrics.status_rejected.inc()
            log.warning("gateway status refused: %s", exc)
            return
        try:
            self.service.on_status(status)
        except Exception:
            log.exception("gateway status not applied")


async def run_supervision(service: SupervisionService, feed: StatusFeed | None,
                          stop: asyncio.Event) -> None:
    """Supervise for the hub's lifetime."""
    await service.start()
    if feed is not None:
        feed.start()
    try:
        await stop.wait()
    finally:
        if feed is not None:
            feed.stop()
        service.stop()
        await service.drain()


def build_supervision(hub: Hub, router: Router | None, *, host: str, port: int,
                      client_id: str, username: str | None = None,
                      password: str | None = None, tls: bool = False,
                      ca_file: str | None = None,
                      settings: SupervisionSettings | None = None,
                      ) -> tuple[SupervisionService, StatusFeed]:
    """Supervision for a running hub and its status feed, not yet started."""
    settings = settings or SupervisionSettings()
    windows = Windows({"alarm_button": timedelta(hours=settings.alarm_button_hours)})
    service = SupervisionService(hub, router=router, windows=windows)
    service.supervisor = Supervisor(settings.battery_low_readings)
    feed = StatusFeed(service, asyncio.get_running_loop(), host=host, port=port,
                      client_id=client_id, username=username, password=password, tls=tls,
                      ca_file=ca_file)
    return service, feed


def start_supervision(hub: Hub, router: Router | None, stop: asyncio.Event, *, host: str,
                      port: int, client_id: str, username: str | None = None,
                      password: str | None = None, tls: bool = False,
                      ca_file: str | None = None,
                      settings: SupervisionSettings | None = None) -> asyncio.Task[None]:
    """Build supervision for a running hub and run it until ``stop``."""
    service, feed = build_supervision(hub, router, host=host, port=port, client_id=client_id,
                                      username=username, password=password, tls=tls,
                                      ca_file=ca_file, settings=settings)
    return asyncio.create_task(run_supervision(service, feed, stop), name="trygg-supervision")
