"""The device registry tests' world: a real hub on a SQLite store with two sites, devices
in every state, two gateways, and the API over ASGI with real tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from devices.lifecycle import DeviceState, Location
from hub.api import create_app
from hub.auth import TokenIssuer, hash_password
from hub.metrics import Metrics
from hub.registry.ports import DeviceChange
from hub.registry.records import (
    NO_GATEWAY,
    DeviceHistory,
    DeviceInfo,
    GatewayRecord,
    GatewayState,
)
from hub.service import Hub
from hub.store.base import Account, Device, PlacementRecord, Resident, Role, Site, Unit
from hub.store.sqlite import SqliteStore

from builders import basis_change, covering_basis

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
ACCOUNTS = {
    "admin": (Role.ADMIN, None, ()),
    "tore": (Role.TEKNIKER, "site-1", ()),
    "trude": (Role.TEKNIKER, "site-2", ()),
    "kari": (Role.NATTEVAKT, "site-1", ("unit-A",)),
    "revisor": (Role.AUDITOR, None, ()),
}


def change(
    device: str, state: DeviceState, *, type_: str = "alarm_button", site: str = "site-1",
    gateway: str = "gw-1", unit: str | None = "unit-A", room: str | None = None,
    resident: str | None = None, notes: str | None = None, serial: str | None = None,
) -> DeviceChange:  # fmt: skip
    placed = state.supervised and unit is not None
    placement = PlacementRecord(device, unit, "H1", room, resident) if placed else None
    return DeviceChange(
        Device(device, site, gateway if state.supervised else NO_GATEWAY, type_,
               serial or f"SN-{device}"),
        DeviceInfo(state, "2.1", notes, installed_at=NOW if state.supervised else None,
                   service_due_at=NOW + timedelta(days=300)),
        placement,
        DeviceHistory(device, NOW, "tore", "import", None, state, "imported by tore",
                      Location(site, unit, "H1", room) if placed else None),
    )


@dataclass
class Env:
    hub: Hub
    store: SqliteStore
    tokens: TokenIssuer
    client: httpx.AsyncClient
    app: FastAPI

    def auth(self, user: str) -> dict[str, str]:
        account = self.store.get_account(user)
        assert account is not None
        return {"Authorization": f"Bearer {self.tokens.issue(account, NOW)[0]}"}

    async def get(self, user: str, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.auth(user))

    async def post(self, user: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        return await self.client.post(path, json=body, params=params, headers=self.auth(user))

    async def patch(self, user: str, path: str, body: Any) -> httpx.Response:
        return await self.client.patch(path, json=body, headers=self.auth(user))

    def state(self, device: str) -> DeviceState:
        [view] = [v for v in self.store.list_devices() if v.device.id == device]
        return view.info.state

    async def ids(self, user: str, **params: Any) -> list[str]:
        r = await self.get(user, "/api/v1/devices", **params)
        assert r.status_code == 200, r.text
        return [d["id"] for d in r.json()]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    store = SqliteStore(":memory:")
    store.migrate()
    store.upsert_site(Site("site-1", "Solsiden"))
    store.upsert_site(Site("site-2", "Bakken"))
    for unit in ("unit-A", "unit-B"):
        store.upsert_unit(Unit(unit, "site-1", unit))
    store.upsert_resident(Resident("res-1", "site-1", "unit-A", "Johs Hansen"))
    basis = covering_basis("res-1")
    store.save_basis(basis, basis_change(basis))
    store.write_devices([
        change("btn-1", DeviceState.IN_SERVICE, room="soverom", resident="res-1",
               notes="Knapp på nattbordet"),
        change("door-1", DeviceState.INSTALLED, type_="MCCGQ11LM", room="gang"),
        change("smoke-B", DeviceState.IN_SERVICE, type_="smoke_detector", unit="unit-B",
               gateway="gw-2"),
        change("spare-1", DeviceState.IN_STOCK, serial="LAGER-77"),
        change("old-1", DeviceState.RETIRED),
        change("btn-S2", DeviceState.IN_SERVICE, site="site-2", gateway="gw-9", unit=None),
    ])  # fmt: skip
    store.upsert_device(Device("legacy-1", "site-1", "gw-1", "water_sensor"))  # pre-registry
    store.save_gateway(GatewayRecord("site-1", "gw-1", GatewayState.PROVISIONED,
                                     "$7$101$c2FsdA==$aGFzaA==", NOW, None, "bodrom"))  # fmt: skip
    store.save_gateway(GatewayRecord("site-1", "gw-3"))
    hashed = hash_password("x" * 12, hasher=FAST)
    for name, (role, site, units) in ACCOUNTS.items():
        store.upsert_account(Account(name, name, role, hashed, site, units))
    hub = Hub(store, metrics=Metrics(), clock=lambda: NOW)
    await hub.start()
    tokens = TokenIssuer(ttl=timedelta(hours=1))
    app = create_app(hub, tokens, lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://trygg") as client:  # fmt: skip
        yield Env(hub, store, tokens, client, app)
    await hub.stop()
    store.close()
