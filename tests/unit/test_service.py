"""The hub's shell without a broker: messages go in through ``handle_message``.

Checks the delivery guarantee (ack only after commit, nothing valid lost when
the store fails), duplicate handling, rejection reasons and alert bookkeeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uuid6

from devices.events import EventBase, make_event
from hub.alerts import AlertState, Command, Outcome
from hub.errors import IllegalTransition, NotFound, StoreError
from hub.service import Hub
from hub.store.base import (
    AlertFilter,
    Device,
    EventFilter,
    PlacementRecord,
    Resident,
    Site,
    Unit,
)
from hub.store.memory import MemoryStore
from rules.flood import FloodGuard

from builders import basis_change, covering_basis

SITE, GW = "site-1", "gw-1"
TOPIC = f"trygg/v1/{SITE}/{GW}/events"
NOW = datetime(2026, 11, 24, 2, 13, tzinfo=UTC)


def ev(kind: str, device: str = "dev-1", **data: Any) -> EventBase:
    return make_event(
        id=str(uuid6.uuid7()),
        site=SITE,
        gateway=GW,
        device=device,
        kind=kind,
        ts=NOW,
        seq=1,
        data=data,
    )


def raw(event: EventBase) -> bytes:
    return event.model_dump_json().encode()


class Acks:
    def __init__(self) -> None:
        self.done: list[str] = []

    def ack(self, name: str) -> Any:
        return lambda: self.done.append(name)


class FlakyStore(MemoryStore):
    """Fails the first ``failures`` event writes, like a database that went away."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def append_events(self, events: Sequence[tuple[EventBase, datetime]]) -> int:
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("database is away")
        return super().append_events(events)


def _seed(store: MemoryStore) -> None:
    store.upsert_site(Site(id=SITE, name="Testheim"))
    store.upsert_unit(Unit(id="unit-a", site=SITE, name="A"))
    store.upsert_resident(Resident(id="res-1", site=SITE, unit="unit-a", name="Test Person"))
    basis = covering_basis("res-1")
    store.save_basis(basis, basis_change(basis))
    for device in ("dev-1", "dev-2"):
        store.upsert_device(Device(id=device, site=SITE, gateway=GW, type="alarm_button"))
        store.place(
            PlacementRecord(device=device, unit="unit-a", apartment="Leil. 1", resident_id="res-1")
        )


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    store = MemoryStore()
    _seed(store)
    h = Hub(store, clock=lambda: NOW)
    await h.start()
    yield h
    await h.stop()


def _count(hub: Hub, metric: str, **labels: str) -> float:
    value = hub.metrics.registry.get_sample_value(metric, labels or None)
    return value or 0.0


async def test_alarm_raises_notifies_stores_then_acks(hub: Hub) -> None:
    acks = Acks()
    async with hub.feed.subscribe() as feed:
        event = ev("alarm.button")
        hub.handle_message(raw(event), TOPIC, acks.ack("a"))
        pushed = feed.get_nowait()  # notified before any store write
        assert pushed is not None and pushed.state is AlertState.NOTIFIED
        assert acks.done == []
        await hub.drain()
    assert acks.done == ["a"]
    [alert] = hub.store.list_alerts(AlertFilter())
    assert alert.unit == "unit-a" and alert.resident_id == "res-1"
    assert [t.to_state for t in hub.store.transitions(alert.id)] == ["raised", "notified"]
    assert [s.event.id for s in hub.store.list_events(EventFilter())] == [event.id]
    assert _count(hub, "trygg_alerts_raised_total", category="resident", priority="high") == 1


async def test_duplicate_never_raises_twice(hub: Hub) -> None:
    acks = Acks()
    event = ev("fall.detected")
    hub.handle_message(raw(event), TOPIC, acks.ack("first"))
    hub.handle_message(raw(event), TOPIC, acks.ack("again"))
    await hub.drain()
    assert len(hub.store.list_alerts(AlertFilter())) == 1
    assert len(hub.store.list_events(EventFilter())) == 1
    assert sorted(acks.done) == ["again", "first"]
    assert _count(hub, "trygg_events_duplicate_total") == 1


