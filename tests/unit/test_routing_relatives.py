"""The relatives step of an escalation chain, with a simulated clock (pure core).

Johs's daughter is told when his GPS shows he left the agreed area, before home care;
staff follow at the step's timeout, at once when no basis allows telling her (or it is
withdrawn mid-step), or when she answers (unless the step lets her hold it). A restart
carries on from the routing log.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.relatives.disclose import Reach
from hub.routing import engine, restore, roster
from hub.routing.engine import Context, Escalated, Notify, Withdraw
from hub.routing.log import RoutingKind, RoutingRecord
from hub.routing.policy import Chain, Step, Target
from hub.routing.roster import Shift

from builders import alert

T0 = datetime(2024, 11, 23, 17, 2, tzinfo=UTC)  # 18:02 in Oslo
S = timedelta(seconds=1)
M = 60 * S
DAY = [Shift("d1", "liv", "site-1", ("unit-A",), time(8), time(22))]
KARI, OLA = "relative:kari", "relative:ola"
LEFT = alert(kind="geofence.exit", message="Left the agreed area")


def chain(hold: bool = False) -> Chain:
    return Chain(
        steps=(
            Step(Target.RELATIVES, 10 * M, ("relatives",), relative_can_hold=hold),
            Step(Target.UNIT, 5 * M),
            Step(Target.RESPONSE_CENTRE, 5 * M, ("webhook",)),
        ),
        renotify=2 * M,
    )


def ctx(*allowed: str, why: str = "no basis") -> Context:
    reach = Reach(tuple(allowed), "" if allowed else why)
    return Context(roster.on_duty(DAY, [], T0), relatives={LEFT.id: reach})


def sent(effects: list[engine.Effect]) -> list[tuple[str, str, int]]:
    return [(e.recipient, e.channel, e.step) for e in effects if isinstance(e, Notify)]


def escalated(effects: list[engine.Effect]) -> list[tuple[int, int, str]]:
    return [(e.from_step, e.to_step, e.reason) for e in effects if isinstance(e, Escalated)]


def test_the_relative_is_told_first_and_staff_only_after_the_step_timeout() -> None:
    esc, effects = engine.start(LEFT, chain(), ctx(KARI), T0)
    assert sent(effects) == [(KARI, "relatives", 0)]
    assert engine.next_wake(esc) == T0 + 2 * M  # the basis is looked at again, not resent
    for minute in (2, 4, 6, 8):
        esc, effects = engine.tick(esc, ctx(KARI), T0 + minute * M)
        assert effects == []  # a relative is told once, never every renotify
    assert esc.step == 0
    esc, effects = engine.tick(esc, ctx(KARI), T0 + 10 * M)
    assert escalated(effects) == [(0, 1, "timeout")]
    assert sent(effects) == [("liv", "mqtt", 1)]


def test_no_basis_means_staff_at_once_and_the_log_says_skipped() -> None:
    esc, effects = engine.start(LEFT, chain(), ctx(), T0)
    assert escalated(effects) == [(0, 1, "skipped: no basis")]
    assert sent(effects) == [("liv", "mqtt", 1)]
    assert esc.step == 1 and esc.step_started == T0


@pytest.mark.parametrize("why", ["no basis (withdrawn)", "no basis (outside_window)",
                                 "no relative registered"])  # fmt: skip
def test_the_skip_names_why(why: str) -> None:
    _, effects = engine.start(LEFT, chain(), ctx(why=why), T0)
    assert escalated(effects) == [(0, 1, f"skipped: {why}")]


def test_an_alert_the_context_does_not_know_reaches_no_relative() -> None:
    bare = Context(roster.on_duty(DAY, [], T0))
    _, effects = engine.start(LEFT, chain(), bare, T0)
    assert escalated(effects) == [(0, 1, "skipped: no relative registered")]


def test_a_basis_withdrawn_mid_step_sends_staff_at_the_next_check() -> None:
    esc, _ = engine.start(LEFT, chain(), ctx(KARI), T0)
    esc, effects = engine.tick(esc, ctx(KARI), T0 + 2 * M)
    assert effects == []
    gone = ctx(why="no basis (withdrawn)")
    esc, effects = engine.tick(esc, gone, T0 + 4 * M)
    assert escalated(effects) == [(0, 1, "skipped: no basis (withdrawn)")]
    assert sent(effects) == [("liv", "mqtt", 1)]
    assert esc.step == 1 and esc.step_started == T0 + 4 * M


def test_one_relative_still_allowed_keeps_the_step() -> None:
    esc, _ = engine.start(LEFT, chain(), ctx(KARI, OLA), T0)
    esc, effects = engine.tick(esc, ctx(OLA), T0 + 2 * M)
    assert effects == [] and esc.step == 0


@pytest.mark.parametrize(
    ("hold", "answer", "moves_on"),
    [
        (False, "handling", True),
        (False, "cannot", True),
        (True, "handling", False),
        (True, "cannot", True),
    ],
)
def test_answers(hold: bool, answer: str, moves_on: bool) -> None:
    esc, _ = engine.start(LEFT, chain(hold), ctx(KARI), T0)
    esc, effects = engine.relative_answer(esc, KARI, answer, ctx(KARI), T0 + M)
    if moves_on:
        assert esc.step == 1
        reason = "a relative is handling it" if answer == "handling" else "relatives cannot"
        assert escalated(effects) == [(0, 1, reason)]
        assert sent(effects) == [("liv", "mqtt", 1)]
    else:
        assert effects == [] and esc.step == 0
        # Held only until the step's timeout: staff are told then, never later.
        esc, effects = engine.tick(esc, ctx(KARI), T0 + 10 * M)
        assert escalated(effects) == [(0, 1, "timeout")]


def test_cannot_from_one_of_two_relatives_waits_for_the_other() -> None:
    esc, _ = engine.start(LEFT, chain(), ctx(KARI, OLA), T0)
    esc, effects = engine.relative_answer(esc, KARI, "cannot", ctx(KARI, OLA), T0 + M)
    assert effects == [] and esc.step == 0 and esc.declined == {KARI}
    esc, effects = engine.relative_answer(esc, OLA, "cannot", ctx(KARI, OLA), T0 + 2 * M)
    assert escalated(effects) == [(0, 1, "relatives cannot")]
    assert esc.declined == frozenset()


def test_an_answer_after_the_step_or_from_a_stranger_changes_nothing() -> None:
    esc, _ = engine.start(LEFT, chain(), ctx(KARI), T0)
    same, effects = engine.relative_answer(esc, OLA, "cannot", ctx(KARI), T0 + M)
    assert (same, effects) == (esc, [])
    esc, _ = engine.tick(esc, ctx(KARI), T0 + 10 * M)
    late, effects = engine.relative_answer(esc, KARI, "cannot", ctx(KARI), T0 + 11 * M)
    assert (late, effects) == (esc, [])
    closed, _ = engine.close(esc, "liv")
    assert engine.relative_answer(closed, KARI, "cannot", ctx(KARI), T0 + 12 * M) == (closed, [])


def test_an_unknown_answer_is_refused() -> None:
    esc, _ = engine.start(LEFT, chain(), ctx(KARI), T0)
    with pytest.raises(ValueError, match="handling, cannot"):
        engine.relative_answer(esc, KARI, "maybe", ctx(KARI), T0)


def test_a_staff_accept_never_sends_a_relative_a_withdraw() -> None:
    esc, _ = engine.start(LEFT, chain(), ctx(KARI), T0)
    esc, _ = engine.tick(esc, ctx(KARI), T0 + 10 * M)
    esc, effects = engine.accept(esc, "liv")
    assert all(not (isinstance(e, Withdraw) and e.recipient == KARI) for e in effects)
    assert esc.closed


def test_the_relative_channel_down_moves_on_to_staff() -> None:
    esc, _ = engine.start(LEFT, chain(), ctx(KARI), T0)
    esc, effects = engine.failed(esc, KARI, ctx(KARI), T0 + 5 * S)
    assert escalated(effects) == [(0, 1, "channel down")]


def _log(effects: list[engine.Effect], at: datetime) -> list[RoutingRecord]:
    return [r for e in effects if (r := restore.record_of(LEFT.id, e, at)) is not None]


def test_restart_mid_relatives_step_carries_on_without_telling_her_again() -> None:
    _esc, effects = engine.start(LEFT, chain(), ctx(KARI, OLA), T0)
    records = _log(effects, T0)
    answer = RoutingRecord(LEFT.id, T0 + M, RoutingKind.RELATIVE_ANSWER, KARI, KARI,
                           "relatives", 0, "cannot")  # fmt: skip
    back = restore.restore(LEFT, chain(), [*records, answer])
    assert back is not None
    assert (back.step, back.step_started, back.recipients) == (0, T0, (KARI, OLA))
    assert back.declined == {KARI}
    again, effects = engine.tick(back, ctx(KARI, OLA), T0 + 3 * M)
    assert effects == []
    again, effects = engine.tick(again, ctx(KARI, OLA), T0 + 10 * M)
    assert escalated(effects) == [(0, 1, "timeout")]


def test_restart_after_a_skip_is_at_the_staff_step() -> None:
    _esc, effects = engine.start(LEFT, chain(), ctx(), T0)
    back = restore.restore(LEFT, chain(), _log(effects, T0))
    assert back is not None and back.step == 1 and back.recipients == ("liv",)


def test_a_chain_cannot_end_with_relatives_or_hold_a_staff_step() -> None:
    with pytest.raises(ValueError, match="must not end with relatives"):
        Chain((Step(Target.RELATIVES, M, ("relatives",)),), M)
    with pytest.raises(ValueError, match="relatives step only"):
        Step(Target.UNIT, M, relative_can_hold=True)


@settings(max_examples=200, deadline=None)
@given(
    allowed=st.lists(st.booleans(), min_size=1, max_size=8),
    hold=st.booleans(),
    answers=st.lists(st.tuples(st.sampled_from([KARI, OLA]), st.sampled_from(["handling", "cannot"]),
                               st.integers(1, 12)), max_size=4),
)
def test_staff_are_told_no_later_than_the_step_timeout(
    allowed: list[bool], hold: bool, answers: list[tuple[str, str, int]]
) -> None:
    """Whatever the basis does minute by minute and whatever relatives answer, staff are
    told by the relatives step's timeout (plus one check interval at most), exactly once."""
    esc, effects = engine.start(LEFT, chain(hold), ctx(KARI, OLA), T0)
    staff_at = T0 if sent(effects) and sent(effects)[0][0] == "liv" else None
    ticks = [(2 * i + 2, "tick", "", "") for i in range(len(allowed))]
    events = sorted([*ticks, (10, "tick", "", ""), (11, "tick", "", ""),
                     *[(m, "answer", who, a) for who, a, m in answers]])  # fmt: skip
    for minute, what, who, answer in events:
        now = T0 + minute * M
        index = min(minute // 2 - 1, len(allowed) - 1)
        c = ctx(KARI, OLA) if index < 0 or allowed[index] else ctx(why="no basis (withdrawn)")
        if what == "tick" and engine.next_wake(esc) is not None and engine.next_wake(esc) <= now:
            esc, effects = engine.tick(esc, c, now)
        elif what == "answer":
            esc, effects = engine.relative_answer(esc, who, answer, c, now)
        else:
            effects = []
        told = [e for e in effects if isinstance(e, Notify) and e.step == 1
                and e.reason != "renotify"]  # fmt: skip
        if told:
            assert staff_at is None
            staff_at = now
    assert staff_at is not None and staff_at <= T0 + 10 * M
    assert esc.step >= 1


def _drive(inputs: list[tuple[str, int, str, bool]]) -> tuple[engine.Escalation, list[RoutingRecord]]:
    """Drive a relatives chain as the shell does, keeping the records it would append:
    ticks (the basis allowed or not at that minute), answers from either relative."""
    esc, effects = engine.start(LEFT, chain(), ctx(KARI, OLA), T0)
    records = _log(effects, T0)
    for what, second, who, allowed in sorted(inputs, key=lambda x: x[1]):
        now = T0 + second * S
        c = ctx(KARI, OLA) if allowed else ctx(why="no basis (withdrawn)")
        if what == "tick":
            wake = engine.next_wake(esc)
            if wake is None or wake > now:
                continue
            esc, effects = engine.tick(esc, c, now)
        else:
            records.append(RoutingRecord(LEFT.id, now, RoutingKind.RELATIVE_ANSWER, who, who,
                                         "relatives", esc.step, what))  # fmt: skip
            esc, effects = engine.relative_answer(esc, who, what, c, now)
        records += _log(effects, now)
    return esc, records


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["tick", "tick", "cannot", "handling"]),
                          st.integers(0, 1500), st.sampled_from([KARI, OLA]), st.booleans()),
                max_size=20))  # fmt: skip
def test_restore_gives_back_the_relatives_step_the_log_was_written_by(
    inputs: list[tuple[str, int, str, bool]],
) -> None:
    live, records = _drive(inputs)
    back = restore.restore(LEFT, chain(), records)
    assert back is not None
    assert (back.step, back.step_started, back.recipients) == (
        live.step, live.step_started, live.recipients,
    )  # fmt: skip
    assert back.notified == live.notified
    assert back.declined == live.declined
    # A relatives step's quiet basis checks leave no record: the restored one checks
    # again at once; at the live wake both do the same.
    wake = engine.next_wake(live)
    assert wake is not None
    for c in (ctx(KARI, OLA), ctx(why="no basis (withdrawn)")):
        assert engine.tick(back, c, wake)[1] == engine.tick(live, c, wake)[1]
