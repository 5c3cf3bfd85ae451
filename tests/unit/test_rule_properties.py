"""Properties of the engine: DST nights, determinism, timer wake-ups (cancelled alerts
through the hub: ``test_hub_hold.py``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rule_harness import engine, ev, local, raised, run, where

from devices.registry import Placement
from hub.ruleset import default_pack_text
from rules.decisions import Decision

M = timedelta(minutes=1)
DEFAULT = engine(default_pack_text()[1])
BED = """
rules:
  - name: bed
    when: {kind: bed.exit}
    window: "22:00-07:00"
    absent: {any: [{kind: bed.enter}], within: 15m}
    raise: {category: resident, priority: medium, message: "Out of bed {minutes} min"}
"""


# --- DST: the October and March nights ---------------------------------------------------

@pytest.mark.parametrize(
    ("night", "exit_at", "alert_utc"),
    [
        # 25 Oct 2026: 03:00 CEST -> 02:00 CET. Out of bed 02:50 summer time (00:50 UTC);
        # 15 real minutes later is 01:05 UTC, which the wall clock calls 02:05 (winter).
        ("2026-10-25", "00:50", "01:05"),
        # 29 Mar 2026: 02:00 CET -> 03:00 CEST. Out of bed 01:55 CET (00:55 UTC):
        # the alert is 15 real minutes later, 01:10 UTC = 03:10 summer time.
        ("2026-03-29", "00:55", "01:10"),
    ],
)
def test_a_night_rule_on_the_dst_nights_waits_real_minutes(
    night: str, exit_at: str, alert_utc: str
) -> None:
    from datetime import UTC, datetime

    at = datetime.fromisoformat(f"{night}T{exit_at}").replace(tzinfo=UTC)
    seen = run(engine(BED), [(ev("bed.exit", at, "bed"), where("bed"))], until=at + 60 * M)
    assert raised(seen) == [(datetime.fromisoformat(f"{night}T{alert_utc}").replace(tzinfo=UTC),
                             "bed")]


@pytest.mark.parametrize("night", ["2026-10-25", "2026-03-29"])
@pytest.mark.parametrize(
    ("wall", "inside"), [("21:59", False), ("22:00", True), ("02:30", True), ("06:59", True),
                         ("07:00", False)],
)
def test_the_night_window_on_dst_nights(night: str, wall: str, inside: bool) -> None:
    from datetime import date

    day = date.fromisoformat(night)
    evening = day - timedelta(days=1) if wall >= "12:00" else day
    at = local(evening.isoformat(), wall)
    seen = run(engine(BED), [(ev("bed.exit", at, "bed"), where("bed"))], until=at + 60 * M)
    assert bool(raised(seen)) is inside


def test_a_morning_deadline_on_the_dst_mornings() -> None:
    eng = engine("""
    rules:
      - name: morning
        expect: {when: {kind: room.motion}, window: "06:00-10:00"}
        raise: {category: resident, priority: high, message: m}
    """)
    for night in ("2026-10-24", "2026-03-28"):
        start = local(night, "21:00")
        seen = run(eng, [(ev("room.motion", start, "m"), where("m"))], until=start + 24 * 60 * M)
        next_day = (start + 24 * 60 * M).date().isoformat()
        assert [s.at for s in seen] == [local(next_day, "10:00")]


# --- generated nights ------------------------------------------------------------------------

DEVICES = ["btn", "bed", "door", "stove", "motion", "tag", "fall"]
KINDS_BY_DEVICE = {
    "btn": ["alarm.button"],
    "bed": ["bed.exit", "bed.enter"],
    "door": ["door.opened", "door.closed"],
    "stove": ["stove.on", "stove.off"],
    "motion": ["room.motion"],
    "tag": ["presence.staff_in", "presence.staff_out"],
    "fall": ["fall.detected"],
}
step = st.tuples(
    st.integers(0, 40 * 60),  # seconds after the previous event
    st.sampled_from(DEVICES),
    st.integers(0, 1),
    st.sampled_from(["res-1", "res-2"]),
    st.booleans(),  # exit door?
)
nights = st.lists(step, min_size=1, max_size=40)


def build(steps: list[tuple[int, str, int, str, bool]]) -> list[tuple[object, Placement]]:
    at = local("2026-10-24", "21:30")
    out = []
    for gap, device, which, resident, exit_door in steps:
        at += timedelta(seconds=gap)
        kinds = KINDS_BY_DEVICE[device]
        kind = kinds[which % len(kinds)]
        data = {"door": "exit"} if kind.startswith("door.") and exit_door else {}
        name = f"{resident}-{device}"
        out.append((ev(kind, at, name, data), where(name, resident=resident, apartment=resident)))
    return out


@settings(max_examples=60, deadline=None)
@given(nights, st.lists(st.integers(0, 12 * 3600), max_size=20))
def test_extra_wake_ups_change_nothing(steps: list[tuple[int, str, int, str, bool]],
                                       wakes: list[int]) -> None:
    """The shell may wake the engine early or often (timers coalesced, a restart): same alerts."""
    events = build(steps)
    end = events[-1][0].ts + 60 * M  # type: ignore[attr-defined]
    base = events[0][0].ts  # type: ignore[attr-defined]
    plain = run(DEFAULT, events, until=end)  # type: ignore[arg-type]
    woken = run(DEFAULT, events, until=end,  # type: ignore[arg-type]
                extra_wakes=[base + timedelta(seconds=w) for w in wakes])
    assert plain == woken


@settings(max_examples=60, deadline=None)
@given(nights)
def test_one_batch_or_one_by_one_gives_the_same_decisions(
    steps: list[tuple[int, str, int, str, bool]],
) -> None:
    events = build(steps)
    # Events that arrive together (one MQTT batch, one `now`) vs. one call each.
    now = events[0][0].ts  # type: ignore[attr-defined]
    _, batch = DEFAULT.evaluate_many(DEFAULT.initial_state(), events, now)  # type: ignore[arg-type]
    state = DEFAULT.initial_state()
    single: list[Decision] = []
    for e, p in events:
        state, ds = DEFAULT.evaluate(state, e, now, p)  # type: ignore[arg-type]
        single += ds
    assert batch == single


@settings(max_examples=40, deadline=None)
@given(nights)
def test_replay_is_deterministic(steps: list[tuple[int, str, int, str, bool]]) -> None:
    from trygg.replay import replay

    events = build(steps)
    placements = {p.device: p for _, p in events}.values()
    first = replay([e for e, _ in events], DEFAULT.pack, placements)  # type: ignore[misc]
    again = replay([e for e, _ in events], DEFAULT.pack, placements)  # type: ignore[misc]
    assert [str(x) for x in first] == [str(x) for x in again]
