"""The pure legal-basis check: with and without a basis, validity, windows, withdrawal, DST."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.events import KINDS
from devices.localtime import TimeWindow, zone
from rules.consent import (
    NO_BASIS_KINDS,
    REASONS,
    BasisKind,
    LegalBasis,
    Verdict,
    basis_from_json,
    basis_to_json,
    check,
    index_bases,
)

OSLO = zone("Europe/Oslo")
T0 = datetime(2026, 11, 1, tzinfo=UTC)
NIGHT = (TimeWindow.parse("22:00-07:00"),)
PERSONAL = sorted(KINDS - set(NO_BASIS_KINDS))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def oslo(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO)


def basis(**changes: Any) -> LegalBasis:
    base = LegalBasis(
        id="b1",
        resident_id="r1",
        measure="exit_door",
        kinds=frozenset({"door.opened", "door.closed"}),
        basis=BasisKind.CONSENT,
        decided_by="leader1",
        reference="SAK-2026/17",
        valid_from=T0,
        valid_to=T0 + timedelta(days=365),
        review_at=T0 + timedelta(days=180),
    )
    return dataclasses.replace(base, **changes)


HOL9 = dict(basis=BasisKind.DECISION_HOL_9)


@pytest.mark.parametrize(
    ("bases", "resident", "kind", "at", "expected"),
    [
        pytest.param([], "r1", "door.opened", T0, Verdict(False, "no_basis"), id="no basis"),
        pytest.param(
            [basis()], "r1", "door.opened", T0, Verdict(True, "allowed", "b1"), id="with basis"
        ),
        pytest.param(
            [basis()], "r2", "door.opened", T0, Verdict(False, "no_basis"), id="other resident"
        ),
        pytest.param(
            [basis()], "r1", "bed.exit", T0, Verdict(False, "no_basis"), id="kind not covered"
        ),
        pytest.param(
            [basis()],
            "r1",
            "door.opened",
            T0 - timedelta(seconds=1),
            Verdict(False, "not_yet_valid", "b1"),
            id="not yet valid",
        ),
        pytest.param(
            [basis()],
            "r1",
            "door.opened",
            T0 + timedelta(days=365),
            Verdict(False, "expired", "b1"),
            id="expired at valid_to (exclusive)",
        ),
        pytest.param(
            [basis()],
            "r1",
            "door.opened",
            T0 + timedelta(days=365, seconds=-1),
            Verdict(True, "allowed", "b1"),
            id="last second before expiry",
        ),
        pytest.param(
            [basis(valid_to=None)],
            "r1",
            "door.opened",
            T0 + timedelta(days=5000),
            Verdict(True, "allowed", "b1"),
            id="open-ended",
        ),
        pytest.param(
            [basis(review_at=T0 + timedelta(days=1))],
            "r1",
            "door.opened",
            T0 + timedelta(days=2),
            Verdict(True, "allowed", "b1"),
            id="review date passed does not stop it",
        ),
        pytest.param(
            [basis(windows=NIGHT)],
            "r1",
            "door.opened",
            oslo(2026, 11, 2, 14, 0),
            Verdict(False, "outside_window", "b1"),
            id="outside window",
        ),
        pytest.param(
            [basis(windows=NIGHT)],
            "r1",
            "door.opened",
            oslo(2026, 11, 2, 23, 0),
            Verdict(True, "allowed", "b1"),
            id="inside window",
        ),
        pytest.param(
            [basis(windows=NIGHT)],
            "r1",
            "door.opened",
            oslo(2026, 11, 3, 7, 0),
            Verdict(False, "outside_window", "b1"),
            id="window end exclusive",
        ),
        pytest.param(
            [basis(withdrawn_at=oslo(2026, 11, 2, 2, 0), windows=NIGHT)],
            "r1",
            "door.opened",
            oslo(2026, 11, 2, 1, 59),
            Verdict(True, "allowed", "b1"),
            id="before withdrawal mid-night",
        ),
        pytest.param(
            [basis(withdrawn_at=oslo(2026, 11, 2, 2, 0), windows=NIGHT)],
            "r1",
            "door.opened",
            oslo(2026, 11, 2, 2, 0),
            Verdict(False, "withdrawn", "b1"),
            id="withdrawn mid-night takes effect at once",
        ),
        pytest.param(
            [basis(**HOL9)],
            "r1",
            "door.opened",
            T0 + timedelta(days=1),
            Verdict(False, "not_approved", "b1"),
            id="kapittel 9 not yet approved",
        ),
        pytest.param(
            [basis(**HOL9, approved_at=T0 + timedelta(days=2))],
            "r1",
            "door.opened",
            T0 + timedelta(days=1),
            Verdict(False, "not_approved", "b1"),
            id="kapittel 9 approved later",
        ),
        pytest.param(
            [basis(**HOL9, approved_at=T0 + timedelta(days=2))],
            "r1",
            "door.opened",
            T0 + timedelta(days=2),
            Verdict(True, "allowed", "b1"),
            id="kapittel 9 approved",
        ),
        pytest.param(
            [basis(basis=BasisKind.DECISION_4_6A)],
            "r1",
            "door.opened",
            T0,
            Verdict(True, "allowed", "b1"),
            id="4-6a needs no approval",
        ),
        pytest.param(
            [basis(basis=BasisKind.DECISION_4A)],
            "r1",
            "door.opened",
            T0,
            Verdict(True, "allowed", "b1"),
            id="4A",
        ),
        pytest.param(
            [], "r1", "device.battery_low", T0, Verdict(True, "not_personal"), id="technical"
        ),
        pytest.param([], "r1", "staff.alarm", T0, Verdict(True, "not_personal"), id="staff"),
        pytest.param([], "r1", "alarm.button", T0, Verdict(True, "own_call"), id="own call"),
        pytest.param(
            [], None, "door.opened", T0, Verdict(True, "not_personal"), id="no resident placed"
        ),
        pytest.param([], "r1", "no.such", T0, Verdict(False, "unknown_kind"), id="unknown kind"),
        pytest.param(
            [basis(id="b2", withdrawn_at=T0), basis(id="b1")],
            "r1",
            "door.opened",
            T0 + timedelta(hours=1),
            Verdict(True, "allowed", "b1"),
            id="any allowing basis is enough",
        ),
        pytest.param(
            [basis(id="a", withdrawn_at=T0), basis(id="b", windows=NIGHT)],
            "r1",
            "door.opened",
            oslo(2026, 11, 2, 12, 0),
            Verdict(False, "outside_window", "b"),
            id="closest refusal named",
        ),
    ],
)
def test_check(
    bases: list[LegalBasis], resident: str | None, kind: str, at: datetime, expected: Verdict
) -> None:
    assert check(bases, resident, kind, at, OSLO) == expected
    assert check(reversed(bases), resident, kind, at, OSLO) == expected
    assert expected.reason in REASONS


# The October night: clocks go back 03:00 -> 02:00 on 25 Oct 2026 (Oslo).
# The March night: clocks go forward 02:00 -> 03:00 on 28 Mar 2027.
@pytest.mark.parametrize(
    ("at", "allowed"),
    [
        (utc(2026, 10, 24, 19, 59), False),  # 21:59 CEST
        (utc(2026, 10, 24, 20, 0), True),  # 22:00 CEST
        (utc(2026, 10, 25, 0, 30), True),  # 02:30 CEST, first pass
        (utc(2026, 10, 25, 1, 30), True),  # 02:30 CET, second pass
        (utc(2026, 10, 25, 5, 59), True),  # 06:59 CET
        (utc(2026, 10, 25, 6, 0), False),  # 07:00 CET: window lasted ten real hours
        (utc(2027, 3, 27, 21, 0), True),  # 22:00 CET
        (utc(2027, 3, 28, 0, 59), True),  # 01:59 CET
        (utc(2027, 3, 28, 1, 0), True),  # 03:00 CEST, the gap skipped
        (utc(2027, 3, 28, 4, 59), True),  # 06:59 CEST
        (utc(2027, 3, 28, 5, 0), False),  # 07:00 CEST: eight real hours
    ],
)
def test_window_across_dst_nights(at: datetime, allowed: bool) -> None:
    b = basis(valid_from=utc(2026, 1, 1), valid_to=None, windows=NIGHT)
    assert check([b], "r1", "door.opened", at, OSLO).allowed is allowed


def test_real_hours_allowed_per_dst_night() -> None:
    b = basis(valid_from=utc(2026, 1, 1), valid_to=None, windows=NIGHT)

    def minutes_allowed(start: datetime) -> int:
        return sum(
            check([b], "r1", "door.opened", start + timedelta(minutes=m), OSLO).allowed
            for m in range(24 * 60)
        )

    assert minutes_allowed(utc(2026, 10, 24, 12)) == 10 * 60
    assert minutes_allowed(utc(2027, 3, 27, 12)) == 8 * 60
    assert minutes_allowed(utc(2026, 11, 14, 12)) == 9 * 60


def test_naive_instant_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        check([basis()], "r1", "door.opened", datetime(2026, 11, 2), OSLO)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kinds": frozenset()}, "kinds"),
        ({"kinds": frozenset({"door.slammed"})}, "unknown event kinds"),
        ({"valid_from": datetime(2026, 1, 1)}, "valid_from must carry"),
        ({"valid_to": T0}, "valid_to must be after"),
        ({"approved_at": T0}, "decision_hol_9"),
        ({"resident_id": " "}, "resident_id"),
        ({"retention_days": 0}, "retention_days"),
        ({"visible_to": frozenset({"Leader!"})}, "role"),
        ({"basis": "consent"}, "BasisKind"),
    ],
)
def test_invalid_basis_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        basis(**changes)


def test_json_round_trip_full() -> None:
    b = basis(
        basis=BasisKind.DECISION_HOL_9,
        approved_at=T0,
        withdrawn_at=T0 + timedelta(days=3),
        windows=(*NIGHT, TimeWindow.parse("12:00-13:00")),
        visible_to=frozenset({"nattevakt", "leader"}),
        relatives_consulted=("daughter (verge)",),
        retention_days=14,
        purpose="Be told if she leaves at night",
    )
    data = basis_to_json(b)
    assert basis_from_json(data) == b
    assert data["kinds"] == ["door.closed", "door.opened"]
    assert data["windows"] == ["22:00-07:00", "12:00-13:00"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"basis": "whim"}, "basis must be one of"),
        ({"valid_from": "yesterday"}, "valid_from is not an RFC 3339"),
        ({"valid_from": "2026-01-01T00:00:00"}, "valid_from must carry"),
        ({"valid_from": None}, "valid_from is required"),
        ({"windows": ["22-07"]}, "window"),
        ({"kinds": "door.opened"}, "kinds must be a list"),
        ({"retention_days": "30"}, "retention_days must be an integer"),
        ({"surprise": 1}, "unknown fields: surprise"),
        ({"store_events": "yes"}, "store_events"),
    ],
)
def test_json_refusals(changes: dict[str, Any], message: str) -> None:
    data = basis_to_json(basis()) | changes
    with pytest.raises(ValueError, match=message):
        basis_from_json(data)


def test_json_missing_required() -> None:
    data = basis_to_json(basis())
    del data["reference"]
    with pytest.raises(ValueError, match="reference is required"):
        basis_from_json(data)


# --- properties ------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
windows = st.builds(
    lambda a, b: TimeWindow.parse(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}"),
    st.integers(0, 1439),
    st.integers(0, 1439),
)


@st.composite
def bases(draw: st.DrawFn) -> LegalBasis:
    start = draw(instants)
    length = draw(st.none() | st.integers(1, 800))
    kind = draw(st.sampled_from(list(BasisKind)))
    approved = draw(st.none() | instants) if kind is BasisKind.DECISION_HOL_9 else None
    return basis(
        id=draw(st.sampled_from(["a", "b", "c"])),
        resident_id=draw(st.sampled_from(["r1", "r2"])),
        kinds=frozenset(draw(st.lists(st.sampled_from(PERSONAL), min_size=1, max_size=4))),
        basis=kind,
        valid_from=start,
        valid_to=None if length is None else start + timedelta(days=length),
        approved_at=approved,
        withdrawn_at=draw(st.none() | instants),
        windows=tuple(draw(st.lists(windows, max_size=2))),
    )


@given(st.lists(bases(), max_size=5), st.sampled_from(PERSONAL), instants)
def test_allowed_iff_some_basis_allows(bs: list[LegalBasis], kind: str, at: datetime) -> None:
    verdict = check(bs, "r1", kind, at, OSLO)
    ok = [
        b
        for b in bs
        if b.resident_id == "r1"
        and kind in b.kinds
        and (b.withdrawn_at is None or at < b.withdrawn_at)
        and b.valid_from <= at
        and (b.valid_to is None or at < b.valid_to)
        and (b.basis is not BasisKind.DECISION_HOL_9 or (b.approved_at or at + T0.resolution) <= at)
        and (not b.windows or any(w.contains(at, OSLO) for w in b.windows))
    ]
    assert verdict.allowed is bool(ok)
    assert verdict.reason in REASONS
    covering = [b for b in bs if b.resident_id == "r1" and kind in b.kinds]
    assert (verdict.reason == "no_basis") is (not covering)
    if verdict.basis_id is not None:
        assert verdict.basis_id in {b.id for b in covering}
    # Order does not matter, and the index gives the same answer as a scan.
    assert check(list(reversed(bs)), "r1", kind, at, OSLO) == verdict
    assert check(index_bases(bs).get(("r1", kind), ()), "r1", kind, at, OSLO) == verdict


@given(st.lists(bases(), max_size=5), instants)
def test_withdrawn_allows_nothing_after(bs: list[LegalBasis], at: datetime) -> None:
    withdrawn = [dataclasses.replace(b, withdrawn_at=at) for b in bs]
    for kind in PERSONAL:
        assert not check(withdrawn, "r1", kind, at, OSLO).allowed


@given(bases())
def test_json_round_trip(b: LegalBasis) -> None:
    assert basis_from_json(basis_to_json(b)) == b
