"""What each device type can report, so a placement can be checked against the bases.

A device placed for a resident must be covered: for every kind it reports that
needs a basis, some basis of that resident must cover it and be in force (not
withdrawn, not expired, approved where kapittel 9 requires it). Time windows do
not matter here: a door sensor allowed 22:00-07:00 may be installed at noon.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from devices.catalogue import lookup
from devices.reading import UnknownModel
from rules.consent import NO_BASIS_KINDS, LegalBasis, check_basis

# device type -> the event kinds it reports (besides the device.* kinds every device sends).
DEVICE_TYPE_KINDS: dict[str, frozenset[str]] = {
    "alarm_button": frozenset({"alarm.button"}),
    "staff_alarm_button": frozenset({"staff.alarm"}),
    "smoke_detector": frozenset({"smoke.detected"}),
    "water_sensor": frozenset({"water.leak"}),
    "door_contact": frozenset({"door.opened", "door.closed"}),
    "bed_sensor": frozenset({"bed.exit", "bed.enter"}),
    "motion_sensor": frozenset({"room.motion", "room.no_motion"}),
    "fall_sensor": frozenset({"fall.detected", "floor.person"}),
    "floor_sensor": frozenset({"floor.person"}),
    "stove_guard": frozenset({"stove.on", "stove.off", "stove.cutoff"}),
    "gps_tracker": frozenset({"gps.position", "geofence.exit", "geofence.enter"}),
    "staff_tag": frozenset({"presence.staff_in", "presence.staff_out"}),
}


def kinds_of(device_type: str) -> frozenset[str] | None:
    """What a device reports: by generic type, or by its model in the device catalogue
    (a gateway needs the model, e.g. ``MCCGQ11LM``); None when neither is known."""
    kinds = DEVICE_TYPE_KINDS.get(device_type)
    if kinds is not None:
        return kinds
    try:
        return lookup(device_type).kinds
    except UnknownModel:
        return None


class PlacementRefused(ValueError):
    """The device may not be activated for this resident; the message says why."""


def placement_problem(
    device_type: str, resident_id: str | None, bases: Iterable[LegalBasis], at: datetime
) -> str | None:
    """Why a device of ``device_type`` may not serve ``resident_id`` now; None when it may."""
    if resident_id is None:
        return None
    kinds = kinds_of(device_type)
    if kinds is None:
        return (
            f"unknown device type {device_type!r}: cannot tell what it would monitor, so it"
            " cannot be placed for a resident"
        )
    needed = sorted(k for k in kinds if k not in NO_BASIS_KINDS)
    in_force = [
        b
        for b in bases
        if b.resident_id == resident_id and check_basis(b, at, _ANY_ZONE) in _IN_FORCE
    ]
    missing = [k for k in needed if not any(k in b.kinds for b in in_force)]
    if missing:
        return (
            f"no legal basis in force for this resident covers {', '.join(missing)}:"
            " record the resident's consent or a decision first"
        )
    return None


def require_placement(
    device_type: str, resident_id: str | None, bases: Iterable[LegalBasis], at: datetime
) -> None:
    problem = placement_problem(device_type, resident_id, bases, at)
    if problem is not None:
        raise PlacementRefused(problem)


# Windows do not matter for a placement, so the zone given to the check does not either.
_IN_FORCE = frozenset({"allowed", "outside_window"})
_ANY_ZONE = ZoneInfo("UTC")
