"""Escalation timelines with a simulated clock: the pure routing core."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.routing import engine, policy, roster
from hub.routing.engine import Context, Escalated, NobodyOnDuty, Notify, Told, Withdraw
from hub.routing.policy import RESPONSE_CENTRE, Chain, Policy, Step, Target
from hub.routing.roster import Shift, ShiftLog
from rules.decisions import Category, Priority

from builders import alert

# 02:13 Oslo time in winter (UTC+1).
T0 = datetime(2024, 11, 23, 1, 13, tzinfo=UTC)
S = timedelta(seconds=1)

NIGHT = [
    Shift("n1", "kari", "site-1", ("unit-A",), time(22), time(7), primary_for=("H0102",)),
    Shift("n2", "ola", "site-1", ("unit-A",), time(22), time(7)),
    Shift("n3", "per", "site-1", ("unit-B",), time(22), time(7)),
]
CHAIN = Chain(
    steps=(
        Step(Target.PRIMARY, 60 * S),
        Step(Target.UNIT, 60 * S),
        Step(Target.SITE, 90 * S),
        Step(Target.RESPONSE_CENTRE, 120 * S, ("webhook",)),
    ),
    renotify=30 * S,
)


def ctx(
    t: datetime = T0, shifts: list[Shift] = NIGHT, logs: list[ShiftLog] | None = None
) -> Context:
    return Context(roster.on_duty(shifts, logs or [], t))


def notified(effects: list[engine.Effect]) -> list[tuple[str, str, str]]:
    return [(e.recipient, e.channel, e.reason) for e in effects if isinstance(e, Notify)]


def critical() -> engine.Escalation:
    esc, _ = engine.start(alert(priority=Priority.CRITICAL), CHAIN, ctx(), T0)
    return esc


# --- roster -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "on"),
    [
        ("21:59", False),
        ("22:00", True),
        ("23:59", True),
        ("00:00", True),
        ("06:59", True),
        ("07:00", False),
        ("12:00", False),
    ],
)
def test_a_night_shift_covers_across_midnight(local: str, on: bool) -> None:
    hh, mm = map(int, local.split(":"))
    # Oslo is UTC+1 in November.
    t = datetime(2024, 11, 23, hh, mm, tzinfo=UTC) - timedelta(hours=1)
    assert NIGHT[0].covers(t) is on


def test_shift_wall_times_hold_across_daylight_saving() -> None:
    # 31 March 2024: Oslo goes from UTC+1 to UTC+2 at 02:00 local.
    shift = NIGHT[0]
    assert shift.covers(datetime(2024, 3, 31, 4, 59, tzinfo=UTC))  # 06:59 local (UTC+2)
    assert not shift.covers(datetime(2024, 3, 31, 5, 0, tzinfo=UTC))  # 07:00 local


def test_logging_off_takes_a_scheduled_person_off_duty_for_that_shift_only() -> None:
    off = ShiftLog("ola", "site-1", on=False, at=T0 - 10 * S)
    assert "ola" not in roster.on_duty(NIGHT, [off], T0)
    next_night = T0 + timedelta(days=1)
    assert "ola" in roster.on_duty(NIGHT, [off], next_night)


def test_logging_on_puts_someone_on_duty_outside_the_schedule() -> None:
    noon = T0 + timedelta(hours=10)
    on = ShiftLog("eva", "site-1", on=True, at=noon - 60 * S, units=("unit-A",))
    duty = roster.on_duty(NIGHT, [on], noon)
    assert roster.in_unit(duty, "site-1", "unit-A") == ["eva"]
    assert "eva" not in roster.on_duty(NIGHT, [on], noon + roster.MAX_LOGON)


def test_uncovered_units_and_next_change() -> None:
    duty = roster.on_duty(NIGHT, [], T0)
    assert roster.uncovered([("site-1", "unit-A"), ("site-1", "unit-C")], duty) == [
        ("site-1", "unit-C")
    ]
    assert roster.next_change(NIGHT, T0) == datetime(2024, 11, 23, 6, 0, tzinfo=UTC)


def test_a_shift_without_units_or_with_an_unknown_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="no units"):
        Shift("x", "a", "s", (), time(22), time(7))
    with pytest.raises(ValueError, match="time zone"):
        Shift("x", "a", "s", ("u",), time(22), time(7), tz="Mars/Olympus")
    whole_day = Shift("x", "a", "s", ("u",), time(7), time(7))
    assert whole_day.covers(T0) and whole_day.covers(T0 + timedelta(hours=12))
    assert roster.next_change([whole_day], T0) == T0 + timedelta(days=1)


# --- policy -------------------------------------------------------------------------


def test_the_most_specific_policy_wins_and_defaults_cover_the_rest() -> None:
    mine = Chain((Step(Target.UNIT, 10 * S),), 5 * S)
    narrow = Chain((Step(Target.SITE, 10 * S),), 5 * S)
    policies = [
        Policy(mine, category=Category.RESIDENT),
        Policy(narrow, site="site-1", unit="unit-A", category=Category.RESIDENT),
    ]
    r, c = Category.RESIDENT, Priority.CRITICAL
    assert policy.choose(policies, "site-1", "unit-A", r, c) is narrow
    assert policy.choose(policies, "site-1", "unit-B", r, c) is mine
    colleague = policy.choose(policies, "site-1", "unit-A", Category.COLLEAGUE, c)
    assert colleague is not None and colleague.steps[0].target is Target.SITE
    assert policy.choose(policies, "site-1", "unit-A", Category.TECHNICAL, c) is None


def test_steps_and_chains_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        Step(Target.UNIT, timedelta(0))
    with pytest.raises(ValueError):
        Step(Target.UNIT, S, ())
    with pytest.raises(ValueError):
        Chain((), timedelta(0))


# --- escalation timelines -----------------------------------------------------------


def test_primary_contact_is_told_first() -> None:
    _, effects = engine.start(alert(), CHAIN, ctx(), T0)
    assert notified(effects) == [("kari", "mqtt", "first")]


def test_without_a_primary_contact_the_least_busy_colleague_is_told() -> None:
    a = alert(apartment="H0999")
    _, effects = engine.start(a, CHAIN, Context(ctx().duty, busy={"kari": 2}), T0)
    assert notified(effects) == [("ola", "mqtt", "first")]


# Each row: (inputs at seconds after T0, expected notifications in order, final step)
TIMELINES = [
    pytest.param([], [("kari", "first")], 0, id="nobody-answers-yet"),
    pytest.param(
        [("tick", 30)], [("kari", "first"), ("kari", "renotify")], 0, id="renotify-after-30s"
    ),
    pytest.param(
        [("tick", 30), ("tick", 60)],
        [("kari", "first"), ("kari", "renotify"), ("kari", "escalated"), ("ola", "escalated")],
        1,
        id="escalates-to-the-unit-at-60s",
    ),
    pytest.param(
        [("accept", 59), ("tick", 60), ("tick", 500)],
        [("kari", "first")],
        0,
        id="accept-just-before-the-timeout-stops-it",
    ),
    pytest.param(
        [("reject", 5)],
        [("kari", "first"), ("ola", "escalated")],
        1,
        id="reject-escalates-at-once-and-leaves-the-rejecter-out",
    ),
    pytest.param(
        [("failed", 3)],
        [("kari", "first"), ("kari", "escalated"), ("ola", "escalated")],
        1,
        id="a-channel-that-stays-down-escalates",
    ),
    pytest.param(
        [("tick", 60), ("tick", 120), ("tick", 210)],
        [
            ("kari", "first"),
            ("kari", "escalated"),
            ("ola", "escalated"),
            ("kari", "escalated"),
            ("ola", "escalated"),
            ("per", "escalated"),
            (RESPONSE_CENTRE, "escalated"),
        ],
        3,
        id="the-whole-chain-to-the-response-centre",
    ),
]


@pytest.mark.parametrize(("inputs", "expected", "final_step"), TIMELINES)
def test_escalation_timeline(
    inputs: list[tuple[str, int]], expected: list[tuple[str, str]], final_step: int
) -> None:
    esc, effects = engine.start(alert(priority=Priority.CRITICAL), CHAIN, ctx(), T0)
    log = list(effects)
    for what, seconds in inputs:
        now = T0 + seconds * S
        c = ctx(now)
        if what == "tick":
            esc, more = engine.tick(esc, c, now)
        elif what == "accept":
            esc, more = engine.accept(esc, "kari")
        elif what == "reject":
            esc, more = engine.reject(esc, "kari", c, now)
        else:
            esc, more = engine.failed(esc, "kari", c, now)
        log.extend(more)
    assert [(r, why) for r, _, why in notified(log)] == expected
    assert esc.step == final_step


def test_two_accepts_at_once_one_wins_and_the_other_is_told() -> None:
    esc, _ = engine.tick(critical(), ctx(), T0 + 60 * S)  # kari and ola both notified
    esc, first = engine.accept(esc, "ola")
    esc, second = engine.accept(esc, "kari")
    assert esc.accepted_by == "ola"
    assert Withdraw(esc.alert.id, "kari", "mqtt", "ola") in first
    assert second == [Told(esc.alert.id, "kari", "ola")]
    assert engine.accept(esc, "ola") == (esc, [])
    assert engine.next_wake(esc) is None


def test_nobody_on_duty_is_itself_a_critical_alert_and_skips_to_who_can_help() -> None:
    day = T0 + timedelta(hours=10)  # nobody's shift
    esc, effects = engine.start(alert(), CHAIN, ctx(day), day)
    assert NobodyOnDuty(esc.alert.id, "site-1", "unit-A") in effects
    assert notified(effects) == [(RESPONSE_CENTRE, "webhook", "escalated")]
    assert [e.reason for e in effects if isinstance(e, Escalated)] == ["nobody to notify"] * 3


def test_unit_without_staff_but_site_with_staff_goes_to_the_site() -> None:
    b = alert(unit="unit-C")
    _, effects = engine.start(b, CHAIN, ctx(), T0)
    assert NobodyOnDuty(b.id, "site-1", "unit-C") in effects
    assert {r for r, _, _ in notified(effects)} == {"kari", "ola", "per"}


def test_a_shift_change_during_an_open_alert_reaches_the_new_shift() -> None:
    day_shift = Shift("d1", "lise", "site-1", ("unit-A",), time(7), time(15))
    shifts = [*NIGHT, day_shift]
    t = datetime(2024, 11, 23, 5, 59, 30, tzinfo=UTC)  # 06:59:30 local
    esc, effects = engine.start(alert(), CHAIN, ctx(t, shifts), t)
    assert notified(effects) == [("kari", "mqtt", "first")]
    later = t + 30 * S  # 07:00:00 local: the night went home
    esc, effects = engine.tick(esc, ctx(later, shifts), later)
    assert notified(effects) == [("lise", "mqtt", "renotify")]
    esc, effects = engine.close(esc, "lise")
    assert {e.recipient for e in effects if isinstance(e, Withdraw)} == {"kari"}


def test_the_chain_used_up_keeps_telling_the_last_step() -> None:
    esc = critical()
    for seconds in (60, 120, 210):
        esc, _ = engine.tick(esc, ctx(T0 + seconds * S), T0 + seconds * S)
    esc, effects = engine.tick(esc, ctx(), T0 + 240 * S)
    assert notified(effects) == [(RESPONSE_CENTRE, "webhook", "renotify")]
    assert esc.step == 3


def test_close_tells_everyone_notified_and_stops() -> None:
    esc, _ = engine.tick(critical(), ctx(), T0 + 60 * S)
    esc, effects = engine.close(esc, None)
    assert {e.recipient for e in effects if isinstance(e, Withdraw)} == {"kari", "ola"}
    assert engine.close(esc, None) == (esc, [])
    assert engine.tick(esc, ctx(), T0 + 999 * S) == (esc, [])
    assert engine.reject(esc, "kari", ctx(), T0) == (esc, [])


def test_a_failed_channel_for_one_of_several_does_not_escalate() -> None:
    esc, _ = engine.tick(critical(), ctx(), T0 + 60 * S)
    now = T0 + 61 * S
    esc, effects = engine.failed(esc, "kari", ctx(now), now)
    assert effects == [] and esc.step == 1
    esc, effects = engine.failed(esc, "ola", ctx(now), now)
    assert esc.step == 2 and notified(effects)
    assert engine.failed(esc, "nobody", ctx(now), now) == (esc, [])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["tick", "accept", "reject", "failed", "close"]),
            st.integers(0, 400),
            st.sampled_from(["kari", "ola", "per"]),
        ),
        max_size=25,
    )
)
def test_escalation_invariants(inputs: list[tuple[str, int, str]]) -> None:
    """Whatever happens: until someone accepts or the alert closes, somebody is always
    due to be told again; the step never goes back; a closed escalation says nothing."""
    esc = critical()
    now = T0
    for what, dt, who in sorted(inputs, key=lambda x: x[1]):
        now = T0 + dt * S
        c = ctx(now)
        before = esc.step
        if what == "tick":
            esc, effects = engine.tick(esc, c, now)
        elif what == "accept":
            esc, effects = engine.accept(esc, who)
        elif what == "reject":
            esc, effects = engine.reject(esc, who, c, now)
        elif what == "failed":
            esc, effects = engine.failed(esc, who, c, now)
        else:
            was_closed = esc.closed
            esc, effects = engine.close(esc, who)
            assert not (was_closed and effects)
        assert esc.step >= before
        if esc.closed:
            assert engine.next_wake(esc) is None
            assert not any(isinstance(e, Notify) for e in effects)
        else:
            wake = engine.next_wake(esc)
            assert wake is not None and wake > now - timedelta(seconds=400)
            assert esc.recipients or esc.step == len(CHAIN.steps) - 1


# --- statistics ---------------------------------------------------------------------


def test_stats_times_and_false_alarm_rates() -> None:
    from hub.alerts import AlertState, Command, Outcome, transition
    from hub.routing import stats

    a = alert(id="a1", raised_at=T0)
    a1, r1 = transition(a, Command.NOTIFY, "system", T0 + 2 * S)
    a2, r2 = transition(a1, Command.ACCEPT, "kari", T0 + 30 * S)
    a3, r3 = transition(a2, Command.RESOLVE, "kari", T0 + 300 * S, outcome=Outcome.FALSE_ALARM)
    b = alert(id="b1", raised_at=T0, device="dev-2")
    b1, s1 = transition(b, Command.ACCEPT, "ola", T0 + 10 * S)
    b2, s2 = transition(b1, Command.RESOLVE, "ola", T0 + 100 * S, outcome=Outcome.ASSISTED)
    c = alert(id="c1", raised_at=T0 + 12 * timedelta(hours=1), state=AlertState.RAISED)
    result = stats.compute([a3, b2, c], {"a1": [r1, r2, r3], "b1": [s1, s2]}, NIGHT)
    assert result.alerts == 3 and result.open == 1
    assert result.times["notify"].count == 1
    assert result.times["accept"].median_s == 20.0
    assert result.times["resolve"].max_s == 300.0
    assert result.times["on_site"].median_s is None
    rule = result.false_alarms["rule"]["first.alarm_button"]
    assert (rule.resolved, rule.false_alarms, rule.false_alarm_rate) == (2, 1, 0.5)
    assert result.false_alarms["device"]["dev-2"].false_alarm_rate == 0.0
    assert result.false_alarms["shift"] == {"22:00-07:00": stats.Rate(2, 1)}
    assert stats.Rate(0, 0).false_alarm_rate is None
    assert stats.shift_of(NIGHT, c) == "none"


def test_a_failed_channel_at_the_last_step_waits_for_the_renotify() -> None:
    esc = critical()
    for seconds in (60, 120, 210):
        esc, _ = engine.tick(esc, ctx(T0 + seconds * S), T0 + seconds * S)
    now = T0 + 211 * S
    assert engine.failed(esc, RESPONSE_CENTRE, ctx(now), now)[1] == []


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2025, 12, 31), timezones=st.just(UTC)
    ),
    st.times(),
    st.times(),
)
def test_roster_invariants_over_the_year(t: datetime, start: time, end: time) -> None:
    """Across DST changes: a covering shift began at most a day (plus an hour) ago and
    not in the future; the next shift boundary is always ahead and within a day."""
    shift = Shift("x", "kari", "site-1", ("unit-A",), start, end)
    if shift.covers(t):
        began = shift.began(t)
        assert began <= t < began + timedelta(hours=25)
        assert "kari" in roster.on_duty([shift], [], t)
    else:
        assert roster.on_duty([shift], [], t) == {}
    change = roster.next_change([shift], t)
    assert t < change <= t + timedelta(days=1)
