"""Device tags end to end through the Hub: placed over the API, stored, listed, and a rule
scoped ``{tags: [exit]}`` raising for the tagged door only, on every store backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uuid6
from argon2 import PasswordHasher

from devices.events import make_event
from hub.api import create_app
from hub.auth import TokenIssuer, hash_password
from hub.metrics import Metrics
from hub.ruleset import RuleSet
from hub.service import Hub
from hub.store.base import Account, AlertFilter, Device, Resident, Role, Site, Store, Unit
from hub.store.memory import MemoryStore
from hub.store.postgres import PostgresStore
from hub.store.sqlite import SqliteStore

from builders import basis_change, covering_basis
from pgtools import pg_schema

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 02:00 in Oslo
SITE, GW = "site-1", "gw-1"
RULES = """
rules:
  - name: exit_door_opened
    scope: {tags: [exit]}
    when: {kind: door.opened}
    raise: {category: resident, priority: high, message: "Exit door open: {where}"}
"""


@dataclass
class Env:
    hub: Hub
    store: Store
    client: httpx.AsyncClient
    headers: dict[str, str]

    async def send(self, device: str, kind: str) -> str:
        event = make_event(id=str(uuid6.uuid7()), site=SITE, gateway=GW, device=device,
                           kind=kind, ts=NOW, seq=1)  # fmt: skip
        self.hub.handle_message(event.to_json().encode(), f"trygg/v1/{SITE}/{GW}/events")
        await self.hub.drain()
        return event.id


def seed(store: Store) -> None:
    store.upsert_site(Site(SITE, "Solsiden"))
    store.upsert_unit(Unit("unit-A", SITE, "A"))
    store.upsert_resident(Resident("res-1", SITE, "unit-A", "Test Person", "H0101"))
    for device in ("door-exit", "door-room"):
        store.upsert_device(Device(device, SITE, GW, "door_contact"))
    basis = covering_basis("res-1")
    store.save_basis(basis, basis_change(basis))
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    store.upsert_account(Account("admin", "Admin", Role.ADMIN, hash_password("x", hasher=fast)))


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    if request.param == "postgres":
        with pg_schema(request.getfixturevalue("postgres_dsn")) as (dsn, schema):
            async for made in _env(PostgresStore(dsn, schema=schema), tmp_path):
                yield made
        return
    store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "t.db")
    async for made in _env(store, tmp_path):
        yield made


async def _env(store: Store, tmp_path: Path) -> AsyncIterator[Env]:
    store.migrate()
    seed(store)
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(RULES)
    hub = Hub(store, metrics=Metrics(), clock=lambda: NOW, rules=RuleSet([rules_file]))
    await hub.start()
    tokens = TokenIssuer()
    app = create_app(hub, tokens, lambda: NOW)
    account = store.get_account("admin")
    assert account is not None
    headers = {"Authorization": f"Bearer {tokens.issue(account, NOW)[0]}"}
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://trygg"
        ) as client:
            yield Env(hub, store, client, headers)
    finally:
        await hub.stop()
        store.close()


async def place(env: Env, device: str, **extra: Any) -> httpx.Response:
    body = {"device": device, "unit": "unit-A", "resident_id": "res-1", **extra}
    return await env.client.post("/api/v1/placements", json=body, headers=env.headers)


async def test_a_tag_scoped_rule_raises_for_the_tagged_door_only(env: Env) -> None:
    r = await place(env, "door-exit", tags=["night-watch", "exit", "exit"])
    assert r.status_code == 201, r.text
    assert r.json()["tags"] == ["exit", "night-watch"]
    assert (await place(env, "door-room")).status_code == 201

    listed = await env.client.get("/api/v1/devices", headers=env.headers)
    assert listed.status_code == 200
    assert {d["id"]: d["placement"]["tags"] for d in listed.json()} == {
        "door-exit": ["exit", "night-watch"],
        "door-room": [],
    }

    room = await env.send("door-room", "door.opened")
    assert await env.hub.run_store(env.store.list_alerts, AlertFilter()) == []
    exit_id = await env.send("door-exit", "door.opened")
    [alert] = await env.hub.run_store(env.store.list_alerts, AlertFilter())
    assert (alert.rule, alert.device, alert.event_ids) == ("exit_door_opened", "door-exit",
                                                          (exit_id,))  # fmt: skip
    assert room not in alert.event_ids


async def test_retagging_moves_the_scope_without_a_restart(env: Env) -> None:
    assert (await place(env, "door-exit", tags=["exit"])).status_code == 201
    assert (await place(env, "door-exit", tags=[])).status_code == 201
    assert (await place(env, "door-room", tags=["exit"])).status_code == 201
    await env.send("door-exit", "door.opened")
    assert await env.hub.run_store(env.store.list_alerts, AlertFilter()) == []
    await env.send("door-room", "door.opened")
    [alert] = await env.hub.run_store(env.store.list_alerts, AlertFilter())
    assert alert.device == "door-room"


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        (["Exit"], "tag 'Exit' is not 1-32 characters of lowercase a-z, digits, '_' or '-'"),
        (["exit door"], "tag 'exit door' is not"),
        (["x" * 33], "is not 1-32 characters"),
        ([f"t{n}" for n in range(17)], "17 tags; a placement may carry at most 16"),
    ],
)
async def test_a_bad_tag_is_refused_with_the_reason_and_nothing_stored(
    env: Env, tags: list[str], reason: str
) -> None:
    r = await place(env, "door-exit", tags=tags)
    assert r.status_code == 422
    [problem] = r.json()["detail"]
    assert problem["loc"] == ["body", "tags"]
    assert reason in problem["msg"]
    views = await env.hub.run_store(env.store.list_devices)
    assert all(v.placement is None for v in views)
