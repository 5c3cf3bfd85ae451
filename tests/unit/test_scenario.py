"""The scenario format: loading, validation with file and line, the plan, DST."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from devices.events import KINDS, make_event
from simulators.scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
    scenario_names,
)

AUTUMN_NIGHT = date(2026, 10, 24)  # 22:00 Sat -> 07:00 Sun 25 Oct; clocks go 03:00 -> 02:00
SPRING_NIGHT = date(2027, 3, 27)  # 22:00 Sat -> 07:00 Sun 28 Mar; clocks go 02:00 -> 03:00
ORDINARY_NIGHT = date(2026, 11, 3)

SMALL = """\
name: small
seed: 7
site: {id: s1, name: Test site}
units:
  - {id: u1, name: Unit}
gateways:
  - {id: gw1, unit: u1}
residents:
  - {id: r1, name: Test Person, unit: u1, apartment: Leil. 1}
devices:
  - {id: dev-btn, type: alarm_button, gateway: gw1, unit: u1, apartment: Leil. 1, resident: r1}
  - {id: dev-bed, type: bed_sensor, gateway: gw1, unit: u1, apartment: Leil. 1, resident: r1}
timeline:
  - at: 23:40
    device: dev-btn
    kind: alarm.button
  - at: "02:30"
    device: dev-bed
    kind: bed.exit
background:
  - device: dev-bed
    kind: device.heartbeat
    every: 30
expected_alerts:
  - {at: 23:40, device: dev-btn, kind: alarm.button, category: resident, priority: high}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.fixture(scope="module")
def night_unit() -> Scenario:
    return load_scenario("night-unit")


# --- the shipped scenario -----------------------------------------------------------


def test_night_unit_is_shipped_and_loads(night_unit: Scenario) -> None:
    assert "night-unit" in scenario_names()
    assert night_unit.site.id == "demo-site"
    assert [u.id for u in night_unit.units] == ["unit-a"]
    assert [g.id for g in night_unit.gateways] == ["gw-unit-a"]
    assert [r.id for r in night_unit.residents] == [f"res-{n}" for n in range(1, 7)]
    assert {s.username: s.role for s in night_unit.staff} == {
        "admin": "admin",
        "nattevakt": "nattevakt",
        "tekniker": "tekniker",
    }


def test_night_unit_devices_carry_no_personal_data(night_unit: Scenario) -> None:
    names = {part.lower() for r in night_unit.residents for part in r.name.split()}
    for device in night_unit.devices:
        assert not any(name in device.id.lower() for name in names), device.id
        assert not any(r.id in device.id for r in night_unit.residents), device.id
    types = {d.type for d in night_unit.devices}
    assert {
        "alarm_button",
        "bed_sensor",
        "door_contact",
        "fall_sensor",
        "smoke_detector",
        "staff_alarm_button",
    } <= types


def test_load_by_path_equals_load_by_name(night_unit: Scenario) -> None:
    path = Path(__file__).parents[2] / "simulators" / "scenarios" / "night-unit.yaml"
    assert load_scenario(path) == night_unit
    assert load_scenario(str(path)) == night_unit


def test_unknown_scenario_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ScenarioError, match="night-unit"):
        load_scenario("no-such-night")


def test_plan_is_deterministic_for_a_seed(night_unit: Scenario) -> None:
    first = night_unit.plan(ORDINARY_NIGHT)
    assert first == night_unit.plan(ORDINARY_NIGHT)
    assert first == load_scenario("night-unit").plan(ORDINARY_NIGHT)
    other = night_unit.model_copy(update={"seed": night_unit.seed + 1}).plan(ORDINARY_NIGHT)
    assert [p for p in first if p.source == "timeline"] == [
        p for p in other if p.source == "timeline"
    ]
    assert first != other


def test_plan_is_sorted_and_offsets_match_times(night_unit: Scenario) -> None:
    plan = night_unit.plan(ORDINARY_NIGHT)
    start, _ = night_unit.window(ORDINARY_NIGHT)
    offsets = [p.offset_s for p in plan]
    assert offsets == sorted(offsets)
    for p in plan:
        assert p.at.tzinfo is not None
        elapsed = p.at.astimezone(UTC) - start.astimezone(UTC)
        assert elapsed.total_seconds() == pytest.approx(p.offset_s, abs=1e-3)
        assert p.gateway == "gw-unit-a" and p.site == "demo-site"


def test_every_planned_event_is_a_valid_event(night_unit: Scenario) -> None:
    for seq, p in enumerate(night_unit.plan(ORDINARY_NIGHT), 1):
        event = make_event(
            id="0190f3b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b",
            site=p.site,
            gateway=p.gateway,
            device=p.device,
            kind=p.kind,
            ts=p.at,
            seq=seq,
            data=dict(p.data),
        )
        assert event.kind in KINDS


