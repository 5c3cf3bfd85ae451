"""The rule engine, operator by operator, on short nights with exact times."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rule_harness import engine, ev, local, raised, run, where

M = timedelta(minutes=1)
S = timedelta(seconds=1)
DAY = "2026-11-20"
T0 = local(DAY, "23:00")
DOOR, BED, TAG, STOVE, BTN = (where(d) for d in ("door", "bed", "tag", "stove", "btn"))

WANDER = """
rules:
  - name: wander
    when: {kind: door.opened, data: {door: exit}}
    window: "22:00-07:00"
    absent:
      any: [{kind: door.closed, data: {door: exit}}, {kind: presence.staff_in}]
      within: 3m
    cancel_on_clear: true
    raise: {category: resident, priority: high, message: "Exit open {minutes} min: {where}"}
"""
EXIT = {"door": "exit"}


# --- instant, window, data operators --------------------------------------------------

@pytest.mark.parametrize(
    ("condition", "data", "fires"),
    [
        ("{kind: device.battery_low}", {}, True),
        ("{kind: device.battery_low, data: {battery_pct: {lt: 10}}}", {"battery_pct": 9}, True),
        ("{kind: device.battery_low, data: {battery_pct: {lt: 10}}}", {"battery_pct": 10}, False),
        ("{kind: device.battery_low, data: {battery_pct: {lt: 10}}}", {}, False),  # None never <
        ("{kind: device.battery_low, data: {battery_pct: {ge: 10}}}", {"battery_pct": 10}, True),
        ("{kind: device.battery_low, data: {battery_pct: {gt: 10, le: 20}}}", {"battery_pct": 20}, True),
        ("{kind: device.battery_low, data: {battery_pct: {ne: 5}}}", {"battery_pct": 5}, False),
        ("{kind: device.battery_low, data: {battery_pct: [1, 2, 3]}}", {"battery_pct": 2}, True),
        ("{kind: device.battery_low, data: {battery_pct: {in: [1, 2]}}}", {"battery_pct": 4}, False),
        ("{kind: [device.battery_low, device.tamper]}", {}, True),
        ("{all: [{kind: device.battery_low}, {data: {battery_pct: 5}}]}", {"battery_pct": 5}, False),
        ("{kind: device.battery_low, all: [{data: {battery_pct: 5}}]}", {"battery_pct": 5}, True),
        ("{kind: device.battery_low, not: {data: {battery_pct: 5}}}", {"battery_pct": 5}, False),
        ("{kind: device.battery_low, not: {data: {battery_pct: 5}}}", {"battery_pct": 6}, True),
        ("{any: [{kind: device.tamper}, {kind: device.battery_low, data: {voltage_mv: {gt: 1}}}]}",
         {"voltage_mv": 2}, True),
        ("{kind: device.battery_low, tags: [stove-guard]}", {}, False),
    ],
)
def test_conditions(condition: str, data: dict[str, object], fires: bool) -> None:
    if "all: [{kind" in condition and "data: {battery_pct: 5}}]}" in condition:
        # ``all`` narrows the kind for its siblings only: the data test alone names no kind.
        with pytest.raises(Exception, match="name the 'kind'"):
            engine(f"rules:\n  - name: r\n    when: {condition}\n"
                   "    raise: {category: technical, priority: low, message: m}\n")
        return
    eng = engine(f"rules:\n  - name: r\n    when: {condition}\n"
                 "    raise: {category: technical, priority: low, message: m}\n")
    seen = run(eng, [(ev("device.battery_low", T0, data=data), where("dev-1"))])
    assert bool(raised(seen)) is fires


def test_device_tags_match() -> None:
    eng = engine("rules:\n  - name: r\n    when: {kind: device.tamper, tags: [stove-guard]}\n"
                 "    raise: {category: technical, priority: low, message: m}\n")
    tagged = where("dev-1", tags=("stove-guard",))
    assert raised(run(eng, [(ev("device.tamper", T0), tagged)]))
    assert not raised(run(eng, [(ev("device.tamper", T0), where("dev-1"))]))


@pytest.mark.parametrize(
    ("at", "inside"),
    [("21:59", False), ("22:00", True), ("23:59", True), ("00:00", True), ("06:59", True),
     ("07:00", False), ("12:00", False)],
)
def test_a_window_across_midnight(at: str, inside: bool) -> None:
    eng = engine("rules:\n  - name: r\n    when: {kind: water.leak}\n    window: '22:00-07:00'\n"
                 "    raise: {category: resident, priority: high, message: m}\n")
    assert bool(raised(run(eng, [(ev("water.leak", local(DAY, at)), where("leak"))]))) is inside


def test_scope_by_unit_resident_and_site() -> None:
    eng = engine("""
    rules:
      - name: r
        scope: {units: [unit-B], residents: [res-9]}
        when: {kind: water.leak}
        raise: {category: resident, priority: high, message: m}
    """)
    assert raised(run(eng, [(ev("water.leak", T0), where("d", resident="res-9", unit="unit-B"))]))
    assert not raised(run(eng, [(ev("water.leak", T0), where("d", resident="res-9"))]))
    assert not raised(run(eng, [(ev("water.leak", T0), where("d", resident="res-1", unit="unit-B"))]))
    assert not raised(run(eng, [(ev("water.leak", T0), None)]))


# --- absent (sequence and duration) ------------------------------------------------------

@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # door opened at night, nobody closes it: one alert after 3 min
        # (held for the rule's hold, 1 min by default, then released to staff)
        ([(0, "door.opened", EXIT, DOOR)], [(3 * 60, "raise"), (240, "release")]),
        # closed again within 3 min: nothing
        ([(0, "door.opened", EXIT, DOOR), (170, "door.closed", EXIT, DOOR)], []),
        # staff arrive within 3 min: nothing
        ([(0, "door.opened", EXIT, DOOR), (60, "presence.staff_in", {}, TAG)], []),
        # an entrance door closing does not clear an exit door
        ([(0, "door.opened", EXIT, DOOR), (60, "door.closed", {}, DOOR)],
         [(180, "raise"), (240, "release")]),
        # closed while the alert is held: the rule cancels it (nobody has seen it)
        ([(0, "door.opened", EXIT, DOOR), (200, "door.closed", EXIT, DOOR)],
         [(180, "raise"), (200, "cancel")]),
        # opened twice: the first opening sets the deadline
        ([(0, "door.opened", EXIT, DOOR), (100, "door.opened", EXIT, DOOR)],
         [(180, "raise"), (240, "release")]),
        # closed after the release: the rule still says so; the hub only records it
        ([(0, "door.opened", EXIT, DOOR), (300, "door.closed", EXIT, DOOR)],
         [(180, "raise"), (240, "release"), (300, "cancel")]),
        # an entrance door never starts it
        ([(0, "door.opened", {}, DOOR)], []),
    ],
)
def test_absent(steps: list[tuple[int, str, dict[str, object], object]],
                expected: list[tuple[int, str]]) -> None:
    eng = engine(WANDER)
    events = [(ev(k, T0 + s * S, p.device, d), p) for s, k, d, p in steps]  # type: ignore[attr-defined]
    seen = run(eng, events, until=T0 + 10 * M)
    assert [(int((x.at - T0).total_seconds()), x.what) for x in seen] == expected
    if expected and expected[0][1] == "raise":
        assert seen[0].detail == "Exit open 3 min: H1"
        assert seen[0].device == "door"


def test_absent_only_inside_its_window() -> None:
    eng = engine(WANDER)
    seen = run(eng, [(ev("door.opened", local(DAY, "12:00"), "door", EXIT), DOOR)],
               until=local(DAY, "13:00"))
    assert seen == []


def test_hysteresis_a_short_off_does_not_restart_the_stove_clock() -> None:
    eng = engine("""
    rules:
      - name: stove
        when: {kind: stove.on}
        absent: {any: [{kind: stove.off}], within: 20m}
        debounce: 1m
        raise: {category: resident, priority: high, message: m}
    """)
    flapping = [(0, "stove.on"), (300, "stove.off"), (330, "stove.on"), (900, "stove.off"),
                (910, "stove.on")]
    seen = run(eng, [(ev(k, T0 + s * S, "stove"), STOVE) for s, k in flapping], until=T0 + 60 * M)
    assert raised(seen) == [(T0 + 20 * M, "stove")]
    # Off for longer than the debounce: the clock starts again at the next stove.on.
    real = [(0, "stove.on"), (300, "stove.off"), (400, "stove.on")]
    seen = run(eng, [(ev(k, T0 + s * S, "stove"), STOVE) for s, k in real], until=T0 + 60 * M)
    assert raised(seen) == [(T0 + 400 * S + 20 * M, "stove")]


# --- count, debounce, cool-down --------------------------------------------------------

COUNT = """
rules:
  - name: presses
    when: {kind: alarm.button}
    count: {n: 3, within: 1m}
    staff_present: raise
    raise: {category: resident, priority: high, message: "{count} presses: {where}"}
