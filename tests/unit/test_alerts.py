"""The alert life cycle: every (state, command) pair, and random command runs."""

from __future__ import annotations

import contextlib
import itertools
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from devices.errors import TryggError
from hub.alerts import (
    SYSTEM,
    TRANSITIONS,
    AlertState,
    Command,
    Outcome,
    Transition,
    attach_event,
    raise_alert,
    transition,
)
from hub.errors import IllegalTransition
from rules.decisions import Category, Priority, Raise

from builders import EVENT_ID, NOW, alert, event, event_id, placement

LATER = NOW + timedelta(minutes=3)
TERMINAL = [AlertState.RESOLVED, AlertState.CANCELLED]
ALL_PAIRS = list(itertools.product(AlertState, Command))
LEGAL = [pair for pair in ALL_PAIRS if pair in TRANSITIONS]
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in TRANSITIONS]


def pair_id(pair: tuple[AlertState, Command]) -> str:
    return f"{pair[0]}-{pair[1]}"


def outcome_for(command: Command) -> Outcome | None:
    return Outcome.ASSISTED if command is Command.RESOLVE else None


# --- the table ----------------------------------------------------------------------


def test_the_table_is_the_documented_life_cycle() -> None:
    assert TRANSITIONS == {
        (AlertState.RAISED, Command.NOTIFY): AlertState.NOTIFIED,
        (AlertState.RAISED, Command.ACCEPT): AlertState.ACCEPTED,
        (AlertState.NOTIFIED, Command.ACCEPT): AlertState.ACCEPTED,
        (AlertState.RAISED, Command.ON_SITE): AlertState.ON_SITE,
        (AlertState.NOTIFIED, Command.ON_SITE): AlertState.ON_SITE,
        (AlertState.ACCEPTED, Command.ON_SITE): AlertState.ON_SITE,
        (AlertState.ACCEPTED, Command.RESOLVE): AlertState.RESOLVED,
        (AlertState.ON_SITE, Command.RESOLVE): AlertState.RESOLVED,
        (AlertState.RAISED, Command.CANCEL): AlertState.CANCELLED,
        (AlertState.NOTIFIED, Command.CANCEL): AlertState.CANCELLED,
    }


@pytest.mark.parametrize("state", AlertState)
def test_open_means_not_terminal(state: AlertState) -> None:
    assert state.is_open is (state not in TERMINAL)
    assert alert(state).is_open is state.is_open


def test_every_open_state_can_reach_resolved() -> None:
    reachable = {AlertState.RESOLVED}
    for _ in AlertState:
        reachable |= {s for (s, _c), t in TRANSITIONS.items() if t in reachable}
    assert reachable >= {s for s in AlertState if s.is_open}


@pytest.mark.parametrize(("state", "command"), LEGAL, ids=[pair_id(p) for p in LEGAL])
def test_legal_transitions(state: AlertState, command: Command) -> None:
    before = alert(state)
    after, record = transition(before, command, "nurse-7", LATER, outcome=outcome_for(command))

    assert after.state is TRANSITIONS[(state, command)]
    assert after.updated_at == LATER
    assert isinstance(record, Transition)
    assert record.alert_id == before.id
    assert record.from_state is state
    assert record.to_state is after.state
    assert record.at == LATER
    assert record.actor == "nurse-7"
    # What the alert is about never changes with its state.
    unchanged = {"state", "updated_at", "accepted_by", "outcome", "note"}
    assert after.model_dump(exclude=unchanged) == before.model_dump(exclude=unchanged)
    assert before.state is state, "alerts are immutable"


@pytest.mark.parametrize(("state", "command"), ILLEGAL, ids=[pair_id(p) for p in ILLEGAL])
def test_illegal_transitions_raise(state: AlertState, command: Command) -> None:
    with pytest.raises(IllegalTransition) as caught:
        transition(alert(state), command, "nurse-7", LATER, outcome=outcome_for(command))
    assert caught.value.alert_id == "alert-1"
    assert caught.value.state == state
    assert caught.value.command == command
    assert str(state) in str(caught.value)


@pytest.mark.parametrize("state", TERMINAL)
@pytest.mark.parametrize("command", Command)
def test_terminal_states_take_no_command(state: AlertState, command: Command) -> None:
    with pytest.raises(IllegalTransition):
        transition(alert(state), command, "nurse-7", LATER, outcome=Outcome.OTHER)


@pytest.mark.parametrize("state", [s for (s, c) in TRANSITIONS if c is Command.RESOLVE], ids=str)
def test_resolving_needs_an_outcome(state: AlertState) -> None:
    with pytest.raises(ValueError, match="outcome"):
        transition(alert(state), Command.RESOLVE, "nurse-7", LATER)


