"""A cancelled alert never reaches staff, in the live hub: property tests through ``Hub``.

The hub holds an alert of a rule that may cancel it (``cancel_on_clear``) away from
every channel, the board and the API until the rule releases it; the rule can cancel
it only while it is held. Whatever the events and however deliveries interleave with
them, an alert any channel was handed is never cancelled, and a cancelled alert was
never handed to any channel nor listed as open.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_rule_properties import DEVICES, build, nights

from devices.events import EventBase
from hub.alerts import Alert, AlertState
from hub.service import Hub
from hub.store.base import AlertFilter, Device, PlacementRecord, Resident, Site, Unit
from hub.store.memory import MemoryStore

from builders import basis_change, covering_basis

RESIDENTS = ("res-1", "res-2")


class Channel:
    """Records every alert it is handed, like a handheld would show it."""

    channel = "handheld"

    def __init__(self) -> None:
        self.seen: dict[str, list[AlertState]] = {}

    async def send(self, alert: Alert) -> bool:
        self.seen.setdefault(alert.id, []).append(alert.state)
        return True


def seeded_store() -> MemoryStore:
    store = MemoryStore()
    store.upsert_site(Site(id="site-1", name="Testheim"))
    store.upsert_unit(Unit(id="unit-A", site="site-1", name="A"))
    for r in RESIDENTS:
        store.upsert_resident(Resident(id=r, site="site-1", unit="unit-A", name="Test Person"))
        basis = covering_basis(r)
        store.save_basis(basis, basis_change(basis))
        for d in DEVICES:
            store.upsert_device(Device(id=f"{r}-{d}", site="site-1", gateway="gw-1", type="x"))
            store.place(PlacementRecord(device=f"{r}-{d}", unit="unit-A", apartment=r,
                                        resident_id=r))  # fmt: skip
    return store


async def play(events: list[EventBase], yields: list[bool]) -> tuple[Hub, Channel, set[str]]:
    now = [events[0].ts]
    hub = Hub(seeded_store(), clock=lambda: now[0])
    channel = Channel()
    hub.add_notifier(channel)
    await hub.start()
    listed: set[str] = set()  # every alert the board/API could list as open
    turns = iter(yields)

    async def step() -> None:
        listed.update(a.id for a in hub.open_alerts())
        if next(turns, True):
            await asyncio.sleep(0)  # let spawned deliveries run now, or later
        listed.update(a.id for a in hub.open_alerts())

    async def tick_until(to: datetime) -> None:
        while (wake := hub.next_rule_wake()) is not None and wake <= to:
            now[0] = max(now[0], wake)
            hub.tick_rules()
            await step()

    try:
        for e in events:
            await tick_until(e.ts)
            now[0] = max(now[0], e.ts)
            hub.handle_message(e.model_dump_json().encode(), "trygg/v1/site-1/gw-1/events")
            await step()
        await tick_until(events[-1].ts + timedelta(hours=1))
        await hub.drain()
        await asyncio.sleep(0.01)
    finally:
        await hub.stop()
    return hub, channel, listed


def check(hub: Hub, channel: Channel, listed: set[str]) -> list[Alert]:
    stored = hub.store.list_alerts(AlertFilter(limit=10_000))
    for alert in stored:
        if alert.state is AlertState.CANCELLED:
            assert alert.id not in channel.seen, "a cancelled alert reached a channel"
            assert alert.id not in listed, "a cancelled alert was listed as open"
            states = [t.to_state for t in hub.store.transitions(alert.id)]
            assert states == [AlertState.RAISED, AlertState.CANCELLED]
    for alert_id, states in channel.seen.items():
        assert AlertState.CANCELLED not in states
        assert hub.store.get_alert(alert_id).state is not AlertState.CANCELLED  # type: ignore[union-attr]
    assert hub._held == {}, "an alert stayed held for ever"
    return stored


@settings(max_examples=40, deadline=None)
@given(nights, st.lists(st.booleans(), max_size=80))
def test_a_cancelled_alert_never_reaches_staff_through_the_hub(
    steps: list[tuple[int, str, int, str, bool]], yields: list[bool]
) -> None:
    events: list[Any] = [e for e, _ in build(steps)]
    hub, channel, listed = asyncio.run(play(events, yields))
    check(hub, channel, listed)


def test_the_door_closed_inside_the_hold_is_withdrawn_and_after_it_is_only_recorded() -> None:
    # 22:30: an exit door left open raises at 3 min and is held 1 min.
    steps = [(3600, "door", 0, "res-1", True), (200, "door", 1, "res-1", True),  # closed at 3:20
             (600, "door", 0, "res-2", True), (300, "door", 1, "res-2", True)]  # closed at 5:00
    events: list[Any] = [e for e, _ in build(steps)]
    hub, channel, listed = asyncio.run(play(events, [True] * 20))
    stored = check(hub, channel, listed)
    by_device = {a.device: a for a in stored}
    assert by_device["res-1-door"].state is AlertState.CANCELLED
    assert by_device["res-2-door"].state is AlertState.NOTIFIED
    assert len(by_device["res-2-door"].event_ids) == 2  # the close is recorded on it
    assert set(channel.seen) == {by_device["res-2-door"].id}
