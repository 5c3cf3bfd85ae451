"""How long each device class may stay silent, and which devices tonight's safety rests on.

Pure: device types, placements and ``now`` in, windows and verdicts out.

A device *class* is what the supervision cares about (``alarm_button``,
``door_contact``, ...). The registry stores either a class (``fall_sensor``) or
a catalogue model (``WXKG11LM``); :func:`device_class` maps a model to a class
through the kinds its catalogue definition reports.

The window is how long a device may stay silent before it counts as offline.
It is a few reporting intervals, so one lost message never raises an alert:
the gateway publishes its status every 30 s and is offline after 90 s; a
Zigbee sensor's gateway sends a ``device.heartbeat`` for it at least hourly
(``device_heartbeat_s``) and it is offline after 3 h; a body-worn alarm button
sleeps to save its battery and is offline after 12 h (configurable 4-24 h).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from devices import catalogue
from devices.localtime import TimeWindow, zone
from devices.reading import UnknownModel
from devices.registry import Placement

GATEWAY = "gateway"
UNKNOWN = "unknown"
ALARM_BUTTON_BOUNDS = (timedelta(hours=4), timedelta(hours=24))
# Night for the "tonight's safety net" question, in the site's time zone.
NIGHT = TimeWindow(time(22, 0), time(7, 0))
# Battery-low after this many consecutive low readings (one bad reading is noise).
BATTERY_LOW_READINGS = 3
BATTERY_LOW_PCT = catalogue.BATTERY_LOW_PCT


@dataclass(frozen=True, slots=True)
class Supervision:
    """A class reports at least every ``interval`` and is offline after ``window`` of silence."""

    interval: timedelta
    window: timedelta

    def __post_init__(self) -> None:
        if self.interval <= timedelta(0) or self.window < self.interval:
            raise ValueError("a supervision window must be at least one positive interval")


def _h(hours: float) -> timedelta:
    return timedelta(hours=hours)


DEFAULTS: Mapping[str, Supervision] = {
    GATEWAY: Supervision(timedelta(seconds=30), timedelta(seconds=90)),
    "alarm_button": Supervision(_h(4), _h(12)),
    "staff_alarm_button": Supervision(_h(4), _h(12)),
    "fall_sensor": Supervision(_h(1), _h(3)),
    "floor_sensor": Supervision(_h(1), _h(3)),
    "door_contact": Supervision(_h(1), _h(3)),
    "bed_sensor": Supervision(_h(1), _h(3)),
    "motion_sensor": Supervision(_h(1), _h(3)),
    "smoke_detector": Supervision(_h(1), _h(3)),
    "water_sensor": Supervision(_h(1), _h(3)),
    "stove_guard": Supervision(_h(1), _h(3)),
    "gps_tracker": Supervision(_h(1), _h(6)),
    "staff_tag": Supervision(_h(4), _h(24)),
    UNKNOWN: Supervision(_h(1), _h(6)),
}

# A silent one of these leaves a hole in tonight's safety net for the resident it serves.
SAFETY_CRITICAL: frozenset[str] = frozenset(
    {"alarm_button", "fall_sensor", "floor_sensor", "door_contact"}
)

# The first kind a catalogue model reports decides its class.
_KIND_CLASS: tuple[tuple[str, str], ...] = (
    ("alarm.button", "alarm_button"),
    ("staff.alarm", "staff_alarm_button"),
    ("fall.detected", "fall_sensor"),
    ("floor.person", "floor_sensor"),
    ("door.opened", "door_contact"),
    ("bed.exit", "bed_sensor"),
    ("room.motion", "motion_sensor"),
    ("smoke.detected", "smoke_detector"),
    ("water.leak", "water_sensor"),
    ("stove.on", "stove_guard"),
    ("gps.position", "gps_tracker"),
    ("presence.staff_in", "staff_tag"),
)


def device_class(device_type: str) -> str:
    """The supervision class of a registry device type (a class name or a catalogue model)."""
    if device_type in DEFAULTS:
        return device_type
    try:
        kinds = catalogue.lookup(device_type).kinds
    except UnknownModel:
        return UNKNOWN
    for kind, cls in _KIND_CLASS:
        if kind in kinds:
            return cls
    return UNKNOWN


class Windows:
    """The windows in force: the defaults with per-class overrides, checked once."""

    def __init__(self, overrides: Mapping[str, timedelta] | None = None) -> None:
        table = dict(DEFAULTS)
        for cls, window in (overrides or {}).items():
            if cls not in DEFAULTS:
                raise ValueError(f"unknown device class {cls!r}; known: {', '.join(DEFAULTS)}")
            if cls == "alarm_button":
                low, high = ALARM_BUTTON_BOUNDS
                if not low <= window <= high:
                    raise ValueError(f"alarm_button window must be 4-24 h, got {window}")
            base = DEFAULTS[cls]
            table[cls] = Supervision(min(base.interval, window), window)
        self._table = table

    def for_class(self, cls: str) -> Supervision:
        return self._table.get(cls, self._table[UNKNOWN])

    def for_type(self, device_type: str) -> Supervision:
        return self.for_class(device_class(device_type))


def safety_critical(placement: Placement | None) -> bool:
    """An alarm button, fall or exit-door sensor that serves a resident."""
    if placement is None or placement.resident_id is None:
        return False
    return device_class(placement.device_type) in SAFETY_CRITICAL


def is_night(now: datetime, tz: str) -> bool:
    return NIGHT.contains(now, zone(tz))


def next_night(now: datetime, tz: str) -> datetime:
    """When the next night begins (``now`` itself when it is night already)."""
    if is_night(now, tz):
        return now
    edge = NIGHT.next_edge(now, zone(tz))
    assert edge is not None  # a window that is not the whole day has edges
    return edge
