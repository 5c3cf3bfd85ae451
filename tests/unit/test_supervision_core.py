"""The supervisor on a simulated clock: windows, recovery, battery, tamper, the heap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.registry import Placement
from hub.supervision import policy
from hub.supervision.core import BatteryLow, BatteryOk, Offline, Recovered, Supervisor, Tampered

T0 = datetime(2024, 11, 23, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)
GW = timedelta(seconds=90)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run_until(sup: Supervisor, end: datetime) -> list[Offline]:
    """Wake exactly when the supervisor asks, as the shell does."""
    found: list[Offline] = []
    while (wake := sup.next_wake()) is not None and wake <= end:
        found += sup.due(wake)
    return found


def test_silent_past_window_goes_offline_at_the_deadline() -> None:
    sup = Supervisor()
    sup.watch("gw", GW, T0)
    assert sup.next_wake() == at(90)
    assert sup.due(at(89)) == []
    [off] = sup.due(at(90))
    assert off == Offline("gw", T0, at(90), at(90))
    assert sup.due(at(500)) == []  # offline once, not again and again


def test_heartbeats_keep_it_alive_without_heap_traffic() -> None:
    sup = Supervisor()
    sup.watch("gw", GW, T0)
    for n in range(1, 100):
        sup.seen("gw", at(30 * n))
    assert sup.heap_size() == 1  # one live entry, whatever the number of heartbeats
    assert run_until(sup, at(30 * 99)) == []
    [off] = run_until(sup, at(30 * 99 + 90))
    assert off.last_seen == at(30 * 99) and off.deadline == at(30 * 99 + 90)


def test_recovery_reports_the_outage_and_rearms() -> None:
    sup = Supervisor()
    sup.watch("d", 3 * 3600 * S, T0)
    run_until(sup, at(4 * 3600))
    back = sup.seen("d", at(5 * 3600))
    assert isinstance(back, Recovered)
    assert back.offline_since == T0 and back.back_at == at(5 * 3600)
    assert back.outage == timedelta(hours=5)
    assert sup.seen("d", at(5 * 3600 + 10)) is None  # only the first sign recovers
    [off] = run_until(sup, at(9 * 3600))
    assert off.deadline == at(5 * 3600 + 10 + 3 * 3600)


def test_old_reports_are_no_news() -> None:
    sup = Supervisor()
    sup.watch("d", GW, at(100))
    assert sup.seen("d", at(50)) is None  # a retained status older than we know
    [off] = sup.due(at(190))
    assert off.last_seen == at(100)
    assert sup.state("d").offline_since == at(100)  # type: ignore[union-attr]
    assert sup.seen("d", at(100)) is None  # the same report again: still offline
    # A late report of life within the window: it was alive after all, the alert closes.
    back = sup.seen("d", at(150))
    assert back is not None and back.offline_since == at(100)


def test_forgotten_watches_never_fire_and_unknown_keys_are_ignored() -> None:
    sup = Supervisor()
    sup.watch("d", GW, T0)
    sup.forget("d")
    assert sup.due(at(1000)) == []
    assert sup.seen("nobody", T0) is None
    assert sup.battery("nobody", 1, True, T0) is None
    assert sup.tampered("nobody", T0) is None


def test_a_shorter_window_takes_effect_at_once() -> None:
    sup = Supervisor()
    sup.watch("b", timedelta(hours=24), T0)
    sup.watch("b", timedelta(hours=4), T0)
    [off] = run_until(sup, at(5 * 3600))
    assert off.deadline == at(4 * 3600)


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        # (flagged_low, pct) in order -> the findings, None where nothing is said
        ([(True, None), (True, None), (True, None)], [None, None, "low"]),
        ([(False, 10), (False, 12), (False, 14)], [None, None, "low"]),
        ([(True, None), (False, 80), (True, None), (True, None)], [None, None, None, None]),
        ([(True, None)] * 4 + [(False, 90)], [None, None, "low", None, "ok"]),
        ([(False, None), (False, None)], [None, None]),  # no reading at all
        ([(False, 15), (False, 15), (False, 15)], [None, None, None]),  # at the threshold: ok
    ],
)
def test_battery_low_after_n_consecutive_low_readings(
    readings: list[tuple[bool, int | None]], expected: list[str | None]
) -> None:
    sup = Supervisor(battery_readings=3)
    sup.watch("d", GW, T0)
    names = {BatteryLow: "low", BatteryOk: "ok"}
    got = []
    for n, (flag, pct) in enumerate(readings):
        f = sup.battery("d", pct, flag, at(n))
        got.append(None if f is None else names[type(f)])
    assert got == expected


def test_tamper_counts_at_once() -> None:
    sup = Supervisor()
    sup.watch("d", GW, T0)
    assert sup.tampered("d", at(1)) == Tampered("d", at(1))
    assert sup.state("d").tampered_at == at(1)  # type: ignore[union-attr]
    sup.clear_tamper("d")
    assert sup.state("d").tampered_at is None  # type: ignore[union-attr]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="battery_readings"):
        Supervisor(battery_readings=0)
    with pytest.raises(ValueError, match="positive"):
        Supervisor().watch("d", timedelta(0), T0)


@settings(max_examples=60, deadline=None)
@given(
    windows=st.lists(st.integers(30, 4000), min_size=1, max_size=20),
    beats=st.lists(st.tuples(st.integers(0, 19), st.integers(0, 20_000)), max_size=200),
)
def test_detection_is_exact_against_a_brute_force_model(
    windows: list[int], beats: list[tuple[int, int]]
) -> None:
    """Woken at every next_wake, each device goes offline exactly at last_seen + window of
    every silence longer than its window, and never otherwise."""
    sup = Supervisor()
    for i, w in enumerate(windows):
        sup.watch(f"d{i}", timedelta(seconds=w), T0)
    beats = sorted((t, i % len(windows)) for i, t in beats)
    expected: set[tuple[str, datetime]] = set()
    last = {f"d{i}": 0 for i in range(len(windows))}
    for t, i in beats:
        key = f"d{i}"
        if t - last[key] >= windows[i]:
            expected.add((key, at(last[key] + windows[i])))
        last[key] = max(last[key], t) if t - last[key] < windows[i] else t
    end = 30_000
    for key, seen in last.items():
        if end - seen >= windows[int(key[1:])]:
            expected.add((key, at(seen + windows[int(key[1:])])))
    got: set[tuple[str, datetime]] = set()
    for t, i in beats:
        for off in run_until(sup, at(t)):
            got.add((off.key, off.deadline))
            assert off.detected_at == off.deadline  # woken on time: no delay at all
        sup.seen(f"d{i}", at(t))
    for off in run_until(sup, at(end)):
        got.add((off.key, off.deadline))
    assert got == expected


# --- policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("device_type", "cls"),
    [
        ("alarm_button", "alarm_button"),
        ("WXKG11LM", "alarm_button"),
        ("HS1EB/HS1EB-E", "alarm_button"),
        ("DJT11LM", "fall_sensor"),
        ("MCCGQ11LM", "door_contact"),
        ("HS1SA", "smoke_detector"),
        ("RTCZCGQ11LM", "bed_sensor"),
        ("no-such-model", "unknown"),
    ],
)
def test_device_class(device_type: str, cls: str) -> None:
    assert policy.device_class(device_type) == cls


def test_windows_defaults_and_overrides() -> None:
    w = policy.Windows()
    assert w.for_class("gateway").window == timedelta(seconds=90)
    assert w.for_class("gateway").interval == timedelta(seconds=30)
    assert w.for_type("WXKG11LM").window == timedelta(hours=12)
    assert w.for_class("no-such-class").window == policy.DEFAULTS["unknown"].window
    w = policy.Windows({"alarm_button": timedelta(hours=6)})
    assert w.for_class("alarm_button").window == timedelta(hours=6)
    assert w.for_class("alarm_button").interval == timedelta(hours=4)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"alarm_button": timedelta(hours=2)}, "4-24 h"),
        ({"alarm_button": timedelta(hours=25)}, "4-24 h"),
        ({"toaster": timedelta(hours=1)}, "unknown device class"),
    ],
)
def test_windows_refuse_bad_overrides(overrides: dict[str, timedelta], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        policy.Windows(overrides)


def _placement(device_type: str, resident: str | None = "res-1") -> Placement:
    return Placement(device="d", device_type=device_type, site="s", gateway="g", unit="u",
                     resident_id=resident)


@pytest.mark.parametrize(
    ("p", "critical"),
    [
        (_placement("alarm_button"), True),
        (_placement("WXKG11LM"), True),
        (_placement("fall_sensor"), True),
        (_placement("door_contact"), True),
        (_placement("alarm_button", resident=None), False),  # in stock, serves nobody
        (_placement("smoke_detector"), False),
        (None, False),
    ],
)
def test_safety_critical(p: Placement | None, critical: bool) -> None:
    assert policy.safety_critical(p) is critical


@pytest.mark.parametrize(
    ("utc", "night"),
    [
        (datetime(2024, 11, 23, 20, 59, tzinfo=UTC), False),  # 21:59 Oslo
        (datetime(2024, 11, 23, 21, 0, tzinfo=UTC), True),  # 22:00 Oslo
        (datetime(2024, 11, 24, 5, 59, tzinfo=UTC), True),  # 06:59 Oslo
        (datetime(2024, 11, 24, 6, 0, tzinfo=UTC), False),  # 07:00 Oslo
        (datetime(2024, 7, 1, 20, 0, tzinfo=UTC), True),  # 22:00 Oslo in summer time
    ],
)
def test_night_in_the_sites_zone(utc: datetime, night: bool) -> None:
    assert policy.is_night(utc, "Europe/Oslo") is night


def test_next_night() -> None:
    noon = datetime(2024, 11, 23, 11, 0, tzinfo=UTC)
    assert policy.next_night(noon, "Europe/Oslo") == datetime(2024, 11, 23, 21, 0, tzinfo=UTC)
    late = datetime(2024, 11, 23, 23, 0, tzinfo=UTC)
    assert policy.next_night(late, "Europe/Oslo") == late


def test_an_outage_open_before_a_restart_recovers_on_the_next_sign_of_life() -> None:
    sup = Supervisor()
    sup.watch("d", GW, at(1000))  # the new process's grace
    sup.assume_offline("d", at(500))
    assert sup.state("d").offline_since == at(410)  # type: ignore[union-attr]
    assert run_until(sup, at(5000)) == []  # already offline: nothing new
    back = sup.seen("d", at(5000))
    assert back is not None and back.offline_since == at(410)
    [off] = run_until(sup, at(6000))  # supervised again after the recovery
    assert off.deadline == at(5090)
