"""Notices, placement checks and the login throttle: pure, table-driven."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from devices.events import KINDS
from hub.consent.devices import (
    DEVICE_TYPE_KINDS,
    PlacementRefused,
    placement_problem,
    require_placement,
)
from hub.consent.notices import due
from hub.consent.records import NoticeKind
from hub.ratelimit import LoginThrottle
from rules.consent import BasisKind, LegalBasis

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def basis(**changes: object) -> LegalBasis:
    b = LegalBasis(
        id="b1", resident_id="r1", measure="fall", kinds=frozenset({"fall.detected", "floor.person"}),
        basis=BasisKind.CONSENT, decided_by="l", reference="R", valid_from=T0,
        valid_to=T0 + timedelta(days=100), review_at=T0 + timedelta(days=50),
    )  # fmt: skip
    return dataclasses.replace(b, **changes)  # type: ignore[arg-type]


def test_device_types_name_real_kinds() -> None:
    for dtype, kinds in DEVICE_TYPE_KINDS.items():
        assert kinds and kinds <= KINDS, dtype


@pytest.mark.parametrize(
    ("dtype", "resident", "bases", "at", "problem"),
    [
        ("fall_sensor", "r1", [basis()], T0, None),
        ("fall_sensor", None, [], T0, None),  # common area: nobody's basis needed
        ("alarm_button", "r1", [], T0, None),  # own call needs none
        ("smoke_detector", "r1", [], T0, None),
        ("fall_sensor", "r1", [], T0, "covers fall.detected, floor.person"),
        ("fall_sensor", "r2", [basis()], T0, "covers fall.detected"),
        ("fall_sensor", "r1", [basis(kinds=frozenset({"fall.detected"}))], T0, "floor.person"),
        ("fall_sensor", "r1", [basis()], T0 + timedelta(days=100), "no legal basis in force"),
        ("fall_sensor", "r1", [basis(withdrawn_at=T0)], T0, "no legal basis in force"),
        ("fall_sensor", "r1", [basis(basis=BasisKind.DECISION_HOL_9)], T0, "in force"),
        ("fall_sensor", "r1", [basis(windows=())], T0, None),
        ("mystery_box", "r1", [basis()], T0, "unknown device type"),
        # a catalogue model (what a gateway needs) is known by what the catalogue says
        ("MCCGQ11LM", "r1", [], T0, "covers door.closed, door.opened"),
        ("MCCGQ11LM", None, [], T0, None),
    ],
)
def test_placement(
    dtype: str, resident: str | None, bases: list[LegalBasis], at: datetime, problem: str | None
) -> None:
    found = placement_problem(dtype, resident, bases, at)
    if problem is None:
        assert found is None
        require_placement(dtype, resident, bases, at)
    else:
        assert found is not None and problem in found
        with pytest.raises(PlacementRefused, match=r"record the resident's consent|unknown"):
            require_placement(dtype, resident, bases, at)


@pytest.mark.parametrize(
    ("now", "changes", "expected"),
    [
        (T0, {}, []),
        (T0 + timedelta(days=36), {}, [NoticeKind.REVIEW]),  # 14 days before review
        (T0 + timedelta(days=35, hours=23), {}, []),
        (T0 + timedelta(days=86), {}, [NoticeKind.EXPIRY, NoticeKind.REVIEW]),
        (T0 + timedelta(days=86), {"notice_days": 0}, [NoticeKind.REVIEW]),
        (T0 + timedelta(days=86), {"withdrawn_at": T0}, []),
        (T0 + timedelta(days=86), {"valid_to": None, "review_at": None}, []),
    ],
)
def test_notices_due(now: datetime, changes: dict[str, object], expected: list[NoticeKind]) -> None:
    notices = due([basis(**changes)], {"r1": "site-1"}, now)
    assert [n.kind for n in notices] == expected
    assert all(n.role == "leader" and n.site == "site-1" for n in notices)


def test_login_throttle_per_key_and_window() -> None:
    t = LoginThrottle(max_failures=3, window=timedelta(minutes=10))
    keys = ("user:kari", "addr:1.2.3.4")
    for i in range(3):
        assert t.retry_after(keys, T0 + timedelta(minutes=i)) is None
        t.failed(keys, T0 + timedelta(minutes=i))
    wait = t.retry_after(keys, T0 + timedelta(minutes=3))
    assert wait == pytest.approx(7 * 60)
    # Another user from the same address is held back too (password spraying).
    assert t.retry_after(("user:ola", "addr:1.2.3.4"), T0 + timedelta(minutes=3)) is not None
    assert t.retry_after(keys, T0 + timedelta(minutes=10)) is None  # the first one left
    t.succeeded("user:kari")
    assert t.retry_after(("user:kari", "addr:9.9.9.9"), T0 + timedelta(minutes=5)) is None
