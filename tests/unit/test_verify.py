"""Matching expected and raised alerts (pure), and placing alerts on the scenario clock."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.scenario import ExpectedAlert
from simulators.verify import (
    Due,
    PlayLog,
    RaisedAlert,
    match_alerts,
    raised_from_api,
    scenario_time,
)

T0 = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)


def due(
    minute: float,
    device: str = "btn",
    category: str = "resident",
    priority: str = "high",
    rule: str | None = "alarm-button",
    resident: str | None = None,
    within_s: float = 120,
) -> Due:
    expected = ExpectedAlert.model_validate(
        {
            "at": time(0, 0),
            "device": device,
            "category": category,
            "priority": priority,
            "rule": rule,
            "resident": resident,
            "within_s": within_s,
        }
    )
    return Due(expected, T0 + timedelta(minutes=minute))


def raised(
    minute: float,
    device: str = "btn",
    category: str = "resident",
    priority: str = "high",
    rule: str = "first.alarm_button",
    resident: str | None = None,
    ident: str = "a1",
) -> RaisedAlert:
    return RaisedAlert(
        id=ident,
        device=device,
        category=category,
        priority=priority,
        rule=rule,
        kind="alarm.button",
        resident_id=resident,
        at=T0 + timedelta(minutes=minute),
    )


@pytest.mark.parametrize(
    ("expected", "got", "matched", "missing", "unexpected"),
    [
        ([due(0)], [raised(0)], 1, 0, 0),
        ([due(0)], [raised(1.9)], 1, 0, 0),  # inside within_s
        ([due(0)], [raised(2.1)], 0, 1, 1),  # outside within_s
        ([due(0)], [raised(-1)], 1, 0, 0),  # early is fine inside the tolerance
        ([due(0)], [raised(0, priority="critical")], 0, 1, 1),
        ([due(0)], [raised(0, category="technical")], 0, 1, 1),
        ([due(0)], [raised(0, device="other")], 0, 1, 1),
        ([due(0, resident="r1")], [raised(0, resident="r2")], 0, 1, 1),
        ([due(0, resident="r1")], [raised(0, resident=None)], 1, 0, 0),  # hub knows none
        ([due(0)], [], 0, 1, 0),
        ([], [raised(0)], 0, 0, 1),  # a false alarm
        ([due(0), due(1)], [raised(0.5, ident="x")], 1, 1, 0),  # one alert, one match
        ([due(0)], [raised(0, ident="x"), raised(0.2, ident="y")], 1, 0, 1),
    ],
)
def test_match_table(
    expected: list[Due], got: list[RaisedAlert], matched: int, missing: int, unexpected: int
) -> None:
    report = match_alerts(expected, got)
    assert (len(report.matched), len(report.missing), len(report.unexpected)) == (
        matched,
        missing,
        unexpected,
    )
    assert report.ok == (missing == 0 and unexpected == 0)


def test_rule_id_is_reported_not_required() -> None:
    report = match_alerts([due(0, rule="alarm-button")], [raised(0, rule="first.alarm_button")])
    assert report.ok and report.rule_mismatches == report.matched
    same = match_alerts([due(0, rule="first.alarm_button")], [raised(0)])
    assert same.ok and not same.rule_mismatches


def test_nearest_raised_alert_wins() -> None:
    report = match_alerts([due(0)], [raised(1.5, ident="far"), raised(0.1, ident="near")])
    assert report.matched[0].raised.id == "near"
    assert [r.id for r in report.unexpected] == ["far"]


def test_two_presses_two_alerts_each_matched_once() -> None:
    report = match_alerts([due(0), due(0.75)], [raised(0, ident="a"), raised(0.75, ident="b")])
    assert [(m.due.at, m.raised.id) for m in report.matched] == [
        (T0, "a"),
        (T0 + timedelta(minutes=0.75), "b"),
    ]


@given(
    st.lists(st.integers(0, 30), max_size=8),
    st.lists(st.tuples(st.integers(0, 30), st.sampled_from(["high", "critical"])), max_size=8),
)
def test_every_alert_is_accounted_for_exactly_once(
    dues: list[int], raises: list[tuple[int, str]]
) -> None:
    expected = [due(m) for m in dues]
    got = [raised(m, priority=p, ident=f"r{i}") for i, (m, p) in enumerate(raises)]
    report = match_alerts(expected, got)
    used = [m.raised.id for m in report.matched] + [r.id for r in report.unexpected]
    assert sorted(used) == sorted(r.id for r in got)
    assert len(report.matched) + len(report.missing) == len(expected)
    for m in report.matched:
        assert abs(m.delta_s) <= m.due.expected.within_s
        assert m.raised.priority == m.due.expected.priority


def _log(speed: float) -> PlayLog:
    log = PlayLog(speed)
    real = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    log.record("e1", T0, real)
    log.record("e2", T0 + timedelta(minutes=10), real + timedelta(seconds=10))
    return log


def test_an_event_rule_alert_takes_its_event_time() -> None:
    log = _log(60)
    sent = log.sent_real["e2"]
    assert scenario_time(log, ["e2"], sent + timedelta(seconds=0.2)) == T0 + timedelta(minutes=10)


def test_a_timer_alert_is_carried_over_at_the_speed() -> None:
    log = _log(60)
    later = log.sent_real["e2"] + timedelta(seconds=20)  # 20 s real = 20 min scenario
    assert scenario_time(log, ["e1"], later) == T0 + timedelta(minutes=30)
    assert scenario_time(log, [], later) == T0 + timedelta(minutes=30)
    fast = _log(math.inf)
    assert scenario_time(fast, [], fast.sent_real["e2"] + timedelta(seconds=5)) == T0 + timedelta(
        minutes=10
    )


def test_alerts_of_another_run_are_ignored() -> None:
    log = _log(60)
    assert scenario_time(log, ["someone-else"], log.sent_real["e2"]) is None
    before = log.sent_real["e1"] - timedelta(seconds=1)
    assert scenario_time(log, [], before) is None
    body = {
        "id": "a9",
        "device": "btn",
        "category": "resident",
        "priority": "high",
        "rule": "first.alarm_button",
        "kind": "alarm.button",
        "resident_id": None,
        "raised_at": log.sent_real["e1"].isoformat(),
        "event_ids": ["e1"],
    }
    got = raised_from_api(body, log)
    assert got is not None and got.at == T0 and got.id == "a9"
    assert raised_from_api({**body, "event_ids": ["other"]}, log) is None
