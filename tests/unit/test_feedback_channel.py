"""The resident feedback notifier on a real Hub (memory store, no broker): what it
publishes, when, and that it never makes an alert ``notified``."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import routing_env
import uuid6

from devices.events import EventBase, make_event
from hub import routing_api
from hub.alerts import AlertState, Command, Outcome
from hub.api import create_app
from hub.auth import TokenIssuer
from hub.channels.router import Router
from hub.feedback_channel import ResidentFeedback
from hub.service import Hub
from hub.store.base import AlertFilter, Device, EventFilter, PlacementRecord, Resident, Site, Unit
from hub.store.memory import MemoryStore
from hub.store.sqlite import SqliteStore

from builders import NOW, basis_change, covering_basis

SITE, GW = "site-1", "gw-1"
TOPIC = f"trygg/v1/{SITE}/{GW}/events"
COMMANDS = f"trygg/v1/{SITE}/{GW}/commands"


class Broker:
    """A fake publish: records (topic, body, monotonic time); answers as told."""

    def __init__(self, answer: Any = True) -> None:
        self.sent: list[tuple[str, dict[str, Any], float]] = []
        self.answer = answer
        self.probe: Callable[[], Any] | None = None  # what the hub had done at each publish
        self.probed: list[Any] = []

    def publish(self, topic: str, payload: bytes) -> asyncio.Future[bool]:
        self.sent.append((topic, json.loads(payload), time.monotonic()))
        if self.probe is not None:
            self.probed.append(self.probe())
        if isinstance(self.answer, Exception):
            raise self.answer
        acked: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(acked.set_result, bool(self.answer))  # the PUBACK
        return acked

    def states(self) -> list[str]:
        return [body["state"] for _, body, _ in self.sent]


class SlowStore(MemoryStore):
    """Event batches wait for ``release``: a loaded database."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def append_events(self, events: Sequence[tuple[EventBase, datetime]]) -> int:
        self.release.wait(10)
        return super().append_events(events)


def seed(store: MemoryStore | SqliteStore) -> None:
    store.upsert_site(Site(id=SITE, name="Testheim"))
    store.upsert_unit(Unit(id="unit-a", site=SITE, name="A"))
    store.upsert_resident(Resident(id="res-1", site=SITE, unit="unit-a", name="Test Person"))
    basis = covering_basis("res-1")
    store.save_basis(basis, basis_change(basis))
    store.upsert_device(Device(id="btn-1", site=SITE, gateway=GW, type="WXKG11LM"))
    store.place(PlacementRecord("btn-1", "unit-a", apartment="Leil. 1", resident_id="res-1"))
    store.upsert_device(Device(id="staff-1", site=SITE, gateway=GW, type="HS1EB/HS1EB-E"))
    store.place(PlacementRecord("staff-1", "unit-a"))


def press(device: str = "btn-1", kind: str = "alarm.button") -> bytes:
    event = make_event(id=str(uuid6.uuid7()), site=SITE, gateway=GW, device=device, kind=kind,
                       ts=datetime.now(UTC), seq=1)  # fmt: skip
    return event.model_dump_json().encode()


async def started(store: MemoryStore | SqliteStore, broker: Broker) -> tuple[Hub, ResidentFeedback]:
    seed(store)
    hub = Hub(store)
    await hub.start()
    feedback = ResidentFeedback(
        broker.publish, lambda d: hub.registry.placement(d), hub.metrics.registry
    )
    hub.add_notifier(feedback)
    return hub, feedback


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    yield Broker()


async def settle(hub: Hub) -> None:
    for _ in range(5):
        await asyncio.sleep(0)
    await hub.drain()


def sample(hub: Hub, name: str, **labels: str) -> float:
    return hub.metrics.registry.get_sample_value(name, labels or None) or 0.0