@pytest.mark.parametrize("outcome", Outcome)
def test_resolving_records_outcome_and_note(outcome: Outcome) -> None:
    after, record = transition(
        alert(AlertState.ON_SITE),
        Command.RESOLVE,
        "nurse-7",
        LATER,
        outcome=outcome,
        note="helped back to bed",
    )
    assert after.outcome is outcome
    assert after.note == "helped back to bed"
    assert record.outcome is outcome
    assert record.note == "helped back to bed"


@pytest.mark.parametrize("state", [s for (s, c) in TRANSITIONS if c is Command.ACCEPT], ids=str)
def test_accept_records_who_accepted(state: AlertState) -> None:
    after, _ = transition(alert(state), Command.ACCEPT, "nurse-7", LATER)
    assert after.accepted_by == "nurse-7"


def test_later_commands_keep_who_accepted() -> None:
    accepted, _ = transition(alert(), Command.ACCEPT, "nurse-7", LATER)
    on_site, _ = transition(accepted, Command.ON_SITE, "nurse-7", LATER)
    resolved, _ = transition(on_site, Command.RESOLVE, "nurse-8", LATER, outcome=Outcome.ASSISTED)
    assert resolved.accepted_by == "nurse-7"


def test_illegal_transitions_are_trygg_errors() -> None:
    assert issubclass(IllegalTransition, TryggError)


# --- raising and attaching --------------------------------------------------------------

DECISION = Raise(
    rule="first.alarm_button",
    category=Category.RESIDENT,
    priority=Priority.HIGH,
    message="Alarm button pressed: H0102",
)


def test_raise_alert_starts_raised_and_logs_it() -> None:
    source = event("alarm.button", ts=NOW - timedelta(seconds=2))
    raised, record = raise_alert(DECISION, source, placement(), "alert-9", NOW)

    assert raised.state is AlertState.RAISED
    assert (raised.id, raised.rule, raised.device, raised.kind) == (
        "alert-9",
        "first.alarm_button",
        "dev-1",
        "alarm.button",
    )
    assert (raised.unit, raised.apartment, raised.resident_id) == ("unit-A", "H0102", "res-4711")
    assert raised.event_ids == (EVENT_ID,)
    assert raised.event_ts == source.ts
    assert raised.raised_at == raised.updated_at == NOW
    assert record == Transition(
        alert_id="alert-9", from_state=None, to_state=AlertState.RAISED, at=NOW, actor=SYSTEM
    )


def test_raise_alert_without_placement() -> None:
    raised, _ = raise_alert(DECISION, event("alarm.button"), None, "alert-9", NOW)
    assert (raised.unit, raised.apartment, raised.resident_id) == (None, None, None)


def test_attach_adds_an_event_once() -> None:
    second = event("alarm.button", id=event_id(2))
    once = attach_event(alert(), second, LATER)
    twice = attach_event(once, second, LATER + timedelta(seconds=1))

    assert once.event_ids == (EVENT_ID, event_id(2))
    assert once.updated_at == LATER
    assert twice == once


def test_attaching_the_first_event_again_changes_nothing() -> None:
    original = alert()
    assert attach_event(original, event("alarm.button"), LATER) == original


# --- random command runs ------------------------------------------------------------------

STEPS = st.lists(
    st.tuples(st.sampled_from(list(Command)), st.sampled_from(list(Outcome)), st.booleans()),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(STEPS)
def test_random_command_runs_keep_the_log_consistent(
    steps: list[tuple[Command, Outcome, bool]],
) -> None:
    current, first = raise_alert(DECISION, event("alarm.button"), placement(), "alert-1", NOW)
    log = [first]
    now = NOW
    for command, outcome, give_outcome in steps:
        now += timedelta(seconds=10)
        was_terminal = not current.is_open
        try:
            current, record = transition(
                current, command, "nurse-7", now, outcome=outcome if give_outcome else None
            )
        except IllegalTransition:
            assert (current.state, command) not in TRANSITIONS
            continue
        except ValueError:
            assert command is Command.RESOLVE and not give_outcome
            continue
        assert not was_terminal, "a terminal state took a command"
        log.append(record)

    assert log[0].from_state is None
    for previous, following in itertools.pairwise(log):
        assert following.from_state is previous.to_state
        assert following.at > previous.at
    assert log[-1].to_state is current.state
    assert all(record.alert_id == current.id for record in log)
    if current.state is AlertState.RESOLVED:
        assert current.outcome is not None
    if not current.is_open:
        for command in Command:
            with pytest.raises(IllegalTransition):
                transition(current, command, "nurse-7", now, outcome=Outcome.OTHER)


@pytest.mark.parametrize(("state", "command"), ALL_PAIRS, ids=[pair_id(p) for p in ALL_PAIRS])
def test_transition_never_changes_its_input(state: AlertState, command: Command) -> None:
    before = alert(state)
    snapshot = before.model_dump()
    with contextlib.suppress(IllegalTransition):
        transition(before, command, "nurse-7", LATER, outcome=Outcome.OTHER)
    assert before.model_dump() == snapshot


def test_alerts_are_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        alert().state = AlertState.RESOLVED  # type: ignore[misc]