@pytest.mark.parametrize(
    ("payload", "topic", "reason"),
    [
        (b"{not json", TOPIC, "malformed"),
        (b'{"kind": "door.wobbled"}', TOPIC, "unknown_kind"),
        (b"x" * (16 * 1024 + 1), TOPIC, "oversized"),
        (None, "trygg/v1/other-site/gw-1/events", "bad_topic"),
        (None, "trygg/v1/site-1/gw-1/status", "bad_topic"),
    ],
)
async def test_bad_message_is_counted_acked_and_the_loop_goes_on(
    hub: Hub, payload: bytes | None, topic: str, reason: str
) -> None:
    acks = Acks()
    hub.handle_message(payload or raw(ev("alarm.button")), topic, acks.ack("bad"))
    assert acks.done == ["bad"]  # acked at once: never redelivered forever
    assert _count(hub, "trygg_events_rejected_total", reason=reason) == 1
    hub.handle_message(raw(ev("alarm.button")), TOPIC, acks.ack("good"))
    await hub.drain()
    assert len(hub.store.list_alerts(AlertFilter())) == 1


async def test_second_press_joins_the_open_alert_but_colleague_alarms_never_merge(hub: Hub) -> None:
    first, second = ev("alarm.button"), ev("alarm.button")
    hub.handle_message(raw(first), TOPIC)
    hub.handle_message(raw(second), TOPIC)
    hub.handle_message(raw(ev("staff.alarm", "dev-2")), TOPIC)
    hub.handle_message(raw(ev("staff.alarm", "dev-2")), TOPIC)
    await hub.drain()
    alerts = hub.store.list_alerts(AlertFilter())
    buttons = [a for a in alerts if a.kind == "alarm.button"]
    assert len(buttons) == 1 and buttons[0].event_ids == (first.id, second.id)
    assert len([a for a in alerts if a.kind == "staff.alarm"]) == 2


async def test_store_outage_loses_nothing_and_acks_only_after_commit() -> None:
    store = FlakyStore(failures=3)
    h = Hub(store, clock=lambda: NOW)
    h.flood = FloodGuard(limit=1000)  # 50 events from one sensor in one instant are no flood here
    await h.start()
    acks = Acks()
    events = [ev("room.motion") for _ in range(50)]
    for i, event in enumerate(events):
        h.handle_message(raw(event), TOPIC, acks.ack(str(i)))
    await asyncio.sleep(0.05)
    assert acks.done == []  # not committed, not acknowledged
    assert h.health()["store_ok"] is False
    await h.drain(timeout=10)
    assert sorted(acks.done, key=int) == [str(i) for i in range(50)]
    assert {s.event.id for s in store.list_events(EventFilter(limit=100))} == {e.id for e in events}
    assert _count(h, "trygg_store_failures_total") == 3
    await h.stop()


async def test_commands_follow_the_state_machine(hub: Hub) -> None:
    async with hub.feed.subscribe() as feed:
        hub.handle_message(raw(ev("fall.detected")), TOPIC)
        alert = feed.get_nowait()
        assert alert is not None
        with pytest.raises(IllegalTransition):
            await hub.command(alert.id, Command.RESOLVE, "kari", outcome=Outcome.ASSISTED)
        accepted = await hub.command(alert.id, Command.ACCEPT, "kari")
        assert accepted.accepted_by == "kari"
        with pytest.raises(IllegalTransition):
            await hub.command(alert.id, Command.ACCEPT, "ola")  # two accept at once: one wins
        await hub.command(alert.id, Command.ON_SITE, "kari")
        done = await hub.command(alert.id, Command.RESOLVE, "kari", outcome=Outcome.FALSE_ALARM)
        assert done.state is AlertState.RESOLVED and hub.open_alerts() == []
    with pytest.raises(NotFound):
        await hub.command("no-such-alert", Command.ACCEPT, "kari")
    stored = hub.store.get_alert(alert.id)
    assert stored is not None and stored.outcome is Outcome.FALSE_ALARM