"""


@pytest.mark.parametrize(
    ("offsets", "alerts"),
    [
        ([0, 10, 20], 1),
        ([0, 10], 0),
        ([0, 30, 61], 0),  # the first press is out of the minute by the third
        ([0, 30, 59], 1),
        ([0, 1, 2, 3, 4, 5], 2),
        ([0, 1, 2, 3, 4], 1),
    ],
)
def test_count(offsets: list[int], alerts: int) -> None:
    seen = run(engine(COUNT), [(ev("alarm.button", T0 + o * S, "btn"), BTN) for o in offsets])
    assert len(raised(seen)) == alerts
    assert all(s.detail == "3 presses: H1" for s in seen if s.what == "raise")


def test_debounce_and_cooldown() -> None:
    eng = engine("""
    rules:
      - name: tamper
        when: {kind: device.tamper}
        debounce: 10m
        raise: {category: technical, priority: medium, message: m}
      - name: leak
        when: {kind: water.leak}
        cooldown: 30m
        raise: {category: resident, priority: high, message: m}
    """)
    tamper = [(ev("device.tamper", T0 + m * M, "t"), where("t")) for m in (0, 5, 9, 25)]
    # 5 and 9 are within 10 min of the previous flap; 25 is 16 min after 9
    seen = run(eng, tamper)
    assert [s.what for s in seen] == ["raise", "suppressed", "suppressed", "raise"]
    leak = [(ev("water.leak", T0 + m * M, "l"), where("l")) for m in (0, 5, 29, 31)]
    seen = run(eng, leak)
    assert [s.what for s in seen] == ["raise", "suppressed", "suppressed", "raise"]
    assert {s.detail for s in seen if s.what == "suppressed"} == {"cool-down"}


# --- suppression while staff are present --------------------------------------------------

PACKISH = """
staff_presence_max: 2h
rules:
  - name: leak
    when: {kind: water.leak}
    raise: {category: resident, priority: high, message: m}
  - name: button
    when: {kind: alarm.button}
    staff_present: raise
    raise: {category: resident, priority: high, message: m}
  - name: colleague
    when: {kind: staff.alarm}
    raise: {category: colleague, priority: critical, message: m}
  - name: bed
    when: {kind: bed.exit}
    absent: {any: [{kind: bed.enter}], within: 15m}
    raise: {category: resident, priority: medium, message: m}
