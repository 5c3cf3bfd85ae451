"""Every route that returns or changes resident data writes an audit entry (who, what, why).

Routes are discovered from the app (as in ``test_route_roles``): each must be listed
either in RESIDENT_ROUTES (with a call that touches resident ``res-1`` and the audit
action it must write) or in NO_RESIDENT_DATA, so a route added later is classified
by whoever adds it. Then every resident route is called and the resident's access
log must show the caller, the action and a non-empty why. Break-the-glass opens a
resident's alerts to a staff member outside their units, with the reason as the why.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uuid6
from argon2 import PasswordHasher
from test_route_roles import PUBLIC, api_routes

from devices.events import make_event
from hub import api, routing_api
from hub.access import Principal
from hub.alerts import Command
from hub.api import create_app
from hub.auth import TokenIssuer, hash_password
from hub.channels.router import Router
from hub.consent import notices
from hub.consent.access import BreakGlass
from hub.consent.auditing import glass_now
from hub.consent.locate import LocateRequest
from hub.metrics import Metrics
from hub.service import Hub
from hub.store.base import Account, Device, PlacementRecord, Resident, Role, Site, Unit
from hub.store.sqlite import SqliteStore
from rules.consent import BasisKind, basis_to_json

from builders import basis_change, covering_basis

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SITE, GW = "site-1", "gw-1"
TTL = timedelta(hours=1)

# (method, path) -> (user, url, body or None, setup calls, audit action)
Call = tuple[str, str, dict[str, Any] | None]
RESIDENT_ROUTES: dict[tuple[str, str], tuple[str, str, dict[str, Any] | str | None, list[Call], str]] = {
    ("GET", "/api/v1/alerts"): ("admin", "/api/v1/alerts", None, [], "alert.list"),
    ("GET", "/api/v1/alerts/stream"): ("kari", "/api/v1/alerts/stream", None, [], "alert.stream"),
    ("GET", "/api/v1/alerts/{alert_id}"): ("kari", "/api/v1/alerts/{alert}", None, [], "alert.read"),
    ("POST", "/api/v1/alerts/{alert_id}/accept"): (
        "kari", "/api/v1/alerts/{alert}/accept", None, [], "alert.accept"),
    ("POST", "/api/v1/alerts/{alert_id}/on-site"): (
        "kari", "/api/v1/alerts/{alert}/on-site", None,
        [("POST", "/api/v1/alerts/{alert}/accept", None)], "alert.on_site"),
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): (
        "kari", "/api/v1/alerts/{alert}/resolve", {"outcome": "assisted"},
        [("POST", "/api/v1/alerts/{alert}/accept", None)], "alert.resolve"),
    ("POST", "/api/v1/alerts/{alert_id}/reject"): (
        "kari", "/api/v1/alerts/{alert}/reject", None, [], "alert.reject"),
    ("POST", "/api/v1/alerts/{alert_id}/on-my-way"): (
        "kari", "/api/v1/alerts/{alert}/on-my-way", None, [], "alert.on_my_way"),
    ("GET", "/api/v1/alerts/{alert_id}/routing"): (
        "kari", "/api/v1/alerts/{alert}/routing", None, [], "alert.routing.read"),
    ("GET", "/api/v1/stats"): (
        "lisa", "/api/v1/stats?resident=true&since=2000-01-01T00:00:00Z", None,
        [("POST", "/api/v1/alerts/{alert}/accept", None),
         ("POST", "/api/v1/alerts/{alert}/resolve", {"outcome": "false_alarm"})],
        "stats.resident.read"),
    ("GET", "/api/v1/devices"): ("kari", "/api/v1/devices", None, [], "device.list"),
    ("GET", "/api/v1/devices/{device_id}"): (
        "kari", "/api/v1/devices/door-1", None, [], "device.read"),
    ("GET", "/api/v1/devices/{device_id}/history"): (
        "kari", "/api/v1/devices/door-1/history", None, [], "device.history"),
    ("POST", "/api/v1/devices/{device_id}/actions/{action}"): (
        "admin", "/api/v1/devices/door-1/actions/deactivate", {"note": "ferie"}, [],
        "device.deactivate"),
    ("PATCH", "/api/v1/devices/{device_id}"): (
        "admin", "/api/v1/devices/door-1", {"notes": "ny magnet"}, [], "device.update"),
    ("POST", "/api/v1/devices/import"): (
        "admin", "/api/v1/devices/import?dry_run=false",
        "id,model,site,gateway,unit,apartment,state\n"
        "door-1,door_contact,site-1,gw-1,unit-A,Leil. 1,in_service\n", [], "device.import"),
    ("GET", "/api/v1/devices/export"): (
        "admin", "/api/v1/devices/export", None, [], "device.export"),
    ("GET", "/api/v1/events"): ("kari", "/api/v1/events", None, [], "event.list"),
    ("GET", "/api/v1/residents/{resident_id}/bases"): (
        "kari", "/api/v1/residents/res-1/bases", None, [], "basis.list"),
    ("GET", "/api/v1/residents/{resident_id}/monitoring"): (
        "kari", "/api/v1/residents/res-1/monitoring", None, [], "monitoring.read"),
    ("POST", "/api/v1/bases"): (
        "lisa", "/api/v1/bases",
        basis_to_json(covering_basis("res-1", "basis-new")) | {"decided_by": "lisa"}, [],
        "basis.record"),
    ("GET", "/api/v1/bases/{basis_id}"): (
        "kari", "/api/v1/bases/basis-res-1", None, [], "basis.read"),
    ("POST", "/api/v1/bases/{basis_id}/review"): (
        "lisa", "/api/v1/bases/basis-res-1/review", {"review_at": "2027-01-01T00:00:00Z"}, [],
        "basis.review"),
    ("POST", "/api/v1/bases/{basis_id}/renew"): (
        "lisa", "/api/v1/bases/basis-res-1/renew", {"valid_to": "2030-01-01T00:00:00Z"}, [],
        "basis.renew"),
    ("POST", "/api/v1/bases/{basis_id}/approve"): (
        "lisa", "/api/v1/bases/basis-9/approve",
        {"approved_at": "2026-11-01T00:00:00Z", "note": "SF-2026/9"}, [], "basis.approve"),
    ("POST", "/api/v1/bases/{basis_id}/withdraw"): (
        "lisa", "/api/v1/bases/basis-9/withdraw", {"reason": "samtykke trukket"}, [],
        "basis.withdraw"),
    ("GET", "/api/v1/residents/{resident_id}/access-log"): (
        "lisa", "/api/v1/residents/res-1/access-log", None, [], "access_log.export"),
    ("POST", "/api/v1/residents/{resident_id}/break-glass"): (
        "ola", "/api/v1/residents/res-1/break-glass", {"reason": "kollega ba om hjelp nå"}, [],
        "break_glass"),
    ("GET", "/api/v1/audit/break-glass"): (
        "lisa", "/api/v1/audit/break-glass", None,
        [("POST", "/api/v1/residents/res-1/break-glass", {"reason": "kollega ba om hjelp nå"})],
        "break_glass.review"),
    ("POST", "/api/v1/placements"): (
        "admin", "/api/v1/placements",
        {"device": "door-2", "unit": "unit-A", "resident_id": "res-1"}, [], "placement.set"),
    ("GET", "/api/v1/consent/notices"): (
        "lisa", "/api/v1/consent/notices", None, [], "notice.list"),
    ("POST", "/api/v1/residents/{resident_id}/locate"): (
        "kari", "/api/v1/residents/res-1/locate", {"reason": "kom ikke til middag som avtalt"},
        [], "locate.request"),
    ("GET", "/api/v1/residents/{resident_id}/locate"): (
        "kari", "/api/v1/residents/res-1/locate", None, [], "locate.read"),
    ("POST", "/api/v1/locate/{request_id}/close"): (
        "lisa", "/api/v1/locate/locate-1/close", None, [], "locate.close"),
    ("GET", "/api/v1/residents/{resident_id}/relatives"): (
        "lisa", "/api/v1/residents/res-1/relatives", None, [], "relative.list"),
    ("PUT", "/api/v1/residents/{resident_id}/relatives/{relative_id}"): (
        "lisa", "/api/v1/residents/res-1/relatives/kari",
        {"display_name": "Kari", "relation": "datter", "phone": "+4791234567"}, [],
        "relative.set"),
    ("DELETE", "/api/v1/residents/{resident_id}/relatives/{relative_id}"): (
        "lisa", "/api/v1/residents/res-1/relatives/kari", None,
        [("PUT", "/api/v1/residents/res-1/relatives/kari",
          {"display_name": "Kari", "relation": "datter", "phone": "+4791234567"})],
        "relative.delete"),
    ("POST", "/api/v1/bases/{basis_id}/relatives"): (
        "lisa", "/api/v1/bases/basis-res-1/relatives", {"notify_relatives": ["kari"]},
        [("PUT", "/api/v1/residents/res-1/relatives/kari",
          {"display_name": "Kari", "relation": "datter", "phone": "+4791234567"})],
        "basis.relatives"),
    ("GET", "/api/v1/residents/{resident_id}/overview"): (
        "johs", "/api/v1/residents/res-1/overview", None, [], "overview.read"),
}
# Routes that return and change no resident data (staff rosters, notices by basis id
# only, the chain check, operations). Public routes are in test_route_roles.PUBLIC.
NO_RESIDENT_DATA = {
    ("GET", "/api/v1/roster/shifts"),
    ("PUT", "/api/v1/roster/shifts/{shift_id}"),
    ("DELETE", "/api/v1/roster/shifts/{shift_id}"),
    ("GET", "/api/v1/roster/on-duty"),
    ("POST", "/api/v1/shift/logon"),
    ("POST", "/api/v1/shift/logoff"),
    ("POST", "/api/v1/consent/notices/acknowledge"),
    ("GET", "/api/v1/audit/verify"),
    ("POST", "/api/v1/devices"),  # a new device is on the shelf: it serves nobody yet
    ("GET", "/api/v1/gateways"),  # a gateway serves a site: no resident in it
    ("GET", "/api/v1/gateways/{site}/{gateway}"),
    ("POST", "/api/v1/gateways/{site}/{gateway}/provision"),  # audited, but no resident
    ("POST", "/api/v1/gateways/{site}/{gateway}/revoke"),
    ("PATCH", "/api/v1/gateways/{site}/{gateway}"),
    # device ids, classes and units; no resident id or name
    ("GET", "/api/v1/devices/attention"),
}
ACCOUNTS = {
    "admin": (Role.ADMIN, None, ()),
    "lisa": (Role.LEADER, SITE, ("unit-A", "unit-B")),
    "kari": (Role.NATTEVAKT, SITE, ("unit-A",)),
    "ola": (Role.NATTEVAKT, SITE, ("unit-B",)),
    "johs": (Role.RESIDENT, None, ()),  # the resident res-1 himself (bound below)
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
    alert: str

    def auth(self, username: str) -> dict[str, str]:
        account = self.store.get_account(username)
        assert account is not None
        own = self.store.account_residents(username)
        return {"Authorization": f"Bearer {self.tokens.issue(account, self.clock(), own)[0]}"}

    def log(self, resident: str = "res-1") -> list[tuple[str, str, str | None]]:
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
    store.upsert_resident(Resident("res-1", SITE, "unit-A", "Johs Hansen"))
    for device in ("door-1", "door-2"):
        store.upsert_device(Device(device, SITE, GW, "door_contact"))
    store.place(PlacementRecord("door-1", "unit-A", "Leil. 1", None, "res-1"))
    basis = replace(covering_basis("res-1"), valid_to=NOW + timedelta(days=10))
    store.save_basis(basis, basis_change(basis))
    hol9 = replace(covering_basis("res-1", "basis-9"), basis=BasisKind.DECISION_HOL_9)
    store.save_basis(hol9, basis_change(hol9))
    assert notices.send_due(store, NOW) == 1  # the first basis expires in 10 days
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    hashed = hash_password("x" * 12, hasher=fast)
    for username, (role, site, units) in ACCOUNTS.items():
        store.upsert_account(Account(username, username, role, hashed, site, units))
    store.bind_account_residents("johs", ["res-1"])
    clock = Clock()
    hub = Hub(store, metrics=Metrics(), clock=clock)
    await hub.start()
    router = Router(hub, [], clock=clock)
    await router.start()
    hub.add_notifier(router)
    tokens = TokenIssuer(ttl=TTL)
    app = create_app(hub, tokens, clock)
    routing_api.install(app, router)
    event = make_event(id=str(uuid6.uuid7()), site=SITE, gateway=GW, device="door-1",
                       kind="door.opened", ts=clock(), seq=1)  # fmt: skip
    hub.handle_message(event.to_json().encode(), f"trygg/v1/{SITE}/{GW}/events")
    await hub.drain()
    # An alert for the resident, whatever the rules make of one door: raise it directly.
    alert = await _raise(hub, clock)
    hub.consent.locates.add(
        LocateRequest("locate-1", "res-1", "kari", "kom ikke hjem", clock(), clock() + TTL)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://trygg"
    ) as client:
        yield Env(hub, store, tokens, clock, client, alert)
    await router.drain()
    await hub.stop()
    store.close()


async def _raise(hub: Hub, clock: Clock) -> str:
    event = make_event(id=str(uuid6.uuid7()), site=SITE, gateway=GW, device="door-1",
                       kind="alarm.button", ts=clock(), seq=2)  # fmt: skip
    hub.handle_message(event.to_json().encode(), f"trygg/v1/{SITE}/{GW}/events")
    await hub.drain()
    (alert,) = [a for a in hub.open_alerts() if a.resident_id == "res-1"]
    return alert.id


def test_every_route_is_classified() -> None:
    store = SqliteStore(":memory:")
    store.migrate()
    app = create_app(Hub(store), TokenIssuer(), lambda: NOW)
    routing_api.install(app, None)
    found = {(m, p) for m, p, _ in api_routes(app)} - PUBLIC
    unclassified = found - set(RESIDENT_ROUTES) - NO_RESIDENT_DATA
    assert unclassified == set(), "list each new route in RESIDENT_ROUTES or NO_RESIDENT_DATA"
    assert set(RESIDENT_ROUTES) <= found and found >= NO_RESIDENT_DATA, "a listed route is gone"
    store.close()


async def _call(env: Env, user: str, method: str, url: str, body: Any) -> httpx.Response:
    url = url.replace("{alert}", env.alert)
    if isinstance(body, str):  # a CSV file
        return await env.client.request(method, url, content=body, headers=env.auth(user))
    return await env.client.request(method, url, json=body, headers=env.auth(user))


@pytest.mark.parametrize("route", sorted(RESIDENT_ROUTES), ids=" ".join)
async def test_route_writes_an_audit_entry(env: Env, route: tuple[str, str]) -> None:
    user, url, body, setup, action = RESIDENT_ROUTES[route]
    for method, path, data in setup:
        r = await _call(env, "lisa" if "break-glass" not in path else "ola", method, path, data)
        assert r.status_code < 400, (path, r.text)
    before = len(env.log())
    if route[1].endswith("/stream"):
        env.clock.now = NOW  # the token expires 20 ms after the snapshot: the stream ends
        headers = env.auth(user)
        env.clock.now = NOW + TTL - timedelta(milliseconds=20)
        r = await env.client.get(url, headers=headers)
        assert "event: snapshot" in r.text
    else:
        r = await _call(env, user, route[0], url, body)
    assert r.status_code < 400, r.text
    new = env.log()[before:]
    assert any(who == user and what == action and why for who, what, why in new), new


async def test_break_the_glass_opens_alerts_outside_ones_units(env: Env) -> None:
    c = env.client
    r = await c.get("/api/v1/alerts", headers=env.auth("ola"))
    assert [a["id"] for a in r.json()] == []
    r = await c.get(f"/api/v1/alerts/{env.alert}", headers=env.auth("ola"))
    assert r.status_code == 404
    reason = "Kari ba om hjelp over radio"
    r = await c.post("/api/v1/residents/res-1/break-glass", json={"reason": reason},
                     headers=env.auth("ola"))  # fmt: skip
    assert r.status_code == 201
    r = await c.get("/api/v1/alerts", headers=env.auth("ola"))
    assert [a["id"] for a in r.json()] == [env.alert]
    r = await c.get(f"/api/v1/alerts/{env.alert}", headers=env.auth("ola"))
    assert r.status_code == 200
    assert r.json()["resident_name"] == "Johs Hansen"
    r = await c.post(f"/api/v1/alerts/{env.alert}/accept", headers=env.auth("ola"))
    assert r.status_code == 200
    reads = [(w, a, y) for w, a, y in env.log() if w == "ola"]
    assert ("ola", "alert.read", f"break-the-glass: {reason}") in reads
    assert ("ola", "alert.accept", f"break-the-glass: {reason}") in reads
    # The leader sees the grant with its reason.
    r = await c.get("/api/v1/audit/break-glass", headers=env.auth("lisa"))
    assert [(g["who"], g["why"]) for g in r.json()] == [("ola", reason)]
    # An hour later the grant is gone and so is the view.
    env.clock.now += timedelta(hours=1, seconds=1)
    r = await c.get(f"/api/v1/alerts/{env.alert}", headers=env.auth("ola"))
    assert r.status_code == 404
    r = await c.get("/api/v1/alerts", headers=env.auth("ola"))
    assert r.json() == []


async def test_reads_of_other_residents_are_not_logged_against_this_one(env: Env) -> None:
    """A list read writes one entry per resident shown, none for residents not shown."""
    r = await env.client.get("/api/v1/alerts", headers=env.auth("ola"))
    assert r.json() == []
    assert [e for e in env.log() if e[0] == "ola"] == []


async def test_the_stream_follows_break_the_glass_grants(env: Env) -> None:
    """A stream lasts a shift, a grant an hour: the stream stops showing the resident
    when the grant ends, without a reconnect."""
    glass = BreakGlass()
    glass.grant("ola", "res-1", NOW + timedelta(hours=1), "kollega trengte hjelp")
    app = SimpleNamespace(state=SimpleNamespace(break_glass=glass, clock=env.clock))
    ola = Principal("ola", Role.NATTEVAKT, SITE, ("unit-B",))
    stream = api._alert_stream(env.hub, ola, env.clock, None, glass_now(app))
    first = await anext(stream)
    assert first.event == "snapshot" and env.alert in str(first.data)
    pushed = asyncio.ensure_future(anext(stream))
    await env.hub.command(env.alert, Command.ACCEPT, "kari")
    assert (await asyncio.wait_for(pushed, 2)).event == "alert"
    env.clock.now = NOW + timedelta(hours=1, seconds=1)
    pushed = asyncio.ensure_future(anext(stream))
    await env.hub.command(env.alert, Command.ON_SITE, "kari")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(pushed), 0.3)
    pushed.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pushed
    await stream.aclose()
