"""The device life cycle: every (state, action) pair, table-driven, and a random walk."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.lifecycle import (
    TRANSITIONS,
    Action,
    DeviceRecord,
    DeviceState,
    IllegalDeviceTransition,
    Location,
    transition,
)

T = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HERE = Location("site-1", "unit-A", "H1", "bedroom")
S, A = DeviceState, Action

LEGAL = [
    (S.IN_STOCK, A.INSTALL, S.INSTALLED),
    (S.INSTALLED, A.ACTIVATE, S.IN_SERVICE),
    (S.IN_SERVICE, A.DEACTIVATE, S.INSTALLED),
    (S.INSTALLED, A.UNINSTALL, S.IN_STOCK),
    (S.IN_STOCK, A.SEND_TO_REPAIR, S.IN_REPAIR),
    (S.INSTALLED, A.SEND_TO_REPAIR, S.IN_REPAIR),
    (S.IN_SERVICE, A.SEND_TO_REPAIR, S.IN_REPAIR),
    (S.IN_REPAIR, A.REPAIRED, S.IN_STOCK),
    (S.IN_STOCK, A.RETIRE, S.RETIRED),
    (S.IN_REPAIR, A.RETIRE, S.RETIRED),
]
ALL = [(s, a) for s in DeviceState for a in Action]
ILLEGAL = [(s, a) for s, a in ALL if (s, a) not in {(x, y) for x, y, _ in LEGAL}]


def device(state: DeviceState = S.IN_STOCK) -> DeviceRecord:
    return DeviceRecord("dev-1", "SN-0001", "WXKG11LM", state, "1.0.2", "gw-1",
                        HERE if state.supervised else None)


def test_the_table_is_exactly_the_legal_list() -> None:
    assert {(s, a): t for s, a, t in LEGAL} == TRANSITIONS


@pytest.mark.parametrize(("state", "action", "to"), LEGAL)
def test_legal_transitions(state: DeviceState, action: Action, to: DeviceState) -> None:
    new, entry = transition(device(state), action, "tekniker-ola", T, location=HERE,
                            note="batteri byttet")
    assert new.state is to
    assert (entry.from_state, entry.to_state, entry.actor, entry.at) == (state, to,
                                                                         "tekniker-ola", T)
    assert entry.note == "batteri byttet" and entry.action is action
    assert (new.location is not None) == to.supervised


@pytest.mark.parametrize(("state", "action"), ILLEGAL)
def test_illegal_transitions_are_refused(state: DeviceState, action: Action) -> None:
    with pytest.raises(IllegalDeviceTransition, match=f"cannot {action}"):
        transition(device(state), action, "tekniker-ola", T, location=HERE)


def test_retired_is_final() -> None:
    assert not [a for (s, a) in TRANSITIONS if s is S.RETIRED]


@pytest.mark.parametrize(
    ("record", "location", "match"),
    [
        (device(), None, "site and unit"),
        (device(), Location("site-1"), "site and unit"),
        (DeviceRecord("d", "SN", "m"), HERE, "gateway"),
    ],
)
def test_install_needs_a_location_and_a_gateway(
    record: DeviceRecord, location: Location | None, match: str
) -> None:
    with pytest.raises(IllegalDeviceTransition, match=match):
        transition(record, A.INSTALL, "ola", T, location=location)


def test_every_change_names_who_made_it() -> None:
    with pytest.raises(ValueError, match="who"):
        transition(device(), A.RETIRE, "", T)


@given(st.lists(st.sampled_from(list(Action)), max_size=40))
def test_a_random_walk_stays_in_the_table(actions: list[Action]) -> None:
    record = device()
    for action in actions:
        try:
            new, entry = transition(record, action, "ola", T, location=HERE)
        except IllegalDeviceTransition:
            assert (record.state, action) not in TRANSITIONS
            continue
        assert TRANSITIONS[(record.state, action)] is new.state is entry.to_state
        assert new.state.supervised == (new.location is not None)
        record = new
