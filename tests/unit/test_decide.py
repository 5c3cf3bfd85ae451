"""From decisions to effects: raise once, attach while open, never merge colleagues."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.events import EventBase
from devices.registry import Placement
from hub.alerts import Alert, AlertState, Command, Outcome, transition
from hub.decide import Attached, Effect, OpenKey, Raised, apply, open_key
from hub.ruleset import load_pack
from rules.decisions import Decision
from rules.engine import Engine

from builders import NOW, clock, event, event_id, id_source, placement

ENGINE = Engine(load_pack([]))


def evaluate(
    _state: object, source: EventBase, now: object, where: Placement | None
) -> tuple[object, list[Decision]]:
    """The default pack on one event, from a fresh state (these rules are instant)."""
    assert isinstance(now, type(NOW))
    return ENGINE.evaluate(ENGINE.initial_state(), source, now, where)


class Board:
    """The caller's side of ``apply``: open alerts by (rule, device), kept up to date.

    A few lines that do what the hub service does, so the tests read as a night.
    """

    def __init__(self) -> None:
        self.open: dict[OpenKey, Alert] = {}
        self.all: dict[str, Alert] = {}
        self.new_id: Callable[[], str] = id_source()
        self.now = clock()

    def press(self, source: EventBase) -> list[Effect]:
        now = next(self.now)
        _, decisions = evaluate({}, source, now, placement(source.device))
        effects = apply(decisions, source, placement(source.device), self.open, self.new_id, now)
        for effect in effects:
            self.all[effect.alert.id] = effect.alert
            self.open[open_key(effect.alert)] = effect.alert
        return effects

    def act(self, alert_id: str, command: Command, outcome: Outcome | None = None) -> Alert:
        current, _ = transition(
            self.all[alert_id], command, "nurse-7", next(self.now), outcome=outcome
        )
        self.all[alert_id] = current
        # A closed alert stays in ``open`` on purpose: apply must check it is still open.
        self.open[open_key(current)] = current
        return current


def press(n: int, kind: str = "alarm.button", device: str = "dev-1") -> EventBase:
    return event(kind, id=event_id(n), device=device)


def only(effects: list[Effect]) -> Effect:
    assert len(effects) == 1, effects
    return effects[0]


def test_the_first_decision_raises() -> None:
    board = Board()
    effect = only(board.press(press(1)))

    assert isinstance(effect, Raised)
    assert effect.alert.id == "alert-1"
    assert effect.alert.state is AlertState.RAISED
    assert effect.alert.event_ids == (event_id(1),)
    assert effect.transition.to_state is AlertState.RAISED
    assert effect.transition.from_state is None


def test_a_second_press_while_open_is_attached() -> None:
    board = Board()
    board.press(press(1))
    effect = only(board.press(press(2)))

    assert isinstance(effect, Attached)
    assert effect.event_id == event_id(2)
    assert effect.alert.id == "alert-1"
    assert effect.alert.event_ids == (event_id(1), event_id(2))


def test_re_attaching_the_same_event_is_idempotent() -> None:
    board = Board()
    board.press(press(1))
    first = only(board.press(press(2)))
    again = only(board.press(press(2)))

    assert isinstance(again, Attached)
    assert again.alert.event_ids == first.alert.event_ids == (event_id(1), event_id(2))


@pytest.mark.parametrize(
    "state", [AlertState.RAISED, AlertState.NOTIFIED, AlertState.ACCEPTED, AlertState.ON_SITE]
)
def test_every_open_state_attaches(state: AlertState) -> None:
    board = Board()
    [raised] = board.press(press(1))
    steps = {
        AlertState.RAISED: [],
        AlertState.NOTIFIED: [Command.NOTIFY],
        AlertState.ACCEPTED: [Command.ACCEPT],
        AlertState.ON_SITE: [Command.ON_SITE],
    }[state]
    for command in steps:
        board.act(raised.alert.id, command)

    effect = only(board.press(press(2)))
    assert isinstance(effect, Attached)
    assert effect.alert.state is state


@pytest.mark.parametrize(
    ("close", "outcome"),
    [
        ([Command.ACCEPT, Command.RESOLVE], Outcome.ASSISTED),
        ([Command.ON_SITE, Command.RESOLVE], Outcome.FALSE_ALARM),
        ([Command.CANCEL], None),
    ],
    ids=["resolved-after-accept", "resolved-on-site", "cancelled"],
)
def test_after_the_alert_is_closed_a_new_press_raises_again(
    close: list[Command], outcome: Outcome | None
) -> None:
    board = Board()
    [raised] = board.press(press(1))
    for command in close:
        board.act(raised.alert.id, command, outcome if command is Command.RESOLVE else None)

    effect = only(board.press(press(2)))
    assert isinstance(effect, Raised)
    assert effect.alert.id == "alert-2"
    assert effect.alert.event_ids == (event_id(2),)


def test_colleague_alarms_always_raise() -> None:
    board = Board()
    effects = [only(board.press(press(n, "staff.alarm"))) for n in range(1, 5)]

    assert all(isinstance(effect, Raised) for effect in effects)
    assert [effect.alert.id for effect in effects] == [f"alert-{n}" for n in range(1, 5)]
    assert all(effect.alert.category == "colleague" for effect in effects)


def test_a_colleague_alarm_ignores_an_open_alert_passed_in() -> None:
    board = Board()
    [first] = board.press(press(1, "staff.alarm"))
    assert open_key(first.alert) in board.open
    assert isinstance(only(board.press(press(2, "staff.alarm"))), Raised)


def test_other_devices_and_rules_get_their_own_alerts() -> None:
    board = Board()
    board.press(press(1, device="dev-1"))
    other_device = only(board.press(press(2, device="dev-2")))
    other_rule = only(board.press(press(3, "fall.detected", device="dev-1")))

    assert isinstance(other_device, Raised)
    assert isinstance(other_rule, Raised)
    assert len({a.id for a in board.all.values()}) == 3


def test_no_decisions_no_effects() -> None:
    assert apply([], press(1), None, {}, id_source(), NOW) == []


def test_no_id_is_spent_on_an_attach() -> None:
    spent: list[str] = []
    source = id_source()

    def new_id() -> str:
        spent.append(source())
        return spent[-1]

    board = Board()
    board.new_id = new_id
    board.press(press(1))
    board.press(press(2))
    assert spent == ["alert-1"]


def test_apply_does_not_change_the_open_alerts_it_is_given() -> None:
    board = Board()
    board.press(press(1))
    before = dict(board.open)
    _, decisions = evaluate({}, press(2), NOW, placement())
    apply(decisions, press(2), placement(), board.open, id_source(), NOW)
    assert board.open == before


# --- a night of random presses -----------------------------------------------------------

ACTIONS = st.lists(
    st.one_of(
        st.tuples(
            st.just("press"),
            st.sampled_from(["dev-1", "dev-2"]),
            st.sampled_from(["alarm.button", "staff.alarm"]),
        ),
        st.tuples(st.just("close"), st.sampled_from(["dev-1", "dev-2"]), st.just("")),
        st.tuples(st.just("resend"), st.just(""), st.just("")),
    ),
    max_size=20,
)


@settings(max_examples=100, deadline=None)
@given(ACTIONS)
def test_a_random_night_keeps_at_most_one_open_resident_alert_per_device(
    actions: list[tuple[str, str, str]],
) -> None:
    board = Board()
    sent: list[EventBase] = []
    staff_presses = 0
    for n, (action, device, kind) in enumerate(actions, start=1):
        if action == "press":
            sent.append(press(n, kind, device))
            board.press(sent[-1])
            staff_presses += kind == "staff.alarm"
        elif action == "resend" and sent:
            board.press(sent[-1])
            staff_presses += sent[-1].kind == "staff.alarm"
        elif action == "close":
            for alert in list(board.all.values()):
                if alert.device == device and alert.is_open and alert.category != "colleague":
                    board.act(alert.id, Command.CANCEL)

    resident = [a for a in board.all.values() if a.category == "resident"]
    open_per_device = [a.device for a in resident if a.is_open]
    assert len(open_per_device) == len(set(open_per_device))
    colleague = [a for a in board.all.values() if a.category == "colleague"]
    assert len(colleague) == staff_presses
    # A resend after closing raises anew (the caller dedupes by id); while open it attaches.
    open_events = [e for a in resident if a.is_open for e in a.event_ids]
    assert len(open_events) == len(set(open_events)), "an event is in two open alerts"
