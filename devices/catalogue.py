"""The declarative device catalogue: Zigbee2MQTT models and their converters.

A model is data: vendor, model id (as Zigbee2MQTT's ``definition.model``), a
description and a tuple of *capabilities* built from small helpers
(``contact()``, ``water_leak()``, ``battery()``, ...). Each capability knows one
payload field of the bridge's JSON state message and turns it into readings;
each can also ``encode`` a reading back into the payload field, so the
simulators publish with the very same definitions and tests can check
``convert(encode(x)) == [x]``.

Zigbee2MQTT publishes the device's whole cached state on every message
(``zigbee2mqtt/<friendly_name>``), so state capabilities emit on a *change*
against the previous payload of that device (the first payload counts as a
change). Field meanings, checked against zigbee-herdsman-converters exposes:

- ``contact``: ``true`` means the contact is CLOSED (magnet present: door shut);
  ``false`` means open. Easy to read backwards.
- ``water_leak``, ``smoke``, ``tamper``, ``battery_low``, ``occupancy``,
  ``presence``: booleans, ``true`` is the alarm / present state.
- ``battery``: percent 0-100; ``voltage``: millivolts; ``linkquality``: 0-255.
- ``action``: a momentary event; its values are per model (each model below
  cites the zigbee-herdsman-converters definition its values come from).
  Legacy mode (``legacy: true`` in older bridges) sends ``click`` instead of
  ``action`` for Xiaomi buttons; both are read. An empty ``action`` (sent after
  the event by some bridge settings) is ignored, and so is every value a model
  does not list (``release``, ``off``, ``vibration``, ``tilt``: not alarms).

Sources (Koenkk/zigbee-herdsman-converters): ``src/converters/fromZigbee.ts``
``ias_contact_alarm_1`` (``contact: !(zoneStatus & 1)``, ``tamper`` bit 2,
``battery_low`` bit 3), ``ias_smoke_alarm_1`` (``smoke`` bit 0, ``tamper``,
``battery_low``, ``test`` bit 8), ``command_status_change_notification_action``
(``{0: off, 1: single, 2: double, 3: hold}``); ``src/devices/heiman.ts`` and
``src/devices/lumi.ts`` / ``xiaomi.ts`` for each model's exposes.

Our own conventions, not Zigbee2MQTT's (the kind a value becomes is ours):
``presence`` of an FP1 aimed at a bed is bed enter/exit; the DJT11LM's
``drop`` on a bed frame is a fall; a Zigbee button's every press is an alarm
press (``hold`` = ``long``; ``triple``/``quadruple`` count as ``double``).
Availability (``zigbee2mqtt/<friendly_name>/availability``) is read by
:func:`parse_availability`: JSON ``{"state": "online"}`` in current versions,
the plain string ``online``/``offline`` in legacy mode.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from devices.reading import PayloadError, Reading, UnknownModel

Payload = Mapping[str, Any]
BATTERY_LOW_PCT = 15


@dataclass(frozen=True, slots=True)
class Capability:
    name: str
    fields: tuple[str, ...]
    kinds: frozenset[str]
    convert: Callable[[Payload, Payload | None], list[Reading]]
    encode: Callable[[Reading], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Model:
    vendor: str
    model: str
    description: str
    capabilities: tuple[Capability, ...]
    # What the model can show a resident about their alarm: feedback state -> the
    # Zigbee2MQTT ``{base}/{friendly_name}/set`` payload (docs/resident-feedback.md).
    # Empty: it shows nothing (the alarm buttons have no light or sound to drive).
    feedback: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False)

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset().union(*(c.kinds for c in self.capabilities))

    def convert(self, payload: Payload, previous: Payload | None = None) -> list[Reading]:
        out: list[Reading] = []
        for cap in self.capabilities:
            out.extend(cap.convert(payload, previous))
        return out

    def encode(self, reading: Reading) -> dict[str, Any]:
        for cap in self.capabilities:
            if reading.kind in cap.kinds:
                return cap.encode(reading)
        raise ValueError(f"{self.model} cannot produce {reading.kind}")


# --- small helpers ------------------------------------------------------------


def _bool(payload: Payload, key: str) -> bool | None:
    if key not in payload:
        return None
    value = payload[key]
    if not isinstance(value, bool):
        raise PayloadError("bad_value", f"{key}: expected true/false, got {value!r}")
    return value


def _changed(payload: Payload, previous: Payload | None, key: str) -> bool | None:
    """The new boolean value when it differs from the previous payload's, else None."""
    value = _bool(payload, key)
    if value is None:
        return None
    if previous is not None and previous.get(key) == value:
        return None
    return value


