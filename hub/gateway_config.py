"""Config sync, hub side: each gateway's devices, placements and legal bases, and the time.

``build_config`` turns the registry into one gateway's config: the devices it
serves (protocol and model; Zigbee2MQTT friendly name = device id unless the
device's wiring says otherwise), each device's resident id (the gateway needs
it for the consent check; it never leaves the gateway in an event), and the
legal bases of those residents (``rules.consent.basis_to_json``), so the
gateway filters before anything is queued. ``GatewaySync`` publishes it
retained on ``trygg/v1/{site}/{gateway}/config`` (QoS 1) and answers clock
probes: a request ``{"t0": ...}`` on ``trygg/v1/{site}/{gateway}/time/request``
gets ``{"t0": <echo>, "hub": <hub time>}`` on ``trygg/v1/{site}/{gateway}/time``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.store.base import DeviceView
from rules.consent import LegalBasis, basis_to_json

log = logging.getLogger("trygg.hub.gateway_config")

TIME_REQUESTS = "trygg/v1/+/+/time/request"


def config_topic(site: str, gateway: str) -> str:
    return f"trygg/v1/{site}/{gateway}/config"


def build_config(site: str, gateway: str, devices: Iterable[DeviceView],
                 bases: Iterable[LegalBasis], now: datetime, version: int = 1,
                 timezone: str = "Europe/Oslo",
                 wiring: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    wiring = wiring or {}
    out_devices: list[dict[str, Any]] = []
    residents: set[str] = set()
    for view in devices:
        d = view.device
        if d.site != site or d.gateway != gateway:
            continue
        entry: dict[str, Any] = {"id": d.id, "protocol": "z2m", "model": d.type,
                                 "friendly_name": d.id}
        entry.update(wiring.get(d.id, {}))
        resident = view.placement.resident_id if view.placement else None
        if resident:
            entry["resident_id"] = resident
            residents.add(resident)
        out_devices.append(entry)
    return {
        "version": version,
        "hub_time": now.isoformat(),
        "timezone": timezone,
        "devices": out_devices,
        "bases": [basis_to_json(b) for b in bases if b.resident_id in residents],
    }


def time_reply(payload: bytes, now: datetime) -> bytes | None:
    try:
        t0 = json.loads(payload)["t0"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(t0, str) or len(t0) > 64:
        return None
    return json.dumps({"t0": t0, "hub": now.isoformat()}).encode()


class GatewaySync:
    """A small paho client of its own: retained configs out, clock probes answered."""

    def __init__(self, host: str, port: int, client_id: str = "trygg-hub-sync",
                 username: str | None = None, password: str | None = None, protocol: int = 5,
                 tls: bool = False, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5 if protocol == 5 else mqtt.MQTTv311)
        if username:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set_context(ssl.create_default_context())
        self.on_connected: Callable[[], None] | None = None  # set by ConfigPublisher
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 30)
        self.host, self.port = host, port

    def start(self) -> None:
        self.client.connect_async(self.host, self.port)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe(TIME_REQUESTS, qos=0)
        if self.on_connected is not None:
            self.on_connected()

    def publish_config(self, site: str, gateway: str, config: Mapping[str, Any]) -> None:
        self.client.publish(config_topic(site, gateway), json.dumps(config), qos=1, retain=True)

    def _on_message(self, client: mqtt.Client, _: Any, message: mqtt.MQTTMessage) -> None:
        reply = time_reply(bytes(message.payload), self.clock())
        if reply is not None:
            topic = message.topic.rsplit("/", 1)[0]  # .../time/request -> .../time
            client.publish(topic, reply, qos=0)


def publish_all(sync: GatewaySync, devices: list[DeviceView], bases: list[LegalBasis],
                now: datetime, timezone: str = "Europe/Oslo") -> int:
    """Publish every gateway's config that the registry knows; return how many."""
    gateways = sorted({(v.device.site, v.device.gateway) for v in devices if v.device.gateway})
    for site, gateway in gateways:
        sync.publish_config(site, gateway, build_config(site, gateway, devices, bases, now,
                                                        version=int(now.timestamp() * 1000),
                                                        timezone=timezone))
    return len(gateways)


