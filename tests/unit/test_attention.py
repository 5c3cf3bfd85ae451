"""The attention order (pure): a table for each rank, the order of the brief's story,
and properties over any mix of subjects (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.supervision.attention import (
    TAMPER_SHOWN,
    Concern,
    Rank,
    Reason,
    Subject,
    SubjectKind,
    concerns_of,
    item,
    merge,
    order,
    rank_of,
    with_concern,
)
from hub.supervision.core import WatchState

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
R = Reason


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def subject(
    name: str,
    *concerns: tuple[Reason, float],
    kind: SubjectKind = "device",
    critical: bool = False,
) -> Subject:
    return Subject(
        kind=kind, site="s", gateway=name if kind == "gateway" else "gw", device=None
        if kind == "gateway" else name, device_class="gateway" if kind == "gateway" else "x",
        unit=None, units=(), critical=critical,
        concerns=tuple(Concern(r, ago(m)) for r, m in concerns),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "critical", "reason", "rank"),
    [
        ("device", True, R.OFFLINE, Rank.CRITICAL_OFFLINE),
        ("gateway", True, R.OFFLINE, Rank.CRITICAL_OFFLINE),
        ("gateway", False, R.OFFLINE, Rank.GATEWAY_OFFLINE),
        ("device", False, R.TAMPER, Rank.TAMPER),
        ("device", True, R.TAMPER, Rank.TAMPER),
        ("device", True, R.BATTERY_LOW, Rank.CRITICAL_BATTERY_LOW),
        ("device", False, R.OFFLINE, Rank.OFFLINE),
        ("device", False, R.BATTERY_LOW, Rank.BATTERY_LOW),
        ("device", False, R.SERVICE_OVERDUE, Rank.SERVICE_OVERDUE),
        ("device", True, R.SERVICE_OVERDUE, Rank.SERVICE_OVERDUE),
        ("gateway", False, R.SERVICE_OVERDUE, Rank.SERVICE_OVERDUE),
    ],
)
def test_rank_table(kind: SubjectKind, critical: bool, reason: Reason, rank: Rank) -> None:
    assert rank_of(kind, critical, reason) is rank


def test_the_order_of_a_night() -> None:
    subjects = [
        subject("overdue", (R.SERVICE_OVERDUE, 60 * 24 * 30)),
        subject("battery", (R.BATTERY_LOW, 600)),
        subject("smoke-offline", (R.OFFLINE, 500)),
        subject("button-battery", (R.BATTERY_LOW, 5), critical=True),
        subject("tampered", (R.TAMPER, 1)),
        subject("gw-quiet", (R.OFFLINE, 3), kind="gateway"),
        subject("fall-offline", (R.OFFLINE, 2), critical=True),
        subject("button-offline", (R.OFFLINE, 20), critical=True),
    ]
    keys = [it.subject.key for it in order(subjects)]
    assert keys == [
        "button-offline",  # safety-critical offline, the longer-standing first
        "fall-offline",
        "gw:s/gw-quiet",
        "tampered",
        "button-battery",
        "smoke-offline",
        "battery",
        "overdue",
    ]


def test_a_subject_is_ranked_by_its_worst_concern_since_that_concern() -> None:
    s = subject("d", (R.BATTERY_LOW, 900), (R.TAMPER, 10), (R.SERVICE_OVERDUE, 9000))
    it = item(s)
    assert it is not None and it.rank is Rank.TAMPER and it.since == ago(10)
    assert item(subject("fine")) is None
    assert order([subject("fine")]) == []


def test_concerns_from_a_watch_state() -> None:
    state = WatchState(key="d", last_seen=ago(300), window=timedelta(hours=3),
                       offline_since=ago(300), battery_low=True, tampered_at=ago(30),
                       low_since=ago(400))  # fmt: skip
    found = concerns_of(state, NOW, service_due=ago(60))
    assert found == (
        Concern(R.OFFLINE, ago(300)),
        Concern(R.BATTERY_LOW, ago(400)),
        Concern(R.TAMPER, ago(30)),
        Concern(R.SERVICE_OVERDUE, ago(60)),
    )
    fine = WatchState(key="d", last_seen=ago(1), window=timedelta(hours=3), offline_since=None,
                      battery_low=False, tampered_at=None)  # fmt: skip
    assert concerns_of(fine, NOW) == ()
    assert concerns_of(fine, NOW, service_due=NOW + timedelta(days=1)) == ()
    assert concerns_of(None, NOW, service_due=ago(1)) == (Concern(R.SERVICE_OVERDUE, ago(1)),)


def test_a_tamper_report_leaves_the_list_after_a_day() -> None:
    def state(at: datetime) -> WatchState:
        return WatchState(key="d", last_seen=NOW, window=timedelta(hours=3), offline_since=None,
                          battery_low=False, tampered_at=at)  # fmt: skip

    assert concerns_of(state(NOW - TAMPER_SHOWN + timedelta(seconds=1)), NOW) != ()
    assert concerns_of(state(NOW - TAMPER_SHOWN), NOW) == ()


def test_with_concern_keeps_one_per_reason_the_earliest() -> None:
    s = subject("d", (R.OFFLINE, 10))
    s = with_concern(s, Concern(R.SERVICE_OVERDUE, ago(50)))
    s = with_concern(s, Concern(R.SERVICE_OVERDUE, ago(20)))
    assert sorted(s.concerns, key=lambda c: c.reason) == [
        Concern(R.OFFLINE, ago(10)), Concern(R.SERVICE_OVERDUE, ago(50))]  # fmt: skip


def test_merge_adds_concerns_to_the_same_device_and_keeps_the_rest() -> None:
    offline = subject("d", (R.OFFLINE, 10))
    due = subject("d", (R.SERVICE_OVERDUE, 100))
    other = subject("e", (R.SERVICE_OVERDUE, 5))
    merged = {s.key: s for s in merge([offline], [due, other])}
    assert sorted(merged) == ["d", "e"]
    assert {c.reason for c in merged["d"].concerns} == {R.OFFLINE, R.SERVICE_OVERDUE}
    assert merged["e"] == other
    assert merge([], []) == []


# --- properties --------------------------------------------------------------------------

concern = st.tuples(st.sampled_from(list(Reason)), st.integers(0, 60 * 24 * 60))
subjects = st.lists(
    st.builds(
        lambda i, kind, critical, cs: subject(f"d{i}", *cs, kind=kind, critical=critical),
        st.integers(0, 10_000),
        st.sampled_from(["device", "gateway"]),
        st.booleans(),
        st.lists(concern, max_size=4),
    ),
    max_size=30,
    unique_by=lambda s: s.key,
)


@given(subjects, st.randoms(use_true_random=False))
def test_order_is_sorted_complete_and_independent_of_input_order(
    found: list[Subject], rnd: object
) -> None:
    items = order(found)
    assert sorted(i.subject.key for i in items) == sorted(s.key for s in found if s.concerns)
    keys = [(i.rank, i.since, i.subject.key) for i in items]
    assert keys == sorted(keys)
    shuffled = list(found)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert order(shuffled) == items


@given(subjects)
def test_safety_critical_offline_always_comes_first(found: list[Subject]) -> None:
    ranks = [i.rank for i in order(found)]
    first_other = next((n for n, r in enumerate(ranks) if r is not Rank.CRITICAL_OFFLINE), None)
    if first_other is not None:
        assert Rank.CRITICAL_OFFLINE not in ranks[first_other:]
    for it in order(found):
        is_critical_offline = it.subject.critical and any(
            c.reason is R.OFFLINE for c in it.subject.concerns)  # fmt: skip
        assert (it.rank is Rank.CRITICAL_OFFLINE) == is_critical_offline


@given(subjects, concern)
def test_a_further_concern_never_makes_a_subject_less_urgent(
    found: list[Subject], extra: tuple[Reason, int]
) -> None:
    for s in found:
        before = item(s)
        after = item(with_concern(s, Concern(extra[0], ago(extra[1]))))
        assert after is not None
        if before is not None:
            assert (after.rank, after.since) <= (before.rank, before.since)