def test_all_events_fall_inside_the_night(night_unit: Scenario) -> None:
    start, end = night_unit.window(ORDINARY_NIGHT)
    plan = night_unit.plan(ORDINARY_NIGHT)
    assert all(start <= p.at <= end for p in plan)
    scripted = [p for p in plan if p.source == "timeline"]
    assert len(scripted) == len(night_unit.timeline)


def test_the_scripted_night(night_unit: Scenario) -> None:
    plan = night_unit.plan(ORDINARY_NIGHT)
    first = {p.kind: p for p in reversed(plan) if p.source == "timeline"}
    assert first["alarm.button"].at.time() == time(23, 40, 12)
    assert first["fall.detected"].at.time() == time(2, 13)
    assert first["staff.alarm"].data == {"location": "Leil. 4"}
    assert first["smoke.detected"].data == {"test": True}
    assert first["device.battery_low"].data == {"battery_pct": 12}
    # Only the detector test: no real smoke in this night.
    assert [p.data for p in plan if p.kind == "smoke.detected"] == [{"test": True}]
    kinds = {p.kind for p in plan if p.source == "background"}
    assert {"bed.exit", "bed.enter", "door.opened", "door.closed", "device.heartbeat"} <= kinds


def test_expected_alerts_reference_existing_devices(night_unit: Scenario) -> None:
    devices = {d.id for d in night_unit.devices}
    alerts = {(a.kind, a.category, a.priority) for a in night_unit.expected_alerts}
    assert all(a.device in devices for a in night_unit.expected_alerts)
    assert alerts == {
        ("alarm.button", "resident", "high"),
        ("fall.detected", "resident", "critical"),
        ("staff.alarm", "colleague", "critical"),
        ("smoke.detected", "technical", "low"),
        ("device.battery_low", "technical", "low"),
    }
    scripted = {(e.at, e.device, e.kind) for e in night_unit.timeline}
    assert all((a.at, a.device, a.kind) in scripted for a in night_unit.expected_alerts)


def test_background_pairs_follow_their_first_event(night_unit: Scenario) -> None:
    plan = night_unit.plan(ORDINARY_NIGHT)
    for device in {p.device for p in plan if p.kind == "bed.exit" and p.source == "background"}:
        bed = [p for p in plan if p.device == device and p.kind.startswith("bed.")]
        assert [p.kind for p in bed] == ["bed.exit", "bed.enter"] * (len(bed) // 2)
        for exit_, enter in zip(bed[::2], bed[1::2], strict=True):
            assert 300 <= enter.offset_s - exit_.offset_s <= 600
    doors = [p for p in plan if p.kind.startswith("door.") and p.source == "background"]
    for device in {p.device for p in doors}:
        mine = [p for p in doors if p.device == device]
        for opened, closed in zip(mine[::2], mine[1::2], strict=True):
            assert (opened.kind, closed.kind) == ("door.opened", "door.closed")
            assert 10 <= closed.offset_s - opened.offset_s <= 40


def test_heartbeats_every_thirty_minutes_per_device(night_unit: Scenario) -> None:
    plan = night_unit.plan(ORDINARY_NIGHT)
    for device in night_unit.devices:
        beats = [p.offset_s for p in plan if p.device == device.id and p.kind == "device.heartbeat"]
        assert len(beats) == 18  # 9 h
        assert {round(b - a) for a, b in itertools.pairwise(beats)} == {1800}


def test_placements_map_devices_to_residents(night_unit: Scenario) -> None:
    placements = {p.device: p for p in night_unit.placements()}
    assert placements["dev-a5-fall"].resident_id == "res-5"
    assert placements["dev-a5-fall"].apartment == "Leil. 5"
    assert placements["dev-a-kitchen-smoke"].resident_id is None


# --- errors with file and line ------------------------------------------------------


def test_small_scenario_loads(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, SMALL))
    assert scenario.timeline[0].at == time(23, 40)  # unquoted 23:40 is not base-60 1420


@pytest.mark.parametrize(
    ("old", "new", "path", "reason"),
    [
        (
            "kind: alarm.button\n  - at",
            "kind: alarm.buton\n  - at",
            "timeline[0].kind",
            "unknown kind 'alarm.buton'",
        ),
        (
            "device: dev-bed\n    kind: bed.exit",
            "device: dev-bedd\n    kind: bed.exit",
            "timeline[1].device",
            "unknown device 'dev-bedd'",
        ),
        ('at: "02:30"', 'at: "25:30"', "timeline[1].at", "no such time of day"),
        ('at: "02:30"', 'at: "half past two"', "timeline[1].at", "expected a time"),
        ('at: "02:30"', 'at: "12:00"', "timeline[1].at", "outside the night"),
        (
            "device: dev-bed\n    kind: device.heartbeat",
            "device: dev-gone\n    kind: device.heartbeat",
            "background[0].device[0]",
            "unknown device 'dev-gone'",
        ),
        ("every: 30", "every: -5", "background[0].every", "greater than 0"),
        ("{id: gw1, unit: u1}", "{id: gw1, unit: u9}", "gateways[0].unit", "unknown unit 'u9'"),
        (
            "device: dev-btn, kind: alarm.button, category",
            "device: dev-x, kind: alarm.button, category",
            "expected_alerts[0].device",
            "unknown device 'dev-x'",
        ),
        ("priority: high", "priority: urgent", "expected_alerts[0].priority", "'urgent'"),
    ],
)
def test_broken_scenario_names_file_line_and_reason(
    tmp_path: Path, old: str, new: str, path: str, reason: str
) -> None:
    assert old in SMALL
    text = SMALL.replace(old, new, 1)
    file = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(file)
    problem = caught.value.problems[0]
    assert problem.path == path
    assert reason in problem.reason
    # The line that was changed is the line reported.
    pairs = zip(SMALL.splitlines(), text.splitlines(), strict=True)
    changed = next(i for i, (a, b) in enumerate(pairs, 1) if a != b)
    assert problem.line == changed
    assert str(caught.value).startswith(f"{file}:{changed}: {path}: ")


