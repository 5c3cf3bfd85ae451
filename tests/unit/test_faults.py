"""Fault generators: each does what it says, and the same seed breaks things the same way."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

import pytest

from devices.errors import EventRejected
from devices.events import make_event, parse_event
from simulators import faults
from simulators.faults import FaultSpec, Wire, apply_wire
from simulators.scenario import PlannedEvent, load_scenario

NIGHT = date(2026, 11, 3)


@pytest.fixture(scope="module")
def plan() -> list[PlannedEvent]:
    return load_scenario("night-unit").plan(NIGHT)


def wire_of(plan: list[PlannedEvent]) -> list[Wire]:
    out = []
    for i, p in enumerate(plan):
        event = make_event(
            id=f"019ab3c4-5d6e-7f80-9a1b-{i:012x}",
            site=p.site,
            gateway=p.gateway,
            device=p.device,
            kind=p.kind,
            ts=p.at,
            seq=i + 1,
            data=dict(p.data),
        )
        out.append(
            Wire(f"trygg/v1/{p.site}/{p.gateway}/events", event.to_json().encode(), event.id)
        )
    return out


def test_flood_adds_count_events_at_the_interval(plan: list[PlannedEvent]) -> None:
    start = plan[0].at + timedelta(hours=2)
    out = faults.flood(plan, "dev-a1-motion", "room.motion", start=start, count=50, every_s=2)
    added = [p for p in out if p.note and p.note.startswith("fault: flood")]
    assert len(added) == 50 and len(out) == len(plan) + 50
    assert added[1].at - added[0].at == timedelta(seconds=2)
    assert [p.offset_s for p in out] == sorted(p.offset_s for p in out)
    assert all(p.gateway == "gw-unit-a" for p in added)


def test_flap_alternates(plan: list[PlannedEvent]) -> None:
    start = plan[0].at + timedelta(hours=3)
    out = faults.flap(plan, "dev-a1-door", start=start, toggles=6, period_s=1.5)
    added = [p.kind for p in out if p.note and p.note.startswith("fault:")]
    assert added == ["door.opened", "door.closed"] * 3


def test_battery_dies_then_silence(plan: list[PlannedEvent]) -> None:
    at = plan[0].at + timedelta(hours=1)
    out = faults.battery_dies(plan, "dev-a1-bed", at=at)
    mine = [p for p in out if p.device == "dev-a1-bed" and p.at >= at]
    assert [p.kind for p in mine] == ["device.battery_low"]
    assert any(p.device == "dev-a1-bed" and p.at >= at for p in plan)
    out = faults.battery_dies(plan, "dev-a1-bed", at=at, reports=3, every_s=30)
    mine = [p for p in out if p.device == "dev-a1-bed" and p.at >= at]
    assert [(p.kind, (p.at - at).total_seconds()) for p in mine] == [
        ("device.battery_low", 0.0), ("device.battery_low", 30.0), ("device.battery_low", 60.0)]
    with pytest.raises(ValueError):
        faults.battery_dies(plan, "dev-a1-bed", at=at, reports=0)


def test_gateway_silent(plan: list[PlannedEvent]) -> None:
    at = plan[0].at + timedelta(hours=4)
    out = faults.gateway_silent(plan, "gw-unit-a", at=at)
    assert out and all(p.at < at for p in out)


def test_unknown_device_cannot_flood(plan: list[PlannedEvent]) -> None:
    with pytest.raises(ValueError, match="sends nothing"):
        faults.flood(plan, "dev-nope", "room.motion", start=plan[0].at, count=1, every_s=1)


def test_duplicates_and_reorder_keep_every_valid_message(plan: list[PlannedEvent]) -> None:
    wire = wire_of(plan)
    rng = random.Random(1)
    out = faults.reorder(rng, faults.duplicate(rng, wire, 0.3), 8)
    assert {w.event_id for w in out} == {w.event_id for w in wire}
    dups = [w for w in out if w.fault == "duplicate"]
    assert 0.2 * len(wire) < len(dups) < 0.4 * len(wire)
    assert [w.event_id for w in out] != [w.event_id for w in wire] + [w.event_id for w in dups]


@pytest.mark.parametrize("how", ["not_json", "truncated", "unknown_kind", "bad_seq", "no_offset"])
def test_every_malformed_payload_is_rejected_by_the_event_model(how: str) -> None:
    wire = wire_of(load_scenario("night-unit").plan(NIGHT)[:1])
    broken = faults._break(wire[0].payload, how, dict(faults._BROKEN)[how])
    with pytest.raises(EventRejected):
        parse_event(broken)


def test_malformed_and_oversized_are_extra_messages(plan: list[PlannedEvent]) -> None:
    wire = wire_of(plan)
    rng = random.Random(2)
    out = faults.oversize(rng, faults.malform(rng, wire, 0.2), 0.1)
    assert [w for w in out if w.valid] == wire  # valid messages untouched, in order
    bad = [w for w in out if not w.valid]
    assert bad and all(w.event_id is None for w in bad)
    big = [w for w in bad if w.fault == "oversized"]
    assert big and all(len(w.payload) > faults.MAX_PAYLOAD for w in big)
    for w in bad:
        with pytest.raises(EventRejected):
            parse_event(w.payload)


def test_skew_moves_only_that_gateways_clock(plan: list[PlannedEvent]) -> None:
    wire = wire_of(plan[:20])
    out = faults.skew_clock(wire, "gw-unit-a", 3600)
    for before, after in zip(wire, out, strict=True):
        delta = parse_event(after.payload).ts - parse_event(before.payload).ts
        assert delta == timedelta(hours=1)
        assert json.loads(after.payload)["id"] == before.event_id
    assert faults.skew_clock(wire, "gw-other", 3600) == wire


def test_uplink_drops_are_markers_between_messages(plan: list[PlannedEvent]) -> None:
    wire = wire_of(plan)
    out = faults.uplink_drops(random.Random(3), wire, 5)
    assert sum(w.drop for w in out) == 5 and not out[0].drop
    assert [w for w in out if not w.drop] == wire


def test_same_seed_same_faults(plan: list[PlannedEvent]) -> None:
    wire = wire_of(plan)
    spec = FaultSpec(
        seed=9,
        duplicate=0.1,
        reorder=5,
        malformed=0.05,
        oversized=0.02,
        skew=(("gw-unit-a", 900.0),),
        drops=3,
    )
    assert apply_wire(spec, wire) == apply_wire(spec, wire)
    assert apply_wire(spec, wire) != apply_wire(FaultSpec(**{**spec.__dict__, "seed": 10}), wire)
