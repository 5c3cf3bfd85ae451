"""Legal bases for the demo residents, so the demo night is lawful (and shows the drops).

Fictional decisions: each resident gets a basis per measure their devices need,
valid from two days ago for a year: door sensors on a § 4-6 a decision, bed,
motion and fall sensors on consent. Alarm buttons, smoke detectors and staff
alarms need no basis. No time windows: the demo stamps events with the wall
clock (``stamp=live``), so a demo started at noon plays its night at noon, and
a 22:00-07:00 window would drop the night's door and bed traffic. Windows are
exercised in tests/unit/test_consent_check.py and test_consent_ingest.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from devices.localtime import TimeWindow
from hub.consent.devices import kinds_of
from hub.consent.records import BasisAction, BasisChange
from hub.store.base import Store
from rules.consent import NO_BASIS_KINDS, BasisKind, LegalBasis
from simulators.scenario import Scenario
from trygg.seed_relatives import demo_notify, seed_demo_relatives

ANY_HOUR: tuple[TimeWindow, ...] = ()
# device type -> (measure, basis, windows, purpose)
_MEASURES: dict[str, tuple[str, BasisKind, tuple[TimeWindow, ...], str]] = {
    "door_contact": (
        "exit_door",
        BasisKind.DECISION_4_6A,
        ANY_HOUR,
        "Staff are told if the entrance door opens at night, so nobody leaves alone unseen.",
    ),
    "bed_sensor": (
        "night_supervision",
        BasisKind.CONSENT,
        ANY_HOUR,
        "Staff are told at night if you leave your bed and do not come back.",
    ),
    "motion_sensor": (
        "night_supervision",
        BasisKind.CONSENT,
        ANY_HOUR,
        "Staff are told at night if you leave your bed and do not come back.",
    ),
    "fall_sensor": (
        "fall",
        BasisKind.CONSENT,
        (),
        "Staff are told at once if you fall, at any time of day.",
    ),
    "stove_guard": (
        "stove_guard",
        BasisKind.CONSENT,
        (),
        "Home care is told if the stove is left on or the stove guard cuts it off.",
    ),
    "gps_tracker": (
        "location",
        BasisKind.DECISION_4_6A,
        (),
        "Home care is told if you leave the agreed area, so you can be helped home.",
    ),
}


def demo_bases(scenario: Scenario, now: datetime) -> list[LegalBasis]:
    kinds: dict[tuple[str, str], set[str]] = {}
    for device in scenario.devices:
        if device.resident is None or device.type not in _MEASURES:
            continue
        measure = _MEASURES[device.type][0]
        reported = kinds_of(device.type) or frozenset()
        kinds.setdefault((device.resident, device.type), set()).update(
            k for k in reported if k not in NO_BASIS_KINDS
        )
    merged: dict[tuple[str, str], tuple[set[str], str]] = {}
    for (resident, dtype), ks in kinds.items():
        measure = _MEASURES[dtype][0]
        entry = merged.setdefault((resident, measure), (set(), dtype))
        entry[0].update(ks)
    out = []
    for (resident, measure), (ks, dtype) in sorted(merged.items()):
        _, basis, windows, purpose = _MEASURES[dtype]
        out.append(
            LegalBasis(
                id=f"demo-{resident}-{measure}",
                resident_id=resident,
                measure=measure,
                kinds=frozenset(ks),
                basis=basis,
                decided_by="demo-leader",
                reference=f"DEMO-{measure.upper()}-{resident}",
                valid_from=now - timedelta(days=2),
                valid_to=now + timedelta(days=365),
                review_at=now + timedelta(days=180),
                windows=windows,
                visible_to=frozenset({"nattevakt", "staff", "leader"}),
                purpose=purpose,
                notify_relatives=demo_notify(resident, measure),
            )
        )
    return out


def seed_demo_bases(store: Store, scenario: Scenario, now: datetime) -> int:
    seed_demo_relatives(store, scenario, now)  # the relatives the bases name
    bases = demo_bases(scenario, now)
    for basis in bases:
        store.save_basis(basis, BasisChange(basis.id, now, "demo-leader", BasisAction.RECORD))
    return len(bases)
