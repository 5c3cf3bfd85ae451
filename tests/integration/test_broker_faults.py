"""Broker faults: it goes away and comes back (the hub reconnects by itself and
what was published meanwhile arrives exactly once), and a backlog larger than
the hub can hold (the hub's inbox stays bounded, the broker keeps the rest)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import uuid6

from devices.events import make_event
from hub.mqtt import BrokerSettings, MqttAlertPublisher, run_ingest
from hub.service import Hub
from hub.store.base import AlertFilter, EventFilter
from hub.store.memory import MemoryStore

from conftest import IN_CI, free_port

pytestmark = pytest.mark.mqtt
SITE = "reconnect-site"


class PrivateMosquitto:
    """A Mosquitto of our own on a free port, so the test may stop and start it."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            if IN_CI:
                pytest.fail("mosquitto is not installed (CI must provide it)")
            pytest.skip("mosquitto is not installed")
        self.binary = binary
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {workdir}/\nmax_queued_messages 0\n"
            # Run as root, Mosquitto would drop to its own user, which cannot
            # write into pytest's private temp folder; as anyone else this is ignored.
            "user root\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: Mosquitto saves its persistence file
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    broker = PrivateMosquitto(tmp_path)
    broker.start()
    yield broker
    broker.stop()


async def _until(predicate: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def _publish(port: int, kinds: list[str]) -> list[str]:
    ids = []
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"pub-{uuid6.uuid7()}") as client:
        for i, kind in enumerate(kinds):
            event = make_event(
                id=str(uuid6.uuid7()),
                site=SITE,
                gateway="gw-1",
                device=f"dev-{i}",
                kind=kind,
                ts=datetime.now(UTC),
                seq=i + 1,
            )
            await client.publish(f"trygg/v1/{SITE}/gw-1/events", event.model_dump_json(), qos=1)
            ids.append(event.id)
    return ids


async def _connect_with_retry(port: int) -> None:
    for _ in range(100):
        try:
            async with aiomqtt.Client("127.0.0.1", port):
                return
        except aiomqtt.MqttError:
            await asyncio.sleep(0.05)
    raise AssertionError("broker did not come up")


async def test_hub_reconnects_and_loses_nothing(private_broker: PrivateMosquitto) -> None:
    await _connect_with_retry(private_broker.port)
    store = MemoryStore()
    hub = Hub(store)
    await hub.start()
    stop = asyncio.Event()
    settings = BrokerSettings(
        port=private_broker.port, client_id="hub-reconnect", backoff_max_s=0.5
    )
    ingest = asyncio.create_task(run_ingest(hub, settings, MqttAlertPublisher(), stop))
    try:
        await _until(lambda: hub.broker_connected)
        first = await _publish(private_broker.port, ["room.motion", "alarm.button"])
        await _until(lambda: len(store.list_events(EventFilter())) == 2)

        private_broker.stop()
        await _until(lambda: not hub.broker_connected)
        private_broker.start()
        await _connect_with_retry(private_broker.port)
        # Published before the hub is back: the broker keeps them for its session.
        later = await _publish(private_broker.port, ["fall.detected", "room.motion"])
        await _until(lambda: hub.broker_connected)
        await _until(lambda: len(store.list_events(EventFilter())) == 4)
        stored = [s.event.id for s in store.list_events(EventFilter())]
        assert sorted(stored) == sorted(first + later)
        kinds = sorted(a.kind for a in store.list_alerts(AlertFilter()))
        assert kinds == ["alarm.button", "fall.detected"]
        reconnects = hub.metrics.registry.get_sample_value("trygg_broker_reconnects_total")
        assert reconnects is not None and reconnects >= 1
    finally:
        stop.set()
        await asyncio.wait_for(ingest, 10)
        await hub.stop()


async def test_a_hub_restarting_onto_a_backlog_holds_a_bounded_inbox(
    private_broker: PrivateMosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import hub.mqtt

    monkeypatch.setattr(hub.mqtt, "INBOX", 50)
    links: list[hub.mqtt._Link] = []

    class RecordingLink(hub.mqtt._Link):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            links.append(self)

    monkeypatch.setattr(hub.mqtt, "_Link", RecordingLink)
    await _connect_with_retry(private_broker.port)
    store = MemoryStore()
    h = Hub(store)
    await h.start()
    settings = BrokerSettings(port=private_broker.port, client_id="hub-backlog")

    # First run: the session and its subscription exist; then the hub is away.
    stop = asyncio.Event()
    ingest = asyncio.create_task(run_ingest(h, settings, MqttAlertPublisher(), stop))
    await _until(lambda: h.broker_connected)
    stop.set()
    await asyncio.wait_for(ingest, 10)
    sent = await _publish(private_broker.port, ["room.motion"] * 1000)

    # Second run: the broker pours the backlog onto a hub that is slow to handle it.
    handle = h.handle_message
    waiting: list[int] = []

    def slow(payload: bytes, topic: str, ack: Any = None) -> None:
        waiting.append(links[-1]._inbox.qsize())
        time.sleep(0.0005)
        handle(payload, topic, ack)

    h.handle_message = slow  # type: ignore[method-assign]
    stop = asyncio.Event()
    ingest = asyncio.create_task(run_ingest(h, settings, MqttAlertPublisher(), stop))
    try:
        await _until(lambda: len(store.list_events(EventFilter(limit=5000))) == 1000, timeout=60)
        assert {s.event.id for s in store.list_events(EventFilter(limit=5000))} == set(sent)
        assert 25 < max(waiting) <= 50  # a backlog built, and stayed within the inbox
    finally:
        stop.set()
        await asyncio.wait_for(ingest, 10)
        await h.stop()


async def test_a_slow_store_bounds_the_events_waiting_in_memory(
    private_broker: PrivateMosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Backpressure reaches the broker: with the store behind, the hub holds at most
    PENDING_MAX handled events (and its inbox); everything is stored in the end."""
    import time

    import hub.mqtt

    monkeypatch.setattr(hub.mqtt, "INBOX", 50)
    monkeypatch.setattr(hub.mqtt, "PENDING_MAX", 100)
    await _connect_with_retry(private_broker.port)

    class SlowStore(MemoryStore):
        def append_events(self, events: Any) -> int:
            time.sleep(0.02)  # a database that takes its time (on the store thread)
            return super().append_events(events)

    store = SlowStore()
    h = Hub(store)
    await h.start()
    settings = BrokerSettings(port=private_broker.port, client_id="hub-slow-store")
    stop = asyncio.Event()
    ingest = asyncio.create_task(run_ingest(h, settings, MqttAlertPublisher(), stop))
    await _until(lambda: h.broker_connected)
    stop.set()
    await asyncio.wait_for(ingest, 10)
    sent = await _publish(private_broker.port, ["room.motion"] * 1000)

    peak = 0
    stop = asyncio.Event()
    ingest = asyncio.create_task(run_ingest(h, settings, MqttAlertPublisher(), stop))
    try:
        deadline = time.monotonic() + 60
        while len(store.list_events(EventFilter(limit=5000))) < 1000:
            assert time.monotonic() < deadline, "not all events stored in 60 s"
            peak = max(peak, h.queued_events)
            await asyncio.sleep(0.001)
        assert {s.event.id for s in store.list_events(EventFilter(limit=5000))} == set(sent)
        assert 50 < peak <= 100  # the store fell behind, and the hub took no more than allowed
    finally:
        stop.set()
        await asyncio.wait_for(ingest, 10)
        await h.stop()
