"""Flood containment, pure: per-device buckets, hysteresis, bounded memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.store.base import EventFilter
from rules.flood import FloodGuard, Verdict

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
E, S, C = Verdict.EVALUATE, Verdict.STARTED, Verdict.CONTAINED


def feed(guard: FloodGuard, device: str, every_s: float, n: int, start: datetime = T0) -> list[Verdict]:
    return [guard.admit(device, start + timedelta(seconds=i * every_s)) for i in range(n)]


def test_a_device_over_the_limit_is_contained_once_started() -> None:
    g = FloodGuard(limit=20)
    verdicts = feed(g, "btn", 0.25, 40)  # 4 a second
    assert verdicts[:20] == [E] * 20 and verdicts[20] == S and set(verdicts[21:]) == {C}
    assert g.flooding("btn") and not g.flooding("other")


@pytest.mark.parametrize("every_s", [0.5, 1.0, 2.0, 30.0])  # 2/s, a 1 Hz GPS, a flapping door
def test_ordinary_rates_are_never_contained(every_s: float) -> None:
    assert set(feed(FloodGuard(limit=20), "dev", every_s, 500)) == {E}


def test_the_flood_ends_after_a_quiet_bucket_not_on_the_edge() -> None:
    g = FloodGuard(limit=20)
    feed(g, "btn", 0.25, 60)  # flooding from the 21st event
    after = T0 + timedelta(seconds=15)
    # 1.5 a second (15 per bucket, over half the limit): still contained.
    assert set(feed(g, "btn", 0.66, 60, after)) == {C}
    calm = after + timedelta(seconds=60 * 0.66)  # at once, no silent gap
    verdicts = feed(g, "btn", 5.0, 10, calm)  # 2 per bucket
    assert C in verdicts[:3] and verdicts[-1] is E and not g.flooding("btn")


def test_a_silent_gap_ends_the_flood() -> None:
    g = FloodGuard(limit=20)
    feed(g, "btn", 0.1, 30)
    assert g.admit("btn", T0 + timedelta(minutes=5)) is E


def test_limits_below_two_are_refused_and_zero_is_off() -> None:
    with pytest.raises(ValueError):
        FloodGuard(limit=1)
    assert set(feed(FloodGuard(limit=0), "btn", 0.01, 500)) == {E}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.floats(0, 5)), max_size=300))
def test_at_most_one_start_per_flood_and_contained_only_while_flooding(
    steps: list[tuple[str, float]],
) -> None:
    g = FloodGuard(limit=5)
    t = T0
    flooding: dict[str, bool] = {}
    for device, gap in steps:
        t += timedelta(seconds=gap)
        v = g.admit(device, t)
        if v is S:
            assert not flooding.get(device)
        if v is C:
            assert flooding.get(device)
        flooding[device] = g.flooding(device)
        assert flooding[device] == (v is not E)


async def test_a_backlog_after_an_outage_is_no_flood_but_a_burst_is() -> None:
    """The hub counts by the events' own time: an hour of a sensor's backlog arriving at
    once is evaluated; the same number stamped within seconds is contained."""
    import uuid6

    from devices.events import make_event
    from hub.service import Hub
    from hub.store.memory import MemoryStore

    store = MemoryStore()
    hub = Hub(store, clock=lambda: T0 + timedelta(hours=2))
    await hub.start()
    try:
        for device, gap in (("backlog", 30.0), ("burst", 0.1)):
            for i in range(60):
                event = make_event(
                    id=str(uuid6.uuid7()), site="s", gateway="g", device=device,
                    kind="room.motion", ts=T0 + timedelta(seconds=i * gap), seq=i + 1,
                )  # fmt: skip
                hub.handle_message(event.model_dump_json().encode(), "trygg/v1/s/g/events")
        await hub.drain()
        assert hub.metrics.events_flood_contained._value.get() == 40  # after the 20th
        assert hub.flood.flooding("burst") and not hub.flood.flooding("backlog")
        assert [a.device for a in hub.open_alerts()] == ["burst"]
        assert len(store.list_events(EventFilter(limit=1000))) == 120  # nothing lost
    finally:
        await hub.stop()
