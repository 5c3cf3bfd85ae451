"""Wall-clock windows across midnight and daylight-saving changes (Europe/Oslo)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.localtime import (
    TimeWindow,
    next_wall_clock,
    parse_time_of_day,
    wall_clock,
    zone,
)

OSLO = zone("Europe/Oslo")
OCT_2026 = date(2026, 10, 24)  # clocks go back 03:00 -> 02:00 on the morning of the 25th
MAR_2027 = date(2027, 3, 27)  # clocks go forward 02:00 -> 03:00 on the morning of the 28th


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("07:00", time(7)), ("7:05", time(7, 5)), ("23:59:59", time(23, 59, 59)), (" 00:00 ", time())],
)
def test_parse_time_of_day(text: str, expected: time) -> None:
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize("text", ["24:00", "12:60", "noon", "12", "", "12:00:61", 7])
def test_parse_time_of_day_refuses(text: object) -> None:
    with pytest.raises(ValueError):
        parse_time_of_day(text)


@pytest.mark.parametrize("text", ["22:00", "22:00-", "22:00-25:00", "a-b", None, 2200])
def test_window_parse_refuses(text: object) -> None:
    with pytest.raises(ValueError):
        TimeWindow.parse(text)


def test_unknown_zone_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        zone("Europe/Atlantis")


@pytest.mark.parametrize(
    ("window", "local", "inside"),
    [
        ("22:00-07:00", time(21, 59), False),
        ("22:00-07:00", time(22, 0), True),
        ("22:00-07:00", time(3, 0), True),
        ("22:00-07:00", time(6, 59, 59), True),
        ("22:00-07:00", time(7, 0), False),
        ("08:00-16:00", time(8, 0), True),
        ("08:00-16:00", time(16, 0), False),
        ("08:00-16:00", time(2, 0), False),
        ("00:00-00:00", time(12, 0), True),
    ],
)
def test_window_contains_time(window: str, local: time, inside: bool) -> None:
    assert TimeWindow.parse(window).contains_time(local) is inside


def test_night_window_lasts_ten_hours_when_clocks_go_back() -> None:
    w = TimeWindow.parse("22:00-07:00")
    opens = wall_clock(OCT_2026, time(22), OSLO)
    closes = w.next_edge(opens, OSLO)
    assert closes is not None
    assert closes - opens == timedelta(hours=10)
    # 02:30 happens twice that night; both are inside.
    first = utc(2026, 10, 25, 0, 30)
    assert w.contains(first, OSLO)
    assert w.contains(first + timedelta(hours=1), OSLO)


def test_night_window_lasts_eight_hours_when_clocks_go_forward() -> None:
    w = TimeWindow.parse("22:00-07:00")
    opens = wall_clock(MAR_2027, time(22), OSLO)
    closes = w.next_edge(opens, OSLO)
    assert closes is not None
    assert closes - opens == timedelta(hours=8)


def test_time_in_the_spring_gap_moves_forward() -> None:
    at = wall_clock(date(2027, 3, 28), time(2, 30), OSLO).astimezone(OSLO)
    assert at.time() == time(3, 30)
    assert at.utcoffset() == timedelta(hours=2)


def test_repeated_time_means_first_occurrence() -> None:
    at = wall_clock(date(2026, 10, 25), time(2, 30), OSLO)
    assert at == utc(2026, 10, 25, 0, 30)  # still summer time, UTC+2
    assert at.tzinfo is UTC


def test_window_opening_in_the_gap_opens_at_the_transition() -> None:
    w = TimeWindow.parse("02:30-05:00")
    edge = w.next_edge(utc(2027, 3, 27, 23, 0), OSLO)
    assert edge == utc(2027, 3, 28, 1, 0)  # 03:00 CEST, the first instant past 02:30
    assert w.contains(edge, OSLO)
    assert not w.contains(edge - timedelta(seconds=1), OSLO)


def test_next_wall_clock_is_strictly_after() -> None:
    at = wall_clock(date(2026, 11, 23), time(10), OSLO)
    assert next_wall_clock(at, time(10), OSLO) == at + timedelta(days=1)
    assert next_wall_clock(at - timedelta(seconds=1), time(10), OSLO) == at


def test_whole_day_window_has_no_edge() -> None:
    assert TimeWindow.parse("06:00-06:00").next_edge(utc(2026, 1, 1), OSLO) is None


def test_str_round_trips() -> None:
    assert str(TimeWindow.parse("22:00-07:00")) == "22:00-07:00"


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
times = st.times().map(lambda t: t.replace(microsecond=0))


@given(start=times, end=times, at=instants)
def test_membership_is_constant_until_the_next_edge(start: time, end: time, at: datetime) -> None:
    """The edge a timer sleeps until is exactly where membership changes, DST nights included."""
    w = TimeWindow(start, end)
    edge = w.next_edge(at, OSLO)
    if edge is None:
        assert w.contains(at, OSLO)
        return
    assert edge > at
    inside = w.contains(at, OSLO)
    for probe in (at, at + (edge - at) / 2, edge - timedelta(seconds=1)):
        if probe >= at:
            assert w.contains(probe, OSLO) is inside
    assert w.contains(edge, OSLO) is not inside or edge.astimezone(OSLO).time() == start == end
