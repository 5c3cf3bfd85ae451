"""Config sync on change: a registry or basis write through the hub's API reaches the gateway.

A real hub (SQLite store, the HTTP API in-process), its config publisher on the
machine's Mosquitto, and a real gateway: withdrawing the resident's basis and
moving the device's placement through the API change the gateway's cached
config, and its consent filter follows at once. The publisher's periodic
reconcile is set to an hour, so only the change hook can have done it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher

from devices.events import KINDS
from devices.reading import Reading
from gateway.config import BrokerConfig, GatewayConfig
from gateway.service import Gateway
from hub.api import create_app
from hub.auth import TokenIssuer, hash_password
from hub.consent.records import BasisAction, BasisChange
from hub.gateway_config import ConfigPublisher, GatewaySync, config_changed, run_gateway_sync
from hub.service import Hub
from hub.store.base import Account, Device, PlacementRecord, Resident, Role, Site, Unit
from hub.store.sqlite import SqliteStore
from rules.consent import NO_BASIS_KINDS, BasisKind, LegalBasis
from simulators.emulate.z2m import Z2mBridge

from gwhelpers import Collector

pytestmark = pytest.mark.mqtt


def covering_basis(resident_id: str, basis_id: str) -> LegalBasis:
    """Consent to every kind that needs a basis, at any hour (tests/unit/builders.py's twin)."""
    return LegalBasis(id=basis_id, resident_id=resident_id, measure="all",
                      kinds=frozenset(KINDS - set(NO_BASIS_KINDS)), basis=BasisKind.CONSENT,
                      decided_by="test", reference="TEST-1",
                      valid_from=datetime(2000, 1, 1, tzinfo=UTC), valid_to=None, review_at=None)


def basis_change(basis: LegalBasis) -> BasisChange:
    return BasisChange(basis.id, datetime(2000, 1, 1, tzinfo=UTC), "test", BasisAction.RECORD)


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout} s")
        await asyncio.sleep(0.05)


def _store(site: str) -> SqliteStore:
    store = SqliteStore(":memory:")
    store.migrate()
    store.upsert_site(Site(site, "Solsiden"))
    store.upsert_unit(Unit("u1", site, "Unit 1"))
    store.upsert_resident(Resident("r1", site, "u1", "Test Person"))
    store.upsert_device(Device("door-1", site, "gw-1", "MCCGQ11LM"))
    basis = covering_basis("r1", "b-r1")
    store.save_basis(basis, basis_change(basis))
    store.place(PlacementRecord("door-1", "u1", resident_id="r1"))
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    store.upsert_account(Account("admin", "Admin", Role.ADMIN,
                                 hash_password("korrekt hest batteri", hasher=fast)))
    return store


async def test_a_placement_or_basis_change_through_the_api_reaches_the_gateway(
        mosquitto: tuple[str, int], unique_site: str, tmp_path: Path) -> None:
    port = mosquitto[1]
    store = _store(unique_site)
    hub = Hub(store)
    await hub.start()
    stop = asyncio.Event()
    sync = GatewaySync("127.0.0.1", port, client_id=f"{unique_site}-sync")
    syncing = asyncio.create_task(run_gateway_sync(sync, stop, lambda: hub.run_store(
        lambda: (store.list_devices(), store.list_bases(), store.site_zones())), 3600.0))
    cfg = GatewayConfig(
        site=unique_site, gateway="gw-1", data_dir=tmp_path / "gw",
        uplink=BrokerConfig(port=port, client_id=f"{unique_site}-up"),
        local=BrokerConfig(port=port, client_id=f"{unique_site}-local"),
        z2m_base=f"z2m-{unique_site}", owntracks_base=f"ot-{unique_site}", heartbeat_s=3600)
    uplink = Collector("127.0.0.1", port, cfg.events_topic)
    bridge = Z2mBridge("127.0.0.1", port, base=cfg.z2m_base)
    gw = Gateway(cfg)
    gw.start()
    tokens = TokenIssuer()
    app = create_app(hub, tokens, lambda: datetime.now(UTC))
    account = store.get_account("admin")
    assert account is not None
    admin = {"Authorization": f"Bearer {tokens.issue(account, datetime.now(UTC))[0]}"}

    def cached() -> dict[str, object]:
        path = cfg.data_dir / "hub-config.json"
        return json.loads(path.read_bytes()) if path.exists() else {}

    def door(opened: bool) -> None:
        kind = "door.opened" if opened else "door.closed"
        bridge.send("door-1", "MCCGQ11LM", Reading(kind, {"door": "entrance"}))

    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://trygg") as client:
            await until(lambda: gw.pipeline.by_id.get("door-1") is not None
                        and gw.pipeline.by_id["door-1"].resident_id == "r1", 15, "first config")
            await until(lambda: gw.local is not None and gw.local.connected.is_set(), 10,
                        "local broker")
            door(True)  # the resident's basis covers it: it leaves the home
            await until(lambda: len(uplink.payloads("/events")) == 1, 10, "allowed event")

            # 1. The basis is withdrawn through the API: the gateway drops the next one.
            r = await client.post("/api/v1/bases/b-r1/withdraw", headers=admin,
                                  json={"reason": "the resident said no"})
            assert r.status_code == 200, r.text
            await until(lambda: bool(cached().get("bases"))
                        and cached()["bases"][0].get("withdrawn_at") is not None,  # type: ignore[index]
                        10, "withdrawal synced")
            await until(lambda: all(b.withdrawn_at for bs in gw.pipeline.bases.values()
                                    for b in bs), 10, "filter follows the withdrawal")
            door(False)
            await until(lambda: sum(gw.pipeline.consent_dropped.values()) == 1, 10, "dropped")
            await asyncio.sleep(0.5)
            assert len(uplink.payloads("/events")) == 1  # nothing left the home

            # 2. The placement changes through the API: the device serves nobody now, so
            # its events need no basis, and the resident's bases leave the gateway.
            r = await client.post("/api/v1/placements", headers=admin,
                                  json={"device": "door-1", "unit": "u1", "resident_id": None})
            assert r.status_code == 201, r.text
            await until(lambda: [d.get("resident_id") for d in cached().get("devices", [])]  # type: ignore[attr-defined]
                        == [None], 10, "placement synced")
            assert cached()["bases"] == []
            await until(lambda: gw.pipeline.by_id["door-1"].resident_id is None, 10,
                        "filter follows the placement")
            door(True)
            await until(lambda: len(uplink.payloads("/events")) == 2, 10, "admitted again")
            assert uplink.payloads("/events")[-1]["kind"] == "door.opened"
    finally:
        gw.stop()
        bridge.close()
        uplink.close()
        sync.client.publish(f"trygg/v1/{unique_site}/gw-1/config", b"", qos=1, retain=True)
        stop.set()
        await asyncio.wait_for(syncing, 10)
        await hub.stop()
        store.close()


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, object]]] = []

    def publish_config(self, site: str, gateway: str, config: dict[str, object]) -> None:
        self.sent.append((site, gateway, config))


