"""Who may log on to which units (pure; the API and the handheld share it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.channels.mqtt import ShiftRequest, parse_shift
from hub.routing.logon import LogonRefused, shift_entry
from hub.routing.roster import ShiftLog

T = datetime(2024, 11, 23, 1, 13, tzinfo=UTC)
UNITS = ("unit-A", "unit-B")


@pytest.mark.parametrize(
    ("role", "site", "on", "units", "result"),
    [
        ("nattevakt", "s1", True, None, ShiftLog("kari", "s1", True, T, UNITS)),
        ("staff", "s1", True, ["unit-B"], ShiftLog("kari", "s1", True, T, ("unit-B",))),
        ("leader", "s1", False, None, ShiftLog("kari", "s1", False, T, ())),
        ("nattevakt", "s1", False, ["unit-Z"], ShiftLog("kari", "s1", False, T, ())),
        ("nattevakt", "s1", True, ["unit-Z"], "own units"),
        ("nattevakt", "s1", True, [], "no units"),
        ("nattevakt", "s2", True, None, "not on site s2"),
        ("tekniker", "s1", True, None, "cannot be on duty"),
        ("admin", "s1", True, None, "cannot be on duty"),
        (None, "s1", True, None, "cannot be on duty"),
    ],
)
def test_shift_entry(
    role: str | None, site: str, on: bool, units: list[str] | None, result: ShiftLog | str
) -> None:
    if isinstance(result, str):
        with pytest.raises(LogonRefused, match=result):
            shift_entry("kari", role, "s1", UNITS, site, on, units, T)
    else:
        assert shift_entry("kari", role, "s1", UNITS, site, on, units, T) == result


def test_an_account_without_a_site_is_refused() -> None:
    with pytest.raises(LogonRefused):
        shift_entry("kari", "nattevakt", None, UNITS, "s1", True, None, T)


@pytest.mark.parametrize(
    ("topic", "payload", "parsed"),
    [
        (
            "trygg/v1/s1/staff/kari/shift",
            b'{"action":"logon"}',
            ShiftRequest("s1", "kari", True, None),
        ),
        (
            "trygg/v1/s1/staff/kari/shift",
            b'{"action":"logon","units":["u"]}',
            ShiftRequest("s1", "kari", True, ("u",)),
        ),
        (
            "trygg/v1/s1/staff/kari/shift",
            b'{"action":"logoff"}',
            ShiftRequest("s1", "kari", False, None),
        ),
        ("trygg/v1/s1/staff/kari/shift", b'{"action":"nap"}', None),
        ("trygg/v1/s1/staff/kari/shift", b'{"action":"logon","who":"x"}', None),
        ("trygg/v1/s1/staff/kari/shift", b"not json", None),
        ("trygg/v1/s1/staff/kari/receipts", b'{"action":"logon"}', None),
        ("trygg/v2/s1/staff/kari/shift", b'{"action":"logon"}', None),
    ],
)
def test_parse_shift(topic: str, payload: bytes, parsed: ShiftRequest | None) -> None:
    assert parse_shift(topic, payload) == parsed