def _flag(name: str, key: str, kind: str, data: Callable[[Payload], dict[str, Any]] | None = None
          ) -> Capability:
    """A boolean field whose rising edge is one event kind (false emits nothing)."""

    def convert(payload: Payload, previous: Payload | None) -> list[Reading]:
        if _changed(payload, previous, key):
            return [Reading(kind, data(payload) if data else {})]
        return []

    def encode(reading: Reading) -> dict[str, Any]:
        return {key: True, **reading.data}

    return Capability(name, (key,), frozenset({kind}), convert, encode)


def _pair(name: str, key: str, on: str, off: str, data: dict[str, Any] | None = None
          ) -> Capability:
    """A boolean field where each value is its own event kind."""
    extra = data or {}

    def convert(payload: Payload, previous: Payload | None) -> list[Reading]:
        value = _changed(payload, previous, key)
        if value is None:
            return []
        return [Reading(on if value else off, dict(extra))]

    def encode(reading: Reading) -> dict[str, Any]:
        return {key: reading.kind == on}

    return Capability(name, (key,), frozenset({on, off}), convert, encode)


# --- the capability helpers -----------------------------------------------------


def contact(door: str = "entrance") -> Capability:
    # contact: true = closed. Reading it backwards turns every door into an alarm.
    return _pair("contact", "contact", on="door.closed", off="door.opened", data={"door": door})


def water_leak() -> Capability:
    return _flag("water_leak", "water_leak", "water.leak")


def smoke() -> Capability:
    def data(payload: Payload) -> dict[str, Any]:
        test = payload.get("test", False)
        return {"test": True} if test is True else {}

    cap = _flag("smoke", "smoke", "smoke.detected", data)
    return Capability(cap.name, ("smoke", "test"), cap.kinds, cap.convert, cap.encode)


def occupancy() -> Capability:
    return _flag("occupancy", "occupancy", "room.motion")


def bed_presence() -> Capability:
    """A presence sensor aimed at a bed: present -> bed.enter, absent -> bed.exit."""
    return _pair("bed_presence", "presence", on="bed.enter", off="bed.exit")


def tamper() -> Capability:
    return _flag("tamper", "tamper", "device.tamper")


def battery(low_pct: int = BATTERY_LOW_PCT) -> Capability:
    """``battery_low`` flag, or ``battery`` crossing below ``low_pct``: one event per drop."""

    def is_low(payload: Payload | None) -> bool | None:
        if payload is None:
            return None
        flag = payload.get("battery_low")
        pct = payload.get("battery")
        if flag is not None and not isinstance(flag, bool):
            raise PayloadError("bad_value", f"battery_low: expected true/false, got {flag!r}")
        if pct is not None and (isinstance(pct, bool) or not isinstance(pct, int | float)):
            raise PayloadError("bad_value", f"battery: expected a number, got {pct!r}")
        if flag is None and pct is None:
            return None
        return bool(flag) or (pct is not None and pct < low_pct)

    def convert(payload: Payload, previous: Payload | None) -> list[Reading]:
        now = is_low(payload)
        if not now or is_low(previous):
            return []
        data: dict[str, Any] = {}
        if isinstance(payload.get("battery"), int | float):
            data["battery_pct"] = max(0, min(100, round(payload["battery"])))
        if isinstance(payload.get("voltage"), int | float):
            data["voltage_mv"] = round(payload["voltage"])
        return [Reading("device.battery_low", data)]

    def encode(reading: Reading) -> dict[str, Any]:
        out: dict[str, Any] = {"battery_low": True}
        if "battery_pct" in reading.data:
            out["battery"] = reading.data["battery_pct"]
        if "voltage_mv" in reading.data:
            out["voltage"] = reading.data["voltage_mv"]
        return out

    return Capability("battery", ("battery", "battery_low", "voltage"),
                      frozenset({"device.battery_low"}), convert, encode)


