"""The hub's response to a flooding device and a flapping sensor (issue 9's fault
generators, ``simulators/faults.py``), in-process at simulated time through
``Hub.handle_message``: nothing valid lost, the flood contained, the flapping debounced."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

from hub.alerts import AlertState
from hub.store.base import EventFilter
from rules.flood import FLOOD_RULE
from simulators.faults import flap, flood
from simulators.scenario import load_scenario
from trygg.sim_inprocess import run_in_process

NIGHT = date(2026, 11, 3)


def stored_events(run: Any, device: str) -> int:
    rows = run.hub.store.list_events(EventFilter(device=device, limit=100_000))
    return len(rows)


async def test_a_flooding_alarm_button_is_contained_and_reported() -> None:
    s = load_scenario("night-unit")
    start = s.local_time(NIGHT, time(23, 40, 12))

    def add_flood(plan: list) -> list:  # type: ignore[type-arg]
        return flood(plan, "dev-a3-button", "alarm.button", start=start, count=400, every_s=0.25)

    run = await run_in_process(s, NIGHT, transform=add_flood)
    button = [a for a in run.alerts if a.device == "dev-a3-button"]
    by_rule = {a.rule: a for a in button}
    assert sorted(a.rule for a in button) == ["alarm_button", FLOOD_RULE]  # one each
    flooding = by_rule[FLOOD_RULE]
    assert flooding.category == "technical" and "dev-a3-button is flooding" in flooding.message
    # Every press is stored; those after the limit are not evaluated (not even joined).
    planned = 401  # the scenario's own press and the flood
    assert stored_events(run, "dev-a3-button") >= planned
    contained = run.hub.metrics.events_flood_contained._value.get()
    assert contained == planned - run.hub.flood.limit
    assert len(by_rule["alarm_button"].event_ids) == run.hub.flood.limit
    # The rest of the night is untouched: every expected alert still comes.
    assert run.report.missing == []
    assert [u.rule for u in run.report.unexpected] == [FLOOD_RULE]


async def test_a_flood_of_colleague_alarms_stops_multiplying_alerts() -> None:
    s = load_scenario("colleague-alarm")
    start = s.local_time(s.night_of or NIGHT, time(1, 0))
    night = s.night_of or NIGHT

    def add_flood(plan: list) -> list:  # type: ignore[type-arg]
        return flood(plan, "lia-staff-kari", "staff.alarm", start=start, count=600, every_s=0.2)

    plain = await run_in_process(s, night)
    run = await run_in_process(s, night, transform=add_flood)
    colleague = [a for a in run.alerts if a.category == "colleague"]
    before = [a for a in plain.alerts if a.category == "colleague"]
    # Never merged, so the presses before the limit are alerts; the other ~580 are not.
    assert len(colleague) - len(before) <= run.hub.flood.limit
    assert sum(a.rule == FLOOD_RULE for a in run.alerts) == 1
    assert stored_events(run, "lia-staff-kari") == stored_events(plain, "lia-staff-kari") + 600


async def test_a_flapping_exit_door_raises_one_alert_not_a_storm() -> None:
    s = load_scenario("home-dementia")
    night = date(2026, 11, 23)
    start = s.local_time(night, time(1, 0), day=2)  # the last night, 01:00

    def add_flap(plan: list) -> list:  # type: ignore[type-arg]
        # 5 minutes of a contact toggling every 2 s, ending open (the door is open).
        return flap(plan, "johs-door", start=start, toggles=151, period_s=2.0,
                    data={"door": "exit"})  # fmt: skip

    plain = await run_in_process(s, night)
    run = await run_in_process(s, night, transform=add_flap)
    before = {(a.rule, a.raised_at): a for a in plain.alerts}
    new = [a for a in run.alerts if (a.rule, a.raised_at) not in before]
    # The door left open: night wandering, once, although it flapped 151 times (and
    # nothing else: the alerts the flapping withdrew while held were never shown).
    assert [a.rule for a in new if a.state is not AlertState.CANCELLED] == ["night_wandering"]
    assert all(start <= a.raised_at < start + timedelta(minutes=15) for a in new)
    # Johs's care plan (front door at night, cool-down 10 min): the flapping joins the
    # night-door alert still open from the night before, once, not 76 times.
    [door_before] = [a for a in plain.alerts if a.rule == "night_door_open"]
    [door_after] = [a for a in run.alerts if a.rule == "night_door_open"]
    assert len(door_after.event_ids) == len(door_before.event_ids) + 1
    assert run.report.missing == []