async def test_restart_keeps_open_alerts_and_a_redelivery_raises_nothing() -> None:
    store = MemoryStore()
    _seed(store)
    first = Hub(store, clock=lambda: NOW)
    await first.start()
    event = ev("fall.detected")
    first.handle_message(raw(event), TOPIC)
    await first.stop()

    second = Hub(store, clock=lambda: NOW + timedelta(minutes=1))
    await second.start()
    assert [a.kind for a in second.open_alerts()] == ["fall.detected"]
    second.handle_message(raw(event), TOPIC)  # the broker redelivers after the crash
    await second.drain()
    assert len(store.list_alerts(AlertFilter())) == 1
    await second.stop()


async def test_unknown_device_still_raises_an_alarm(hub: Hub) -> None:
    hub.handle_message(raw(ev("alarm.button", "dev-unregistered")), TOPIC)
    await hub.drain()
    [alert] = hub.store.list_alerts(AlertFilter())
    assert alert.unit is None and "dev-unregistered" in alert.message
    assert _count(hub, "trygg_events_unknown_device_total") == 1


async def test_a_failing_rule_never_costs_the_event() -> None:
    def broken(state: Any, event: EventBase, now: datetime, placement: Any) -> Any:
        raise RuntimeError("bug in a rule")

    store = MemoryStore()
    h = Hub(store, clock=lambda: NOW, rules=broken)
    await h.start()
    h.handle_message(raw(ev("alarm.button")), TOPIC)
    await h.drain()
    assert len(store.list_events(EventFilter())) == 1
    assert _count(h, "trygg_rule_errors_total") == 1
    await h.stop()


class Channel:
    """A delivery channel whose delivery can be switched on and off."""

    channel = "handhelds"

    def __init__(self, up: bool) -> None:
        self.up = up
        self.sent: list[AlertState] = []

    async def send(self, alert: Any) -> bool:
        self.sent.append(alert.state)
        return self.up


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_an_alert_nobody_can_see_is_not_notified(hub: Hub) -> None:
    down = Channel(up=False)
    hub.add_notifier(down)
    hub.handle_message(raw(ev("fall.detected")), TOPIC)
    await _settle()
    [alert] = hub.open_alerts()
    assert alert.state is AlertState.RAISED and down.sent == [AlertState.RAISED]
    assert _count(hub, "trygg_alert_latency_seconds_count") == 0
    # The board opens: the alert is on a screen now.
    async with hub.feed.subscribe():
        [alert] = hub.open_alerts()
        assert alert.state is AlertState.NOTIFIED
    await hub.drain()
    notes = [t.note for t in hub.store.transitions(alert.id)]
    assert notes == [None, "via board"]
    assert _count(hub, "trygg_alert_latency_seconds_count") == 1


async def test_a_channel_that_delivers_notifies_once(hub: Hub) -> None:
    up = Channel(up=True)
    hub.add_notifier(up)
    hub.handle_message(raw(ev("alarm.button")), TOPIC)
    await _settle()
    [alert] = hub.open_alerts()
    assert alert.state is AlertState.NOTIFIED
    assert up.sent == [AlertState.RAISED, AlertState.NOTIFIED]
    await hub.drain()
    assert [t.note for t in hub.store.transitions(alert.id)] == [None, "via handhelds"]


async def test_a_copy_of_an_uncommitted_event_is_acked_only_with_the_commit() -> None:
    # After a reconnect the broker redelivers a message the hub still holds;
    # acking that copy at once would ack the original before it is stored.
    store = FlakyStore(failures=2)
    h = Hub(store, clock=lambda: NOW)
    await h.start()
    acks = Acks()
    event = ev("room.motion")
    h.handle_message(raw(event), TOPIC, acks.ack("original"))
    h.handle_message(raw(event), TOPIC, acks.ack("redelivered"))
    await asyncio.sleep(0.05)
    assert acks.done == []
    await h.drain(timeout=10)
    assert acks.done == ["original", "redelivered"]
    h.handle_message(raw(event), TOPIC, acks.ack("late copy"))
    assert acks.done[-1] == "late copy"  # already stored: acked at once
    await h.stop()
