"""Cancel by the resident, the pure parts: which press cancels which alert (a table and
hypothesis), the mark on the alert, the rule files' ``resident_cancel:``, the escalation
core's update, and decide's refusal to merge a new press into a cancelled alert."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.events import EventBase
from hub import decide
from hub.alerts import Alert, AlertState, mark_cancelled_by_resident
from hub.resident_cancel import judge, stops_escalation
from hub.routing import engine
from hub.routing.policy import Chain, Step, Target
from hub.routing.roster import Duty, OnDuty
from rules.decisions import Category, Priority, Raise
from rules.loader import RulesInvalid, parse_pack
from rules.model import ResidentCancel

from builders import NOW, alert, event, event_id, id_source

S = timedelta(seconds=1)
BUTTON = ResidentCancel(allowed=True)
POLICIES = {
    "alarm_button": BUTTON,
    "fall": ResidentCancel(allowed=True, priority=Priority.HIGH),
    "smoke": ResidentCancel(allowed=True, priority=Priority.CRITICAL),
    "water_leak": ResidentCancel(allowed=False),
    "short": ResidentCancel(allowed=True, window_s=5.0),
}
WINDOW_S = 30.0


def press(after_s: float, device: str = "dev-1", how: str = "single", n: int = 2) -> EventBase:
    return event(
        "alarm.button", id=event_id(n), seq=n, device=device, ts=NOW + after_s * S,
        data={"press": how},
    )  # fmt: skip


def button_alert(**overrides: Any) -> Alert:
    fields: dict[str, Any] = {
        "rule": "alarm_button", "kind": "alarm.button", "state": AlertState.NOTIFIED,
    }  # fmt: skip
    fields.update(overrides)
    return alert(**fields)


def fall_alert(**overrides: Any) -> Alert:
    fields: dict[str, Any] = {
        "id": "alert-fall", "rule": "fall", "kind": "fall.detected", "priority": Priority.CRITICAL,
        "state": AlertState.NOTIFIED,
    }  # fmt: skip
    fields.update(overrides)
    return alert(**fields)


def run(ev: EventBase, *alerts: Alert) -> tuple[list[Alert], bool]:
    verdict = judge(ev, alerts, POLICIES.get, WINDOW_S, NOW + 60 * S)
    return [c.alert for c in verdict.cancelled], verdict.consumed


# --- which press cancels what ---------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "ev", "open_alert", "cancels", "consumed"),
    [
        ("second press at 10 s", press(10), button_alert(), True, True),
        ("second press at the window's end", press(30), button_alert(), True, True),
        ("second press after the window", press(31), button_alert(), False, False),
        ("a long second press", press(5, how="long"), button_alert(), True, True),
        ("cancel key at 10 s", press(10, how="cancel"), button_alert(), True, True),
        ("cancel key after the window", press(45, how="cancel"), button_alert(), False, True),
        ("another device's press", press(10, device="dev-2"), button_alert(), False, False),
        ("another device's cancel key", press(10, "dev-2", "cancel"), button_alert(), False, True),
        ("a press from before the alert", press(-3), button_alert(), False, False),
        ("rule does not allow it", press(10), button_alert(rule="water_leak"), False, False),
        ("rule unknown now", press(10), button_alert(rule="gone"), False, False),
        ("rule's own 5 s window", press(6), button_alert(rule="short"), False, False),
        ("inside the rule's window", press(4), button_alert(rule="short"), True, True),
        ("colleague alarm", press(5), button_alert(category=Category.COLLEAGUE), False, False),
        ("already resolved", press(5), button_alert(state=AlertState.RESOLVED), False, False),
        ("already cancelled", press(5), button_alert(cancelled_by_resident_at=NOW), False, False),
        ("a press after a fall is a call", press(5), fall_alert(), False, False),
        ("the cancel key on a fall", press(5, how="cancel"), fall_alert(), True, True),
        ("accepted alert", press(5), button_alert(state=AlertState.ACCEPTED), True, True),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_which_press_cancels(
    case: str, ev: EventBase, open_alert: Alert, cancels: bool, consumed: bool
) -> None:
    cancelled, used = run(ev, open_alert)
    assert [a.id for a in cancelled] == ([open_alert.id] if cancels else [])
    assert used is consumed


@pytest.mark.parametrize(
    ("previous_s", "ev", "cancels"),
    [
        (9.5, press(10), False),  # hammered: the same press again, it joins
        (8.0, press(10), True),  # 2 s after the previous press: deliberate
        (8.1, press(10), False),  # 1.9 s after it: a repeat
        (0.0, press(1.9), False),
        (0.0, press(2.0), True),
        (11.0, press(10), False),  # a later press arrived first: still a repeat
        (9.9, press(10, how="cancel"), True),  # the cancel key is always deliberate
    ],
)
def test_a_press_right_after_the_previous_one_repeats_it(
    previous_s: float, ev: EventBase, cancels: bool
) -> None:
    verdict = judge(ev, [button_alert()], POLICIES.get, WINDOW_S, NOW, NOW + previous_s * S)
    assert bool(verdict.cancelled) is cancels
    assert verdict.consumed is (cancels or ev.data.press == "cancel")  # type: ignore[union-attr]


def test_the_mark_lowers_the_priority_and_keeps_the_alert_open() -> None:
    (marked,), _ = run(press(10), button_alert())
    assert marked.is_open and marked.state is AlertState.NOTIFIED
    assert (marked.priority, marked.priority_before_cancel) == (Priority.MEDIUM, Priority.HIGH)
    assert marked.cancelled_by_resident_at == NOW + 60 * S
    assert marked.event_ids[-1] == press(10).id
    assert stops_escalation(marked)


def test_the_mark_is_recorded_with_the_device_as_actor() -> None:
    verdict = judge(press(12), [button_alert()], POLICIES.get, WINDOW_S, NOW + 13 * S)
    (record,) = [c.transition for c in verdict.cancelled]
    assert (record.from_state, record.to_state) == (AlertState.NOTIFIED, AlertState.NOTIFIED)
    assert record.actor == "device:dev-1" and record.at == NOW + 13 * S
    assert record.note == (
        "cancelled_by_resident (second press 12 s after the first event, window 30 s);"
        " priority high -> medium"
    )


def test_a_cancelled_fall_keeps_escalating_and_smoke_keeps_its_priority() -> None:
    (fall,), _ = run(press(5, how="cancel"), fall_alert())
    assert (fall.priority, fall.is_open, stops_escalation(fall)) == (Priority.HIGH, True, False)
    smoke = fall_alert(id="alert-smoke", rule="smoke", kind="smoke.detected")
    (marked,), _ = run(press(5, how="cancel"), smoke)
    assert (marked.priority, marked.is_open, stops_escalation(marked)) == (
        Priority.CRITICAL, True, False,
    )  # fmt: skip


def test_one_cancel_key_marks_every_open_alert_of_its_device_in_the_window() -> None:
    cancelled, _ = run(press(5, how="cancel"), button_alert(), fall_alert(), button_alert(
        id="alert-other", device="dev-2"))  # fmt: skip
    assert sorted(a.id for a in cancelled) == ["alert-1", "alert-fall"]


def test_only_alarm_button_events_are_judged() -> None:
    door = event("door.opened", device="dev-1", ts=NOW + 5 * S)
    assert run(door, button_alert()) == ([], False)


def test_mark_refuses_a_closed_or_marked_alert() -> None:
    with pytest.raises(ValueError, match="cannot be cancelled"):
        mark_cancelled_by_resident(
            button_alert(state=AlertState.CANCELLED), press(5), Priority.LOW, NOW, "x"
        )
    with pytest.raises(ValueError, match="cannot be cancelled"):
        mark_cancelled_by_resident(
            button_alert(cancelled_by_resident_at=NOW), press(5), Priority.LOW, NOW, "x"
        )


@pytest.mark.parametrize("start", list(Priority))
@pytest.mark.parametrize("asked", list(Priority))
def test_a_cancel_never_raises_the_priority(start: Priority, asked: Priority) -> None:
    marked, _ = mark_cancelled_by_resident(
        button_alert(priority=start), press(5), asked, NOW, "x"
    )
    assert marked.priority.rank >= start.rank
    assert marked.priority is (asked if asked.rank >= start.rank else start)


def test_priority_lowered_is_one_step_and_stops_at_low() -> None:
    assert [p.lowered() for p in Priority] == [
        Priority.HIGH, Priority.MEDIUM, Priority.LOW, Priority.LOW,
    ]  # fmt: skip


# --- hypothesis: the invariants over any press and any open alerts ----------------------

alerts_st = st.builds(
    lambda n, device, rule, kind, state, priority, category, marked: alert(
        state,
        id=f"alert-{n}",
        device=device,
        rule=rule,
        kind=kind,
        priority=priority,
        category=category,
        cancelled_by_resident_at=NOW if marked else None,
    ),
    st.integers(0, 1000),
    st.sampled_from(["dev-1", "dev-2"]),
    st.sampled_from([*POLICIES, "nope"]),
    st.sampled_from(["alarm.button", "fall.detected", "smoke.detected", "water.leak"]),
    st.sampled_from(list(AlertState)),
    st.sampled_from(list(Priority)),
    st.sampled_from(list(Category)),
    st.booleans(),
)


@given(
    after=st.floats(-60, 120, allow_nan=False),
    device=st.sampled_from(["dev-1", "dev-2"]),
    how=st.sampled_from(["single", "double", "long", "cancel"]),
    alerts=st.lists(alerts_st, max_size=5, unique_by=lambda a: a.id),
    previous=st.none() | st.floats(-60, 120, allow_nan=False),
)
def test_invariants(
    after: float, device: str, how: str, alerts: list[Alert], previous: float | None
) -> None:
    ev = press(after, device, how)
    last = None if previous is None else NOW + previous * S
    verdict = judge(ev, alerts, POLICIES.get, WINDOW_S, NOW + 200 * S, last)
    by_id = {a.id: a for a in alerts}
    for c in verdict.cancelled:
        before = by_id[c.alert.id]
        # Only the same device, inside the window, on an open alert the rule lets go.
        assert before.device == ev.device and before.is_open
        assert not before.cancelled_by_resident and before.category is not Category.COLLEAGUE
        policy = POLICIES[before.rule]
        assert policy.allowed
        window = policy.window_s if policy.window_s is not None else WINDOW_S
        assert 0 <= (ev.ts - before.event_ts).total_seconds() <= window
        # A plain press cancels only a press; never a fall or smoke alert; and never
        # when it comes hard on the heels of the previous press.
        assert how == "cancel" or before.kind == "alarm.button"
        assert how == "cancel" or previous is None or abs(after - previous) >= 2.0
        # Never closed, never dropped, never raised in priority.
        assert c.alert.state is before.state and c.alert.is_open
        assert c.alert.priority.rank >= before.priority.rank
        assert c.alert.priority_before_cancel is before.priority
        assert stops_escalation(c.alert) is (before.kind == "alarm.button")
    assert verdict.consumed is (how == "cancel" or bool(verdict.cancelled))


# --- decide: a press after a cancel is a new alert --------------------------------------


def test_a_press_on_a_resident_cancelled_alert_raises_a_new_one() -> None:
    decision = Raise(
        rule="alarm_button", category=Category.RESIDENT, priority=Priority.HIGH, message="m"
    )
    ev = press(20, n=3)
    cancelled = button_alert(cancelled_by_resident_at=NOW)
    effects = decide.apply(
        [decision], ev, None, {("alarm_button", "dev-1"): cancelled}, id_source(), NOW
    )
    (raised,) = effects
    assert isinstance(raised, decide.Raised) and raised.alert.id == "alert-1"
    assert raised.alert.event_ids == (ev.id,) and not raised.alert.cancelled_by_resident
    plain = decide.apply(
        [decision], ev, None, {("alarm_button", "dev-1"): button_alert()}, id_source(), NOW
    )
    assert [type(e) for e in plain] == [decide.Attached]


# --- the escalation core ----------------------------------------------------------------

CHAIN = Chain(
    steps=(Step(Target.PRIMARY, timedelta(minutes=1)), Step(Target.UNIT, timedelta(minutes=2))),
    renotify=timedelta(minutes=5),
)
DUTY: Duty = {
    "kari": OnDuty("kari", "site-1", frozenset({"unit-A"}), frozenset({"H0102"})),
    "ola": OnDuty("ola", "site-1", frozenset({"unit-A"}), frozenset()),
}


def started(a: Alert) -> engine.Escalation:
    esc, effects = engine.start(a, CHAIN, engine.Context(DUTY), NOW)
    assert [e.recipient for e in effects if isinstance(e, engine.Notify)] == ["kari"]
    return esc


def test_a_cancelled_press_tells_those_notified_once_and_goes_quiet() -> None:
    esc = started(button_alert())
    esc, effects = engine.resident_cancelled(esc, stop=True)
    assert effects == [engine.Notify("alert-1", "kari", "mqtt", 0, "cancelled_by_resident")]
    assert esc.quiet and not esc.closed and engine.next_wake(esc) is None
    ctx = engine.Context(DUTY)
    assert engine.tick(esc, ctx, NOW + timedelta(hours=1)) == (esc, [])
    assert engine.reject(esc, "kari", ctx, NOW)[1] == []
    assert engine.failed(esc, "kari", ctx, NOW)[1] == []
    assert engine.resident_cancelled(esc, stop=True) == (esc, [])
    # Staff still take and close it: those told are told it is taken.
    done, withdrawn = engine.accept(esc, "ola")
    assert done.closed and [w.recipient for w in withdrawn] == ["kari"]


def test_a_cancelled_fall_tells_those_notified_and_escalates_on() -> None:
    esc = started(fall_alert())
    esc, effects = engine.resident_cancelled(esc, stop=False)
    assert [(e.recipient, e.reason) for e in effects] == [("kari", "cancelled_by_resident")]  # type: ignore[union-attr]
    assert not esc.quiet and engine.next_wake(esc) == NOW + timedelta(minutes=1)
    esc, effects = engine.tick(esc, engine.Context(DUTY), NOW + timedelta(minutes=1))
    assert any(isinstance(e, engine.Escalated) for e in effects)


# --- rule files ---------------------------------------------------------------------------

RULE = """\
version: 1
rules:
  - name: r
    when: {{kind: {kind}}}
{extra}    raise: {{category: {category}, priority: high, message: "m"}}
"""


def pack(extra: str = "", kind: str = "alarm.button", category: str = "resident") -> Any:
    text = RULE.format(kind=kind, extra=extra, category=category)
    return parse_pack([("site.yaml", text)]).rules[0].resident_cancel


def test_defaults_button_rules_allow_a_cancel_others_do_not() -> None:
    assert pack() == ResidentCancel(allowed=True)
    assert pack(kind="fall.detected") == ResidentCancel(allowed=False)
    assert pack(kind="staff.alarm", category="colleague") == ResidentCancel(allowed=False)


def test_a_rule_sets_window_and_priority() -> None:
    extra = "    resident_cancel: {allowed: true, window: 45s, priority: low}\n"
    assert pack(extra) == ResidentCancel(allowed=True, window_s=45.0, priority=Priority.LOW)
    assert pack("    resident_cancel: {allowed: false}\n") == ResidentCancel(allowed=False)
    same = "    resident_cancel: {priority: high}\n"
    assert pack(same, kind="fall.detected") == ResidentCancel(True, None, Priority.HIGH)


@pytest.mark.parametrize(
    ("extra", "category", "reason"),
    [
        ("{priority: critical}", "resident",
         "site.yaml:5: rules[0].resident_cancel.priority: a cancel may only lower the priority:"
         " critical is above the rule's high"),
        ("{priority: urgent}", "resident",
         "site.yaml:5: rules[0].resident_cancel.priority: expected one of"),
        ("{window: 20m}", "resident", "site.yaml:5: rules[0].resident_cancel.window: at most 10m"),
        ("{window: soon}", "resident", "site.yaml:5: rules[0].resident_cancel.window: expected a"),
        ("{allowed: yes please}", "resident",
         "site.yaml:5: rules[0].resident_cancel.allowed: expected true or false"),
        ("{until: 30s}", "resident", "site.yaml:5: rules[0].resident_cancel.until: unknown key"),
        ("30s", "resident", "site.yaml:5: rules[0].resident_cancel: expected {allowed"),
        ("{allowed: true}", "colleague",
         "site.yaml:5: rules[0].resident_cancel.allowed: a colleague alarm is never cancelled"),
    ],
)  # fmt: skip
def test_bad_resident_cancel_is_refused_with_file_and_line(
    extra: str, category: str, reason: str
) -> None:
    text = RULE.format(
        kind="alarm.button", category=category, extra=f"    resident_cancel: {extra}\n"
    )
    with pytest.raises(RulesInvalid) as info:
        parse_pack([("site.yaml", text)])
    assert any(str(p).startswith(reason) for p in info.value.problems), str(info.value)


def test_only_a_raising_rule_has_resident_cancel() -> None:
    text = """\
version: 1
rules:
  - name: r
    when: {kind: alarm.button}
    raise: {category: resident, priority: high, message: "m"}
  - name: c
    when: {kind: door.closed}
    resident_cancel: {allowed: true}
    cancel: r
"""
    with pytest.raises(RulesInvalid, match="only a rule that raises an alert has resident_cancel"):
        parse_pack([("site.yaml", text)])


def test_the_default_pack_lets_a_press_go_quiet_and_a_fall_or_smoke_only_be_marked() -> None:
    from hub.ruleset import RuleSet

    rules = RuleSet()
    assert rules.resident_cancel("alarm_button") == ResidentCancel(True, None, Priority.MEDIUM)
    assert rules.resident_cancel("fall") == ResidentCancel(True, None, Priority.HIGH)
    assert rules.resident_cancel("smoke") == ResidentCancel(True, None, Priority.CRITICAL)
    assert rules.resident_cancel("staff_alarm") == ResidentCancel(False)
    assert rules.resident_cancel("stove_left_on") == ResidentCancel(False)
    assert rules.resident_cancel("no such rule") is None
