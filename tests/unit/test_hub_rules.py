"""The hub runs the engine: timers wake it (no polling), rules cancel, files hot-reload."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uuid6

from devices.events import EventBase, make_event
from hub.alerts import AlertState
from hub.ruleset import RuleSet
from hub.service import Hub
from hub.store.base import AlertFilter, Device, PlacementRecord, Resident, Site, Unit
from hub.store.memory import MemoryStore

from builders import basis_change, covering_basis

SITE, GW = "site-1", "gw-1"
TOPIC = f"trygg/v1/{SITE}/{GW}/events"
T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 02:00 in Oslo: night
RULES = """
rules:
  - name: wander
    when: {kind: door.opened, data: {door: exit}}
    absent: {any: [{kind: door.closed, data: {door: exit}}], within: 3m}
    cancel_on_clear: true
    raise: {category: resident, priority: high, message: "Exit door open: {where}"}
"""


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def ev(kind: str, at: datetime, **data: Any) -> bytes:
    event: EventBase = make_event(
        id=str(uuid6.uuid7()), site=SITE, gateway=GW, device="door-1", kind=kind, ts=at, seq=1,
        data=data,
    )  # fmt: skip
    return event.model_dump_json().encode()


def seed(store: MemoryStore) -> None:
    store.upsert_site(Site(id=SITE, name="Testheim"))
    store.upsert_unit(Unit(id="unit-a", site=SITE, name="A"))
    store.upsert_resident(Resident(id="res-1", site=SITE, unit="unit-a", name="Test Person"))
    store.upsert_device(Device(id="door-1", site=SITE, gateway=GW, type="door_contact"))
    store.place(PlacementRecord(device="door-1", unit="unit-a", apartment="Leil. 1",
                                resident_id="res-1"))  # fmt: skip
    basis = covering_basis("res-1")
    store.save_basis(basis, basis_change(basis))


async def start(tmp_path: Path, clock: Clock) -> tuple[Hub, RuleSet, Path]:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    rules = RuleSet([path])
    store = MemoryStore()
    seed(store)
    hub = Hub(store, clock=clock, rules=rules)
    await hub.start()
    return hub, rules, path


async def until(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


class Recorder:
    """A channel that records every alert state it is handed."""

    channel = "test"

    def __init__(self) -> None:
        self.sent: list[tuple[str, AlertState]] = []

    async def send(self, alert: Any) -> bool:
        self.sent.append((alert.id, alert.state))
        return True


async def test_the_timer_raises_a_held_alert_the_rule_cancels_before_anyone_sees_it(
    tmp_path: Path,
) -> None:
    clock = Clock()
    hub, rules, _ = await start(tmp_path, clock)
    channel = Recorder()
    hub.add_notifier(channel)
    try:
        hub.handle_message(ev("door.opened", T0, door="exit"), TOPIC)
        assert hub.open_alerts() == []
        assert rules.next_wake() == T0 + timedelta(minutes=3)
        clock.now = T0 + timedelta(minutes=3)
        hub.tick_rules()
        # Raised at the deadline but held for the rule's hold (1 min): nobody sees it.
        assert hub.open_alerts() == [] and rules.next_wake() == T0 + timedelta(minutes=4)
        clock.now = T0 + timedelta(minutes=3, seconds=30)
        hub.handle_message(ev("door.closed", clock.now, door="exit"), TOPIC)
        await hub.drain()
        await asyncio.sleep(0.01)
        assert hub.open_alerts() == [] and channel.sent == []
        [stored] = await hub.run_store(hub.store.list_alerts, AlertFilter())
        assert stored.state is AlertState.CANCELLED and len(stored.event_ids) == 2
        assert stored.raised_at == T0 + timedelta(minutes=3)
        history = await hub.run_store(hub.store.transitions, stored.id)
        assert [t.to_state for t in history] == [AlertState.RAISED, AlertState.CANCELLED]
        assert hub.metrics.alerts_withdrawn.labels("wander")._value.get() == 1
        assert rules.next_wake() is None
    finally:
        await hub.stop()


async def test_a_released_alert_is_shown_and_never_withdrawn_by_the_rule(tmp_path: Path) -> None:
    clock = Clock()
    hub, _, _ = await start(tmp_path, clock)
    channel = Recorder()
    hub.add_notifier(channel)
    try:
        hub.handle_message(ev("door.opened", T0, door="exit"), TOPIC)
        clock.now = T0 + timedelta(minutes=3)
        hub.tick_rules()
        clock.now = T0 + timedelta(minutes=4)
        hub.tick_rules()
        [alert] = hub.open_alerts()
        assert alert.raised_at == T0 + timedelta(minutes=3)
        await until(lambda: channel.sent)
        hub.handle_message(ev("door.closed", clock.now, door="exit"), TOPIC)
        [still] = hub.open_alerts()
        assert still.state is AlertState.NOTIFIED and len(still.event_ids) == 2
    finally:
        await hub.stop()


async def test_reload_keeps_the_old_rules_when_the_new_file_is_wrong(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    hub, rules, path = await start(tmp_path, clock)
    try:
        hub.handle_message(ev("door.opened", T0, door="exit"), TOPIC)
        path.write_text(RULES.replace("door.opened", "door.opend"))
        with caplog.at_level(logging.ERROR, logger="trygg.rules"):
            assert rules.reload() is False
        assert "keeping the running rules" in caplog.text
        assert "rules.yaml:4: rules[0].when.kind: unknown event kind 'door.opend'" in caplog.text
        assert [r.name for r in rules.pack.rules] == ["wander"]
        # A valid change is taken, and the door already open stays open.
        path.write_text(RULES.replace("within: 3m", "within: 5m"))
        assert rules.reload() is True
        assert rules.next_wake() == T0 + timedelta(minutes=3)  # the running timer is kept
    finally:
        await hub.stop()


async def test_the_watcher_reloads_a_changed_file(tmp_path: Path) -> None:
    clock = Clock()
    hub, rules, path = await start(tmp_path, clock)
    stop = asyncio.Event()
    reloaded: list[bool] = []
    watcher = asyncio.create_task(rules.watch(stop, 0.02, lambda: reloaded.append(True)))
    try:
        path.write_text(RULES.replace("within: 3m", "within: 4m"))
        os.utime(path, ns=(1, 10**18))
        await until(lambda: reloaded)
        assert rules.reloads == 1
    finally:
        stop.set()
        await watcher
        await hub.stop()
