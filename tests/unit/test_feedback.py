"""Resident feedback, hub side and contract: which alerts, which states, in which order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.feedback import (
    RANK,
    FeedbackCommand,
    FeedbackInvalid,
    FeedbackState,
    commands_topic,
    is_after,
    parse_command,
)
from hub.alerts import TRANSITIONS, Alert, AlertState, Command, Outcome, transition
from hub.feedback import Ledger, command, eligible, plan, target
from rules.decisions import Category

from builders import NOW, RESIDENT_ID, alert, placement

F, S = FeedbackState, AlertState


class FlaggedAlert(Alert):
    """An alert carrying the resident-cancel flag (the shape the rescancel work adds)."""

    cancelled_by_resident: bool = False


# --- which alerts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, True),
        ({"kind": "fall.detected"}, True),
        ({"kind": "floor.person"}, True),
        ({"kind": "staff.alarm", "category": Category.COLLEAGUE}, False),
        ({"kind": "alarm.button", "category": Category.COLLEAGUE}, False),
        ({"kind": "device.battery_low", "category": Category.TECHNICAL}, False),
        ({"kind": "door.opened"}, False),  # a door sensor shows nothing to anyone
        ({"kind": "stove.on"}, False),
    ],
)
def test_only_a_residents_own_alarm_gets_feedback(changes: dict[str, object], expected: bool) -> None:
    assert eligible(alert(**changes), placement()) is expected


@pytest.mark.parametrize(
    "where",
    [
        None,  # the device is not registered: no gateway to send to
        placement(resident_id=None),  # a device serving nobody (a common room button)
        placement(device="dev-2"),
        placement(site="site-2"),
    ],
)
def test_no_feedback_without_the_residents_placement(where: object) -> None:
    assert eligible(alert(), where) is False  # type: ignore[arg-type]


# --- which state --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (S.RAISED, F.RECEIVED),
        (S.NOTIFIED, F.RECEIVED),
        (S.ACCEPTED, F.HELP_COMING),
        (S.ON_SITE, F.HELP_ARRIVED),
        (S.RESOLVED, F.CLOSED),
        (S.CANCELLED, F.CLOSED),  # cancelled by the system: the condition cleared
    ],
)
def test_target_per_alert_state(state: AlertState, expected: FeedbackState) -> None:
    assert target(alert(state)) is expected


def test_every_alert_state_has_a_target() -> None:
    for state in AlertState:
        assert target(alert(state)) in FeedbackState


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (S.RAISED, F.CANCELLED),
        (S.ACCEPTED, F.CANCELLED),
        (S.ON_SITE, F.CANCELLED),
        (S.RESOLVED, F.CLOSED),  # once closed, closed
    ],
)
def test_a_resident_cancel_flag_means_cancelled_until_closed(
    state: AlertState, expected: FeedbackState
) -> None:
    flagged = FlaggedAlert(**alert(state).model_dump(), cancelled_by_resident=True)
    assert target(flagged) is expected
    unflagged = FlaggedAlert(**alert(state).model_dump())
    assert target(unflagged) is not F.CANCELLED


@pytest.mark.parametrize(
    ("sent", "state", "expected"),
    [
        (None, S.RAISED, (F.RECEIVED,)),
        (None, S.NOTIFIED, (F.RECEIVED,)),
        (F.RECEIVED, S.NOTIFIED, ()),  # raised -> notified changes nothing for the resident
        (F.RECEIVED, S.ACCEPTED, (F.HELP_COMING,)),
        (F.RECEIVED, S.ON_SITE, (F.HELP_ARRIVED,)),  # presence before anyone accepted
        (F.HELP_COMING, S.ON_SITE, (F.HELP_ARRIVED,)),
        (F.HELP_ARRIVED, S.ACCEPTED, ()),  # never back
        (F.HELP_ARRIVED, S.RESOLVED, (F.CLOSED,)),
        (F.RECEIVED, S.CANCELLED, (F.CLOSED,)),
        (F.CLOSED, S.RESOLVED, ()),
        (None, S.ACCEPTED, (F.RECEIVED, F.HELP_COMING)),  # received always comes first
        (None, S.RESOLVED, (F.RECEIVED, F.CLOSED)),
    ],
)
def test_plan_table(
    sent: FeedbackState | None, state: AlertState, expected: tuple[FeedbackState, ...]
) -> None:
    assert plan(sent, alert(state)) == expected


# --- properties over whole alert lives ------------------------------------------------

_COMMANDS = list(Command)


@st.composite
def alert_lives(draw: st.DrawFn) -> list[Alert]:
    """An alert's dispatched changes along legal transitions, with repeats (the hub may
    dispatch the same state twice: a joined event, a board opening)."""
    current = alert(S.RAISED)
    life = [current]
    for _ in range(draw(st.integers(0, 8))):
        legal = [c for c in _COMMANDS if (current.state, c) in TRANSITIONS]
        if not legal or (draw(st.booleans()) and draw(st.booleans())):
            life.append(current)  # a repeat
            continue
        cmd = draw(st.sampled_from(legal))
        outcome = Outcome.ASSISTED if cmd is Command.RESOLVE else None
        current, _ = transition(current, cmd, "kari", NOW, outcome=outcome)
        life.append(current)
    return life


@settings(max_examples=300, deadline=None)
@given(alert_lives())
def test_feedback_moves_forward_only_and_received_comes_once_first(life: list[Alert]) -> None:
    ledger = Ledger()
    sent = [s for a in life for s in ledger.advance(a)]
    assert sent[0] is F.RECEIVED
    assert sent.count(F.RECEIVED) == 1
    ranks = [RANK[s] for s in sent]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)  # forward, each once
    assert sent[-1] is target(life[-1])  # the device ends where the alert is
    if not life[-1].is_open:
        assert sent[-1] is F.CLOSED


@settings(max_examples=200, deadline=None)
@given(alert_lives(), st.randoms(use_true_random=False))
def test_no_order_of_changes_sends_a_state_twice_or_goes_back(life: list[Alert], rnd: object) -> None:
    shuffled = list(life)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    ledger = Ledger()
    sent = [s for a in shuffled for s in ledger.advance(a)]
    ranks = [RANK[s] for s in sent]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    assert sent.count(F.RECEIVED) == 1


def test_the_ledger_is_bounded_and_forgets_the_oldest() -> None:
    ledger = Ledger(limit=3)
    for n in range(5):
        ledger.advance(alert(id=f"a-{n}"))
    assert len(ledger) == 3
    assert ledger.sent("a-0") is None and ledger.sent("a-4") is F.RECEIVED


# --- the message ---------------------------------------------------------------------


def test_the_command_is_the_contract_and_carries_no_person() -> None:
    a = alert(S.ACCEPTED, event_ids=("e-1", "e-2"))
    at = datetime(2024, 11, 23, 3, 30, tzinfo=timezone(timedelta(hours=1)))
    out = command(a, F.HELP_COMING, placement(gateway="gw-7"), "cmd-1", at, 7)
    assert out.topic == "trygg/v1/site-1/gw-7/commands" == commands_topic("site-1", "gw-7")
    body = json.loads(out.command.to_json())
    assert body == {
        "v": 1, "type": "alert_feedback", "id": "cmd-1", "alert_id": "alert-1",
        "device": "dev-1", "event_ids": ["e-1", "e-2"], "state": "help_coming",
        "at": "2024-11-23T02:30:00Z", "expected_minutes": 7,
    }  # fmt: skip
    text = out.command.to_json().decode()
    assert RESIDENT_ID not in text and "H0102" not in text and "unit-A" not in text


def test_expected_minutes_only_with_help_coming() -> None:
    out = command(alert(S.ON_SITE), F.HELP_ARRIVED, placement(), "c", NOW, 7)
    assert out.command.expected_minutes is None


@pytest.mark.parametrize("state", list(FeedbackState))
def test_a_command_survives_the_wire(state: FeedbackState) -> None:
    out = command(alert(), state, placement(), "c-1", NOW)
    assert parse_command(out.command.to_json()) == out.command


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"state": "on_the_way"}, "state"),
        ({"v": 2}, "v"),
        ({"type": "reboot"}, "type"),
        ({"at": "2024-11-23T02:30:00"}, "at"),  # no zone
        ({"expected_minutes": -1}, "expected_minutes"),
        ({"resident_id": "r-1"}, "resident_id"),  # nothing personal rides along
        ({"alert_id": ""}, "alert_id"),
    ],
)
def test_a_bad_command_is_refused_naming_the_field(body: dict[str, object], field: str) -> None:
    good = json.loads(command(alert(), F.RECEIVED, placement(), "c-1", NOW).command.to_json())
    with pytest.raises(FeedbackInvalid, match=field):
        parse_command(json.dumps({**good, **body}).encode())


def test_not_json_is_refused() -> None:
    with pytest.raises(FeedbackInvalid):
        parse_command(b"\xff not json")


def test_is_after() -> None:
    assert is_after(F.RECEIVED, None)
    assert is_after(F.CLOSED, F.CANCELLED) and not is_after(F.CANCELLED, F.CLOSED)
    assert not is_after(F.HELP_COMING, F.HELP_ARRIVED)
    assert not is_after(F.RECEIVED, F.RECEIVED)


def test_times_travel_in_utc() -> None:
    body = FeedbackCommand(
        id="c", alert_id="a", device="d", state=F.RECEIVED, at=datetime(2024, 1, 1, tzinfo=UTC)
    )
    assert body.at.utcoffset() == timedelta(0)
