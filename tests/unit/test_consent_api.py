"""The consent and audit routes end to end over HTTP (in-process), with a real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uuid6
from argon2 import PasswordHasher

from devices.events import make_event
from hub.api import create_app
from hub.auth import TokenIssuer, hash_password
from hub.metrics import Metrics
from hub.service import Hub
from hub.store.base import (
    Account,
    Device,
    EventFilter,
    PlacementRecord,
    Resident,
    Role,
    Site,
    Unit,
)
from hub.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 02:00 Oslo
SITE, GW = "site-1", "gw-1"
PASSWORD = "korrekt hest batteri"
ACCOUNTS = {
    "admin": (Role.ADMIN, None, ()),
    "lisa": (Role.LEADER, SITE, ("unit-A",)),
    "kari": (Role.NATTEVAKT, SITE, ("unit-A",)),
    "ola": (Role.NATTEVAKT, SITE, ("unit-B",)),
    "revisor": (Role.AUDITOR, None, ()),
    "tore": (Role.TEKNIKER, SITE, ()),
}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Env:
    hub: Hub
    store: SqliteStore
    tokens: TokenIssuer
    clock: Clock
    client: httpx.AsyncClient

    def auth(self, username: str) -> dict[str, str]:
        account = self.store.get_account(username)
        assert account is not None
        return {"Authorization": f"Bearer {self.tokens.issue(account, self.clock())[0]}"}

    async def send(self, device: str, kind: str) -> str:
        event = make_event(id=str(uuid6.uuid7()), site=SITE, gateway=GW, device=device,
                           kind=kind, ts=self.clock(), seq=1)  # fmt: skip
        self.hub.handle_message(event.to_json().encode(), f"trygg/v1/{SITE}/{GW}/events")
        await self.hub.drain()
        return event.id


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    store = SqliteStore(":memory:")
    store.migrate()
    store.upsert_site(Site(SITE, "Solsiden"))
    for unit in ("unit-A", "unit-B"):
        store.upsert_unit(Unit(unit, SITE, unit))
    store.upsert_resident(Resident("res-A", SITE, "unit-A", "Johs Hansen", "H0101"))
    store.upsert_device(Device("door-A", SITE, GW, "door_contact"))
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    hashed = hash_password(PASSWORD, hasher=fast)
    for username, (role, site, units) in ACCOUNTS.items():
        store.upsert_account(Account(username, username.title(), role, hashed, site, units))
    clock = Clock()
    hub = Hub(store, metrics=Metrics(), clock=clock)
    await hub.start()
    tokens = TokenIssuer()
    app = create_app(hub, tokens, clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://trygg"
    ) as client:
        yield Env(hub, store, tokens, clock, client)
    await hub.stop()
    store.close()


DOOR_BASIS: dict[str, Any] = {
    "id": "b-door",
    "resident_id": "res-A",
    "measure": "exit_door",
    "kinds": ["door.opened", "door.closed"],
    "basis": "decision_4_6a",
    "reference": "SAK-2026/17",
    "valid_from": "2026-11-01T00:00:00+01:00",
    "valid_to": "2027-11-01T00:00:00+01:00",
    "review_at": "2026-12-01T00:00:00+01:00",
    "windows": ["22:00-07:00"],
    "visible_to": ["nattevakt", "leader"],
    "relatives_consulted": ["datter (verge)"],
    "purpose": "Personalet får beskjed om natten hvis døren åpnes.",
}


async def test_placement_refused_without_basis_then_record_use_and_withdraw(env: Env) -> None:
    c, admin, lisa = env.client, env.auth("admin"), env.auth("lisa")
    placement = {"device": "door-A", "unit": "unit-A", "resident_id": "res-A"}
    r = await c.post("/api/v1/placements", json=placement, headers=admin)
    assert r.status_code == 409
    assert "door.closed, door.opened" in r.json()["detail"]

    r = await c.post("/api/v1/bases", json=DOOR_BASIS, headers=lisa)
    assert r.status_code == 201, r.text
    assert r.json()["decided_by"] == "lisa"  # who decided defaults to who recorded it
    assert (await c.post("/api/v1/bases", json=DOOR_BASIS, headers=lisa)).status_code == 409
    assert (await c.post("/api/v1/placements", json=placement, headers=admin)).status_code == 201

    stored = await env.send("door-A", "door.opened")
    assert [s.event.id for s in env.store.list_events(EventFilter())] == [stored]

    env.clock.now += timedelta(minutes=5)
    r = await c.post("/api/v1/bases/b-door/withdraw", json={"reason": "trakk samtykket"},
                     headers=lisa)  # fmt: skip
    assert r.status_code == 200
    assert r.json()["withdrawn_at"] is not None
    await env.send("door-A", "door.closed")
    assert [s.event.id for s in env.store.list_events(EventFilter())] == [stored]
    r = await c.get("/api/v1/bases/b-door", headers=lisa)
    assert [h["action"] for h in r.json()["history"]] == ["record", "withdraw"]
    assert r.json()["history"][1]["note"] == "trakk samtykket"
    # A withdrawn basis is not changed again: a new one is recorded.
    r = await c.post("/api/v1/bases/b-door/renew", json={"valid_to": None}, headers=lisa)
    assert r.status_code == 409


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"basis": "whim"}, "basis must be one of"),
        ({"kinds": ["door.slammed"]}, "unknown event kinds"),
        ({"valid_from": "2026-11-01T00:00:00"}, "offset"),
        ({"approved_at": "2026-11-01T00:00:00+01:00"}, "decision_hol_9"),
    ],
)
async def test_invalid_basis_refused_with_reason(env: Env, change: dict[str, Any], message: str) -> None:
    r = await env.client.post("/api/v1/bases", json=DOOR_BASIS | change, headers=env.auth("lisa"))
    assert r.status_code == 422
    assert message in r.json()["detail"]


async def test_kapittel_9_needs_approval_before_it_allows(env: Env) -> None:
    c, lisa = env.client, env.auth("lisa")
    hol9 = DOOR_BASIS | {"basis": "decision_hol_9", "windows": []}
    assert (await c.post("/api/v1/bases", json=hol9, headers=lisa)).status_code == 201
    env.store.place(PlacementRecord("door-A", "unit-A", resident_id="res-A"))
    await env.hub.reload_registry()
    await env.send("door-A", "door.opened")
    assert env.store.list_events(EventFilter()) == []
    r = await c.post("/api/v1/bases/b-door/approve",
                     json={"approved_at": NOW.isoformat(), "note": "SF 2026/99"}, headers=lisa)  # fmt: skip
    assert r.status_code == 200, r.text
    await env.send("door-A", "door.opened")
    assert len(env.store.list_events(EventFilter())) == 1


async def test_plain_language_page_access_log_and_break_the_glass(env: Env) -> None:
    c = env.client
    assert (await c.post("/api/v1/bases", json=DOOR_BASIS, headers=env.auth("lisa"))).status_code == 201
    r = await c.get("/api/v1/residents/res-A/monitoring?format=html", headers=env.auth("kari"))
    assert r.status_code == 200
    page = r.text
    for text in ("Johs Hansen", "22:00-07:00", "§ 4-6 a", "SAK-2026/17", "at døren åpnes",
                 "01.11.2027", "nattevakt", "leder", "30 dager"):  # fmt: skip
        assert text in page, text

    # ola works on unit-B: res-A is not his, until he breaks the glass with a reason.
    ola = env.auth("ola")
    assert (await c.get("/api/v1/residents/res-A/bases", headers=ola)).status_code == 404
    r = await c.post("/api/v1/residents/res-A/break-glass", json={"reason": "kort"}, headers=ola)
    assert r.status_code == 422
    reason = "Alarm fra leilighet H0101, kollega opptatt"
    r = await c.post("/api/v1/residents/res-A/break-glass", json={"reason": reason}, headers=ola)
    assert r.status_code == 201
    assert (await c.get("/api/v1/residents/res-A/bases", headers=ola)).status_code == 200
    env.clock.now += timedelta(hours=2)  # the grant lasts an hour
    assert (await c.get("/api/v1/residents/res-A/bases", headers=env.auth("ola"))).status_code == 404

    # The leader sees the break-the-glass, with the reason.
    r = await c.get("/api/v1/audit/break-glass", headers=env.auth("lisa"))
    assert [(e["who"], e["why"]) for e in r.json()] == [("ola", reason)]

    # The resident's access log: every read and write, who, what, why.
    r = await c.get("/api/v1/residents/res-A/access-log", headers=env.auth("lisa"))
    entries = r.json()["entries"]
    assert [(e["who"], e["what"]) for e in entries] == [
        ("lisa", "basis.record"),
        ("kari", "monitoring.read"),
        ("ola", "break_glass"),
        ("ola", "basis.list"),
        ("lisa", "break_glass.review"),
    ]
    assert entries[3]["why"] == f"break-the-glass: {reason}"
    assert (await c.get("/api/v1/residents/res-A/access-log", headers=env.auth("kari"))).status_code == 403
    r = await c.get("/api/v1/audit/verify", headers=env.auth("revisor"))
    assert r.json()["ok"] is True and r.json()["rows"] >= 5


async def test_failed_logins_are_rate_limited(env: Env) -> None:
    form = {"username": "kari", "password": "feil"}
    codes = [(await env.client.post("/api/v1/auth/token", data=form)).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    r = await env.client.post("/api/v1/auth/token", data=form | {"password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    env.clock.now += timedelta(minutes=16)
    r = await env.client.post("/api/v1/auth/token", data=form | {"password": PASSWORD})
    assert r.status_code == 200
