"""The HTTP API over a real Hub on an in-memory SQLite store.

Events go in through ``Hub.handle_message`` (no broker); requests go through
httpx's ASGI transport, except the SSE stream, which that transport buffers:
it runs against a real uvicorn server on a free local port.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher

from devices.events import make_event
from hub import api
from hub.alerts import Command
from hub.api import create_app
from hub.auth import DEFAULT_TOKEN_TTL, Principal, TokenIssuer, hash_password
from hub.errors import StoreError
from hub.metrics import Metrics
from hub.service import Hub
from hub.store.base import Account, AlertFilter, Device, PlacementRecord, Resident, Role, Site, Unit
from hub.store.sqlite import SqliteStore
from rules.decisions import Category

from builders import NOW, alert, basis_change, covering_basis, event_id

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "korrekt hest batteri"
SITE, GATEWAY = "site-1", "gw-1"
TOPIC = f"trygg/v1/{SITE}/{GATEWAY}/events"
TIMEOUT = 5.0

ACCOUNTS = {
    "admin": (Role.ADMIN, None, ()),
    "kari": (Role.NATTEVAKT, SITE, ("unit-A",)),
    "ola": (Role.NATTEVAKT, SITE, ("unit-B",)),
    "tore": (Role.TEKNIKER, SITE, ()),
    "lisa": (Role.LEADER, SITE, ("unit-A",)),
    "revisor": (Role.AUDITOR, None, ()),
    "knapp": (Role.RESIDENT_DEVICE, SITE, ()),
}
# device -> (type, unit, resident)
DEVICES = {
    "btn-A": ("alarm_button", "unit-A", "res-A"),
    "fall-A": ("fall_sensor", "unit-A", "res-A"),
    "staff-A": ("staff_alarm", "unit-A", None),
    "btn-B": ("alarm_button", "unit-B", "res-B"),
}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Env:
    hub: Hub
    store: SqliteStore
    tokens: TokenIssuer
    clock: Clock
    client: httpx.AsyncClient
    seq: Iterator[int]

    def auth(self, username: str) -> dict[str, str]:
        account = self.store.get_account(username)
        assert account is not None
        token, _ = self.tokens.issue(account, self.clock())
        return {"Authorization": f"Bearer {token}"}

    async def send(self, kind: str, device: str, *, drain: bool = True, **data: Any) -> str:
        """Inject one event as if from the broker; return its id (once stored)."""
        n = next(self.seq)
        ev = make_event(
            id=event_id(n), site=SITE, gateway=GATEWAY, device=device, kind=kind,
            ts=NOW + timedelta(seconds=n), seq=n, data=data,
        )  # fmt: skip
        self.hub.handle_message(ev.to_json().encode(), TOPIC)
        if drain:
            await self.hub.drain()
        return ev.id

    async def raise_alert(self, kind: str = "alarm.button", device: str = "btn-A") -> str:
        await self.send(kind, device)
        # Advance the clock so raised_at orders the alerts.
        self.clock.now += timedelta(seconds=1)
        newest = max(self.hub.open_alerts(), key=lambda a: (a.raised_at, a.id))
        return newest.id


def seed(store: SqliteStore) -> None:
    store.upsert_site(Site(SITE, "Solsiden bofellesskap"))
    store.upsert_site(Site("site-2", "Elvebakken"))
    for unit in ("unit-A", "unit-B"):
        store.upsert_unit(Unit(unit, SITE, unit))
    store.upsert_resident(Resident("res-A", SITE, "unit-A", "Johs Hansen", "H0101"))
    store.upsert_resident(Resident("res-B", SITE, "unit-B", "Anne Berg", "H0201"))
    for resident_id in ("res-A", "res-B"):
        basis = covering_basis(resident_id)
        store.save_basis(basis, basis_change(basis))
    for device, (type_, unit, resident) in DEVICES.items():
        store.upsert_device(Device(device, SITE, GATEWAY, type_))
        store.place(PlacementRecord(device, unit, resident_id=resident))
    store.upsert_device(Device("btn-Z", "site-2", "gw-9", "alarm_button"))
    hashed = hash_password(PASSWORD, hasher=FAST)
    for username, (role, site, units) in ACCOUNTS.items():
        store.upsert_account(Account(username, username.title(), role, hashed, site, units))


class Handhelds:
    """A delivery channel that always has the alert, as a connected broker would."""

    channel = "handhelds"

    async def send(self, alert: object) -> bool:
        return True


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    store = SqliteStore(":memory:")
    store.migrate()
    seed(store)
    clock = Clock(NOW)
    ids = itertools.count(1)
    hub = Hub(store, metrics=Metrics(), clock=clock, new_id=lambda: f"alert-{next(ids)}")
    hub.add_notifier(Handhelds())
    await hub.start()
    tokens = TokenIssuer()
    app = create_app(hub, tokens, clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://trygg") as client:
        yield Env(hub, store, tokens, clock, client, itertools.count(1))
    await hub.stop()
    store.close()


# --- login and authentication ---------------------------------------------------------


async def test_login(env: Env) -> None:
    form = {"username": "kari", "password": PASSWORD}
    r = await env.client.post("/api/v1/auth/token", data=form)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["role"] == "nattevakt"
    assert body["expires_in"] == DEFAULT_TOKEN_TTL.total_seconds()
    assert r.headers["cache-control"] == "no-store"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await env.client.get("/api/v1/alerts", headers=headers)).status_code == 200


@pytest.mark.parametrize(
    ("username", "password"), [("kari", "feil"), ("ingen", PASSWORD), ("ola", PASSWORD + " ")]
)
async def test_login_refused_with_one_message(env: Env, username: str, password: str) -> None:
    form = {"username": username, "password": password}
    r = await env.client.post("/api/v1/auth/token", data=form)
    assert r.status_code == 401
    assert r.json() == {"detail": "wrong username or password"}
    assert r.headers["www-authenticate"] == "Bearer"


ROUTES = [
    ("GET", "/api/v1/alerts"),
    ("GET", "/api/v1/alerts/stream"),
    ("GET", "/api/v1/alerts/alert-1"),
    ("POST", "/api/v1/alerts/alert-1/accept"),
    ("POST", "/api/v1/alerts/alert-1/on-site"),
    ("POST", "/api/v1/alerts/alert-1/resolve"),
    ("GET", "/api/v1/devices"),
    ("GET", "/api/v1/events"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("authorization", [None, "Bearer nonsense", "Basic a2FyaTp4"])
async def test_routes_need_a_valid_token(
    env: Env, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    r = await env.client.request(method, path, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


async def test_expired_token(env: Env) -> None:
    headers = env.auth("kari")
    env.clock.now += DEFAULT_TOKEN_TTL
    r = await env.client.get("/api/v1/alerts", headers=headers)
    assert r.status_code == 401


async def test_query_token_only_on_the_stream(env: Env) -> None:
    token = env.auth("kari")["Authorization"].removeprefix("Bearer ")
    r = await env.client.get("/api/v1/alerts", params={"access_token": token})
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("username", "method", "path"),
    [
        ("knapp", "GET", "/api/v1/alerts"),
        ("knapp", "GET", "/api/v1/events"),
        ("revisor", "POST", "/api/v1/alerts/alert-1/accept"),
        ("revisor", "GET", "/api/v1/devices"),
        ("revisor", "GET", "/api/v1/events"),
    ],
)
async def test_roles_without_the_route_get_403(
    env: Env, username: str, method: str, path: str
) -> None:
    r = await env.client.request(method, path, headers=env.auth(username))
    assert r.status_code == 403


# --- alerts ----------------------------------------------------------------------------


async def test_alert_list_is_scoped_filtered_and_sorted(env: Env) -> None:
    first = await env.raise_alert("alarm.button", "btn-A")
    fall = await env.raise_alert("fall.detected", "fall-A")
    other = await env.raise_alert("alarm.button", "btn-B")
    colleague = await env.raise_alert("staff.alarm", "staff-A")
    r = await env.client.get("/api/v1/alerts", headers=env.auth("kari"))
    assert r.status_code == 200
    # Critical first (newest first among them), then high; unit-B is not kari's.
    assert [a["id"] for a in r.json()] == [colleague, fall, first]
    assert all(a["state"] == "notified" and a["is_open"] for a in r.json())
    admin = await env.client.get("/api/v1/alerts", headers=env.auth("admin"))
    assert {a["id"] for a in admin.json()} == {first, fall, other, colleague}

    async def query(**params: Any) -> list[str]:
        r = await env.client.get("/api/v1/alerts", params=params, headers=env.auth("kari"))
        assert r.status_code == 200, r.text
        return [a["id"] for a in r.json()]

    assert await query(category="colleague") == [colleague]
    assert await query(category=["colleague", "resident"]) == [colleague, fall, first]
    assert await query(state="open") == [colleague, fall, first]
    assert await query(state=["raised", "accepted"]) == []
    assert await query(state="resolved") == []
    assert await query(site="site-2") == []
    assert await query(limit=1) == [colleague]
    r = await env.client.get("/api/v1/alerts", params={"state": "nope"}, headers=env.auth("kari"))
    assert r.status_code == 422


async def test_alert_detail(env: Env) -> None:
    alert_id = await env.raise_alert("alarm.button", "btn-A")
    r = await env.client.get(f"/api/v1/alerts/{alert_id}", headers=env.auth("kari"))
    assert r.status_code == 200
    body = r.json()
    assert body["resident_id"] == "res-A"
    assert body["resident_name"] == "Johs Hansen"
    assert [e["kind"] for e in body["events"]] == ["alarm.button"]
    assert body["events"][0]["data"] == {"press": "single"}
    assert [t["to_state"] for t in body["transitions"]] == ["raised", "notified"]
    revisor = await env.client.get(f"/api/v1/alerts/{alert_id}", headers=env.auth("revisor"))
    assert revisor.status_code == 200
    assert revisor.json()["resident_name"] is None


async def test_alert_life_cycle(env: Env) -> None:
    alert_id = await env.raise_alert()
    headers = env.auth("kari")
    base = f"/api/v1/alerts/{alert_id}"
    r = await env.client.post(f"{base}/accept", headers=headers)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["accepted_by"]) == ("accepted", "kari")
    r = await env.client.post(f"{base}/on-site", headers=headers)
    assert r.json()["state"] == "on_site"
    body = {"outcome": "assisted", "note": "Hjalp Johs tilbake i seng"}
    r = await env.client.post(f"{base}/resolve", json=body, headers=headers)
    assert r.status_code == 200
    assert r.json()["state"] == "resolved"
    assert r.json()["outcome"] == "assisted"
    assert not r.json()["is_open"]
    await env.hub.drain()
    detail = (await env.client.get(base, headers=headers)).json()
    assert [(t["to_state"], t["actor"]) for t in detail["transitions"]] == [
        ("raised", "system"),
        ("notified", "system"),
        ("accepted", "kari"),
        ("on_site", "kari"),
        ("resolved", "kari"),
    ]
    resolved = await env.client.get("/api/v1/alerts", params={"state": "resolved"}, headers=headers)
    assert [a["id"] for a in resolved.json()] == [alert_id]


async def test_illegal_transition_is_409(env: Env) -> None:
    alert_id = await env.raise_alert()
    body = {"outcome": "false_alarm"}
    url = f"/api/v1/alerts/{alert_id}/resolve"
    r = await env.client.post(url, json=body, headers=env.auth("kari"))
    assert r.status_code == 409
    assert "notified" in r.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"outcome": "fixed_it"},
        {},
        {"outcome": "assisted", "note": "x" * 1001},
        {"outcome": "assisted", "extra": 1},
    ],
)
async def test_bad_resolve_body_is_422(env: Env, body: dict[str, Any]) -> None:
    alert_id = await env.raise_alert()
    headers = env.auth("kari")
    await env.client.post(f"/api/v1/alerts/{alert_id}/accept", headers=headers)
    r = await env.client.post(f"/api/v1/alerts/{alert_id}/resolve", json=body, headers=headers)
    assert r.status_code == 422


async def test_other_units_alert_is_not_found(env: Env) -> None:
    alert_id = await env.raise_alert("alarm.button", "btn-A")
    headers = env.auth("ola")
    assert (await env.client.get(f"/api/v1/alerts/{alert_id}", headers=headers)).status_code == 404
    r = await env.client.post(f"/api/v1/alerts/{alert_id}/accept", headers=headers)
    assert r.status_code == 404
    assert (await env.client.get("/api/v1/alerts", headers=headers)).json() == []
    # The same answer as for an alert that does not exist: existence does not leak.
    missing = await env.client.get("/api/v1/alerts/alert-999", headers=headers)
    assert missing.status_code == 404


async def test_tekniker_sees_technical_alerts_only(env: Env) -> None:
    resident = await env.raise_alert("alarm.button", "btn-A")
    technical = await env.raise_alert("device.battery_low", "btn-A")
    headers = env.auth("tore")
    r = await env.client.get(f"/api/v1/alerts/{resident}", headers=headers)
    assert r.status_code == 404
    listed = (await env.client.get("/api/v1/alerts", headers=headers)).json()
    assert [(a["id"], a["category"]) for a in listed] == [(technical, "technical")]
    detail = (await env.client.get(f"/api/v1/alerts/{technical}", headers=headers)).json()
    assert detail["resident_name"] is None
    accepted = await env.client.post(f"/api/v1/alerts/{technical}/accept", headers=headers)
    assert accepted.status_code == 200
    # Night staff do not get technical alerts; their leader does.
    kari = await env.client.get(f"/api/v1/alerts/{technical}", headers=env.auth("kari"))
    assert kari.status_code == 404
    lisa = await env.client.get(f"/api/v1/alerts/{technical}", headers=env.auth("lisa"))
    assert lisa.status_code == 200


async def test_auditor_reads_but_cannot_act(env: Env) -> None:
    alert_id = await env.raise_alert()
    headers = env.auth("revisor")
    assert (await env.client.get(f"/api/v1/alerts/{alert_id}", headers=headers)).status_code == 200
    r = await env.client.post(f"/api/v1/alerts/{alert_id}/accept", headers=headers)
    assert r.status_code == 403


async def test_command_on_unknown_alert_is_404(env: Env) -> None:
    r = await env.client.post("/api/v1/alerts/alert-404/on-site", headers=env.auth("admin"))
    assert r.status_code == 404


async def test_the_board_works_while_the_store_lags(env: Env) -> None:
    # Alert writes fail and are retried in the background; the hub's own open
    # alerts still reach the list and the detail view.
    def failing(*args: Any) -> None:
        raise StoreError("disk full")

    save = env.store.save_alert
    env.store.save_alert = failing  # type: ignore[method-assign]
    try:
        await env.send("alarm.button", "btn-A", drain=False)
        await asyncio.sleep(0.05)
        assert env.store.list_alerts(AlertFilter()) == []
        (live,) = env.hub.open_alerts()
        headers = env.auth("kari")
        listed = (await env.client.get("/api/v1/alerts", headers=headers)).json()
        assert [a["id"] for a in listed] == [live.id]
        detail = await env.client.get(f"/api/v1/alerts/{live.id}", headers=headers)
        assert detail.status_code == 200
    finally:
        env.store.save_alert = save  # type: ignore[method-assign]
    await env.hub.drain()


async def test_store_failure_on_read_is_503(env: Env) -> None:
    def failing(*args: Any) -> None:
        raise StoreError("database is locked")

    env.store.list_alerts = failing  # type: ignore[method-assign]
    r = await env.client.get("/api/v1/alerts", headers=env.auth("kari"))
    assert r.status_code == 503


# --- events and devices ---------------------------------------------------------------------


async def _pages(env: Env, username: str, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: int | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor is not None else {})}
        r = await env.client.get("/api/v1/events", params=query, headers=env.auth(username))
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append([e["id"] for e in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20


async def test_events_paging(env: Env) -> None:
    sent = [await env.send("room.motion", "btn-A") for _ in range(5)]
    pages = await _pages(env, "admin", limit=2)
    assert [len(p) for p in pages][:3] == [2, 2, 1]
    assert [i for p in pages for i in p] == sent[::-1]
    r = await env.client.get("/api/v1/events", params={"limit": 1}, headers=env.auth("admin"))
    item = r.json()["items"][0]
    assert item["id"] == sent[-1]
    assert item["kind"] == "room.motion"
    assert "received_at" in item


async def test_events_are_scoped(env: Env) -> None:
    heartbeat = [await env.send("device.heartbeat", "btn-A", battery_pct=90) for _ in range(3)]
    care = [await env.send("room.motion", "btn-A") for _ in range(4)]
    other_unit = await env.send("bed.exit", "btn-B")
    # The tekniker sees only device.* events, page after page, never health events.
    tekniker = [i for p in await _pages(env, "tore", limit=2) for i in p]
    assert tekniker == heartbeat[::-1]
    kari = [i for p in await _pages(env, "kari", limit=100) for i in p]
    assert set(kari) == set(heartbeat + care)
    assert other_unit not in kari
    assert await _pages(env, "tore", kind="room.motion") == [[]]
    assert await _pages(env, "ola", kind="bed.exit") == [[other_unit]]
    assert await _pages(env, "kari", site="site-2") == [[]]


async def test_events_time_window(env: Env) -> None:
    sent = [await env.send("room.motion", "btn-A") for _ in range(4)]
    # Event n happened at NOW + n seconds.
    since = (NOW + timedelta(seconds=2)).isoformat()
    until = (NOW + timedelta(seconds=4)).isoformat()
    pages = await _pages(env, "admin", since=since, until=until)
    assert pages == [[sent[2], sent[1]]]


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "alarm.pressed"},
        {"since": "2024-11-23T02:30:00"},
        {"limit": 0},
        {"limit": 1001},
        {"cursor": "abc"},
    ],
)
async def test_bad_event_query_is_422(env: Env, params: dict[str, Any]) -> None:
    r = await env.client.get("/api/v1/events", params=params, headers=env.auth("admin"))
    assert r.status_code == 422


async def test_devices(env: Env) -> None:
    await env.send("device.heartbeat", "btn-A", battery_pct=80)

    async def devices(username: str, **params: Any) -> dict[str, Any]:
        r = await env.client.get("/api/v1/devices", params=params, headers=env.auth(username))
        assert r.status_code == 200, r.text
        return {d["id"]: d for d in r.json()}

    assert set(await devices("admin")) == {*DEVICES, "btn-Z"}
    assert set(await devices("admin", site="site-2")) == {"btn-Z"}
    assert set(await devices("tore")) == set(DEVICES)
    kari = await devices("kari")
    assert set(kari) == {"btn-A", "fall-A", "staff-A"}
    assert kari["btn-A"]["placement"]["unit"] == "unit-A"
    assert kari["btn-A"]["placement"]["resident_id"] == "res-A"
    assert kari["btn-A"]["last_seen"] is not None
    assert kari["fall-A"]["last_seen"] is None
    assert set(await devices("kari", site="site-2")) == set()


# --- operations -----------------------------------------------------------------------------


async def test_healthz(env: Env) -> None:
    r = await env.client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["status"] == "degraded"
    env.hub.broker_connected = True
    r = await env.client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["broker_connected"] is True
    assert r.json()["store_ok"] is True


async def test_metrics(env: Env) -> None:
    await env.send("room.motion", "btn-A")
    r = await env.client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "trygg_events_received_total 1.0" in r.text


async def test_openapi(env: Env) -> None:
    schema = (await env.client.get("/openapi.json")).json()
    assert schema["info"]["title"] == "Trygg"
    assert "/api/v1/alerts/{alert_id}/on-site" in schema["paths"]
    assert (await env.client.get("/docs")).status_code == 200


# --- the live stream ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def server(env: Env) -> AsyncIterator[str]:
    port = _free_port()
    app = create_app(env.hub, env.tokens, env.clock)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(TIMEOUT):
        while not server.started:
            await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, TIMEOUT)


async def _next_event(lines: AsyncIterator[str]) -> tuple[str, Any]:
    """The next SSE event's name and JSON data, skipping pings and blank lines."""
    name, data = "message", None
    async for line in lines:
        if line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data = json.loads(line.removeprefix("data:").strip())
        elif not line and data is not None:
            return name, data
    raise AssertionError("stream ended")


