"""Rule state survives a hub restart: it is rebuilt from the stored events on start."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uuid6

from devices.events import EventBase, make_event
from hub.alerts import AlertState, Command
from hub.errors import StoreError
from hub.service import Hub
from hub.store.base import AlertFilter, Device, PlacementRecord, Resident, Site, Store, Unit
from hub.store.memory import MemoryStore
from hub.store.postgres import PostgresStore
from hub.store.sqlite import SqliteStore

from builders import basis_change, covering_basis
from pgtools import pg_schema

SITE, GW = "site-1", "gw-1"
TOPIC = f"trygg/v1/{SITE}/{GW}/events"
T0 = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # noon in Oslo
M = timedelta(minutes=1)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def seed(store: Store) -> None:
    store.migrate()
    store.upsert_site(Site(id=SITE, name="Testheim"))
    store.upsert_unit(Unit(id="unit-a", site=SITE, name="A"))
    store.upsert_resident(Resident(id="res-1", site=SITE, unit="unit-a", name="Test Person"))
    for device, kind in (("stove-1", "stove_guard"), ("bed-1", "bed_sensor")):
        store.upsert_device(Device(id=device, site=SITE, gateway=GW, type=kind))
        store.place(PlacementRecord(device=device, unit="unit-a", apartment="Leil. 1",
                                    resident_id="res-1"))  # fmt: skip
    basis = covering_basis("res-1")
    store.save_basis(basis, basis_change(basis))


def msg(device: str, kind: str, at: datetime, **data: Any) -> bytes:
    event: EventBase = make_event(
        id=str(uuid6.uuid7()), site=SITE, gateway=GW, device=device, kind=kind, ts=at, seq=1,
        data=data,
    )  # fmt: skip
    return event.model_dump_json().encode()


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Every backend: the rebuild reads events and alerts back through the store."""
    if request.param == "postgres":
        with pg_schema(request.getfixturevalue("postgres_dsn")) as (dsn, schema):
            pg = PostgresStore(dsn, schema=schema)
            seed(pg)
            yield pg
            pg.close()
        return
    s: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "hub.db")
    seed(s)
    yield s
    s.close()


async def started(store: Store, clock: Clock) -> Hub:
    hub = Hub(store, clock=clock)
    await hub.start()
    return hub


async def alerts(hub: Hub) -> list[Any]:
    await hub.drain()
    return await hub.run_store(hub.store.list_alerts, AlertFilter())


async def test_a_stove_left_on_before_a_restart_still_raises_at_20_minutes(store: Store) -> None:
    clock = Clock()
    hub = await started(store, clock)
    hub.handle_message(msg("stove-1", "stove.on", T0, power_w=1800), TOPIC)
    clock.now = T0 + 5 * M
    await hub.stop()  # the hub goes down with the stove on

    clock.now = T0 + 8 * M
    hub = await started(store, clock)
    try:
        assert hub.next_rule_wake() == T0 + 20 * M
        clock.now = T0 + 20 * M
        hub.tick_rules()  # raised at 20 min, held for a minute (the rule may cancel it)
        clock.now = T0 + 21 * M
        hub.tick_rules()
        [alert] = hub.open_alerts()
        assert alert.rule == "stove_left_on" and alert.raised_at == T0 + 20 * M
        assert alert.message == "Stove on for 20 min: Leil. 1"
    finally:
        await hub.stop()


async def test_a_stove_turned_off_before_the_restart_stays_quiet(store: Store) -> None:
    clock = Clock()
    hub = await started(store, clock)
    hub.handle_message(msg("stove-1", "stove.on", T0, power_w=1800), TOPIC)
    clock.now = T0 + 10 * M
    hub.handle_message(msg("stove-1", "stove.off", clock.now), TOPIC)
    await hub.stop()
    clock.now = T0 + 12 * M
    hub = await started(store, clock)
    try:
        assert hub.next_rule_wake() is None
    finally:
        await hub.stop()


async def test_an_alert_raised_before_the_restart_is_not_raised_again(store: Store) -> None:
    clock = Clock()
    hub = await started(store, clock)
    hub.handle_message(msg("stove-1", "stove.on", T0, power_w=1800), TOPIC)
    for minutes in (20, 21):
        clock.now = T0 + minutes * M
        hub.tick_rules()
    [alert] = hub.open_alerts()
    await hub.command(alert.id, Command.ACCEPT, "kari")
    clock.now = T0 + 25 * M
    await hub.stop()
    clock.now = T0 + 30 * M
    hub = await started(store, clock)
    try:
        for minutes in (30, 31, 60):
            clock.now = T0 + minutes * M
            hub.tick_rules()
        [again] = await alerts(hub)
        assert again.id == alert.id and again.state is AlertState.ACCEPTED
    finally:
        await hub.stop()


async def test_a_deadline_passed_while_the_hub_was_down_raises_at_start(store: Store) -> None:
    """Late is better than never: the bed exit at 23:00 is 15 min old at 23:40."""
    clock = Clock()
    clock.now = night = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)  # 23:00 in Oslo
    hub = await started(store, clock)
    hub.handle_message(msg("bed-1", "bed.exit", night), TOPIC)
    clock.now = night + 2 * M
    await hub.stop()
    clock.now = night + 40 * M
    hub = await started(store, clock)
    try:
        hub.tick_rules()  # overdue: raised now (held), and released as soon as it is due
        hub.tick_rules()
        [alert] = hub.open_alerts()
        assert alert.rule == "bed_exit_without_return" and alert.raised_at == night + 40 * M
    finally:
        await hub.stop()


async def test_a_store_that_fails_the_rebuild_does_not_keep_the_hub_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(MemoryStore):
        def list_events(self, flt: Any) -> Any:
            raise StoreError("database is away")

    store = Broken()
    seed(store)
    hub = Hub(store, clock=Clock())
    await hub.start()
    try:
        assert "rule state not rebuilt" in caplog.text and hub.next_rule_wake() is None
        hub.handle_message(msg("stove-1", "stove.on", T0, power_w=1800), TOPIC)
        assert hub.next_rule_wake() == T0 + 20 * M  # and the rules run
    finally:
        await hub.stop()
