"""Publish a scenario with wire faults injected (``trygg sim faults``).

The scenario's events (live timestamps) go through :func:`simulators.faults.apply_wire`
and are published at QoS 1 as fast as the broker acknowledges. At each uplink-drop
marker the connection is closed and a new one opened, as a gateway's uplink that goes
down and comes back; QoS 1 messages acknowledged before the drop are the broker's.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime

import aiomqtt
import uuid6

from simulators.faults import FaultSpec, apply_wire, wire_from_plan
from simulators.player import PlayerError, default_night
from simulators.scenario import Scenario


@dataclass(frozen=True)
class FaultRun:
    valid_events: int
    published: int
    reconnects: int
    by_fault: dict[str, int]


async def play_with_faults(
    scenario: Scenario,
    host: str,
    port: int,
    spec: FaultSpec,
    *,
    night_of: date | None = None,
    client_id: str | None = None,
    username: str | None = None,
    password: str | None = None,
    stop: asyncio.Event | None = None,
) -> FaultRun:
    night = night_of or scenario.night_of or default_night(scenario, datetime.now(UTC))
    wire = wire_from_plan(
        scenario.plan(night), lambda: str(uuid6.uuid7()), lambda _p: datetime.now(UTC)
    )
    faulty = apply_wire(spec, wire)
    stop = stop or asyncio.Event()
    published = reconnects = 0
    base = client_id or f"trygg-faults-{uuid6.uuid7().hex[-12:]}"
    it = iter(faulty)
    try:
        while not stop.is_set():
            async with aiomqtt.Client(
                host, port, identifier=f"{base}-{reconnects}", username=username, password=password
            ) as client:
                for w in it:
                    if stop.is_set():
                        break
                    if w.drop:
                        reconnects += 1
                        break
                    await client.publish(w.topic, w.payload, qos=1)
                    published += 1
                else:
                    break
    except aiomqtt.MqttError as exc:
        raise PlayerError(f"publishing to {host}:{port} failed: {exc}") from exc
    by_fault = Counter((w.fault or "none").split(":")[0] for w in faulty)
    return FaultRun(
        valid_events=len(wire),
        published=published,
        reconnects=reconnects,
        by_fault=dict(by_fault),
    )
