"""The routing tests' world: a real Hub on SQLite, a Router with fake channels, the API
(the real channels are tested against the real services in tests/integration).
Events go in through ``Hub.handle_message``; time is a settable clock."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from devices.events import make_event
from hub import routing_api
from hub.api import create_app
from hub.auth import TokenIssuer, hash_password
from hub.channels.base import ChannelDown, Message, MessageKind
from hub.channels.router import Router
from hub.routing.roster import Shift
from hub.service import Hub
from hub.store.base import Account, Device, PlacementRecord, Role, Site, Unit
from hub.store.sqlite import SqliteStore

from builders import NOW, event_id

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
SITE, GW = "site-1", "gw-1"
TOPIC = f"trygg/v1/{SITE}/{GW}/events"
NIGHT = [
    Shift("n-kari", "kari", SITE, ("unit-A",), time(22), time(7), primary_for=("H1",)),
    Shift("n-ola", "ola", SITE, ("unit-A",), time(22), time(7)),
]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeChannel:
    name: str
    down_for: set[str] = field(default_factory=set)
    sent: list[Message] = field(default_factory=list)

    async def deliver(self, message: Message) -> None:
        if message.recipient in self.down_for:
            raise ChannelDown(f"{message.recipient} unreachable")
        self.sent.append(message)

    def to(self, kind: MessageKind = MessageKind.NOTIFY) -> list[str]:
        return [m.recipient for m in self.sent if m.kind is kind]


@dataclass
class Env:
    hub: Hub
    router: Router
    store: SqliteStore
    clock: Clock
    mqtt: FakeChannel
    webhook: FakeChannel
    client: httpx.AsyncClient
    tokens: TokenIssuer
    seq: Iterator[int]

    def auth(self, username: str) -> dict[str, str]:
        account = self.store.get_account(username)
        assert account is not None
        return {"Authorization": f"Bearer {self.tokens.issue(account, self.clock())[0]}"}

    async def send(self, kind: str, device: str, **data: Any) -> None:
        n = next(self.seq)
        ev = make_event(
            id=event_id(n),
            site=SITE,
            gateway=GW,
            device=device,
            kind=kind,
            ts=self.clock(),
            seq=n,
            data=data,
        )
        self.hub.handle_message(ev.model_dump_json().encode(), TOPIC)
        await self.settle()

    async def settle(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)
            await self.hub.drain()
            await self.router.drain()

    async def advance(self, seconds: float) -> None:
        self.clock.now += timedelta(seconds=seconds)
        self.router.tick()
        await self.settle()

    def open_alert(self) -> str:
        (alert,) = self.hub.open_alerts()
        return alert.id


def seed(store: SqliteStore) -> None:
    store.upsert_site(Site(SITE, "Testheim"))
    for unit in ("unit-A", "unit-B"):
        store.upsert_unit(Unit(unit, SITE, unit))
    for dev, unit, apt, kind in (
        ("fall-1", "unit-A", "H1", "fall_sensor"),
        ("tag-1", "unit-A", "H1", "door_tag"),
        ("staff-1", "unit-A", None, "staff_alarm"),
        ("fall-B", "unit-B", "B1", "fall_sensor"),
    ):
        store.upsert_device(Device(dev, SITE, GW, kind))
        store.place(PlacementRecord(dev, unit, apt))
    for name, role, units in (
        ("kari", Role.NATTEVAKT, ("unit-A",)),
        ("ola", Role.NATTEVAKT, ("unit-A",)),
        ("lisa", Role.LEADER, ("unit-A", "unit-B")),
        ("admin", Role.ADMIN, ()),
    ):
        pw = hash_password("x" * 12, hasher=FAST)
        store.upsert_account(
            Account(name, name, role, pw, None if role is Role.ADMIN else SITE, units)
        )
    for shift in NIGHT:
        store.save_shift(shift)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    store = SqliteStore(":memory:")
    store.migrate()
    seed(store)
    clock = Clock(NOW)  # 03:30 Oslo
    hub = Hub(store, clock=clock)
    await hub.start()
    mqtt, webhook = FakeChannel("mqtt"), FakeChannel("webhook")
    router = Router(hub, [mqtt, webhook], clock=clock)
    await router.start()
    hub.add_notifier(router)
    hub.event_listeners.append(router.on_event)
    tokens = TokenIssuer(ttl=timedelta(hours=12))
    app = create_app(hub, tokens, clock)
    routing_api.install(app, router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield Env(hub, router, store, clock, mqtt, webhook, client, tokens, itertools.count(1))
    await router.drain()
    await hub.stop()
    store.close()
