"""The default rule pack on single events: which kinds raise what, and what messages say.

The table carried over from the first fixed rules (issue 2), with the pack's rule names;
the pack adds water leak, floor person, stove guard cut-off and tamper.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.events import KINDS
from devices.registry import Placement
from hub.ruleset import load_pack
from rules.decisions import Category, Priority, Raise
from rules.engine import Engine

from builders import NOW, RESIDENT_ID, event, placement

# kind, data -> rule, category, priority, merge_open
R, COL, TECH = Category.RESIDENT, Category.COLLEAGUE, Category.TECHNICAL
CRIT, HIGH, MED, LOW = Priority.CRITICAL, Priority.HIGH, Priority.MEDIUM, Priority.LOW
ENGINE = Engine(load_pack([]))
# fmt: off
RAISING: list[tuple[str, dict[str, Any] | None, str, Category, Priority, bool]] = [
    ("alarm.button",       None,                  "alarm_button"      , R,    HIGH, True),
    ("alarm.button",       {"press": "long"},     "alarm_button"      , R,    HIGH, True),
    ("fall.detected",      None,                  "fall",               R,    CRIT, True),
    ("fall.detected",      {"confidence": 0.2},   "fall",               R,    CRIT, True),
    ("staff.alarm",        None,                  "staff_alarm",        COL,  CRIT, False),
    ("staff.alarm",        {"location": "hall"},  "staff_alarm",        COL,  CRIT, False),
    ("smoke.detected",     None,                  "smoke",              R,    CRIT, True),
    ("smoke.detected",     {"test": False},       "smoke",              R,    CRIT, True),
    ("smoke.detected",     {"test": True},        "smoke_test",         TECH, LOW,  True),
    ("device.battery_low", None,                  "battery_low",        TECH, LOW,  True),
    ("device.battery_low", {"battery_pct": 7},    "battery_low",        TECH, LOW,  True),
    ("floor.person",       None,                  "fall",               R,    CRIT, True),
    ("water.leak",         None,                  "water_leak",         R,    HIGH, True),
    ("stove.cutoff",       {"reason": "timer"},   "stove_cutoff",       R,    MED,  True),
    ("device.tamper",      None,                  "tamper",             TECH, MED,  True),
]
# fmt: on
RAISING_KINDS = {row[0] for row in RAISING}
SILENT_KINDS = sorted(KINDS - RAISING_KINDS)
PLACEMENTS = [
    pytest.param(placement(), id="registered"),
    pytest.param(None, id="unregistered"),
]


def decide(
    kind: str,
    data: dict[str, Any] | None = None,
    where: Placement | None = None,
    device: str = "dev-1",
) -> list[Raise]:
    state = ENGINE.initial_state()
    _, decisions = ENGINE.evaluate(state, event(kind, data=data, device=device), NOW, where)
    raised = [d for d in decisions if isinstance(d, Raise)]
    assert len(raised) == len(decisions)
    return raised


def test_the_table_covers_every_kind_that_raises_at_once() -> None:
    instant = {k for r in ENGINE.pack.rules if r.mode.value == "instant"
               and r.action.value == "raise" and r.defaults.enabled for k in r.kinds}
    assert instant == RAISING_KINDS


@pytest.mark.parametrize("where", PLACEMENTS)
@pytest.mark.parametrize(
    ("kind", "data", "rule", "category", "priority", "merge_open"),
    RAISING,
    ids=[f"{row[0]}-{row[1]}" for row in RAISING],
)
def test_raising_kinds(
    kind: str,
    data: dict[str, Any] | None,
    rule: str,
    category: Category,
    priority: Priority,
    merge_open: bool,
    where: Placement | None,
) -> None:
    [decision] = decide(kind, data, where)

    assert decision.rule == rule
    assert decision.category is category
    assert decision.priority is priority
    assert decision.merge_open is merge_open
    assert decision.message


@pytest.mark.parametrize("where", PLACEMENTS)
@pytest.mark.parametrize("kind", SILENT_KINDS)
def test_every_other_kind_decides_nothing(kind: str, where: Placement | None) -> None:
    assert decide(kind, where=where) == []


def test_colleague_alarms_are_never_merged() -> None:
    [decision] = decide("staff.alarm")
    assert decision.merge_open is False


def test_a_smoke_self_test_sends_nobody() -> None:
    [decision] = decide("smoke.detected", {"test": True})
    assert decision.category is Category.TECHNICAL
    assert decision.rule != decide("smoke.detected")[0].rule


@pytest.mark.parametrize("kind", sorted(RAISING_KINDS))
def test_an_unregistered_device_still_raises_and_is_named(kind: str) -> None:
    [decision] = decide(kind, device="sensor-0042")
    assert "sensor-0042" in decision.message


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (placement(), "H0102"),
        (placement(apartment=None), "bedroom"),
        (placement(apartment=None, room=None), "unit-A"),
        (placement(apartment=None, room=None, unit=None), "site-1"),
    ],
    ids=["apartment", "room", "unit", "site"],
)
def test_the_message_says_where(where: Placement, expected: str) -> None:
    [decision] = decide("alarm.button", where=where)
    assert expected in decision.message


def test_a_staff_alarm_says_where_the_presser_is() -> None:
    [decision] = decide("staff.alarm", {"location": "common room"}, placement())
    assert "common room" in decision.message


@pytest.mark.parametrize("where", PLACEMENTS)
@pytest.mark.parametrize("kind", sorted(RAISING_KINDS))
def test_messages_carry_no_resident_id(kind: str, where: Placement | None) -> None:
    for decision in decide(kind, where=where):
        assert RESIDENT_ID not in decision.message
        assert RESIDENT_ID not in decision.model_dump_json()


@settings(max_examples=50, deadline=None)
@given(
    resident_id=st.from_regex(r"res-[0-9a-z]{6,12}", fullmatch=True),
    kind=st.sampled_from(sorted(RAISING_KINDS)),
)
def test_no_resident_id_leaks_into_any_message(resident_id: str, kind: str) -> None:
    for decision in decide(kind, where=placement(resident_id=resident_id)):
        assert resident_id not in decision.message


def test_the_cancel_key_raises_nothing() -> None:
    """``press: cancel`` takes a press back (hub.resident_cancel); it never raises."""
    assert decide("alarm.button", {"press": "cancel"}, placement()) == []