def action(kind: str, values: Mapping[str, dict[str, Any]]) -> Capability:
    """A momentary ``action`` (legacy: ``click``): each listed value is one event."""
    reverse: dict[str, str] = {}
    for k, v in values.items():  # the first value listed is the canonical encoding
        reverse.setdefault(json.dumps(v, sort_keys=True), k)

    def convert(payload: Payload, previous: Payload | None) -> list[Reading]:
        value = payload.get("action", payload.get("click"))
        if value in (None, ""):
            return []
        if not isinstance(value, str):
            raise PayloadError("bad_value", f"action: expected a string, got {value!r}")
        data = values.get(value)
        return [] if data is None else [Reading(kind, dict(data))]

    def encode(reading: Reading) -> dict[str, Any]:
        return {"action": reverse[json.dumps(reading.data, sort_keys=True)]}

    return Capability("action", ("action", "click"), frozenset({kind}), convert, encode)


# --- the models -----------------------------------------------------------------

# lumi.ts WXKG11LM exposes action single/double/triple/quadruple/hold/release
# (lumi_action_multistate); legacy mode's click uses "long" for a hold. "release"
# follows every "hold": not a second press.
_XIAOMI_BUTTON = {"single": {"press": "single"}, "double": {"press": "double"},
                  "hold": {"press": "long"}, "long": {"press": "long"},
                  "triple": {"press": "double"}, "quadruple": {"press": "double"}}
# heiman.ts HS1EB/HS1EB-E: fromZigbee command_status_change_notification_action,
# exposes action off/single/double/hold. "off" is the zone status going back to 0
# after a press: not a press.
_HEIMAN_SOS = {"single": {"press": "single"}, "double": {"press": "double"},
               "hold": {"press": "long"}}

MODELS: tuple[Model, ...] = (
    # lumi.ts MCCGQ11LM: lumi_contact, contact true = closed (onOff 0); battery, voltage.
    Model("Aqara", "MCCGQ11LM", "Door and window contact sensor",
          (contact(), battery(), )),
    # sonoff.ts SNZB-04: ias_contact_alarm_1 -> contact (true = closed), tamper, battery_low.
    Model("SONOFF", "SNZB-04", "Door/window contact sensor",
          (contact(), battery(), tamper())),
    # lumi.ts SJCGQ11LM: ias_water_leak_alarm_1 -> water_leak true = leak; battery.
    Model("Aqara", "SJCGQ11LM", "Water leak sensor", (water_leak(), battery())),
    # heiman.ts HS1SA: ias_smoke_alarm_1 -> smoke, battery_low, test (exposed), tamper (sent).
    Model("HEIMAN", "HS1SA", "Smoke detector", (smoke(), battery(), tamper())),
    # lumi.ts RTCGQ11LM: occupancy true = motion (it resets to false itself after 60-90 s).
    Model("Aqara", "RTCGQ11LM", "Motion sensor", (occupancy(), battery())),
    # lumi.ts RTCZCGQ11LM (FP1): presence boolean. Bed enter/exit is OUR convention
    # for an FP1 mounted over a bed.
    Model("Aqara", "RTCZCGQ11LM", "Presence sensor FP1, mounted over a bed", (bed_presence(),)),
    Model("Aqara", "WXKG11LM", "Wireless mini switch used as an alarm button",
          (action("alarm.button", _XIAOMI_BUTTON), battery())),
    Model("HEIMAN", "HS1EB/HS1EB-E", "Smart emergency button",
          (action("alarm.button", _HEIMAN_SOS), battery(), tamper())),
    # lumi.ts DJT11LM: lumi_vibration_analog, exposes action vibration/tilt/drop.
    # "drop" on a bed frame as a fall is OUR convention (the sensor only says it was
    # dropped); vibration and tilt are ignored.
    Model("Aqara", "DJT11LM", "Vibration sensor on a bed frame (drop = fall)",
          (action("fall.detected", {"drop": {}}), battery())),
)
# --- models that show a resident's alarm feedback ------------------------------------

