"""``GET /api/v1/devices/attention`` over a real Hub on SQLite with real supervision:
the states come from events, statuses and the supervision timer (a settable clock),
not from a fake."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from test_route_roles import _walk
from test_supervision_shell import GW, GW2, NIGHT, SITE, Env, make_env

from devices.events import make_event
from devices.lifecycle import DeviceState
from hub.api import create_app
from hub.auth import TokenIssuer, hash_password
from hub.registry.ports import DeviceChange
from hub.registry.records import DeviceHistory
from hub.store.base import Account, Role
from hub.supervision.policy import Windows

from builders import event_id

URL = "/api/v1/devices/attention"


class Api:
    def __init__(self, env: Env, client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
        self.env, self.client, self.tokens = env, client, tokens

    async def get(self, user: str, url: str = URL, **params: Any) -> httpx.Response:
        return await self.client.get(url, params=params,
                                     headers={"Authorization": f"Bearer {self.tokens[user]}"})

    async def send(self, device: str, kind: str, gateway: str = GW, **data: Any) -> None:
        env = self.env
        n = next(env.seq)
        ev = make_event(id=event_id(n), site=SITE, gateway=gateway, device=device, kind=kind,
                        ts=env.clock(), seq=n, data=data)
        env.hub.handle_message(ev.model_dump_json().encode(), f"trygg/v1/{SITE}/{gateway}/events")
        await env.settle()


async def api_over(env: Env, supervised: bool = True) -> AsyncIterator[Api]:
    tokens = TokenIssuer(ttl=timedelta(days=2))
    hashed = hash_password("x" * 12)
    issued = {}
    for name, role, site in (("per", Role.TEKNIKER, SITE), ("admin", Role.ADMIN, None),
                             ("kari", Role.NATTEVAKT, SITE), ("lisa", Role.LEADER, SITE),
                             ("elsewhere", Role.TEKNIKER, "site-2"),
                             ("roaming", Role.TEKNIKER, None)):
        account = Account(name, name, role, hashed, site, ("unit-A",))
        issued[name] = tokens.issue(account, env.clock())[0]
    app = create_app(env.hub, tokens, env.clock)
    if supervised:
        app.state.supervision = env.service
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://trygg") as client:
        yield Api(env, client, issued)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    # Gateways and smoke detectors with long windows, so only what a test silences goes
    # offline; the alarm button keeps its shortest allowed window (4 h).
    windows = Windows({"gateway": timedelta(days=1), "smoke_detector": timedelta(days=1),
                       "alarm_button": timedelta(hours=4)})
    e = await make_env(NIGHT, windows)
    yield e
    e.service.stop()
    await e.router.drain()
    await e.hub.stop()
    e.store.close()


@pytest.fixture
async def api(env: Env) -> AsyncIterator[Api]:
    async for a in api_over(env):
        yield a


def keys(body: list[dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    return [(b["key"], b["rank"], [r["reason"] for r in b["reasons"]]) for b in body]


async def test_critical_offline_first_then_tamper_then_battery(api: Api, env: Env) -> None:
    assert (await api.get("per")).json() == []
    for _ in range(3):  # three low readings: battery low (one is noise)
        await api.send("smoke-1", "device.heartbeat", battery_pct=4)
    low_from = env.clock()
    await env.advance(60)
    await api.send("smoke-2", "device.tamper", gateway=GW2)
    tampered = env.clock()
    await env.advance(4 * 3600)  # the alarm button (res-1's) has been silent for 4 h
    r = await api.get("per")
    assert r.status_code == 200
    body = r.json()
    assert keys(body) == [
        ("button-1", "critical_offline", ["offline"]),
        ("smoke-2", "tamper", ["tamper"]),
        ("smoke-1", "battery_low", ["battery_low"]),
    ]
    button, smoke2, smoke1 = body
    assert button["critical"] is True and button["night"] is False  # 07:31 in Oslo
    assert (button["unit"], button["units"], button["device_class"]) == (
        "unit-A", ["unit-A"], "alarm_button")
    # Never heard from: counted from the hub's start, less the start-up grace.
    assert datetime.fromisoformat(button["since"]) == NIGHT - timedelta(hours=4, minutes=-2)
    assert datetime.fromisoformat(smoke2["since"]) == tampered
    assert datetime.fromisoformat(smoke1["since"]) == low_from
    assert "res-1" not in r.text  # device ids and units, never a resident
    # Filters: by reason, by unit.
    assert keys((await api.get("per", reason="battery_low")).json()) == [
        ("smoke-1", "battery_low", ["battery_low"])]
    assert [b["key"] for b in (await api.get("per", unit="unit-B")).json()] == ["smoke-2"]
    # A good reading ends battery low; the button's next sign of life ends its outage.
    await api.send("smoke-1", "device.heartbeat", battery_pct=90)
    await api.send("button-1", "device.heartbeat")
    assert [b["key"] for b in (await api.get("per")).json()] == ["smoke-2"]


async def test_an_offline_gateway_comes_above_an_offline_device() -> None:
    e = await make_env(NIGHT, Windows({"gateway": timedelta(minutes=5),
                                       "smoke_detector": timedelta(hours=1)}))
    try:
        async for api in api_over(e):
            def alive(gateway: str, *devices: str) -> None:
                e.status(gateway, **{d: {"last_seen": e.clock().isoformat()} for d in devices})

            alive(GW, "button-1", "smoke-1")
            alive(GW2, "smoke-2")
            for _ in range(3):  # gw-1 and its devices keep talking; gw-2 goes quiet
                await e.advance(2 * 60)
                alive(GW, "button-1", "smoke-1")
            body = (await api.get("per")).json()
            assert keys(body) == [("gw:site-1/gw-2", "gateway_offline", ["offline"])]
            assert body[0]["units"] == ["unit-B"] and body[0]["critical"] is False
            for _ in range(30):  # an hour on, smoke-2's own window has run out too
                await e.advance(2 * 60)
                alive(GW, "button-1", "smoke-1")
            body = (await api.get("per")).json()
            assert keys(body) == [
                ("gw:site-1/gw-2", "gateway_offline", ["offline"]),
                ("smoke-2", "offline", ["offline"]),
            ]
            assert body[1]["behind_offline_gateway"] is True
    finally:
        e.service.stop()
        await e.router.drain()
        await e.hub.stop()
        e.store.close()


async def test_who_may_read_it(api: Api) -> None:
    for user in ("per", "admin", "roaming"):
        assert (await api.get(user)).status_code == 200, user
    for user in ("kari", "lisa"):
        r = await api.get(user)
        assert r.status_code == 403 and "detail" in r.json(), user
    assert (await api.client.get(URL)).status_code == 401
    assert (await api.get("per", site="site-2")).status_code == 403
    assert (await api.get("admin", site="site-2")).json() == []


async def test_a_tekniker_of_another_site_sees_nothing_of_this_one(api: Api, env: Env) -> None:
    await api.send("smoke-2", "device.tamper", gateway=GW2)
    assert [b["key"] for b in (await api.get("per")).json()] == ["smoke-2"]
    assert [b["key"] for b in (await api.get("roaming")).json()] == ["smoke-2"]
    assert (await api.get("elsewhere")).json() == []


async def test_without_supervision_the_hub_says_so_rather_than_an_empty_list(env: Env) -> None:
    async for api in api_over(env, supervised=False):
        r = await api.get("per")
        assert r.status_code == 503 and "supervision" in r.json()["detail"]


def test_attention_is_not_taken_for_a_device_id() -> None:
    """The first GET route that matches /devices/attention is the attention route, also
    once a ``/devices/{id}`` route exists (FastAPI matches in registration order)."""
    from hub import routing_api
    from hub.service import Hub
    from hub.store.memory import MemoryStore

    app = create_app(Hub(MemoryStore()), TokenIssuer(), lambda: datetime.now(UTC))
    routing_api.install(app, None)
    first = None
    for path, route in _walk(list(app.routes), ""):
        pattern = re.sub(r"\{[^}:]+(:path)?\}", "[^/]+", path)
        if "GET" in route.methods and re.fullmatch(pattern, URL):
            first = route
            break
    assert first is not None and first.name == "attention"


async def test_a_service_date_that_has_passed_is_on_the_list_last(api: Api, env: Env) -> None:
    views = {v.device.id: v for v in env.store.list_devices()}

    def due(device: str, at: datetime, state: DeviceState = DeviceState.IN_SERVICE) -> None:
        v = views[device]
        info = replace(v.info, service_due_at=at, state=state)
        history = DeviceHistory(device, env.clock(), "per", "update", note="service date")
        env.store.write_devices([DeviceChange(v.device, info, v.placement, history)])

    due("smoke-1", NIGHT - timedelta(days=30))
    due("smoke-2", NIGHT + timedelta(days=30))  # not yet
    due("button-1", NIGHT - timedelta(days=2), DeviceState.RETIRED)  # done with
    await api.send("smoke-2", "device.tamper", gateway=GW2)
    body = (await api.get("per")).json()
    assert keys(body) == [
        ("smoke-2", "tamper", ["tamper"]),
        ("smoke-1", "service_overdue", ["service_overdue"]),
    ]
    assert datetime.fromisoformat(body[1]["since"]) == NIGHT - timedelta(days=30)
    # Tampered and overdue: one row, ranked by the tamper, both reasons given.
    due("smoke-2", NIGHT - timedelta(days=1))
    body = (await api.get("per")).json()
    assert keys(body) == [
        ("smoke-2", "tamper", ["tamper", "service_overdue"]),
        ("smoke-1", "service_overdue", ["service_overdue"]),
    ]
