"""The nobody-on-duty alert (pure): what it carries, which gap it is about, when
it is covered, and that its chain goes straight to the response centre."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from hub.alerts import AlertState
from hub.routing import coverage, engine, policy, roster
from hub.routing.engine import Context, NobodyOnDuty, Notify
from hub.routing.policy import RESPONSE_CENTRE, Chain, Policy, Step, Target
from hub.routing.roster import Shift, ShiftLog
from rules.decisions import Category, Priority

from builders import alert

T0 = datetime(2024, 11, 23, 1, 13, tzinfo=UTC)  # 02:13 Oslo
NIGHT = [
    Shift("n1", "kari", "site-1", ("unit-A",), time(22), time(7)),
    Shift("n2", "per", "site-2", ("unit-B",), time(22), time(7)),
]


@pytest.mark.parametrize(
    ("gap", "device", "words"),
    [
        (("site-1", "unit-A"), "roster:unit-A", "unit unit-A"),
        (("site-1", None), "roster", "site site-1"),
    ],
)
def test_the_gap_alert_carries_no_person_and_names_its_gap(
    gap: coverage.Gap, device: str, words: str
) -> None:
    a, record = coverage.gap_alert(gap, "g1", T0)
    assert (a.resident_id, a.apartment, a.unit, a.event_ids) == (None, None, None, ())
    assert (a.category, a.priority, a.state) == (
        Category.COLLEAGUE,
        Priority.CRITICAL,
        AlertState.RAISED,
    )
    assert a.device == device and words in a.message
    assert record.to_state is AlertState.RAISED and record.actor == "system"
    assert coverage.gap_of(a) == gap
    assert coverage.gap_of(alert()) is None


@pytest.mark.parametrize(
    ("gap", "logs", "covered"),
    [
        (("site-1", "unit-A"), [], True),
        (("site-1", "unit-B"), [], False),
        (("site-1", None), [], True),
        (("site-3", None), [], False),
        (("site-1", "unit-A"), [ShiftLog("kari", "site-1", False, T0)], False),
        (("site-1", None), [ShiftLog("kari", "site-1", False, T0)], False),
        (("site-1", "unit-B"), [ShiftLog("ola", "site-1", True, T0, ("unit-B",))], True),
    ],
)
def test_covered(gap: coverage.Gap, logs: list[ShiftLog], covered: bool) -> None:
    duty = roster.on_duty(NIGHT, logs, T0 + timedelta(seconds=1))
    assert coverage.covered(duty, gap) is covered


def test_the_gap_alert_goes_to_the_response_centre_and_raises_no_gap_of_its_own() -> None:
    a, _ = coverage.gap_alert(("site-3", "unit-Z"), "g1", T0)
    chain = policy.choose((), a.site, a.unit, a.category, a.priority, a.kind)
    assert chain is policy.NOBODY_CHAIN
    esc, effects = engine.start(a, chain, Context(roster.on_duty(NIGHT, [], T0)), T0)
    assert not [e for e in effects if isinstance(e, NobodyOnDuty)]
    assert [(e.recipient, e.channel) for e in effects if isinstance(e, Notify)] == [
        (RESPONSE_CENTRE, "webhook")
    ]
    assert engine.next_wake(esc) == T0 + timedelta(seconds=300)


def test_a_policy_can_match_the_alert_kind() -> None:
    mine = Chain((Step(Target.SITE, timedelta(seconds=10)),), timedelta(seconds=5))
    rule = Policy(mine, kind=coverage.NOBODY_KIND)
    args = ("site-1", None, Category.COLLEAGUE, Priority.CRITICAL)
    assert policy.choose([rule], *args, coverage.NOBODY_KIND) is mine
    assert policy.choose([rule], *args, "staff.alarm") is not mine
