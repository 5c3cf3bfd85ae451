"""The relatives tests' world: Johs at home with a GPS tracker, his daughter Kari in the
registry, a basis that names her for the location measure, a real Hub on SQLite with
the geofence rule on, a Router whose home-care chain starts with relatives, fake
channels, and the API. Time is a settable clock."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import httpx
import pytest
from argon2 import PasswordHasher
from routing_env import Clock, FakeChannel

from devices.events import make_event
from hub import routing_api
from hub.api import create_app
from hub.auth import TokenIssuer, hash_password
from hub.channels.router import Router
from hub.consent.records import BasisAction, BasisChange
from hub.relatives.book import RelativesBook, ReplySettings
from hub.relatives.model import Relative
from hub.routing.log import RoutingKind
from hub.routing.policy import Chain, Policy, Step, Target
from hub.routing.roster import Shift
from hub.ruleset import RuleSet, default_pack_text
from hub.service import Hub
from hub.store.base import Account, Device, PlacementRecord, Resident, Role, Site, Unit
from hub.store.sqlite import SqliteStore
from rules.consent import BasisKind, LegalBasis

from builders import event_id

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
SITE, GW, UNIT = "johs-home", "gw-johs", "home-sentrum"
TOPIC = f"trygg/v1/{SITE}/{GW}/events"
NOW = datetime(2026, 11, 23, 17, 2, tzinfo=UTC)  # 18:02 in Oslo
SECRET = b"reply-secret-for-tests-0123456789"
KARI = Relative("res-johs", "kari", "Kari Pedersen", "datter", phone="+4791234567")
GPS_BASIS = LegalBasis(
    id="basis-gps", resident_id="res-johs", measure="location",
    kinds=frozenset({"geofence.exit", "geofence.enter", "gps.position"}),
    basis=BasisKind.DECISION_4_6A, decided_by="lisa", reference="HT-2026-17",
    valid_from=NOW - timedelta(days=30), valid_to=None, review_at=None,
    notify_relatives=("kari",),
)  # fmt: skip
RULES = "overrides:\n  res-johs: {geofence_exit: {enabled: true, window: '12:00-22:00'}}\n"
STEP = timedelta(minutes=10)
CHAIN = Chain(
    steps=(
        Step(Target.RELATIVES, STEP, ("relatives",), relative_can_hold=True),
        Step(Target.UNIT, timedelta(minutes=5)),
    ),
    renotify=timedelta(minutes=2),
)
POLICIES = (Policy(CHAIN, unit=UNIT, kind="geofence.exit"),)


@dataclass
class Env:
    hub: Hub
    router: Router
    book: RelativesBook
    store: SqliteStore
    clock: Clock
    mqtt: FakeChannel
    relatives: FakeChannel
    client: httpx.AsyncClient
    tokens: TokenIssuer
    seq: Iterator[int]

    def auth(self, username: str) -> dict[str, str]:
        account = self.store.get_account(username)
        assert account is not None
        return {"Authorization": f"Bearer {self.tokens.issue(account, self.clock())[0]}"}

    async def left_zone(self) -> str:
        n = next(self.seq)
        ev = make_event(id=event_id(n), site=SITE, gateway=GW, device="johs-gps",
                        kind="geofence.exit", ts=self.clock(), seq=n,
                        data={"zone": "walk-area"})  # fmt: skip
        self.hub.handle_message(ev.model_dump_json().encode(), TOPIC)
        await self.settle()
        (alert,) = self.hub.open_alerts()
        return alert.id

    async def settle(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)
            await self.hub.drain()
            await self.router.drain()

    async def advance(self, seconds: float) -> None:
        self.clock.now += timedelta(seconds=seconds)
        self.router.tick()
        await self.settle()

    def routing(self, alert_id: str) -> list[tuple[str, str | None, str | None]]:
        return [(str(r.kind), r.recipient, r.detail) for r in self.store.routing_log(alert_id)]

    def escalations(self, alert_id: str) -> list[str | None]:
        return [r.detail for r in self.store.routing_log(alert_id)
                if r.kind is RoutingKind.ESCALATED]  # fmt: skip


def seed(store: SqliteStore) -> None:
    store.upsert_site(Site(SITE, "Hjemmetjenesten Sentrum"))
    store.upsert_unit(Unit(UNIT, SITE, "Hjemmetjenesten Sentrum"))
    store.upsert_unit(Unit("other-unit", SITE, "Other"))
    store.upsert_resident(Resident("res-johs", SITE, UNIT, "Johs Pedersen", "Storgata 12"))
    store.upsert_device(Device("johs-gps", SITE, GW, "gps_tracker"))
    store.place(PlacementRecord("johs-gps", UNIT, "Storgata 12", None, "res-johs"))
    store.save_basis(GPS_BASIS, BasisChange(GPS_BASIS.id, NOW, "lisa", BasisAction.RECORD))
    store.save_relative(KARI, NOW)
    pw = hash_password("x" * 12, hasher=FAST)
    for name, role, units in (
        ("liv", Role.STAFF, (UNIT,)),
        ("lisa", Role.LEADER, (UNIT,)),
        ("other", Role.LEADER, ("other-unit",)),
        ("admin", Role.ADMIN, ()),
    ):
        site = None if role is Role.ADMIN else SITE
        store.upsert_account(Account(name, name, role, pw, site, units))
    store.save_shift(Shift("d-liv", "liv", SITE, (UNIT,), time(8), time(22)))


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    store = SqliteStore(":memory:")
    store.migrate()
    seed(store)
    clock = Clock(NOW)
    rules = RuleSet(files=[default_pack_text(), ("site.yaml", RULES)])
    hub = Hub(store, clock=clock, rules=rules)
    await hub.start()
    mqtt, relatives = FakeChannel("mqtt"), FakeChannel("relatives")
    book = RelativesBook(hub, ReplySettings(SECRET, timedelta(hours=2), "http://t"))
    await book.reload()
    router = Router(hub, [mqtt, relatives], policies=POLICIES, clock=clock, relatives=book)
    await router.start()
    hub.add_notifier(router)
    tokens = TokenIssuer(ttl=timedelta(hours=12))
    app = create_app(hub, tokens, clock)
    routing_api.install(app, router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield Env(hub, router, book, store, clock, mqtt, relatives, client, tokens,
                  itertools.count(1))  # fmt: skip
    await router.drain()
    await hub.stop()
    store.close()