async def test_a_press_gets_every_state_in_order_and_stays_raised(broker: Broker) -> None:
    hub, feedback = await started(MemoryStore(), broker)
    try:
        hub.handle_message(press(), TOPIC)
        await settle(hub)
        [alert] = hub.open_alerts()
        # The resident's device hearing about it is not staff being told.
        assert alert.state is AlertState.RAISED
        [stored] = hub.store.list_alerts(AlertFilter())
        assert stored.state is AlertState.RAISED
        feedback.expect(alert.id, 6)
        await hub.command(alert.id, Command.ACCEPT, "kari")
        await hub.command(alert.id, Command.ON_SITE, "kari")
        await hub.command(alert.id, Command.RESOLVE, "kari", outcome=Outcome.ASSISTED)
        await settle(hub)
    finally:
        await hub.stop()
    assert broker.states() == ["received", "help_coming", "help_arrived", "closed"]
    assert {topic for topic, _, _ in broker.sent} == {COMMANDS}
    bodies = [body for _, body, _ in broker.sent]
    assert [b["expected_minutes"] for b in bodies] == [None, 6, None, None]
    assert all(b["alert_id"] == alert.id and b["device"] == "btn-1" for b in bodies)
    assert all(b["event_ids"] == list(alert.event_ids) for b in bodies)
    assert len({b["id"] for b in bodies}) == 4
    assert not any("res-1" in json.dumps(b) or "Leil" in json.dumps(b) for b in bodies)
    for state in ("received", "help_coming", "help_arrived", "closed"):
        assert sample(hub, "trygg_feedback_sent_total", state=state) == 1
    assert sample(hub, "trygg_feedback_received_seconds_count") == 1


async def test_received_goes_out_while_the_store_is_still_writing(broker: Broker) -> None:
    store = SlowStore()
    hub, _ = await started(store, broker)
    try:
        sent_at = time.monotonic()
        hub.handle_message(press(), TOPIC)
        for _ in range(100):
            if broker.sent:
                break
            await asyncio.sleep(0.01)
        assert broker.states() == ["received"]  # the batch commit has not happened yet
        assert broker.sent[0][2] - sent_at < 0.5
        assert hub.store.list_events(EventFilter()) == []  # nothing committed yet
    finally:
        store.release.set()
        await hub.stop()


async def test_a_staff_alarm_goes_to_no_residents_device(broker: Broker) -> None:
    hub, _ = await started(MemoryStore(), broker)
    try:
        hub.handle_message(press("staff-1", "staff.alarm"), TOPIC)
        await settle(hub)
        assert hub.open_alerts()
    finally:
        await hub.stop()
    assert broker.sent == []


async def test_a_second_press_sends_no_second_received(broker: Broker) -> None:
    hub, _ = await started(MemoryStore(), broker)
    try:
        hub.handle_message(press(), TOPIC)
        await settle(hub)
        hub.handle_message(press(), TOPIC)  # joins the open alert
        await settle(hub)
        assert len(hub.open_alerts()) == 1
    finally:
        await hub.stop()
    assert broker.states() == ["received"]


@pytest.mark.parametrize("answer", [False, OSError("broker gone"), RuntimeError("closed")])
async def test_a_failed_publish_is_counted_and_the_hub_carries_on(answer: Any) -> None:
    broker = Broker(answer)
    hub, _ = await started(MemoryStore(), broker)
    try:
        hub.handle_message(press(), TOPIC)
        await settle(hub)
        [alert] = hub.open_alerts()
        assert alert.state is AlertState.RAISED
    finally:
        await hub.stop()
    assert sample(hub, "trygg_feedback_failed_total", state="received") == 1
    assert sample(hub, "trygg_feedback_sent_total", state="received") == 0


async def test_an_unacknowledged_publish_times_out_as_failed() -> None:
    def never(topic: str, payload: bytes) -> asyncio.Future[bool]:
        return asyncio.get_running_loop().create_future()  # no PUBACK, ever

    store = MemoryStore()
    seed(store)
    hub = Hub(store)
    await hub.start()
    feedback = ResidentFeedback(never, lambda d: hub.registry.placement(d), hub.metrics.registry,
                                puback_wait_s=0.05)  # fmt: skip
    hub.add_notifier(feedback)
    try:
        hub.handle_message(press(), TOPIC)
        await asyncio.sleep(0.3)
    finally:
        await hub.stop()
    assert sample(hub, "trygg_feedback_failed_total", state="received") == 1


def test_an_eta_out_of_range_is_refused() -> None:
    from prometheus_client import CollectorRegistry

    feedback = ResidentFeedback(Broker().publish, lambda d: None, CollectorRegistry())
    with pytest.raises(ValueError):
        feedback.expect("a", -1)
    with pytest.raises(ValueError):
        feedback.expect("a", 100_000)