"""


def test_staff_presence_suppresses_resident_alarms_but_not_buttons_or_colleagues() -> None:
    eng = engine(PACKISH)
    events = [
        (ev("presence.staff_in", T0, "tag"), TAG),
        (ev("water.leak", T0 + M, "leak"), where("leak")),
        (ev("alarm.button", T0 + 2 * M, "btn"), BTN),
        (ev("staff.alarm", T0 + 3 * M, "sa"), where("sa", resident=None)),
        (ev("bed.exit", T0 + 4 * M, "bed"), BED),
        (ev("water.leak", T0 + 5 * M, "leak"), where("leak", apartment="H2", resident="res-2")),
    ]
    seen = run(eng, events, until=T0 + 30 * M)
    assert [(s.rule, s.what) for s in seen] == [
        ("leak", "suppressed"),
        ("button", "raise"),
        ("colleague", "raise"),
        ("leak", "raise"),  # another apartment
        ("bed", "suppressed"),  # the timer fired while staff were still there
    ]


def test_staff_out_ends_suppression_and_a_forgotten_staff_out_expires() -> None:
    eng = engine(PACKISH)
    out = [(ev("presence.staff_in", T0, "tag"), TAG), (ev("presence.staff_out", T0 + M, "tag"), TAG),
           (ev("water.leak", T0 + 2 * M, "leak"), where("leak"))]
    assert raised(run(eng, out)) == [(T0 + 2 * M, "leak")]
    forgotten = [(ev("presence.staff_in", T0, "tag"), TAG),
                 (ev("water.leak", T0 + 121 * M, "leak"), where("leak"))]
    assert raised(run(eng, forgotten)) == [(T0 + 121 * M, "leak")]


def test_colleague_alarms_are_never_merged_or_suppressed() -> None:
    eng = engine(PACKISH)
    rule = next(r for r in eng.pack.rules if r.name == "colleague")
    assert rule.merge_open is False and rule.suppress_with_staff is False


# --- expect (deadline) -----------------------------------------------------------------------

EXPECT = """
rules:
  - name: morning
    expect: {when: {kind: room.motion}, window: "06:00-10:00"}
    raise: {category: resident, priority: high, message: "No movement {window}: {where}"}