# --- config sync on change --------------------------------------------------------

_listeners: set[Callable[[], None]] = set()
_listeners_lock = threading.Lock()


def config_changed() -> None:
    """The hook: devices, placements or legal bases changed; republish what differs.

    Cheap and thread-safe; every :class:`ConfigPublisher` running in this process
    rebuilds the configs and publishes those whose content changed.
    """
    with _listeners_lock:
        listeners = list(_listeners)
    for poke in listeners:
        poke()


Snapshot = tuple[list[DeviceView], list[LegalBasis], Mapping[str, str]]


def _content_digest(config: Mapping[str, Any]) -> str:
    """What a gateway acts on: not the version or the hub's clock."""
    body = {k: v for k, v in config.items() if k not in ("version", "hub_time")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


class ConfigPublisher:
    """Publishes each gateway's config at start and again whenever its content changes."""

    def __init__(self, sync: GatewaySync, load: Callable[[], Awaitable[Snapshot]],
                 reconcile_s: float = 60.0, default_timezone: str = "Europe/Oslo") -> None:
        self.sync = sync
        self.load = load
        self.reconcile_s = reconcile_s
        self.default_timezone = default_timezone
        self.published: dict[tuple[str, str], str] = {}  # (site, gateway) -> content digest
        self.publications = 0
        self._version = 0
        self._force = False
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def poke(self, force: bool = False) -> None:
        """Rebuild soon (from any thread); ``force`` republishes even unchanged configs."""
        self._force = self._force or force
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self._loop.call_soon_threadsafe(self._wake.set)

    def publish_changed(self, snapshot: Snapshot, now: datetime, force: bool = False) -> int:
        devices, bases, zones = snapshot
        # A device on the shelf is on no gateway (gateway ""): nothing to publish for it.
        on_gateways = {(v.device.site, v.device.gateway) for v in devices if v.device.gateway}
        gateways = on_gateways | set(self.published)
        sent = 0
        for site, gateway in sorted(gateways):
            config = build_config(site, gateway, devices, bases, now, 0,
                                  zones.get(site, self.default_timezone))
            digest = _content_digest(config)
            if not force and self.published.get((site, gateway)) == digest:
                continue
            self._version = max(self._version + 1, int(now.timestamp() * 1000))
            config["version"] = self._version
            self.sync.publish_config(site, gateway, config)
            self.published[(site, gateway)] = digest
            sent += 1
        self.publications += sent
        if sent:
            log.info("gateway configs published", extra={"count": sent})
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.sync.on_connected = lambda: self.poke(force=True)
        with _listeners_lock:
            _listeners.add(self.poke)
        try:
            while not stop.is_set():
                force, self._force = self._force, False
                try:
                    self.publish_changed(await self.load(), self.sync.clock(), force)
                except Exception:  # the store is down: keep the last configs, try again
                    log.exception("gateway config sync failed; retrying")
                    self._force = self._force or force
                stopping = asyncio.ensure_future(stop.wait())
                woken = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({stopping, woken}, timeout=self.reconcile_s,
                                   return_when=asyncio.FIRST_COMPLETED)
                for task in (stopping, woken):
                    task.cancel()
                self._wake.clear()
                await asyncio.sleep(0.05)  # let a burst of writes settle into one rebuild
        finally:
            with _listeners_lock:
                _listeners.discard(self.poke)


async def run_gateway_sync(sync: GatewaySync, stop: asyncio.Event,
                           load: Callable[[], Awaitable[Snapshot]],
                           reconcile_s: float = 60.0) -> None:
    """Keep the sync client up for the hub's lifetime; configs published on every change."""
    sync.start()
    try:
        await ConfigPublisher(sync, load, reconcile_s).run(stop)
    finally:
        sync.stop()
