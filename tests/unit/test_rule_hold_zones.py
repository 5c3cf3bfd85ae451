"""`hold` (cancellable alerts held from staff) and per-resident geofence `zones`."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest
from rule_harness import engine, ev, local, raised, run, where

from rules.loader import RulesInvalid, parse_pack

M = timedelta(minutes=1)
GEO = """
rules:
  - name: geo
    when: {kind: geofence.exit}
    enabled: false
    raise: {category: resident, priority: high, message: "Left {zone}"}
overrides:
  res-1: {geo: {enabled: true, zones: [walk-area]}}
  res-2: {geo: {enabled: true}}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(RulesInvalid) as caught:
        parse_pack([("t.yaml", textwrap.dedent(text))])
    return [p.reason for p in caught.value.problems]


def test_zones_limit_a_geofence_rule_to_the_agreed_area_of_one_resident() -> None:
    eng = engine(GEO)
    at = local("2026-11-24", "15:00")

    def alerts(resident: str, zone: str) -> int:
        e = ev("geofence.exit", at, f"gps-{resident}", {"zone": zone})
        return len(raised(run(eng, [(e, where(e.device, resident=resident))])))

    assert alerts("res-1", "walk-area") == 1
    assert alerts("res-1", "home") == 0  # the daily walk leaves home: no alarm
    assert alerts("res-2", "home") == 1  # no zones given: any zone
    assert alerts("res-3", "walk-area") == 0  # not switched on for this resident


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("rules:\n  - {name: r, when: {kind: water.leak}, hold: 1m,"
         " raise: {category: resident, priority: high, message: m}}\n",
         "only on a rule with cancel_on_clear: true"),
        ("rules:\n  - {name: r, when: {kind: water.leak},"
         " raise: {category: resident, priority: high, message: m}}\n"
         "overrides: {res-1: {r: {zones: [home]}}}\n",
         "only rules on geofence.enter/exit have 'zones'"),
        (GEO.replace("zones: [walk-area]", "zones: walk-area"),
         "expected a list of zone names, got 'walk-area'"),
    ],
)
def test_hold_and_zones_mistakes(text: str, reason: str) -> None:
    assert reason in problems(text)


def test_the_hold_defaults_to_a_minute_and_can_be_set() -> None:
    base = """
    rules:
      - name: wander
        when: {kind: door.opened}
        absent: {any: [{kind: door.closed}], within: 3m}
        cancel_on_clear: true
        HOLD
        raise: {category: resident, priority: high, message: m}
    """
    at = local("2026-11-24", "02:00")
    events = [(ev("door.opened", at, "door"), where("door"))]
    for hold, released in (("", 4.0), ("hold: 30s", 3.5)):
        seen = run(engine(base.replace("HOLD", hold)), events, until=at + 10 * M)
        releases = [s.at for s in seen if s.what == "release"]
        assert releases == [at + released * M]