"""


def test_expect_raises_at_the_window_end_when_nothing_came() -> None:
    eng = engine(EXPECT)
    motion = where("motion")
    evening = [(ev("room.motion", local(DAY, "21:00"), "motion"), motion)]
    seen = run(eng, evening, until=local("2026-11-21", "12:00"))
    assert raised(seen) == [(local("2026-11-21", "10:00"), "morning")]
    assert seen[0].detail == "No movement 06:00-10:00: H1"
    moved = [*evening, (ev("room.motion", local("2026-11-21", "07:15"), "motion"), motion)]
    assert run(eng, moved, until=local("2026-11-21", "12:00")) == []
    # Movement only before the window does not count for the morning.
    early = [*evening, (ev("room.motion", local("2026-11-21", "05:59"), "motion"), motion)]
    assert raised(run(eng, early, until=local("2026-11-21", "12:00")))


def test_expect_rearms_every_day() -> None:
    eng = engine(EXPECT)
    seen = run(eng, [(ev("room.motion", local(DAY, "21:00"), "motion"), where("motion"))],
               until=local("2026-11-23", "12:00"))
    assert [s.at for s in seen] == [local("2026-11-21", "10:00"), local("2026-11-22", "10:00"),
                                    local("2026-11-23", "10:00")]


# --- per-resident parameters, actions ----------------------------------------------------------

def test_a_resident_override_lengthens_the_grace() -> None:
    eng = engine("""
    rules:
      - name: bed
        when: {kind: bed.exit}
        absent: {any: [{kind: bed.enter}], within: 15m}
        raise: {category: resident, priority: medium, message: m}
    overrides:
      res-2: {bed: {within: 30m}}
      res-3: {bed: {enabled: false}}
    """)
    for resident, expected in [("res-1", [(T0 + 15 * M, "bed")]),
                               ("res-2", [(T0 + 30 * M, "bed")]), ("res-3", [])]:
        p = where("bed", resident=resident, apartment=resident)
        assert raised(run(eng, [(ev("bed.exit", T0, "bed"), p)], until=T0 + 60 * M)) == expected


def test_an_override_in_a_site_file_tunes_the_default_pack() -> None:
    site = "overrides:\n  res-1: {geofence_exit: {enabled: true, window: '00:00-00:00'}}\n"
    from hub.ruleset import default_pack_text

    eng = engine(default_pack_text()[1], site)
    gps = where("gps")
    assert raised(run(eng, [(ev("geofence.exit", T0, "gps"), gps)])) == [(T0, "geofence_exit")]
    other = where("gps", resident="res-2")
    assert raised(run(eng, [(ev("geofence.exit", T0, "gps"), other)])) == []


def test_resolve_and_cancel_actions_follow_a_raise_once() -> None:
    eng = engine("""
    rules:
      - name: battery
        when: {kind: device.battery_low}
        raise: {category: technical, priority: low, message: m}
      - name: replaced
        when: {kind: device.heartbeat, data: {battery_pct: {ge: 50}}}
        resolve: battery
      - name: leak
        when: {kind: water.leak}
        raise: {category: resident, priority: high, message: m}
      - name: dry
        when: {kind: device.heartbeat, data: {battery_pct: {lt: 50}}}
        cancel: leak
    """)
    p = where("bat")
    good = {"battery_pct": 90}
    seen = run(eng, [(ev("device.heartbeat", T0, "bat", good), p),
                     (ev("device.battery_low", T0 + M, "bat"), p),
                     (ev("device.heartbeat", T0 + 2 * M, "bat", good), p),
                     (ev("device.heartbeat", T0 + 3 * M, "bat", good), p),
                     (ev("water.leak", T0 + 4 * M, "bat"), p),
                     (ev("device.heartbeat", T0 + 5 * M, "bat", {"battery_pct": 10}), p)])
    assert [(s.what, s.rule) for s in seen] == [
        ("raise", "battery"), ("resolve", "battery"), ("raise", "leak"), ("cancel", "leak")]
