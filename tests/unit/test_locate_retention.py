"""Locate requests and per-basis retention.

The pure cutoffs (table-driven): a basis stricter than the global setting shortens
its kinds on the resident's devices; ``store_events`` false means at the next pass;
the most generous covering basis wins; a locate request spares GPS. Then over HTTP
with a real SQLite store: a locate request needs a GPS basis, is audited, shows the
positions while open, holds them from retention, and lets them go when closed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uuid6
from argon2 import PasswordHasher

from devices.events import make_event
from hub import retention
from hub.api import create_app
from hub.auth import TokenIssuer, hash_password
from hub.metrics import Metrics
from hub.retention import RetentionSettings, cutoffs
from hub.service import Hub
from hub.store.base import (
    Account,
    Device,
    DeviceCutoff,
    EventFilter,
    PlacementRecord,
    Resident,
    Role,
    Site,
    Unit,
)
from hub.store.sqlite import SqliteStore
from rules.consent import LegalBasis

from builders import basis_change, covering_basis

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SETTINGS = RetentionSettings(event_retention_days=30, gps_keep_minutes=60)


def basis(resident: str, kinds: set[str], days: int = 30, store: bool = True) -> LegalBasis:
    return dataclasses.replace(
        covering_basis(resident, f"b-{resident}-{min(kinds)}-{days}-{store}"),
        kinds=frozenset(kinds), retention_days=days, store_events=store,
    )  # fmt: skip


DEVICES = {"res-1": ["d1", "d2"], "res-2": ["d3"]}


@pytest.mark.parametrize(
    ("bases", "locating", "expected"),
    [
        ([], frozenset(), ()),
        ([basis("res-1", {"door.opened"}, 30)], frozenset(), ()),  # not stricter
        ([basis("res-1", {"door.opened"}, 60)], frozenset(), ()),  # global is the ceiling
        (
            [basis("res-1", {"door.opened", "door.closed"}, 7)],
            frozenset(),
            (
                ("d1", {"door.opened", "door.closed"}, 7),
                ("d2", {"door.opened", "door.closed"}, 7),
            ),
        ),
        ([basis("res-2", {"bed.exit"}, 30, store=False)], frozenset(), (("d3", {"bed.exit"}, 0),)),
        # The most generous basis covering a kind wins.
        ([basis("res-2", {"bed.exit"}, 3), basis("res-2", {"bed.exit"}, 30)], frozenset(), ()),
        (
            [basis("res-2", {"bed.exit"}, 3), basis("res-2", {"bed.exit"}, 10)],
            frozenset(),
            (("d3", {"bed.exit"}, 10),),
        ),
        # A locate request spares GPS even where the basis says "do not store".
        (
            [basis("res-2", {"gps.position", "geofence.exit"}, 30, store=False)],
            frozenset({"res-2"}),
            (("d3", {"geofence.exit"}, 0),),
        ),
        ([basis("res-9", {"door.opened"}, 1)], frozenset(), ()),  # no devices placed
    ],
)
def test_cutoffs(
    bases: list[LegalBasis],
    locating: frozenset[str],
    expected: tuple[tuple[str, set[str], int], ...],
) -> None:
    found = cutoffs(SETTINGS, NOW, bases, DEVICES, locating)
    assert found.per_device == tuple(
        DeviceCutoff(d, frozenset(k), NOW - timedelta(days=days)) for d, k, days in expected
    )
    assert found.events_before == NOW - timedelta(days=30)
    assert found.gps_held == frozenset(d for r in locating for d in DEVICES[r])


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def env() -> AsyncIterator[tuple[Hub, SqliteStore, Clock, httpx.AsyncClient, TokenIssuer]]:
    store = SqliteStore(":memory:")
    store.migrate()
    store.upsert_site(Site("site-1", "Solsiden"))
    store.upsert_unit(Unit("unit-A", "site-1", "A"))
    for rid, name in (("res-1", "Johs Hansen"), ("res-2", "Anne Berg")):
        store.upsert_resident(Resident(rid, "site-1", "unit-A", name))
    for dev, rid in (("gps-1", "res-1"), ("gps-2", "res-2")):
        store.upsert_device(Device(dev, "site-1", "gw-1", "gps_tracker"))
        store.place(PlacementRecord(dev, "unit-A", resident_id=rid))
    b = covering_basis("res-1")
    store.save_basis(b, basis_change(b))
    hashed = hash_password("x" * 12, hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    for user, role in (("kari", Role.NATTEVAKT), ("ola", Role.NATTEVAKT), ("lisa", Role.LEADER)):
        store.upsert_account(Account(user, user, role, hashed, "site-1", ("unit-A",)))
    clock = Clock()
    hub = Hub(store, metrics=Metrics(), clock=clock)
    await hub.start()
    tokens = TokenIssuer()
    app = create_app(hub, tokens, clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://trygg"
    ) as client:
        yield hub, store, clock, client, tokens
    await hub.stop()
    store.close()


async def test_locate_request_holds_gps_until_closed(
    env: tuple[Hub, SqliteStore, Clock, httpx.AsyncClient, TokenIssuer],
) -> None:
    hub, store, clock, c, tokens = env

    def auth(user: str) -> dict[str, str]:
        account = store.get_account(user)
        assert account is not None
        return {"Authorization": f"Bearer {tokens.issue(account, clock())[0]}"}

    async def position(minutes_ago: int) -> str:
        event = make_event(id=str(uuid6.uuid7()), site="site-1", gateway="gw-1", device="gps-1",
                           kind="gps.position", ts=clock() - timedelta(minutes=minutes_ago),
                           seq=1, data={"lat": 59.9, "lon": 10.7, "accuracy_m": 8.0})  # fmt: skip
        hub.handle_message(event.to_json().encode(), "trygg/v1/site-1/gw-1/events")
        await hub.drain()
        return event.id

    def gps_left() -> int:
        return len(store.list_events(EventFilter(kind="gps.position", limit=1000)))

    reason = "Johs kom ikke til middag som avtalt"
    # No GPS basis for res-2: refused, and the refusal is audited.
    r = await c.post("/api/v1/residents/res-2/locate", json={"reason": reason}, headers=auth("kari"))
    assert r.status_code == 409 and "no_basis" in r.json()["detail"]
    r = await c.post("/api/v1/residents/res-1/locate", json={"reason": "kort"},
                     headers=auth("kari"))  # fmt: skip
    assert r.status_code == 422
    r = await c.post("/api/v1/residents/res-1/locate", json={"reason": reason, "minutes": 999},
                     headers=auth("kari"))  # fmt: skip
    assert r.status_code == 422

    await position(30)
    r = await c.post("/api/v1/residents/res-1/locate", json={"reason": reason, "minutes": 120},
                     headers=auth("kari"))  # fmt: skip
    assert r.status_code == 201
    request_id = r.json()["id"]
    clock.now += timedelta(minutes=50)
    await position(0)
    r = await c.get("/api/v1/residents/res-1/locate", headers=auth("kari"))
    assert len(r.json()["positions"]) == 2 and r.json()["positions"][0]["lat"] == 59.9

    # Two hours on, still open for a few minutes: retention keeps both positions.
    clock.now = NOW + timedelta(minutes=115)
    locating = hub.consent.locates.residents_open(clock.now)
    assert locating == {"res-1"}
    await hub.run_store(retention.run, store, SETTINGS, clock.now, locating)
    assert gps_left() == 2

    # Another nattevakt may not close kari's request; kari may.
    r = await c.post(f"/api/v1/locate/{request_id}/close", headers=auth("ola"))
    assert r.status_code == 403
    r = await c.post(f"/api/v1/locate/{request_id}/close", headers=auth("kari"))
    assert r.status_code == 200 and r.json()["open"] is False
    r = await c.get("/api/v1/residents/res-1/locate", headers=auth("kari"))
    assert r.json()["positions"] == []  # nothing shown once closed
    locating = hub.consent.locates.residents_open(clock.now)
    assert locating == frozenset()
    await hub.run_store(retention.run, store, SETTINGS, clock.now, locating)
    assert gps_left() == 0  # reduced to what the geofence events say

    log = [(e.entry.actor, e.entry.action, e.entry.reason)
           for e in store.audit_records(None, 0, 1000)]  # fmt: skip
    assert ("kari", "locate.refused", "no_basis") in log
    assert ("kari", "locate.request", reason) in log
    assert ("kari", "locate.read", reason) in log
    assert ("kari", "locate.close", "locate request") in log


async def test_a_locate_request_expires_by_itself(
    env: tuple[Hub, SqliteStore, Clock, httpx.AsyncClient, TokenIssuer],
) -> None:
    hub, store, clock, c, tokens = env
    account = store.get_account("kari")
    assert account is not None
    headers = {"Authorization": f"Bearer {tokens.issue(account, clock())[0]}"}
    r = await c.post("/api/v1/residents/res-1/locate",
                     json={"reason": "ikke hjemme etter tur", "minutes": 30}, headers=headers)  # fmt: skip
    assert r.status_code == 201
    assert hub.consent.locates.residents_open(NOW + timedelta(minutes=29)) == {"res-1"}
    assert hub.consent.locates.residents_open(NOW + timedelta(minutes=30)) == frozenset()
    r = await c.post(f"/api/v1/locate/{r.json()['id']}/close", headers=headers)
    assert r.status_code == 200  # still open at NOW
