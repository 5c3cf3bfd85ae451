"""GET /api/v1/residents/{id}/overview through the real app: a resident and a guardian read
only their own residents (403, audited, for anyone else), every view is audited, staff
keep their scope, and logging in tells a resident account whose page it has."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uuid6
from argon2 import PasswordHasher

from devices.events import make_event
from hub import resident_api
from hub.alerts import Command, Outcome
from hub.api import create_app
from hub.auth import TokenIssuer, hash_password
from hub.metrics import Metrics
from hub.service import Hub
from hub.store.base import Account, Device, PlacementRecord, Resident, Role, Site, Unit
from hub.store.sqlite import SqliteStore

from builders import basis_change, covering_basis

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SITE, GW = "site-1", "gw-1"
PASSWORD = "resident page test"
ACCOUNTS: dict[str, tuple[str, Role, str | None, tuple[str, ...], tuple[str, ...]]] = {
    # username: (display name, role, site, units, bound residents)
    "ingrid": ("Ingrid Solberg", Role.RESIDENT, None, (), ("res-A",)),
    "magnus": ("Magnus Haugen", Role.RESIDENT, None, (), ("res-B",)),
    "verge": ("Vera Verge", Role.GUARDIAN, None, (), ("res-A", "res-C")),
    "unbound": ("Uten Beboer", Role.RESIDENT, None, (), ()),
    "kari": ("Kari Nordmann", Role.NATTEVAKT, SITE, ("unit-A",), ()),
    "ola": ("Ola Dunk", Role.NATTEVAKT, SITE, ("unit-B",), ()),
    "lisa": ("Lisa Berg", Role.LEADER, SITE, ("unit-A", "unit-B"), ()),
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
    client: httpx.AsyncClient
    clock: Clock
    alert: str

    async def login(self, username: str) -> dict[str, str]:
        r = await self.client.post(
            "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def log(self, resident: str) -> list[tuple[str, str, str | None]]:
        return [
            (r.entry.actor, r.entry.action, r.entry.reason)
            for r in self.store.audit_records(resident, 0, 10_000)
        ]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    store = SqliteStore(":memory:")
    store.migrate()
    store.upsert_site(Site(SITE, "Solsiden"))
    for unit in ("unit-A", "unit-B"):
        store.upsert_unit(Unit(unit, SITE, unit))
    for rid, unit, name in (("res-A", "unit-A", "Ingrid Solberg"),
                            ("res-B", "unit-A", "Magnus Haugen"),
                            ("res-C", "unit-B", "Sigrid Nilsen")):  # fmt: skip
        store.upsert_resident(Resident(rid, SITE, unit, name))
        basis = replace(covering_basis(rid), purpose="Så du får hjelp når du trykker.")
        store.save_basis(basis, basis_change(basis, "lisa"))
    store.upsert_device(Device("btn-A", SITE, GW, "alarm_button"))
    store.place(PlacementRecord("btn-A", "unit-A", "Leil. 1", None, "res-A"))
    hashed = hash_password(
        PASSWORD, hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    for username, (display, role, site, units, residents) in ACCOUNTS.items():
        store.upsert_account(Account(username, display, role, hashed, site, units))
        if residents:
            store.bind_account_residents(username, residents)
    clock = Clock()
    hub = Hub(store, metrics=Metrics(), clock=clock)
    await hub.start()
    app = create_app(hub, TokenIssuer(), clock)
    event = make_event(id=str(uuid6.uuid7()), site=SITE, gateway=GW, device="btn-A",
                       kind="alarm.button", ts=clock(), seq=1)  # fmt: skip
    hub.handle_message(event.to_json().encode(), f"trygg/v1/{SITE}/{GW}/events")
    await hub.drain()
    (alert,) = [a for a in hub.open_alerts() if a.resident_id == "res-A"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://trygg"
    ) as client:
        yield Env(hub, store, client, clock, alert.id)
    await hub.stop()
    store.close()


async def _handle(env: Env) -> None:
    """Kari takes the alarm, comes, and closes it: the resident was helped."""
    env.clock.now = NOW + timedelta(minutes=1)
    await env.hub.command(env.alert, Command.ACCEPT, "kari")
    env.clock.now = NOW + timedelta(minutes=6)
    await env.hub.command(env.alert, Command.ON_SITE, "kari")
    env.clock.now = NOW + timedelta(minutes=20)
    await env.hub.command(env.alert, Command.RESOLVE, "kari", outcome=Outcome.ASSISTED)
    await env.hub.drain()


async def test_login_tells_a_resident_account_whose_page_it_has(env: Env) -> None:
    r = await env.client.post(
        "/api/v1/auth/token", data={"username": "verge", "password": PASSWORD}
    )
    assert r.status_code == 200
    assert r.json()["role"] == "guardian" and r.json()["residents"] == ["res-A", "res-C"]
    r = await env.client.post("/api/v1/auth/token", data={"username": "kari", "password": PASSWORD})
    assert r.json()["residents"] == []


async def test_a_resident_account_bound_to_nobody_cannot_log_in(env: Env) -> None:
    r = await env.client.post(
        "/api/v1/auth/token", data={"username": "unbound", "password": PASSWORD}
    )
    assert r.status_code == 403 and "not bound" in r.json()["detail"]


async def test_my_own_page_shows_the_alarm_who_came_and_the_basis(env: Env) -> None:
    await _handle(env)
    env.clock.now = NOW + timedelta(hours=5)
    r = await env.client.get("/api/v1/residents/res-A/overview", headers=await env.login("ingrid"))
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["resident_id"] == "res-A" and page["name"] == "Ingrid Solberg"
    (alarm,) = page["alarms"]
    assert alarm["id"] == env.alert and alarm["kind"] == "alarm.button"
    assert alarm["state"] == "resolved" and alarm["outcome"] == "assisted"
    assert alarm["accepted_by"] == "Kari" and alarm["on_site_by"] == "Kari"
    assert alarm["accepted_at"] == (NOW + timedelta(minutes=1)).isoformat()
    assert alarm["on_site_at"] == (NOW + timedelta(minutes=6)).isoformat()
    assert alarm["resolved_at"] == (NOW + timedelta(minutes=20)).isoformat()
    assert "kari" not in r.text and "Nordmann" not in r.text  # first name only
    (measure,) = page["monitoring"]
    assert measure["why"] == "Så du får hjelp når du trykker."
    assert measure["basis"] == "consent" and measure["state"] == "allowed"
    assert measure["basis_id"] == "basis-res-A"
    assert "lisa" not in r.text  # who recorded the basis is not on the page
    assert ("ingrid", "overview.read", "the resident's own page") in env.log("res-A")
    (read,) = [r for r in env.store.audit_records("res-A", 0, 100) if r.entry.actor == "ingrid"]
    assert read.entry.target == env.alert  # which alarms were shown


def test_the_audit_target_names_at_most_20_alarms() -> None:
    ids = [f"a-{i:02}" for i in range(25)]
    assert resident_api._targets(ids) == ",".join(ids[:20]) + ",+5 more"
    assert resident_api._targets(ids[:2]) == "a-00,a-01"
    assert resident_api._targets([]) is None


async def test_an_open_alarm_shows_at_once(env: Env) -> None:
    """The hub's open alerts are newer than the store's copy."""
    r = await env.client.get("/api/v1/residents/res-A/overview", headers=await env.login("ingrid"))
    (alarm,) = r.json()["alarms"]
    assert alarm["state"] in ("raised", "notified") and alarm["accepted_by"] is None


async def test_another_residents_page_is_refused_and_the_refusal_audited(env: Env) -> None:
    headers = await env.login("magnus")
    r = await env.client.get("/api/v1/residents/res-A/overview", headers=headers)
    assert r.status_code == 403
    assert "Ingrid" not in r.text and env.alert not in r.text
    refused = [e for e in env.log("res-A") if e[0] == "magnus"]
    assert refused == [("magnus", "overview.refused", "refused: not the caller's own resident")]
    # A resident that does not exist answers the same: no way to probe for ids.
    r = await env.client.get("/api/v1/residents/res-Z/overview", headers=headers)
    assert r.status_code == 403
    assert [e[1] for e in env.log("res-Z")] == ["overview.refused"]
    # The refusal shows in the access log the leader hands the resident (GDPR art. 15).
    r = await env.client.get("/api/v1/residents/res-A/access-log", headers=await env.login("lisa"))
    assert ("magnus", "overview.refused") in [(e["who"], e["what"]) for e in r.json()["entries"]]


async def test_a_guardian_reads_each_of_their_residents_and_no_one_else(env: Env) -> None:
    headers = await env.login("verge")
    for rid, name in (("res-A", "Ingrid Solberg"), ("res-C", "Sigrid Nilsen")):
        r = await env.client.get(f"/api/v1/residents/{rid}/overview", headers=headers)
        assert r.status_code == 200 and r.json()["name"] == name
        assert ("verge", "overview.read", "the resident's own page") in env.log(rid)
    r = await env.client.get("/api/v1/residents/res-B/overview", headers=headers)
    assert r.status_code == 403
    assert [e[1] for e in env.log("res-B") if e[0] == "verge"] == ["overview.refused"]


async def test_without_a_token_401(env: Env) -> None:
    r = await env.client.get("/api/v1/residents/res-A/overview")
    assert r.status_code == 401
    assert env.log("res-A") == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/alerts",
        "/api/v1/alerts/{alert}",
        "/api/v1/events",
        "/api/v1/devices",
        "/api/v1/residents/res-A/monitoring",
        "/api/v1/residents/res-A/bases",
        "/api/v1/residents/res-A/access-log",
    ],
)
async def test_a_resident_gets_nothing_from_the_staff_routes(env: Env, path: str) -> None:
    r = await env.client.get(path.replace("{alert}", env.alert), headers=await env.login("ingrid"))
    assert r.status_code == 403


async def test_a_resident_cannot_act_on_their_own_alarm(env: Env) -> None:
    r = await env.client.post(
        f"/api/v1/alerts/{env.alert}/accept", headers=await env.login("ingrid")
    )
    assert r.status_code == 403


async def test_staff_keep_their_unit_scope(env: Env) -> None:
    r = await env.client.get("/api/v1/residents/res-A/overview", headers=await env.login("kari"))
    assert r.status_code == 200 and r.json()["name"] == "Ingrid Solberg"
    assert ("kari", "overview.read", "the resident's own page") in env.log("res-A")
    # Ola works in unit B: res-A is not his, and he learns nothing, not even that she exists.
    r = await env.client.get("/api/v1/residents/res-A/overview", headers=await env.login("ola"))
    assert r.status_code == 404
    r = await env.client.get("/api/v1/residents/res-C/overview", headers=await env.login("ola"))
    assert r.status_code == 200
    # Their existing routes are unchanged.
    r = await env.client.get("/api/v1/alerts", headers=await env.login("kari"))
    assert [a["id"] for a in r.json()] == [env.alert]