def test_bad_data_for_a_kind_points_at_the_field(tmp_path: Path) -> None:
    text = SMALL.replace(
        "kind: alarm.button\n  - at", "kind: alarm.button\n    data: {press: triple}\n  - at", 1
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, text))
    problem = caught.value.problems[0]
    assert problem.path == "timeline[0].data.press"
    assert problem.line == line_of(text, "press: triple")


def test_unknown_field_and_duplicate_key_are_reported(tmp_path: Path) -> None:
    text = SMALL.replace("    kind: bed.exit\n", "    kind: bed.exit\n    colour: red\n", 1)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, text))
    assert caught.value.problems[0].path == "timeline[1].colour"
    assert caught.value.problems[0].line == line_of(text, "colour: red")

    text = SMALL.replace("seed: 7\n", "seed: 7\nseed: 8\n", 1)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, text))
    assert (caught.value.problems[0].path, caught.value.problems[0].line) == ("seed", 3)


def test_yaml_syntax_error_has_a_line() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario("name: x\nseed: [1, 2\nsite: {}\n", "bad.yaml")
    assert caught.value.problems[0].line is not None
    assert str(caught.value).startswith("bad.yaml:")


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    text = SMALL.replace("kind: alarm.button\n  - at", "kind: nope\n  - at", 1).replace(
        "device: dev-bed\n    kind: bed.exit", "device: dev-nope\n    kind: bed.exit", 1
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, text))
    assert {p.path for p in caught.value.problems} == {"timeline[0].kind", "timeline[1].device"}


# --- time zones and daylight saving -------------------------------------------------


def hours(scenario: Scenario, night_of: date) -> float:
    start, end = scenario.window(night_of)
    # Aware datetimes with the same tzinfo subtract as wall clocks: compare in UTC.
    return (end.astimezone(UTC) - start.astimezone(UTC)) / timedelta(hours=1)


@pytest.mark.parametrize(
    ("night_of", "length"), [(ORDINARY_NIGHT, 9), (AUTUMN_NIGHT, 10), (SPRING_NIGHT, 8)]
)
def test_night_length_follows_the_clock_change(
    night_unit: Scenario, night_of: date, length: int
) -> None:
    assert hours(night_unit, night_of) == length
    plan = night_unit.plan(night_of)
    start, end = night_unit.window(night_of)
    assert plan[-1].offset_s <= (end - start.astimezone(UTC)).total_seconds()
    beats = [p for p in plan if p.kind == "device.heartbeat" and p.device == "dev-a1-bed"]
    assert len(beats) == 2 * length  # heartbeats run on elapsed time, the extra hour included


def test_repeated_hour_means_its_first_occurrence() -> None:
    scenario = parse_scenario(SMALL)
    at = scenario.local_time(AUTUMN_NIGHT, time(2, 30))
    assert at.isoformat() == "2026-10-25T02:30:00+02:00"  # still summer time
    assert at.fold == 0


def test_skipped_hour_moves_forward_by_the_gap() -> None:
    scenario = parse_scenario(SMALL)
    at = scenario.local_time(SPRING_NIGHT, time(2, 30))
    assert at.isoformat() == "2027-03-28T03:30:00+02:00"
    bed = next(p for p in scenario.plan(SPRING_NIGHT) if p.kind == "bed.exit")
    assert bed.at == at
    assert bed.offset_s == 4.5 * 3600  # 22:00 CET -> 03:30 CEST: 5.5 h on the wall, 4.5 h real


def test_times_before_start_are_next_morning(night_unit: Scenario) -> None:
    assert night_unit.local_time(ORDINARY_NIGHT, time(23, 0)).date() == ORDINARY_NIGHT
    assert night_unit.local_time(ORDINARY_NIGHT, time(1, 0)).date() == date(2026, 11, 4)
    assert night_unit.local_time(ORDINARY_NIGHT, time(1, 0)) == datetime(
        2026, 11, 4, 0, 0, tzinfo=UTC
    )