async def test_stream(env: Env, server: str) -> None:
    before = await env.raise_alert("alarm.button", "btn-A")
    token = env.auth("kari")["Authorization"].removeprefix("Bearer ")
    url = f"{server}/api/v1/alerts/stream"
    async with (
        httpx.AsyncClient(timeout=TIMEOUT) as client,
        client.stream("GET", url, params={"access_token": token}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        name, data = await asyncio.wait_for(_next_event(lines), TIMEOUT)
        assert name == "snapshot"
        assert [a["id"] for a in data] == [before]
        # Another unit's alert is not sent to kari; her own unit's is.
        await env.raise_alert("alarm.button", "btn-B")
        mine = await env.raise_alert("fall.detected", "fall-A")
        name, data = await asyncio.wait_for(_next_event(lines), TIMEOUT)
        assert (name, data["id"], data["state"]) == ("alert", mine, "notified")
        await env.client.post(f"/api/v1/alerts/{before}/accept", headers=env.auth("kari"))
        name, data = await asyncio.wait_for(_next_event(lines), TIMEOUT)
        assert (name, data["id"], data["state"]) == ("alert", before, "accepted")
    # The server dropped the listener when the client went away.
    async with asyncio.timeout(TIMEOUT):
        while len(env.hub.feed):
            await asyncio.sleep(0.01)


async def test_stream_with_header_and_without_token(env: Env, server: str) -> None:
    url = f"{server}/api/v1/alerts/stream"
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        assert (await client.get(url)).status_code == 401
        async with client.stream("GET", url, headers=env.auth("tore")) as response:
            assert response.status_code == 200
            name, data = await asyncio.wait_for(_next_event(response.aiter_lines()), TIMEOUT)
            assert (name, data) == ("snapshot", [])


# The generator itself, without HTTP: the paths that are hard to reach over a socket.


def _principal(username: str, expires_at: datetime | None = None) -> Principal:
    role, site, units = ACCOUNTS[username]
    return Principal(username, role, site, units, expires_at)


async def test_stream_sends_a_new_snapshot_after_falling_behind(env: Env) -> None:
    mine = await env.raise_alert("alarm.button", "btn-A")
    stream = api._alert_stream(env.hub, _principal("kari"), env.clock)
    first = await asyncio.wait_for(anext(stream), TIMEOUT)
    assert first.event == "snapshot"
    # Flood the listener with alerts it may not see, until the feed drops it.
    elsewhere = alert(site="site-2", unit="unit-Z", category=Category.RESIDENT)
    for _ in range(1001):
        env.hub.feed.publish(elsewhere)
    again = await asyncio.wait_for(anext(stream), TIMEOUT)
    assert again.event == "snapshot"
    assert [a["id"] for a in json.loads(again.data)] == [mine]
    await stream.aclose()
    assert len(env.hub.feed) == 0


async def test_stream_ends_when_the_token_expires(env: Env) -> None:
    principal = _principal("kari", expires_at=env.clock.now + timedelta(milliseconds=50))
    env.clock.now += timedelta(milliseconds=50)
    stream = api._alert_stream(env.hub, principal, env.clock)
    assert (await asyncio.wait_for(anext(stream), TIMEOUT)).event == "snapshot"
    assert (await asyncio.wait_for(anext(stream), TIMEOUT)).event == "expired"
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_closed_alerts_leave_the_snapshot(env: Env) -> None:
    alert_id = await env.raise_alert()
    await env.hub.command(alert_id, Command.CANCEL, "system")
    stream = api._alert_stream(env.hub, _principal("kari"), env.clock)
    snapshot = await asyncio.wait_for(anext(stream), TIMEOUT)
    assert json.loads(snapshot.data) == []
    await stream.aclose()
