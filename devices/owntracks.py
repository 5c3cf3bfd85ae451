"""OwnTracks JSON: ``_type: location`` and ``_type: transition`` -> readings.

Field names as the OwnTracks booklet defines them: ``lat``, ``lon``, ``acc``
(metres), ``tst`` (epoch seconds when the fix was taken), ``vel`` (km/h),
``batt`` (%); transitions carry ``event`` (``enter``/``leave``), ``desc``
(the region's name), ``wtst`` (when the region was set up) and ``t``
(``c`` circular, ``b`` beacon). Other ``_type`` values (``waypoint``, ``card``,
``lwt``, ...) give no reading. ``tst`` becomes the reading's ``at``: buffered
fixes keep the time they were taken.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from devices.reading import PayloadError, Reading

BATTERY_LOW_PCT = 15


def _num(d: Mapping[str, Any], key: str) -> float:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError("missing_field" if value is None else "bad_value",
                           f"{key}: expected a number, got {value!r}")
    return float(value)


def _when(d: Mapping[str, Any]) -> datetime:
    tst = _num(d, "tst")
    try:
        return datetime.fromtimestamp(tst, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise PayloadError("bad_value", f"tst {tst!r}") from exc


def parse(raw: bytes | str) -> list[Reading]:
    try:
        d = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError("malformed", f"not JSON: {exc}") from exc
    if not isinstance(d, dict):
        raise PayloadError("malformed", "expected a JSON object")
    kind = d.get("_type")
    if kind == "location":
        return _location(d)
    if kind == "transition":
        return [_transition(d)]
    return []


def _location(d: Mapping[str, Any]) -> list[Reading]:
    at = _when(d)
    data: dict[str, Any] = {"lat": _num(d, "lat"), "lon": _num(d, "lon"),
                            "accuracy_m": _num(d, "acc") if "acc" in d else 100.0}
    if "vel" in d:
        data["speed_mps"] = round(_num(d, "vel") / 3.6, 2)
    try:
        out = [Reading("gps.position", data, at=at)]
    except ValueError as exc:
        raise PayloadError("bad_value", str(exc).splitlines()[0]) from exc
    batt = d.get("batt")
    if isinstance(batt, int) and not isinstance(batt, bool) and 0 <= batt < BATTERY_LOW_PCT:
        out.append(Reading("device.battery_low", {"battery_pct": batt}, at=at))
    return out


def _transition(d: Mapping[str, Any]) -> Reading:
    event = d.get("event")
    if event not in ("enter", "leave"):
        raise PayloadError("bad_value", f"event: expected enter/leave, got {event!r}")
    zone = d.get("desc")
    if not isinstance(zone, str) or not zone:
        raise PayloadError("missing_field", "desc: the region name is missing")
    kind = "geofence.enter" if event == "enter" else "geofence.exit"
    return Reading(kind, {"zone": zone[:64]}, at=_when(d))


def encode(reading: Reading) -> dict[str, Any]:
    tst = int((reading.at or datetime(2026, 1, 1, tzinfo=UTC)).timestamp())
    d = reading.data
    if reading.kind == "gps.position":
        out: dict[str, Any] = {"_type": "location", "lat": d["lat"], "lon": d["lon"],
                               "acc": d["accuracy_m"], "tst": tst, "tid": "tr"}
        if "speed_mps" in d:
            out["vel"] = round(d["speed_mps"] * 3.6, 2)
        return out
    if reading.kind in ("geofence.enter", "geofence.exit"):
        return {"_type": "transition", "event": "enter" if reading.kind.endswith("enter")
                else "leave", "desc": d["zone"], "tst": tst, "wtst": tst, "t": "c",
                "lat": 0.0, "lon": 0.0, "acc": 10}
    raise ValueError(f"OwnTracks cannot send {reading.kind}")
