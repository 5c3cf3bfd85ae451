"""The load generator's mix: deterministic fleets, realistic kinds, valid canonical events."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime

import pytest

from devices.events import parse_event
from simulators.load import LoadSpec, fleet, messages

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_fleet_is_deterministic_and_sized() -> None:
    spec = LoadSpec(gateways=5, devices_per_gateway=7, rate=100)
    a, b = fleet(spec), fleet(spec)
    assert a == b and len(a) == 5 and all(len(d) == 7 for d in a.values())
    ids = [d.id for devs in a.values() for d in devs]
    assert len(ids) == len(set(ids))


def test_messages_are_valid_events_with_a_realistic_mix() -> None:
    spec = LoadSpec(gateways=1, devices_per_gateway=40, rate=100)
    gw, devices = next(iter(fleet(spec).items()))
    stream = messages("load-site", gw, devices, 1, lambda: NOW)
    seen = Counter()
    for seq, (topic, payload) in enumerate(itertools.islice(stream, 2000), 1):
        event = parse_event(payload)
        assert topic == f"trygg/v1/load-site/{gw}/events"
        assert (event.site, event.gateway, event.seq) == ("load-site", gw, seq)
        seen[event.kind] += 1
    assert 0.25 < seen["device.heartbeat"] / 2000 < 0.45
    assert {"room.motion", "door.opened", "door.closed", "gps.position"} <= set(seen)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gateways": 0, "devices_per_gateway": 1, "rate": 1},
        {"gateways": 1, "devices_per_gateway": 0, "rate": 1},
        {"gateways": 1, "devices_per_gateway": 1, "rate": 0},
        {"gateways": 1, "devices_per_gateway": 1, "rate": 1, "processes": 0},
    ],
)
def test_bad_specs_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        LoadSpec(**kwargs)  # type: ignore[arg-type]