# heiman.ts HS2WD-E: toZigbee tz.warning -> {"warning": {mode, level, strobe, duration}}
# (modes stop/burglar/fire/emergency/police_panic/fire_panic/emergency_panic, levels
# low/medium/high/very_high, duration in seconds). Short and low: it confirms, it
# does not alarm the house. "stop" ends a tone still sounding.
SetPayload = Mapping[str, Any]
_SIREN_STOP: SetPayload = {"warning": {"mode": "stop", "level": "low", "strobe": False, "duration": 0}}
_SIREN_FEEDBACK: dict[str, SetPayload] = {
    "received": {"warning": {"mode": "emergency", "level": "low", "strobe": True, "duration": 2}},
    "help_coming": {"warning": {"mode": "burglar", "level": "low", "strobe": False,
                                "duration": 1}},
    "help_arrived": _SIREN_STOP, "cancelled": _SIREN_STOP, "closed": _SIREN_STOP,
}
# philips.ts 9290022166 (Hue white and colour ambiance E26/E27, LCA001): a colour light,
# tz.light_onoff_brightness (state ON/OFF, brightness 0-254) and tz.light_color
# ({"color": {"hex": ...}}). A lamp kept for feedback: amber = received, green = help
# coming, full white when staff are there (light to work by), off when closed.
_LAMP_OFF: SetPayload = {"state": "OFF"}
_LAMP_FEEDBACK: dict[str, SetPayload] = {
    "received": {"state": "ON", "brightness": 254, "color": {"hex": "#ffa000"}},
    "help_coming": {"state": "ON", "brightness": 254, "color": {"hex": "#00c853"}},
    "help_arrived": {"state": "ON", "brightness": 254, "color": {"hex": "#ffffff"}},
    "cancelled": _LAMP_OFF, "closed": _LAMP_OFF,
}
MODELS = (
    *MODELS,
    Model("HEIMAN", "HS2WD-E", "Smart siren, used for alarm feedback", (battery(),),
          feedback=_SIREN_FEEDBACK),
    Model("Philips", "9290022166", "Hue colour bulb, used as a feedback lamp", (),
          feedback=_LAMP_FEEDBACK),
)
_BY_MODEL = {m.model: m for m in MODELS}


def lookup(model: str) -> Model:
    found = _BY_MODEL.get(model)
    if found is None:
        raise UnknownModel(model)
    return found


def parse_state(raw: bytes | str) -> dict[str, Any]:
    """A bridge state message: a JSON object, or a PayloadError."""
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError("malformed", f"not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise PayloadError("malformed", f"expected a JSON object, got {type(value).__name__}")
    return value


def health(payload: Payload) -> dict[str, int | bool]:
    """Battery, battery-low flag and link quality for the gateway's device health report."""
    out: dict[str, int | bool] = {}
    for key, name, hi in (("battery", "battery_pct", 100), ("linkquality", "link_quality", 255)):
        value = payload.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = max(0, min(hi, round(value)))
    if isinstance(payload.get("battery_low"), bool):
        out["battery_low"] = payload["battery_low"]
    return out


def parse_availability(raw: bytes | str) -> bool:
    """``{"state":"online"}`` (current) or ``online`` (legacy) -> True; offline -> False."""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    text = text.strip()
    if text in ("online", "offline"):
        return text == "online"
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise PayloadError("malformed", f"availability: {text[:40]!r}") from exc
    state = value.get("state") if isinstance(value, dict) else None
    if state not in ("online", "offline"):
        raise PayloadError("bad_value", f"availability state: {state!r}")
    return bool(state == "online")


def encode_availability(online: bool, legacy: bool = False) -> bytes:
    state = "online" if online else "offline"
    return state.encode() if legacy else json.dumps({"state": state}).encode()