async def test_on_my_way_with_an_eta_puts_it_on_help_coming(broker: Broker) -> None:
    store = SqliteStore(":memory:")
    store.migrate()
    routing_env.seed(store)
    store.upsert_resident(Resident("res-1", routing_env.SITE, "unit-A", "Test Person"))
    basis = covering_basis("res-1")
    store.save_basis(basis, basis_change(basis))
    store.place(PlacementRecord("fall-1", "unit-A", "H1", resident_id="res-1"))
    clock = routing_env.Clock(NOW)
    hub = Hub(store, clock=clock)
    await hub.start()
    router = Router(hub, [routing_env.FakeChannel("mqtt")], clock=clock)
    await router.start()
    hub.add_notifier(router)
    feedback = ResidentFeedback(broker.publish, lambda d: hub.registry.placement(d),
                                hub.metrics.registry, clock=clock)  # fmt: skip
    hub.add_notifier(feedback)
    tokens = TokenIssuer(ttl=timedelta(hours=12))
    app = create_app(hub, tokens, clock)
    routing_api.install(app, router)
    app.state.feedback = feedback
    kari = store.get_account("kari")
    assert kari is not None
    auth = {"Authorization": f"Bearer {tokens.issue(kari, NOW)[0]}"}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://t") as client:  # fmt: skip
            event = make_event(id=str(uuid6.uuid7()), site=routing_env.SITE, gateway="gw-1",
                               device="fall-1", kind="fall.detected", ts=NOW, seq=1)  # fmt: skip
            hub.handle_message(event.model_dump_json().encode(), routing_env.TOPIC)
            await settle(hub)
            [alert] = hub.open_alerts()
            r = await client.post(f"/api/v1/alerts/{alert.id}/on-my-way", headers=auth,
                                  json={"expected_minutes": 0})  # fmt: skip
            assert r.status_code == 422  # zero minutes is not an ETA
            r = await client.post(f"/api/v1/alerts/{alert.id}/on-my-way", headers=auth,
                                  json={"expected_minutes": 4})  # fmt: skip
            assert r.status_code == 200, r.text
            await settle(hub)
            # Without a body it still works (an ETA is optional).
            r = await client.post(f"/api/v1/alerts/{alert.id}/on-my-way", headers=auth)
            assert r.status_code == 200, r.text
            await settle(hub)
    finally:
        await router.drain()
        await hub.stop()
        store.close()
    assert [(b["state"], b["expected_minutes"]) for _, b, _ in broker.sent] == [
        ("received", None), ("help_coming", 4)]  # fmt: skip


async def test_received_is_not_queued_behind_a_backlog_of_events(broker: Broker) -> None:
    """10,000 events from other devices arrive around the press (a loaded hub, a real
    SQLite store committing batches), in slices of 1,000 per turn of the event loop as
    the MQTT adapter hands them over: the press's ``received`` goes out in the very next
    turn, before the backlog is handled and long before it is stored. (Counted in
    events, not seconds: the wall time of a slice depends on the machine's load; the
    e2e test holds the 1 s from press to lamp.)"""
    store = SqliteStore(":memory:")
    store.migrate()
    hub, _ = await started(store, broker)
    broker.probe = lambda: (sample(hub, "trygg_events_received_total"),
                            sample(hub, "trygg_events_stored_total"))  # fmt: skip
    try:
        def burst(start: int) -> None:
            for n in range(start, start + 1000):
                event = make_event(id=str(uuid6.uuid7()), site=SITE, gateway=GW,
                                   device=f"motion-{n % 50}", kind="room.motion",
                                   ts=datetime.now(UTC), seq=n)  # fmt: skip
                hub.handle_message(event.model_dump_json().encode(), TOPIC)

        for n in range(5):
            burst(n * 1000)
            await asyncio.sleep(0)
        hub.handle_message(press(), TOPIC)
        for n in range(5, 10):
            burst(n * 1000)
            await asyncio.sleep(0)
        for _ in range(1000):
            if broker.sent:
                break
            await asyncio.sleep(0.005)
        assert broker.states() == ["received"]
        [(handled, stored)] = broker.probed
        assert handled <= 5001 + 1000  # at most the slice handed over with the press
        assert stored < 10_001  # the press itself was not yet committed
        await hub.drain(60)
    finally:
        await hub.stop()


async def test_the_hub_link_answers_false_at_once_before_it_is_connected() -> None:
    from hub.mqtt import MqttAlertPublisher

    assert await MqttAlertPublisher().publish("trygg/v1/s/g/commands", b"{}") is False