def test_publisher_sends_only_what_changed_and_empties_a_gateway_left_without_devices() -> None:
    from hub.store.base import DeviceView

    rec = _Recorder()
    pub = ConfigPublisher(rec, lambda: None)  # type: ignore[arg-type, return-value]
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    a = DeviceView(Device("d1", "s", "gw-a", "MCCGQ11LM"), None)
    b = DeviceView(Device("d2", "s", "gw-b", "MCCGQ11LM"), PlacementRecord("d2", "u", None, None, "r1"))
    basis = covering_basis("r1", "b1")
    assert pub.publish_changed(([a, b], [basis], {}), now) == 2
    assert pub.publish_changed(([a, b], [basis], {}), now) == 0  # nothing changed: silent
    assert pub.publish_changed(([a, b], [basis], {"s": "UTC"}), now) == 2  # the zone moved
    moved = DeviceView(Device("d2", "s", "gw-a", "MCCGQ11LM"), b.placement)
    assert pub.publish_changed(([a, moved], [basis], {"s": "UTC"}), now) == 2
    last = {gw: cfg for _, gw, cfg in rec.sent[-2:]}
    assert last["gw-b"]["devices"] == [] and last["gw-b"]["bases"] == []
    assert [d["id"] for d in last["gw-a"]["devices"]] == ["d1", "d2"]  # type: ignore[index]
    versions = [cfg["version"] for _, _, cfg in rec.sent]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert pub.publish_changed(([a, moved], [basis], {"s": "UTC"}), now, force=True) == 2


def test_the_hook_is_safe_without_a_running_publisher() -> None:
    config_changed()  # nothing registered: nothing happens, nothing raised


class _FakeSyncClock(_Recorder):
    """What ConfigPublisher.run needs of a GatewaySync, recording instead of publishing."""

    def __init__(self) -> None:
        super().__init__()
        self.on_connected: Callable[[], None] | None = None

    def clock(self) -> datetime:
        return datetime.now(UTC)


async def test_publisher_follows_the_hook_and_a_write_from_another_process() -> None:
    from hub.store.base import DeviceView

    views = [DeviceView(Device("d1", "s", "gw-a", "MCCGQ11LM"), None)]
    rec = _FakeSyncClock()

    async def load() -> tuple[list[DeviceView], list[LegalBasis], dict[str, str]]:
        return list(views), [], {}

    # 1. The hook: with the reconcile an hour away, only config_changed() can wake it.
    stop = asyncio.Event()
    pub = ConfigPublisher(rec, load, reconcile_s=3600)  # type: ignore[arg-type]
    task = asyncio.create_task(pub.run(stop))
    await until(lambda: len(rec.sent) == 1, 5, "published at start")
    views.append(DeviceView(Device("d2", "s", "gw-a", "MCCGQ11LM"), None))
    config_changed()
    await until(lambda: len(rec.sent) == 2, 5, "republished on the hook")
    assert rec.on_connected is not None
    rec.on_connected()  # a reconnect: everything again, even unchanged
    await until(lambda: len(rec.sent) == 3, 5, "republished on reconnect")
    stop.set()
    await asyncio.wait_for(task, 5)
    config_changed()  # a stopped publisher is no longer registered
    await asyncio.sleep(0.1)
    assert len(rec.sent) == 3

    # 2. A write the hook never hears of (another process): the periodic reconcile.
    rec2, stop2 = _FakeSyncClock(), asyncio.Event()
    task2 = asyncio.create_task(ConfigPublisher(rec2, load, reconcile_s=0.2).run(stop2))  # type: ignore[arg-type]
    await until(lambda: len(rec2.sent) == 1, 5, "published at start")
    views.append(DeviceView(Device("d3", "s", "gw-a", "MCCGQ11LM"), None))
    await until(lambda: len(rec2.sent) == 2, 5, "republished by the reconcile")
    await asyncio.sleep(0.5)
    assert len(rec2.sent) == 2  # and only on a change
    stop2.set()
    await asyncio.wait_for(task2, 5)
