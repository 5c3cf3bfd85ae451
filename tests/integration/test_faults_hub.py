"""The hub's response to injected faults, where the hub has that response today.

- duplicates, reordering and uplink drops: nothing valid is lost, nothing stored twice
  (in-process and through the real Mosquitto with the connection dropped and re-opened);
- malformed and oversized payloads: rejected, counted by reason, valid neighbours kept;
- a gateway clock running ahead: counted in ``trygg_events_clock_skew_total``.

Flood containment and flap debounce are in ``test_rule_faults.py``; battery death and
gateway silence, answered by device supervision, in ``test_supervision_faults.py``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import aiomqtt
import pytest
import uuid6

from hub.service import Hub
from hub.settings import HubSettings
from hub.store.memory import MemoryStore
from hub.store.sqlite import SqliteStore
from simulators.fault_player import play_with_faults
from simulators.faults import FaultSpec, Wire, apply_wire, wire_from_plan
from simulators.scenario import load_scenario
from trygg.runtime import running_hub

from conftest import free_port

NIGHT = date(2026, 11, 3)


def live_wire(site: str, count: int = 300) -> list[Wire]:
    """``count`` events of night-unit under ``site``, stamped now (the hub's real clock)."""
    plan = [replace(p, site=site) for p in load_scenario("night-unit").plan(NIGHT)[:count]]
    return wire_from_plan(plan, lambda: str(uuid6.uuid7()), lambda _p: datetime.now(UTC))


def metric(hub: Hub, name: str, labels: dict[str, str] | None = None) -> float:
    value = hub.metrics.registry.get_sample_value(name, labels or {})
    return value or 0.0


async def test_duplicates_reorder_malformed_oversized_and_skew_in_process() -> None:
    store = MemoryStore()
    store.migrate()
    hub = Hub(store)
    await hub.start()
    wire = live_wire("fault-site")
    spec = FaultSpec(
        seed=5,
        duplicate=0.3,
        reorder=10,
        malformed=0.1,
        oversized=0.05,
        skew=(("gw-unit-a", 3600.0),),
    )
    faulty = apply_wire(spec, wire)
    kinds = Counter((w.fault or "ok").split(":")[0] for w in faulty)
    assert kinds["duplicate"] > 30 and kinds["malformed"] > 10 and kinds["oversized"] > 3
    try:
        for w in faulty:
            hub.handle_message(w.payload, w.topic)
        await hub.drain()
        ids = [w.event_id for w in wire if w.event_id]
        stored = await hub.run_store(store.get_events, ids)
    finally:
        await hub.stop()
    assert sorted(e.id for e in stored) == sorted(ids)  # every valid event, once
    assert metric(hub, "trygg_events_stored_total") == len(ids)
    assert metric(hub, "trygg_events_duplicate_total") == kinds["duplicate"]
    assert metric(hub, "trygg_events_rejected_total", {"reason": "oversized"}) == kinds["oversized"]
    total_rejected = sum(
        s.value
        for m in hub.metrics.registry.collect()
        if m.name == "trygg_events_rejected"
        for s in m.samples
        if s.name == "trygg_events_rejected_total"
    )
    assert total_rejected == kinds["malformed"] + kinds["oversized"]
    # Every event of the skewed gateway is an hour ahead of the hub's clock, duplicates
    # are dropped before the check: one count per distinct skewed event.
    assert metric(hub, "trygg_events_clock_skew_total") == len(ids)


@pytest.mark.mqtt
async def test_nothing_valid_is_lost_over_uplink_drops_through_mosquitto(
    mosquitto: tuple[str, int], unique_site: str, tmp_path: Path
) -> None:
    host, port = mosquitto
    settings = HubSettings(
        data_dir=tmp_path,
        http_port=free_port(),
        mqtt_host=host,
        mqtt_port=port,
        mqtt_client_id=f"hub-{unique_site}",
        mqtt_session_expiry_s=5,
        demo=True,
    )
    store = SqliteStore(settings.db_path)
    store.migrate()
    wire = live_wire(unique_site, 400)
    faulty = apply_wire(FaultSpec(seed=11, duplicate=0.2, reorder=6, drops=8), wire)
    stop = asyncio.Event()
    async with running_hub(settings, store, stop) as run:
        for _ in range(200):
            if run.hub.broker_connected:
                break
            await asyncio.sleep(0.025)
        assert run.hub.broker_connected
        drops = await _publish_with_drops(host, port, unique_site, faulty)
        assert drops == 8
        ids = [w.event_id for w in wire if w.event_id]
        for _ in range(400):
            stored = await run.hub.run_store(store.get_events, ids)
            if len(stored) == len(ids):
                break
            await asyncio.sleep(0.05)
        await run.hub.drain()
        assert sorted(e.id for e in stored) == sorted(ids)
        dup = run.hub.metrics.registry.get_sample_value("trygg_events_duplicate_total")
        assert dup is not None and dup >= sum(w.fault == "duplicate" for w in faulty)
    store.close()


async def _publish_with_drops(host: str, port: int, site: str, wire: list[Wire]) -> int:
    """Publish at QoS 1; at each drop marker close the connection and open a new one
    (a gateway's uplink going down and coming back)."""
    drops = 0
    it = iter(wire)
    while True:
        async with aiomqtt.Client(host, port, identifier=f"gw-{site}-{drops}") as client:
            for w in it:
                if w.drop:
                    drops += 1
                    break
                await client.publish(w.topic, w.payload, qos=1)
            else:
                return drops


async def test_play_with_faults_through_a_broker_loses_nothing_valid(
    embedded_broker: tuple[str, int], tmp_path: Path
) -> None:
    host, port = embedded_broker
    settings = HubSettings(
        data_dir=tmp_path,
        http_port=free_port(),
        mqtt_host=host,
        mqtt_port=port,
        mqtt_protocol=4,
        mqtt_client_id="hub-faults",
        demo=True,
    )
    store = SqliteStore(settings.db_path)
    store.migrate()
    scenario = load_scenario("colleague-alarm")
    spec = FaultSpec(seed=4, duplicate=0.2, reorder=5, malformed=0.1, oversized=0.05, drops=4)
    stop = asyncio.Event()
    async with running_hub(settings, store, stop) as run:
        for _ in range(200):
            if run.hub.broker_connected:
                break
            await asyncio.sleep(0.025)
        result = await play_with_faults(scenario, host, port, spec)
        assert result.reconnects == 4
        assert result.by_fault["duplicate"] > 5 and result.by_fault["malformed"] > 3
        registry = run.hub.metrics.registry
        for _ in range(400):
            stored = registry.get_sample_value("trygg_events_stored_total") or 0
            if stored >= result.valid_events:
                break
            await asyncio.sleep(0.05)
        assert stored == result.valid_events
        rejected = sum(
            s.value
            for m in registry.collect()
            if m.name == "trygg_events_rejected"
            for s in m.samples
            if s.name == "trygg_events_rejected_total"
        )
        assert rejected == result.by_fault["malformed"] + result.by_fault["oversized"]
        dup = registry.get_sample_value("trygg_events_duplicate_total")
        assert dup is not None and dup >= result.by_fault["duplicate"]
    store.close()
